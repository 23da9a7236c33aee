//! `ignorecommand`: a shell command deciding whether an address is never banned.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jailor_policy::{Id, IgnoreCommand};

/// Runs a jail's `ignorecommand` (fail2ban: exit 0 ignores, 1 does not, anything else is an
/// error that does not ignore).
///
/// `<ip>` is written into the script only when the id is an address or network (their text
/// is digits, dots, colons, hex and `/`). A raw id from a log reaches the script only as the
/// environment variable `f2bV_ip`, quoted, never as script text.
#[derive(Debug, Clone)]
pub struct ShellIgnore {
    command: String,
    timeout: Duration,
}

impl ShellIgnore {
    /// A hook running `command` (tags unsubstituted), killed after `timeout`.
    pub fn new(command: &str, timeout: Duration) -> ShellIgnore {
        ShellIgnore {
            command: command.to_owned(),
            timeout,
        }
    }

    fn script(&self, id: &Id) -> String {
        let (ip, family) = match id {
            Id::Ip(ip) => (ip.to_string(), if ip.is_ipv4() { "inet4" } else { "inet6" }),
            Id::Net(n) => (
                n.to_string(),
                if n.addr().is_ipv4() { "inet4" } else { "inet6" },
            ),
            Id::Raw(_) => ("\"$f2bV_ip\"".to_owned(), ""),
        };
        self.command
            .replace("<ip>", &ip)
            .replace("<fid>", &ip)
            .replace("<family>", family)
    }
}

impl IgnoreCommand for ShellIgnore {
    fn ignores(&mut self, id: &Id) -> Result<bool, String> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(self.script(id))
            .env("f2bV_ip", id.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run ignorecommand: {e}"))?;
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return match status.code() {
                        Some(0) => Ok(true),
                        Some(1) => Ok(false),
                        other => Err(format!("ignorecommand ended with {other:?}")),
                    }
                }
                Ok(None) if start.elapsed() < self.timeout => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => {
                    let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
                    let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait();
                    return Err(format!("ignorecommand timed out after {:?}", self.timeout));
                }
                Err(e) => return Err(format!("ignorecommand: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_decide() {
        let mut yes = ShellIgnore::new("test <ip> = 192.0.2.1", Duration::from_secs(5));
        assert_eq!(yes.ignores(&Id::parse("192.0.2.1")), Ok(true));
        assert_eq!(yes.ignores(&Id::parse("192.0.2.2")), Ok(false));
        let mut broken = ShellIgnore::new("exit 3", Duration::from_secs(5));
        assert!(broken.ignores(&Id::parse("192.0.2.1")).is_err());
    }

    #[test]
    fn raw_ids_stay_out_of_the_script() {
        let cmd = ShellIgnore::new("test <ip> = 'x'", Duration::from_secs(5));
        let script = cmd.script(&Id::parse("$(touch /tmp/pwned)"));
        assert!(!script.contains("touch"), "{script}");
        let mut cmd = ShellIgnore::new("test <ip> = '$(id)'", Duration::from_secs(5));
        assert_eq!(cmd.ignores(&Id::parse("$(id)")), Ok(true));
    }

    #[test]
    fn a_hanging_command_is_killed() {
        let mut cmd = ShellIgnore::new("sleep 30", Duration::from_millis(200));
        let start = Instant::now();
        assert!(cmd.ignores(&Id::parse("192.0.2.1")).is_err());
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
