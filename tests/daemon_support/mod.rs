//! Helpers for the daemon tests: a configuration folder written by the test, the real
//! `jailor server` binary, and polling for what it logs and what its actions write.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Our own test filter: a failure line is `<epoch> auth failure from <address>`.
pub const FILTER: &str =
    "[Definition]\nfailregex = ^\\s*auth failure from <HOST>$\ndatepattern = ^EPOCH\n";

/// An action appending `ban <ip> <bantime>` / `unban <ip>` to `<file>`.
pub const RECORD_ACTION: &str = "[Definition]
actionstart = echo start >> <file>
actionstop = echo stop >> <file>
actionban = echo \"ban <ip> <bantime>\" >> <file>
actionunban = echo \"unban <ip>\" >> <file>
[Init]
file = /dev/null
";

/// A configuration folder with `fail2ban.conf`, the test filter and the recording action.
pub struct Conf {
    pub dir: tempfile::TempDir,
}

impl Conf {
    /// A new folder; `jails` is the text of `jail.conf`, where `@DIR@` stands for the folder.
    pub fn new(jails: &str) -> Conf {
        let dir = tempfile::tempdir().unwrap();
        let c = Conf { dir };
        let d = c.path().display().to_string();
        fs::create_dir_all(c.path().join("filter.d")).unwrap();
        fs::create_dir_all(c.path().join("action.d")).unwrap();
        fs::write(
            c.path().join("fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/jailor.log\nsocket = {d}/jailor.sock\npidfile = {d}/jailor.pid\ndbfile = {d}/jailor.sqlite3\n"
            ),
        )
        .unwrap();
        fs::write(c.path().join("filter.d/test.conf"), FILTER).unwrap();
        fs::write(c.path().join("action.d/record.conf"), RECORD_ACTION).unwrap();
        c.set_jails(jails);
        c
    }

    /// Rewrites `jail.conf`.
    pub fn set_jails(&self, jails: &str) {
        let d = self.path().display().to_string();
        fs::write(self.path().join("jail.conf"), jails.replace("@DIR@", &d)).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        read(&self.file("jailor.log"))
    }

    /// What the actions wrote so far.
    pub fn actions(&self) -> String {
        read(&self.file("actions.txt"))
    }
}

/// A file's text, empty when missing (lossy for invalid UTF-8).
pub fn read(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// A running `jailor server -f`; killed when dropped.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn start(conf: &Conf) -> Daemon {
        Daemon::start_with_env(conf, &[])
    }

    /// Like [`Daemon::start`], with extra environment variables.
    pub fn start_with_env(conf: &Conf, env: &[(&str, &str)]) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_jailor"))
            .envs(env.iter().copied())
            .args(["server", "-f", "-x", "-c"])
            .arg(conf.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr_file(conf))
            .spawn()
            .unwrap();
        Daemon { child }
    }

    /// Starts and waits until every jail in `jails` logged `Jail '<name>' started`
    /// (counting from `already` such lines in the log before the start).
    pub fn start_ready(conf: &Conf, jails: &[&str]) -> Daemon {
        let before: Vec<usize> = jails
            .iter()
            .map(|j| count(&conf.log(), &format!("Jail '{j}' started")))
            .collect();
        let mut d = Daemon::start(conf);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = conf.log();
            let started = jails
                .iter()
                .zip(&before)
                .all(|(j, b)| count(&log, &format!("Jail '{j}' started")) > *b);
            if started {
                return d;
            }
            if Instant::now() >= deadline || !d.is_running() {
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "jails {jails:?} not started (server running: {}); its stderr: {}\nthe log ends with:\n{}",
                    d.is_running(),
                    read(&conf.file("stderr.txt")),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// SIGTERM, then waits for the process to end (it must end within 20 s).
    pub fn stop(mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "server exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not stop within 20 s of SIGTERM");
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's standard error, appended to `stderr.txt` in the configuration folder.
fn stderr_file(conf: &Conf) -> Stdio {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(conf.file("stderr.txt"))
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

/// Polls `cond` every 20 ms for up to `secs` seconds; panics naming `what` if it never holds.
pub fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {secs} s waiting for: {what}");
}

/// Non-overlapping occurrences of `needle`.
pub fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// Lines of `hay` that end with `needle` (so `Ban 10.0.0.1` does not count `Ban 10.0.0.12`).
pub fn count_lines_ending(hay: &str, needle: &str) -> usize {
    hay.lines().filter(|l| l.ends_with(needle)).count()
}

pub fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One failure line of the test filter, dated now.
pub fn failure(ip: &str) -> String {
    format!("{} auth failure from {ip}\n", epoch())
}

/// Appends `text` to `path` in one write (creating the file).
pub fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Runs `jailor client -c DIR -s DIR/jailor.sock ARGS...`.
pub fn client(conf: &Conf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jailor"))
        .arg("client")
        .arg("-c")
        .arg(conf.path())
        .arg("-s")
        .arg(conf.file("jailor.sock"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the client, asserts success and returns its standard output.
pub fn ok(conf: &Conf, args: &[&str]) -> String {
    let out = client(conf, args);
    assert!(
        out.status.success(),
        "{args:?}: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the client with `--json` and returns the parsed reply; the exit code must match its
/// `ok` field (0, or fail2ban-client's 255).
pub fn json(conf: &Conf, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = client(conf, &all);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    let code = if v["ok"] == true { 0 } else { 255 };
    assert_eq!(out.status.code(), Some(code), "{v}");
    v
}

/// Starts the daemon on the jail `test` (its log created empty) and waits for its socket.
pub fn started(conf: &Conf) -> Daemon {
    append(&conf.file("auth.log"), "");
    let d = Daemon::start_ready(conf, &["test"]);
    wait_for("the socket", 10, || conf.file("jailor.sock").exists());
    d
}

/// Turns on the metrics endpoint in `conf`'s `fail2ban.conf`, on port 0 (the kernel picks a
/// free port; the server logs where it listens: [`metrics_addr`]).
pub fn enable_metrics(conf: &Conf) {
    let main = read(&conf.file("fail2ban.conf"));
    std::fs::write(
        conf.file("fail2ban.conf"),
        format!("{main}metrics = 127.0.0.1:0\n"),
    )
    .unwrap();
}

/// The address the server logged for its metrics endpoint (`--metrics ADDR`, port 0 allowed).
pub fn metrics_addr(conf: &Conf) -> String {
    let mut addr = String::new();
    wait_for("the metrics endpoint in the log", 30, || {
        let found = conf
            .log()
            .lines()
            .find_map(|l| l.split("Metrics served on http://").nth(1))
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .map(str::to_owned);
        found.map(|a| addr = a).is_some()
    });
    addr
}

/// `GET /metrics` from the endpoint at `addr`: the body.
pub fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP head");
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    body.to_owned()
}

/// The value of the sample `series` (name and labels as written) in a scrape; 0 when absent.
pub fn metric(body: &str, series: &str) -> u64 {
    let values: BTreeMap<&str, &str> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .collect();
    values.get(series).and_then(|v| v.parse().ok()).unwrap_or(0)
}
