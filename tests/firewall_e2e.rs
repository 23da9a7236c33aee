//! Bans reach the kernel: the real `jailor server` with `banaction = jailor-nftables`, run
//! inside network namespaces the tests create and delete.
//!
//! - `native_action_through_the_daemon`: a ban shows in `nft list set`, leaves at stop, comes
//!   back at restart with its remaining time, and goes at its unban.
//! - `real_sshd_attack_is_blocked`: a real OpenSSH server in namespace `srv`, its log read by
//!   jailor's `sshd` jail (our own `config/`); namespace `atk` tries wrong passwords with a
//!   real `ssh` client; after maxretry failures its TCP connections to port 22 fail while
//!   namespace `ok` still connects, and after bantime `atk` connects again.
//!
//! Addresses are 10.201.x.x and fd42:201::/32 on veth pairs that exist only in the
//! namespaces.

mod daemon_support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use daemon_support::*;

/// A network namespace, deleted (with the processes started in it by the test) when dropped.
struct Netns {
    name: String,
    children: Vec<Child>,
}

impl Netns {
    fn new(short: &str) -> Netns {
        let name = format!("jl{}-{short}", std::process::id());
        let _ = run(&["ip", "netns", "del", &name]);
        let out = run(&["ip", "netns", "add", &name]);
        assert!(out.status.success(), "ip netns add {name}: {out:?}");
        let ns = Netns {
            name,
            children: Vec::new(),
        };
        ns.ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} in {}: {out:?}", self.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether a TCP connection to `addr` port 22 opens within 2 s.
    fn connects(&self, addr: &str) -> bool {
        let script = format!("exec 3<>/dev/tcp/{addr}/22");
        self.run(&["timeout", "2", "bash", "-c", &script])
            .status
            .success()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Joins `a` and `b` by a veth pair with the given IPv4 and IPv6 addresses (/24, /64).
fn link(a: &Netns, a4: &str, a6: &str, b: &Netns, b4: &str, b6: &str, tag: &str) {
    let (ea, eb) = (
        format!("v{tag}a{}", std::process::id()),
        format!("v{tag}b{}", std::process::id()),
    );
    let out = run(&[
        "ip", "link", "add", &ea, "netns", &a.name, "type", "veth", "peer", "name", &eb, "netns",
        &b.name,
    ]);
    assert!(out.status.success(), "veth: {out:?}");
    for (ns, dev, v4, v6) in [(a, &ea, a4, a6), (b, &eb, b4, b6)] {
        ns.ok(&["ip", "addr", "add", &format!("{v4}/24"), "dev", dev]);
        ns.ok(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{v6}/64"),
            "dev",
            dev,
            "nodad",
        ]);
        ns.ok(&["ip", "link", "set", dev, "up"]);
    }
}

/// `(address, timeout)` of the elements of set `set` of table `inet jailor` (empty when the
/// set does not exist).
fn elements(ns: &Netns, set: &str) -> Vec<(String, Option<u64>)> {
    let out = ns.run(&["nft", "-j", "list", "set", "inet", "jailor", set]);
    if !out.status.success() {
        return Vec::new();
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found = Vec::new();
    for item in doc["nftables"].as_array().into_iter().flatten() {
        for e in item["set"]["elem"].as_array().into_iter().flatten() {
            let (val, timeout) = match e.get("elem") {
                Some(inner) => (&inner["val"], inner["timeout"].as_u64()),
                None => (e, None),
            };
            found.push((val.as_str().unwrap_or_default().to_owned(), timeout));
        }
    }
    found
}

fn has(ns: &Netns, set: &str, addr: &str) -> bool {
    elements(ns, set).iter().any(|(a, _)| a == addr)
}

/// `jailor server -f` inside `ns`.
fn start_daemon(ns: &Netns, conf: &Path) -> Daemon {
    let child = ns
        .command(&[env!("CARGO_BIN_EXE_jailor"), "server", "-f", "-x", "-c"])
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Daemon { child }
}

fn requirements(test: &str) -> bool {
    jailor_testkit::require_root(test).is_some()
        && jailor_testkit::require_command(test, "nft", "nftables").is_some()
        && jailor_testkit::require_command(test, "ip", "iproute2").is_some()
}

#[test]
fn native_action_through_the_daemon() {
    let test = "native_action_through_the_daemon";
    if !requirements(test) {
        return;
    }
    let conf = Conf::new(
        "[DEFAULT]
bantime = 8
findtime = 60
maxretry = 2
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = jailor-nftables[port=\"22\", blocktype=drop]
",
    );
    // The configuration reader still wants the file; the daemon never runs its commands.
    fs::copy(
        jailor_testkit::project_root().join("config/action.d/jailor-nftables.conf"),
        conf.file("action.d/jailor-nftables.conf"),
    )
    .unwrap();
    append(&conf.file("auth.log"), "");
    let ns = Netns::new("d");
    let d = start_daemon(&ns, conf.path());
    wait_for("the jail start", 20, || {
        conf.log().contains("Jail 'test' started")
    });
    ns.ok(&["nft", "list", "chain", "inet", "jailor", "jail-test"]);
    assert!(elements(&ns, "addr4-test").is_empty());

    let log = conf.file("auth.log");
    append(&log, &failure("192.0.2.7").repeat(2));
    append(&log, &failure("2001:db8::7").repeat(2));
    wait_for("both bans in the kernel", 10, || {
        has(&ns, "addr4-test", "192.0.2.7") && has(&ns, "addr6-test", "2001:db8::7")
    });
    let banned_at = Instant::now();
    let e = elements(&ns, "addr4-test");
    assert!(matches!(e[0].1, Some(t) if (6..=8).contains(&t)), "{e:?}");
    // A command action file was never run: its set and chain names do not exist.
    assert!(!ns
        .run(&["nft", "list", "set", "inet", "jailor", "addr-test"])
        .status
        .success());

    // Stop: the jail's objects go (fail2ban flushes at stop), the table with them.
    d.stop();
    assert!(!ns
        .run(&["nft", "list", "table", "inet", "jailor"])
        .status
        .success());

    // Restart: the store's bans come back in the kernel with their remaining time.
    let d = start_daemon(&ns, conf.path());
    wait_for("the restore", 20, || {
        has(&ns, "addr4-test", "192.0.2.7") && has(&ns, "addr6-test", "2001:db8::7")
    });
    let left = 8 - banned_at.elapsed().as_secs();
    for set in ["addr4-test", "addr6-test"] {
        let e = elements(&ns, set);
        assert!(
            matches!(e[0].1, Some(t) if t <= left + 1),
            "{set}: {e:?}, {left} s left"
        );
    }
    assert!(conf.log().contains("Restore Ban 192.0.2.7"));

    // The unban removes them.
    wait_for("the unban", 15, || conf.log().contains("Unban 192.0.2.7"));
    wait_for("the element's removal", 3, || {
        !has(&ns, "addr4-test", "192.0.2.7")
    });
    d.stop();
}

/// A syslog line as rsyslog writes it, for a line sshd wrote to stderr with `-e`.
fn syslog_line(pid: u32, line: &str) -> String {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::system());
    format!(
        "{} srv sshd[{pid}]: {line}\n",
        now.strftime("%b %e %H:%M:%S")
    )
}

/// Starts sshd in `srv` on a config in `dir`; its stderr lines, timestamped, go to `log`.
fn start_sshd(srv: &mut Netns, dir: &Path, log: PathBuf) {
    let key = dir.join("host_ed25519");
    let out = run(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        key.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let config = dir.join("sshd_config");
    fs::write(
        &config,
        format!(
            "Port 22\nListenAddress 0.0.0.0\nListenAddress ::\nHostKey {}\nPidFile {}/sshd.pid\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin yes\nStrictModes no\nLogLevel INFO\nMaxStartups 100\n",
            key.display(),
            dir.display()
        ),
    )
    .unwrap();
    fs::create_dir_all("/run/sshd").unwrap();
    let sshd = jailor_testkit::find_command("sshd").unwrap();
    let mut child = srv
        .command(&[
            sshd.to_str().unwrap(),
            "-D",
            "-e",
            "-f",
            config.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = child.id();
    srv.children.push(child);
    std::thread::spawn(move || {
        let mut out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = out.write_all(syslog_line(pid, &line).as_bytes());
        }
    });
}

/// One wrong-password login from `ns` (one `Failed password` line).
fn wrong_password(ns: &Netns, addr: &str) {
    let _ = ns.run(&[
        "sshpass",
        "-p",
        "wrong",
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "ConnectTimeout=3",
        &format!("root@{addr}"),
        "true",
    ]);
}

/// A temp copy of the project's `config/` with a `jailor.local` and a `jail.local` for the
/// sshd jail reading `dir/auth.log`.
fn sshd_config(dir: &Path, banaction: &str) -> PathBuf {
    let conf = dir.join("conf");
    copy_dir(&jailor_testkit::project_root().join("config"), &conf);
    let d = dir.display();
    fs::write(
        conf.join("jailor.local"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {d}/jailor.log\nsocket = {d}/jailor.sock\n\
             pidfile = {d}/jailor.pid\ndbfile = {d}/jailor.sqlite3\n"
        ),
    )
    .unwrap();
    fs::write(
        conf.join("jail.local"),
        format!(
            "[DEFAULT]\nbanaction = {banaction}\nignoreself = false\n\
             [sshd]\nenabled = true\nbackend = polling\nlogpath = {d}/auth.log\n\
             maxretry = 3\nfindtime = 60\nbantime = 10\n"
        ),
    )
    .unwrap();
    conf
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn real_sshd_attack_is_blocked() {
    let test = "real_sshd_attack_is_blocked";
    if !requirements(test)
        || jailor_testkit::require_command(test, "sshd", "openssh-server").is_none()
        || jailor_testkit::require_command(test, "sshpass", "sshpass").is_none()
        || jailor_testkit::require_command(test, "ssh", "openssh-client").is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Netns::new("srv");
    let atk = Netns::new("atk");
    let ok = Netns::new("ok");
    link(
        &srv,
        "10.201.1.1",
        "fd42:201:1::1",
        &atk,
        "10.201.1.2",
        "fd42:201:1::2",
        "a",
    );
    link(
        &srv,
        "10.201.2.1",
        "fd42:201:2::1",
        &ok,
        "10.201.2.2",
        "fd42:201:2::2",
        "o",
    );
    let auth_log = dir.path().join("auth.log");
    append(&auth_log, "");
    start_sshd(&mut srv, dir.path(), auth_log.clone());
    wait_for("sshd listening", 10, || atk.connects("10.201.1.1"));

    let conf = sshd_config(dir.path(), "jailor-nftables");
    let jailor_log = dir.path().join("jailor.log");
    let d = start_daemon(&srv, &conf);
    wait_for("the sshd jail", 20, || {
        read(&jailor_log).contains("Jail 'sshd' started")
    });

    for _ in 0..3 {
        wrong_password(&atk, "10.201.1.1");
    }
    wait_for("the ban in the kernel", 15, || {
        has(&srv, "addr4-sshd", "10.201.1.2")
    });
    let banned_at = Instant::now();
    let log = read(&jailor_log);
    assert!(
        log.contains("[sshd] Ban 10.201.1.2"),
        "{log}\n{}",
        read(&auth_log)
    );
    assert!(!atk.connects("10.201.1.1"), "the attacker still connects");
    assert!(ok.connects("10.201.2.1"), "the bystander is blocked too");

    // After bantime (10 s) the attacker connects again.
    wait_for("the unban", 20, || atk.connects("10.201.1.1"));
    let after = banned_at.elapsed();
    assert!(after >= Duration::from_secs(7), "unbanned after {after:?}");
    // The kernel's timeout and the daemon's unban fall due together.
    wait_for("the Unban line", 5, || {
        read(&jailor_log).contains("[sshd] Unban 10.201.1.2")
    });
    assert!(!has(&srv, "addr4-sshd", "10.201.1.2"));
    d.stop();
}
