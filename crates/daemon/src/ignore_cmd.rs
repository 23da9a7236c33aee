//! `ignorecommand`: a shell command deciding whether an address is never banned.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jailor_policy::{Id, IgnoreCache, IgnoreCommand};
use jailor_proto::IgnoreCacheOptions;

/// Reads `ignorecache` (`key="<ip>", max-count=100, max-time=5m`, fail2ban's defaults for
/// the counts left out); `None` when empty. Errors are fail2ban's texts where it has one.
pub(crate) fn parse_ignore_cache(text: &str) -> Result<Option<IgnoreCacheOptions>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let (_, args) = jailor_config::extract_options(&format!("ignorecache[{text}]"))
        .map_err(|_| format!("expected option, wrong syntax: {text}"))?;
    let key = args.get("key").ok_or_else(|| "'key'".to_owned())?;
    let max_count = match args.get("max-count") {
        None => 100,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("invalid literal for int() with base 10: '{v}'"))?,
    };
    let max_time = match args.get("max-time") {
        None => 300,
        Some(v) => jailor_config::parse_time(v).map_err(|e| e.to_string())? as i64,
    };
    Ok(Some(IgnoreCacheOptions {
        key: key.clone(),
        max_count,
        max_time,
    }))
}

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
    /// `ignorecache`: the key template and the decisions kept.
    cache: Option<(String, IgnoreCache)>,
}

impl ShellIgnore {
    /// A hook running `command` (tags unsubstituted), killed after `timeout`.
    pub fn new(command: &str, timeout: Duration) -> ShellIgnore {
        ShellIgnore {
            command: command.to_owned(),
            timeout,
            cache: None,
        }
    }

    /// Keeps the decisions as `ignorecache` says. Only keys made of `<ip>`/`<fid>` and text
    /// are cached (the id is all this hook sees); another key leaves the cache off, so no two
    /// different failures ever share a decision.
    pub fn with_cache(mut self, options: Option<&IgnoreCacheOptions>) -> ShellIgnore {
        self.cache = options
            .filter(|o| !o.key.replace("<ip>", "").replace("<fid>", "").contains('<'))
            .map(|o| {
                let count = usize::try_from(o.max_count).unwrap_or(usize::MAX);
                let time = Duration::from_secs(u64::try_from(o.max_time).unwrap_or(0));
                (o.key.clone(), IgnoreCache::new(count, time))
            });
        self
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
        let Some((template, cache)) = &mut self.cache else {
            return self.run(id);
        };
        let text = id.to_string();
        let key = template.replace("<ip>", &text).replace("<fid>", &text);
        if let Some(decision) = cache.get(&key, Instant::now()) {
            return Ok(decision);
        }
        let decision = self.run(id)?;
        if let Some((_, cache)) = &mut self.cache {
            cache.put(&key, decision, Instant::now());
        }
        Ok(decision)
    }
}

impl ShellIgnore {
    fn run(&mut self, id: &Id) -> Result<bool, String> {
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
    fn ignorecache_keeps_decisions_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let cmd = format!("echo <ip> >> {}; test <ip> = 192.0.2.1", runs.display());
        let opts = parse_ignore_cache("key=\"<ip>\", max-count=10, max-time=1h").unwrap();
        let mut hook = ShellIgnore::new(&cmd, Duration::from_secs(5)).with_cache(opts.as_ref());
        for _ in 0..3 {
            assert_eq!(hook.ignores(&Id::parse("192.0.2.1")), Ok(true));
            assert_eq!(hook.ignores(&Id::parse("192.0.2.2")), Ok(false));
        }
        let ran = std::fs::read_to_string(&runs).unwrap();
        assert_eq!(ran, "192.0.2.1\n192.0.2.2\n");
        // A key with a tag this hook cannot fill: no cache.
        let user = parse_ignore_cache("key=<F-USER>@<ip>").unwrap();
        let mut hook = ShellIgnore::new(&cmd, Duration::from_secs(5)).with_cache(user.as_ref());
        hook.ignores(&Id::parse("192.0.2.3")).unwrap();
        hook.ignores(&Id::parse("192.0.2.3")).unwrap();
        assert_eq!(count_lines(&runs, "192.0.2.3"), 2);
    }

    fn count_lines(path: &std::path::Path, line: &str) -> usize {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| *l == line)
            .count()
    }

    #[test]
    fn parses_fail2ban_ignorecache_values() {
        let o = parse_ignore_cache("key=\"<ip>\", max-count=5, max-time=1h")
            .unwrap()
            .unwrap();
        assert_eq!((o.key.as_str(), o.max_count, o.max_time), ("<ip>", 5, 3600));
        let o = parse_ignore_cache("key=<ip>").unwrap().unwrap();
        assert_eq!((o.max_count, o.max_time), (100, 300));
        assert_eq!(parse_ignore_cache(" ").unwrap(), None);
        assert_eq!(parse_ignore_cache("max-count=1").unwrap_err(), "'key'");
        assert!(parse_ignore_cache("key=a, max-count=x").is_err());
        assert!(parse_ignore_cache("key=a, max-time=soon").is_err());
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
