//! Running one script: `/bin/sh -c` in its own process group, with a timeout and bounded
//! output capture.

use std::fmt;
use std::io::Read;
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
        let stdout = Capture::start(child.stdout.take(), self.output_limit);
        let stderr = Capture::start(child.stderr.take(), self.output_limit);
        let status = match self.wait(&mut child, started)? {
            Some(status) => status_of(status),
            None => RunStatus::TimedOut(self.timeout),
        };
        // Grandchildren that kept the pipes open do not hold us up for long.
        let deadline = Instant::now() + Duration::from_millis(200);
        Ok(RunOutput {
            status,
            stdout: stdout.take(deadline),
            stderr: stderr.take(deadline),
            elapsed: started.elapsed(),
        })
    }

    /// Waits for the child until the timeout; then kills its group and returns `None`.
    fn wait(&self, child: &mut Child, started: Instant) -> std::io::Result<Option<ExitStatus>> {
        wait_or_kill(child, started, self.timeout, self.kill_grace)
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
struct PidFd(libc::c_int);

impl PidFd {
    fn open(pid: u32) -> Option<PidFd> {
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        libc::c_int::try_from(fd)
            .ok()
            .filter(|fd| *fd >= 0)
            .map(PidFd)
    }

    /// Blocks until the process exits, `timeout` passes, or a signal interrupts.
    fn wait(&self, timeout: Duration) {
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

fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    if pgid > 0 {
        // SAFETY: killpg has no memory-safety preconditions; a failure (ESRCH: the group is
        // gone) needs no handling.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

fn status_of(status: ExitStatus) -> RunStatus {
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
