//! How `nft` is run: a program and the arguments before nft's own, so tests and containers
//! can run it as `ip netns exec NS nft`.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::error::{Error, ErrorKind};

/// The `nft` command jailor runs, without a shell: `program prefix_args… nft-args…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftCommand {
    program: PathBuf,
    prefix_args: Vec<OsString>,
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
        }
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
            .spawn()
            .map_err(|e| {
                let what = format!("cannot run {}", self.program.display());
                Error::with_source(ErrorKind::Nft(what), e)
            })?;
        if let (Some(script), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // nft reads its whole input before it answers, so writing first cannot deadlock;
            // a write error (nft gone early) is reported through its exit status below.
            let _ = pipe.write_all(script);
        }
        let output = child
            .wait_with_output()
            .map_err(|e| Error::with_source(ErrorKind::Nft("cannot wait for nft".into()), e))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| l.starts_with("Error") || l.contains("rror:"))
            .or_else(|| stderr.lines().next())
            .unwrap_or("");
        let status = match output.status.code() {
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
