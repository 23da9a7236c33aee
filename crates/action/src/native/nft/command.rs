//! How `nft` is run: a program and the arguments before nft's own, so tests and containers
//! can run it as `ip netns exec NS nft`.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use crate::exec::{wait_or_kill, Capture};

/// How long one `nft` run may take unless told otherwise (fail2ban's action timeout).
pub const DEFAULT_NFT_TIMEOUT: Duration = Duration::from_secs(60);

/// Between SIGTERM and SIGKILL for an `nft` that timed out.
const KILL_GRACE: Duration = Duration::from_millis(200);

/// The most of nft's output kept: a listing of a million elements fits.
const STDOUT_LIMIT: usize = 256 << 20;

/// The most of nft's error output kept.
const STDERR_LIMIT: usize = 64 << 10;

/// The `nft` command jailor runs, without a shell: `program prefix_args… nft-args…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftCommand {
    program: PathBuf,
    prefix_args: Vec<OsString>,
    timeout: Duration,
}

impl NftCommand {
    /// The system's `nft`, looked up on `PATH`, then in `/usr/sbin` and `/sbin`.
    pub fn system() -> NftCommand {
        NftCommand::new(find("nft"), Vec::<OsString>::new())
    }

    /// `program` run with `prefix_args` before nft's own arguments, for example
    /// `NftCommand::new("/usr/bin/sudo", ["-n", "nft"])`.
    pub fn new<A: Into<OsString>>(
        program: impl Into<PathBuf>,
        prefix_args: impl IntoIterator<Item = A>,
    ) -> NftCommand {
        NftCommand {
            program: program.into(),
            prefix_args: prefix_args.into_iter().map(Into::into).collect(),
            timeout: DEFAULT_NFT_TIMEOUT,
        }
    }

    /// Kills `nft` (and what runs it) when a run takes longer than `timeout` (default
    /// [`DEFAULT_NFT_TIMEOUT`]); the run is then an error.
    pub fn with_timeout(mut self, timeout: Duration) -> NftCommand {
        self.timeout = timeout;
        self
    }

    /// `ip netns exec <namespace> nft`: nft inside a network namespace.
    pub fn in_netns(namespace: &str) -> NftCommand {
        NftCommand::new(
            find("ip"),
            [
                OsString::from("netns"),
                "exec".into(),
                namespace.into(),
                find("nft").into_os_string(),
            ],
        )
    }

    /// Runs `nft <args>` and returns its standard output.
    pub fn run(&self, args: &[&str]) -> Result<String, Error> {
        self.execute(args, None)
    }

    /// Runs the transaction `script` through `nft -f -` (`json`: `nft -j -f -`): all of it
    /// is applied, or nothing.
    pub fn run_script(&self, script: &[u8], json: bool) -> Result<String, Error> {
        let args: &[&str] = if json {
            &["-j", "-f", "-"]
        } else {
            &["-f", "-"]
        };
        self.execute(args, Some(script))
    }

    fn execute(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, Error> {
        let started = Instant::now();
        let mut child = Command::new(&self.program)
            .args(&self.prefix_args)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout ends `ip netns exec` and nft together.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                let what = format!("cannot run {}", self.program.display());
                Error::with_source(ErrorKind::Nft(what), e)
            })?;
        let stdout = Capture::start(child.stdout.take(), STDOUT_LIMIT);
        let stderr = Capture::start(child.stderr.take(), STDERR_LIMIT);
        // A writer thread: a stuck nft that stops reading must not block us past the timeout.
        let writer = match (stdin, child.stdin.take()) {
            (Some(script), Some(mut pipe)) => {
                let script = script.to_vec();
                // A write error (nft gone early) shows in its exit status.
                Some(std::thread::spawn(move || drop(pipe.write_all(&script))))
            }
            _ => None,
        };
        let status = wait_or_kill(&mut child, started, self.timeout, KILL_GRACE)
            .map_err(|e| Error::with_source(ErrorKind::Nft("cannot wait for nft".into()), e))?;
        if let Some(writer) = writer {
            // The child is gone, so its end of the pipe is closed and the write has ended.
            let _ = writer.join();
        }
        let deadline = Instant::now() + Duration::from_millis(200);
        let Some(status) = status else {
            return Err(Error::new(ErrorKind::Nft(format!(
                "timed out after {} s",
                self.timeout.as_secs_f64()
            ))));
        };
        if status.success() {
            return Ok(stdout.take(deadline));
        }
        let stderr = stderr.take(deadline);
        let first = stderr
            .lines()
            .find(|l| l.starts_with("Error") || l.contains("rror:"))
            .or_else(|| stderr.lines().next())
            .unwrap_or("");
        let status = match status.code() {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".to_owned(),
        };
        let first: String = first.chars().take(300).collect();
        Err(Error::new(ErrorKind::Nft(format!("{status}: {first}"))))
    }
}

fn find(cmd: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(cmd))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stuck_nft_is_killed_at_the_timeout() {
        // `sleep 10 -f -`: sleep rejects the extra arguments, so use a shell that ignores them.
        let nft = NftCommand::new("/bin/sh", ["-c", "sleep 10", "nft"])
            .with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let e = nft.run_script(&vec![b'x'; 1 << 20], false).unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn output_and_errors_are_reported() {
        let ok = NftCommand::new("/bin/sh", ["-c", "cat; echo done", "nft"]);
        assert_eq!(ok.run_script(b"abc\n", false).unwrap(), "abc\ndone\n");
        let bad = NftCommand::new(
            "/bin/sh",
            [
                "-c",
                "echo 'warning' >&2; echo 'Error: No such file or directory' >&2; exit 1",
                "nft",
            ],
        );
        let e = bad.run(&["list", "ruleset"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nft failed: exit code 1: Error: No such file or directory"
        );
    }
}
