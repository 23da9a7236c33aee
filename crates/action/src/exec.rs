//! Running one script: `/bin/sh -c` in its own process group, with a timeout and bounded
//! output capture, all on the calling thread.

use std::fmt;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// It exited with this code (0 is success).
    Exited(i32),
    /// A signal ended it.
    Signaled(i32),
    /// It ran past its timeout and was killed (SIGTERM to its process group, then SIGKILL).
    TimedOut(Duration),
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunStatus::Exited(code) => write!(f, "exit code {code}"),
            RunStatus::Signaled(sig) => write!(f, "killed by signal {sig}"),
            RunStatus::TimedOut(t) => write!(f, "timed out after {:.1} s", t.as_secs_f64()),
        }
    }
}

/// A finished command: its status and (the first bytes of) what it printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutput {
    /// How it ended.
    pub status: RunStatus,
    /// Standard output, cut at the runner's output limit (lossy UTF-8).
    pub stdout: String,
    /// Standard error, cut at the runner's output limit (lossy UTF-8).
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl RunOutput {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.status == RunStatus::Exited(0)
    }

    /// A hint for well-known failures: exit code 127 is the shell's "command not found".
    pub fn hint(&self) -> Option<&'static str> {
        match self.status {
            RunStatus::Exited(127) => Some("command not found"),
            RunStatus::Exited(126) => Some("command not executable"),
            _ => None,
        }
    }
}

/// How to run a script.
pub(crate) struct Exec<'a> {
    pub(crate) shell: &'a Path,
    pub(crate) timeout: Duration,
    pub(crate) kill_grace: Duration,
    pub(crate) output_limit: usize,
}

impl Exec<'_> {
    /// Runs `script` with the extra environment `env`, and waits for it (or kills it).
    ///
    /// One thread does everything: it polls the child's exit (a pidfd) and both output pipes
    /// together, so a command costs its process and no helper threads.
    pub(crate) fn run(&self, script: &str, env: &[(String, String)]) -> std::io::Result<RunOutput> {
        let started = Instant::now();
        let mut child = Command::new(self.shell)
            .arg("-c")
            .arg(script)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout can end everything it started.
            .process_group(0)
            .spawn()?;
        let mut stdout = Pipe::new(child.stdout.take().map(OwnedFd::from), self.output_limit);
        let mut stderr = Pipe::new(child.stderr.take().map(OwnedFd::from), self.output_limit);
        let exit = PidFd::open(child.id());
        let status =
            self.wait_reading(&mut child, started, exit.as_ref(), &mut stdout, &mut stderr);
        let status = match status {
            Ok(status) => status,
            Err(e) => {
                // Never leave the group running or the child unreaped.
                signal_group(child.id() as libc::pid_t, libc::SIGKILL);
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(RunOutput {
            status,
            stdout: stdout.text(),
            stderr: stderr.text(),
            elapsed: started.elapsed(),
        })
    }

    /// Reads both pipes until the child exits (then until their end, at most 200 ms more:
    /// grandchildren that kept them open do not hold us up) or the timeout kills its group.
    fn wait_reading(
        &self,
        child: &mut Child,
        started: Instant,
        exit: Option<&PidFd>,
        stdout: &mut Pipe,
        stderr: &mut Pipe,
    ) -> std::io::Result<RunStatus> {
        let mut pause = Duration::from_micros(200);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status_of(status);
            }
            let elapsed = started.elapsed();
            if elapsed >= self.timeout {
                // The pipes are read on while the group gets its grace period: a killed
                // command that prints a lot must not block on a full pipe.
                let pgid = child.id() as libc::pid_t;
                signal_group(pgid, libc::SIGTERM);
                let grace_end = Instant::now() + self.kill_grace;
                loop {
                    let now = Instant::now();
                    if now >= grace_end {
                        break;
                    }
                    poll_pipes(None, stdout, stderr, grace_end - now);
                }
                signal_group(pgid, libc::SIGKILL);
                child.wait()?;
                break RunStatus::TimedOut(self.timeout);
            }
            let left = self.timeout - elapsed;
            let wait = match exit {
                Some(_) => left,
                // Kernels before 5.3: poll with a growing pause.
                None => {
                    let p = pause.min(left);
                    pause = (pause * 2).min(Duration::from_millis(20));
                    p
                }
            };
            poll_pipes(exit, stdout, stderr, wait);
        };
        let deadline = Instant::now() + Duration::from_millis(200);
        while stdout.open() || stderr.open() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            poll_pipes(None, stdout, stderr, deadline - now);
        }
        Ok(status)
    }
}

/// The most one `read` of an output pipe takes.
const CHUNK: usize = 8192;

/// One output pipe read without blocking, keeping at most `limit` bytes (the rest is read
/// and dropped, so the writer never blocks on a full pipe).
pub(crate) struct Pipe {
    fd: Option<OwnedFd>,
    kept: Vec<u8>,
    limit: usize,
}

impl Pipe {
    pub(crate) fn new(fd: Option<OwnedFd>, limit: usize) -> Pipe {
        let fd = fd.filter(|fd| set_nonblocking(fd.as_raw_fd()));
        Pipe {
            fd,
            kept: Vec::new(),
            limit,
        }
    }

    pub(crate) fn open(&self) -> bool {
        self.fd.is_some()
    }

    /// Reads what is there; closes the pipe at its end or on an error.
    pub(crate) fn drain(&mut self) {
        let Some(fd) = &self.fd else {
            return;
        };
        // Not zeroed: most calls find the pipe empty, and zeroing 8 KiB each time was most
        // of a co-shell command's instructions.
        let mut chunk = std::mem::MaybeUninit::<[u8; CHUNK]>::uninit();
        loop {
            // SAFETY: `chunk` is valid for writes of CHUNK bytes; the descriptor is ours.
            let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), CHUNK) };
            if n > 0 {
                let n = n as usize;
                // SAFETY: `read` wrote the first `n` (<= CHUNK) bytes.
                let got = unsafe { std::slice::from_raw_parts(chunk.as_ptr().cast::<u8>(), n) };
                let room = self.limit.saturating_sub(self.kept.len());
                self.kept.extend_from_slice(&got[..n.min(room)]);
                continue;
            }
            if n < 0 {
                match std::io::Error::last_os_error().kind() {
                    std::io::ErrorKind::Interrupted => continue,
                    std::io::ErrorKind::WouldBlock => return,
                    _ => {}
                }
            }
            // End of the pipe, or an error that reading again will not cure.
            self.fd = None;
            return;
        }
    }

    fn text(self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }

    /// The descriptor to poll, while the pipe is open.
    pub(crate) fn raw_fd(&self) -> Option<libc::c_int> {
        self.fd.as_ref().map(|fd| fd.as_raw_fd())
    }

    /// What was kept since the last call (lossy UTF-8); the pipe stays open.
    pub(crate) fn take_text(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.kept).into_owned();
        self.kept.clear();
        text
    }

    /// Reads and drops what is waiting (output written after an earlier command ended).
    pub(crate) fn discard(&mut self) {
        self.drain();
        self.kept.clear();
    }
}

/// Waits up to `timeout` for output on either pipe or the child's exit, then reads what
/// arrived.
fn poll_pipes(exit: Option<&PidFd>, stdout: &mut Pipe, stderr: &mut Pipe, timeout: Duration) {
    let mut fds: Vec<libc::pollfd> = [exit.map(|p| p.0), fd_of(stdout), fd_of(stderr)]
        .into_iter()
        .flatten()
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if fds.is_empty() {
        std::thread::sleep(timeout);
        return;
    }
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` holds `fds.len()` valid pollfds for the duration of the call.
    unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms);
    }
    // Non-blocking reads: a pipe with nothing to read costs one EAGAIN.
    stdout.drain();
    stderr.drain();
}

fn fd_of(pipe: &Pipe) -> Option<libc::c_int> {
    pipe.fd.as_ref().map(|fd| fd.as_raw_fd())
}

pub(crate) fn set_nonblocking(fd: libc::c_int) -> bool {
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) >= 0
    }
}

/// Waits for `child` (the leader of its own process group) until `timeout` after `started`;
/// then kills its group (SIGTERM, `kill_grace`, SIGKILL) and returns `None`.
pub(crate) fn wait_or_kill(
    child: &mut Child,
    started: Instant,
    timeout: Duration,
    kill_grace: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    let exit = PidFd::open(child.id());
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            break;
        }
        let left = timeout - elapsed;
        match &exit {
            // Wakes up the moment the child exits.
            Some(fd) => fd.wait(left),
            // Kernels before 5.3: poll with a growing pause.
            None => {
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
    // The child is not reaped yet, so its pid (the group id) cannot have been reused.
    let pgid = child.id() as libc::pid_t;
    signal_group(pgid, libc::SIGTERM);
    let grace_end = Instant::now() + kill_grace;
    while Instant::now() < grace_end {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Also ends what the shell started, even when the shell itself obeyed SIGTERM.
    signal_group(pgid, libc::SIGKILL);
    child.wait()?;
    Ok(None)
}

/// A Linux process file descriptor: readable once the process exits.
pub(crate) struct PidFd(libc::c_int);

impl PidFd {
    pub(crate) fn open(pid: u32) -> Option<PidFd> {
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        libc::c_int::try_from(fd)
            .ok()
            .filter(|fd| *fd >= 0)
            .map(PidFd)
    }

    /// Blocks until the process exits, `timeout` passes, or a signal interrupts.
    pub(crate) fn wait(&self, timeout: Duration) {
        let mut fds = libc::pollfd {
            fd: self.0,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is one valid pollfd for the duration of the call.
        unsafe {
            libc::poll(&mut fds, 1, ms);
        }
    }
}

impl Drop for PidFd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}

pub(crate) fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    if pgid > 0 {
        // SAFETY: killpg has no memory-safety preconditions; a failure (ESRCH: the group is
        // gone) needs no handling.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

pub(crate) fn status_of(status: ExitStatus) -> RunStatus {
    match (status.code(), status.signal()) {
        (Some(code), _) => RunStatus::Exited(code),
        (None, Some(sig)) => RunStatus::Signaled(sig),
        (None, None) => RunStatus::Exited(-1),
    }
}

/// The bytes read so far and whether the pipe reached its end, with a signal for the end.
type Shared = Arc<(Mutex<(Vec<u8>, bool)>, Condvar)>;

/// A pipe read to its end on a thread, keeping at most `limit` bytes.
pub(crate) struct Capture {
    shared: Shared,
}

impl Capture {
    pub(crate) fn start(pipe: Option<impl Read + Send + 'static>, limit: usize) -> Capture {
        let shared: Shared = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let Some(mut pipe) = pipe else {
            if let Ok(mut g) = shared.0.lock() {
                g.1 = true;
            }
            return Capture { shared };
        };
        let theirs = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("jailor-action-output".into())
            .spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Ok(mut g) = theirs.0.lock() {
                                let room = limit.saturating_sub(g.0.len());
                                g.0.extend_from_slice(&chunk[..n.min(room)]);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                if let Ok(mut g) = theirs.0.lock() {
                    g.1 = true;
                }
                theirs.1.notify_all();
            });
        if spawned.is_err() {
            // No thread: the output is lost, but the command still runs.
            if let Ok(mut g) = shared.0.lock() {
                g.1 = true;
            }
        }
        Capture { shared }
    }

    /// What was read, after waiting for the end of the pipe until `deadline`.
    pub(crate) fn take(self, deadline: Instant) -> String {
        let (lock, cv) = &*self.shared;
        let Ok(mut g) = lock.lock() else {
            return String::new();
        };
        while !g.1 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match cv.wait_timeout(g, deadline - now) {
                Ok((next, _)) => g = next,
                Err(_) => return String::new(),
            }
        }
        String::from_utf8_lossy(&g.0).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(timeout_ms: u64) -> Exec<'static> {
        Exec {
            shell: Path::new("/bin/sh"),
            timeout: Duration::from_millis(timeout_ms),
            kill_grace: Duration::from_millis(100),
            output_limit: 16,
        }
    }

    #[test]
    fn captures_status_and_bounded_output() {
        let out = exec(5000)
            .run(
                "printf 'hello %s' \"$X\"; echo oops >&2; exit 3",
                &[("X".into(), "world, long text".into())],
            )
            .unwrap();
        assert_eq!(out.status, RunStatus::Exited(3));
        assert_eq!(out.stdout, "hello world, lon");
        assert_eq!(out.stderr, "oops\n");
        assert!(!out.success());
    }

    #[test]
    fn command_not_found_has_a_hint() {
        let out = exec(5000).run("no-such-command-jailor", &[]).unwrap();
        assert_eq!(out.status, RunStatus::Exited(127));
        assert_eq!(out.hint(), Some("command not found"));
    }

    #[test]
    fn large_output_on_both_pipes_never_blocks_the_command() {
        // 1 MiB on each pipe: far past a pipe's buffer, so the command only ends if both
        // pipes are read while it runs.
        let out = exec(30_000)
            .run(
                "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; echo done >&2",
                &[],
            )
            .unwrap();
        assert_eq!(out.status, RunStatus::Exited(0));
        assert_eq!(out.stdout.len(), 16);
        assert_eq!(out.stderr.len(), 16);
    }

    #[test]
    fn a_background_process_holding_the_pipes_does_not_hold_the_result() {
        let started = Instant::now();
        let out = exec(60_000).run("echo $$; sleep 30 & exit 4", &[]).unwrap();
        let elapsed = started.elapsed();
        // The shell's pid is its process group: end the sleep it left behind.
        if let Ok(pgid) = out.stdout.trim().parse::<libc::pid_t>() {
            signal_group(pgid, libc::SIGKILL);
        }
        assert_eq!(out.status, RunStatus::Exited(4));
        assert!(out.stdout.ends_with('\n'), "{:?}", out.stdout);
        // 200 ms of draining after the exit, far from the 30 s of the background sleep.
        assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    }

    #[test]
    fn a_process_that_ignores_sigterm_is_killed() {
        let started = Instant::now();
        let out = exec(300).run("trap '' TERM; sleep 30", &[]).unwrap();
        assert!(
            matches!(out.status, RunStatus::TimedOut(_)),
            "{:?}",
            out.status
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
