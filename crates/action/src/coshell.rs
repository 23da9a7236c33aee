//! A persistent shell co-process: each command text runs in a fresh subshell forked by an
//! already running `/bin/sh`, instead of a new `/bin/sh -c`.
//!
//! Why: starting a shell is an exec, dynamic loading and the C library's start-up (~0.9 ms
//! of CPU on this kind of VM, mostly glibc probing the CPU), while a subshell forked by a
//! running shell costs ~0.1 ms. With hundreds of bans that is most of the time.
//!
//! What stays as with `sh -c TEXT`: the same shell parses the same text (`eval` of the text
//! passed as one single-quoted word, quoting done here), incrementally, in a subshell, so
//! variables, functions, the working directory, traps, `set` options, `umask` and `exit`
//! stay inside it; standard input is `/dev/null`; the extra variables are exported in the
//! subshell; the status and the output (bounded) are the command's own. The shell's own
//! error messages get `eval: ` after the line number inside `eval`: that is taken out again.
//!
//! A command that provably cannot change the shell's state (one `echo`, `printf`, `true` or
//! `false` with plain or quoted words and file redirections: `plain_builtin.rs`) runs in a
//! `{ ...; }` group in the co-process itself, without the fork: same output, status,
//! redirections and messages, ~0.1 ms less CPU per command (fail2ban's file-writing actions
//! and `hostsdeny` are such commands).
//!
//! What differs, and how it is handled:
//! - `$$` is the co-process, not the command: texts that mention `$$` (or `${$`) run with
//!   `sh -c` (see [`suits`]).
//! - A dash without a terminal has no job control, so the subshell shares the co-process's
//!   process group: a timeout kills that whole group (the command, what it started, and the
//!   co-process, which is then replaced). A background process an earlier command of the
//!   same co-process left running is in that group too.
//! - The command's status comes from the shell (`$?`): a command killed by signal N reports
//!   exit code 128+N, as it would inside a script.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::exec::{set_nonblocking, signal_group, status_of, PidFd, Pipe, RunOutput, RunStatus};
use crate::plain_builtin;

/// The descriptor on which the co-process reports each command's status.
const STATUS_FD: libc::c_int = 3;

/// Whether a command can run in a co-process with the same meaning as with `sh -c`: no
/// `$$` (the co-process's pid there), no NUL (not passable to `sh -c` either: let it fail
/// there), and variable names the shell can `export`.
pub(crate) fn suits(script: &str, env: &[(String, String)]) -> bool {
    !script.contains("$$")
        && !script.contains("${$")
        && !script.contains('\0')
        && env
            .iter()
            .all(|(name, value)| is_name(name) && !value.contains('\0'))
}

/// Whether `script` runs in the co-process without a subshell: a plain builtin command,
/// and only the per-command `f2bV_` variables (which it cannot read) to set.
pub(crate) fn in_place(script: &str, env: &[(String, String)]) -> bool {
    env.iter().all(|(name, _)| name.starts_with("f2bV_")) && plain_builtin::runs_in_place(script)
}

/// A shell variable name: a letter or `_`, then letters, digits and `_`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `text` as one single-quoted shell word (a `'` becomes `'\''`).
fn single_quoted(text: &str, out: &mut String) {
    out.push('\'');
    for c in text.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
}

/// The line the co-process reads for one command: a subshell with stdin from `/dev/null`
/// and the status descriptor closed, then the status on that descriptor. A command that
/// provably cannot change the co-process's state (see [`plain_builtin`]) runs in a group
/// in the co-process itself instead, with the same redirections: no fork. It reads no
/// variable, so the per-command variables are not set for it, and no input, so its
/// standard input is left as it is (the protocol's pipe, read-only like `/dev/null`: a
/// write through a duplicate of it fails the same way); that spares the shell opening
/// `/dev/null` and saving and restoring descriptor 0, ~6 system calls a ban.
fn frame(script: &str, env: &[(String, String)]) -> String {
    if in_place(script, env) {
        let mut f = String::with_capacity(script.len() + 48);
        f.push_str("{ eval ");
        single_quoted(script, &mut f);
        f.push_str("; } 3>&-; echo \"$?\" >&3\n");
        return f;
    }
    let size = script.len()
        + env
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>();
    let mut f = String::with_capacity(size + 64);
    f.push_str("( ");
    if !env.is_empty() {
        f.push_str("export");
        for (name, value) in env {
            f.push(' ');
            f.push_str(name);
            f.push('=');
            single_quoted(value, &mut f);
        }
        f.push_str("; ");
    }
    f.push_str("eval ");
    single_quoted(script, &mut f);
    f.push_str(" ) </dev/null 3>&-; echo \"$?\" >&3\n");
    f
}

/// Why a command did not run in a co-process (the caller runs it with `sh -c`).
#[derive(Debug)]
pub(crate) struct NotStarted;

/// One running co-process, leader of its own process group.
pub(crate) struct CoShell {
    child: Child,
    input: Option<ChildStdin>,
    status: OwnedFd,
    stdout: Pipe,
    stderr: Pipe,
    /// The shell's `$0`, as it starts its error messages.
    arg0: String,
    alive: bool,
}

impl CoShell {
    /// Starts `shell` reading commands from a pipe, its output on two pipes kept up to
    /// `output_limit` bytes per command, statuses on descriptor 3.
    pub(crate) fn spawn(shell: &Path, output_limit: usize) -> std::io::Result<CoShell> {
        let (status_read, status_write) = pipe()?;
        let raw = status_write.as_raw_fd();
        let mut command = Command::new(shell);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if raw == STATUS_FD {
                    // dup2 onto itself would keep close-on-exec: clear it instead.
                    if libc::fcntl(raw, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(raw, STATUS_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        drop(status_write);
        if !set_nonblocking(status_read.as_raw_fd()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::last_os_error());
        }
        let stdout = Pipe::new(child.stdout.take().map(OwnedFd::from), output_limit);
        let stderr = Pipe::new(child.stderr.take().map(OwnedFd::from), output_limit);
        let mut input = child.stdin.take();
        // Reading commands from stdin sets `s` in `$-`; `sh -c` has no such flag.
        if let Some(stdin) = input.as_mut() {
            if let Err(e) = stdin.write_all(b"set +s\n") {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        }
        Ok(CoShell {
            child,
            input,
            status: status_read,
            stdout,
            stderr,
            arg0: shell.to_string_lossy().into_owned(),
            alive: true,
        })
    }

    /// The co-process's pid (= its process group).
    #[cfg(test)]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it can run another command (it was not killed and did not die).
    pub(crate) fn alive(&self) -> bool {
        self.alive
    }

    /// Runs `script` with the extra variables `env`; at `timeout` the co-process's group is
    /// killed (SIGTERM, `kill_grace`, SIGKILL) and the co-process is dead afterwards.
    pub(crate) fn run(
        &mut self,
        script: &str,
        env: &[(String, String)],
        timeout: Duration,
        kill_grace: Duration,
    ) -> Result<RunOutput, NotStarted> {
        let started = Instant::now();
        if !self.alive || !self.stdout.open() || !self.stderr.open() {
            return Err(NotStarted);
        }
        // Output that arrived between commands belongs to no command, and a status before
        // the command is sent means the protocol is out of step. One look at all three
        // (usually nothing) instead of a read of each.
        let [status_ready, out_ready, err_ready] = self.ready(true, Duration::ZERO);
        if out_ready {
            self.stdout.discard();
        }
        if err_ready {
            self.stderr.discard();
        }
        let mut pending = Vec::new();
        if status_ready
            && (read_available(&self.status, &mut pending) != Read::Open || !pending.is_empty())
        {
            self.alive = false;
            return Err(NotStarted);
        }
        let sent = match self.input.as_mut() {
            Some(input) => input.write_all(frame(script, env).as_bytes()),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        if sent.is_err() {
            // The shell is gone: nothing of the command ran.
            self.alive = false;
            return Err(NotStarted);
        }
        let status = self.wait_status(started, timeout, kill_grace, &mut pending);
        let mut stderr = self.stderr.take_text();
        if !script.contains("eval") {
            stderr = strip_eval(&stderr, &self.arg0);
        }
        Ok(RunOutput {
            status,
            stdout: self.stdout.take_text(),
            stderr,
            elapsed: started.elapsed(),
        })
    }

    /// Reads the output pipes until the status line arrives, the co-process dies, or the
    /// timeout kills it.
    fn wait_status(
        &mut self,
        started: Instant,
        timeout: Duration,
        kill_grace: Duration,
        pending: &mut Vec<u8>,
    ) -> RunStatus {
        loop {
            // Waits on the status and the output pipes together, and reads only those with
            // something to read: a command costs a few system calls, not a read of each
            // descriptor per wake-up.
            let wait = timeout.saturating_sub(started.elapsed());
            let [status_ready, out_ready, err_ready] = self.ready(true, wait);
            if out_ready {
                self.stdout.drain();
            }
            if err_ready {
                self.stderr.drain();
            }
            if status_ready {
                match read_available(&self.status, pending) {
                    Read::Open => {}
                    Read::Closed => return self.died(),
                }
            }
            if let Some(end) = pending.iter().position(|b| *b == b'\n') {
                // Everything the subshell wrote is in the pipes by now: it exited before
                // its parent wrote the status.
                let [_, out_ready, err_ready] = self.ready(false, Duration::ZERO);
                if out_ready {
                    self.stdout.drain();
                }
                if err_ready {
                    self.stderr.drain();
                }
                let code = std::str::from_utf8(&pending[..end])
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok());
                if end + 1 != pending.len() {
                    // More than one status: the protocol is out of step.
                    self.retire();
                }
                return match code {
                    Some(code) => RunStatus::Exited(code),
                    None => {
                        self.retire();
                        RunStatus::Exited(-1)
                    }
                };
            }
            if started.elapsed() >= timeout {
                self.kill(kill_grace);
                return RunStatus::TimedOut(timeout);
            }
        }
    }

    /// Which of the status (when `status`), stdout and stderr descriptors have something
    /// to read or were closed, after waiting up to `wait` for one of them (zero: a look).
    /// A failed `poll` (a signal) answers all of them: their reads do not block.
    fn ready(&self, status: bool, wait: Duration) -> [bool; 3] {
        let entry = |fd: Option<libc::c_int>| libc::pollfd {
            // A negative descriptor is skipped by poll (a closed pipe).
            fd: fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [
            entry(status.then(|| self.status.as_raw_fd())),
            entry(self.stdout.raw_fd()),
            entry(self.stderr.raw_fd()),
        ];
        let ms = if wait.is_zero() {
            0
        } else {
            wait.as_millis().clamp(1, i32::MAX as u128) as libc::c_int
        };
        // SAFETY: `fds` holds `fds.len()` valid pollfds for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            return [status, true, true];
        }
        fds.map(|f| f.revents != 0)
    }

    /// Waits up to `wait` for output or the status, then reads the output pipes.
    fn poll(&mut self, status: Option<libc::c_int>, wait: Duration) {
        let mut fds: Vec<libc::pollfd> = [status, self.stdout.raw_fd(), self.stderr.raw_fd()]
            .into_iter()
            .flatten()
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = wait.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        if fds.is_empty() {
            std::thread::sleep(wait);
        } else {
            // SAFETY: `fds` holds `fds.len()` valid pollfds for the duration of the call.
            unsafe {
                libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms);
            }
        }
        self.stdout.drain();
        self.stderr.drain();
    }

    /// The status descriptor closed mid-command: the co-process died (the command killed
    /// its group, or the shell was killed from outside).
    fn died(&mut self) -> RunStatus {
        self.alive = false;
        self.input = None;
        // Its group may still hold the command's processes.
        signal_group(self.child.id() as libc::pid_t, libc::SIGKILL);
        match self.child.wait() {
            Ok(status) => status_of(status),
            Err(_) => RunStatus::Exited(-1),
        }
    }

    /// Ends the co-process's group at a timeout: SIGTERM, the grace period (output still
    /// read, so a command printing a lot does not block), SIGKILL, then reaps the shell.
    fn kill(&mut self, kill_grace: Duration) {
        self.alive = false;
        self.input = None;
        // Not reaped yet, so its pid (the group id) cannot have been reused.
        let pgid = self.child.id() as libc::pid_t;
        signal_group(pgid, libc::SIGTERM);
        let grace_end = Instant::now() + kill_grace;
        loop {
            let now = Instant::now();
            if now >= grace_end {
                break;
            }
            self.poll(None, grace_end - now);
        }
        signal_group(pgid, libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Stops using a co-process whose protocol is out of step: killed with its group.
    fn retire(&mut self) {
        self.alive = false;
        self.input = None;
        signal_group(self.child.id() as libc::pid_t, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for CoShell {
    fn drop(&mut self) {
        if !self.alive {
            return;
        }
        // An idle shell exits at the end of its input; what earlier commands left running
        // in the background is left alone, as with `sh -c`.
        self.input = None;
        if let Some(exit) = PidFd::open(self.child.id()) {
            exit.wait(Duration::from_secs(1));
        }
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill has no memory-safety preconditions; the child is not reaped.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// Whether a non-blocking pipe is still open.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    Open,
    Closed,
}

/// Appends what the pipe holds now to `into` (a status line is a few bytes: kept whole).
fn read_available(fd: &OwnedFd, into: &mut Vec<u8>) -> Read {
    let mut chunk = [0u8; 64];
    loop {
        // SAFETY: `chunk` is valid for writes of its length; the descriptor is ours.
        let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n > 0 {
            if into.len() < 4096 {
                into.extend_from_slice(&chunk[..n as usize]);
            }
            continue;
        }
        if n == 0 {
            return Read::Closed;
        }
        match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return Read::Open,
            _ => return Read::Closed,
        }
    }
}

/// A pipe whose both ends close on exec.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Takes `eval: ` out of the shell's own messages (`ARG0: LINE: eval: …`), which `sh -c`
/// prints without it.
fn strip_eval(stderr: &str, arg0: &str) -> String {
    if !stderr.contains(": eval: ") {
        return stderr.to_owned();
    }
    let mut out = String::with_capacity(stderr.len());
    for line in stderr.split_inclusive('\n') {
        match strip_eval_line(line, arg0) {
            Some(stripped) => out.push_str(&stripped),
            None => out.push_str(line),
        }
    }
    out
}

fn strip_eval_line(line: &str, arg0: &str) -> Option<String> {
    let rest = line.strip_prefix(arg0)?.strip_prefix(": ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let after = rest[digits..].strip_prefix(": eval: ")?;
    Some(format!("{arg0}: {}: {after}", &rest[..digits]))
}

#[cfg(test)]
#[path = "coshell_tests.rs"]
mod tests;
