//! fail2ban's own firewall actions, read unchanged from its configuration (`../shared/compat`)
//! and run by jailor's generic action runner inside network namespaces the tests create and
//! delete. In every test an attacker namespace `atk` is banned and a bystander `ok` is not.
//!
//! - `iptables_multiport_real_attack`, `nftables_multiport_real_attack`: fail2ban's whole
//!   configuration with `banaction` set; a real sshd in `srv` whose log the `sshd` jail (its
//!   own filter) reads; wrong passwords from a real `ssh` client: `atk` is blocked while `ok`
//!   still connects, free again after bantime; banned again, `jailor client set sshd unbanip`
//!   frees it at once, and the same over IPv6; at stop the action's chain or table is gone.
//! - `iptables_allports`, `nftables_allports`, `iptables_ipset`,
//!   `iptables_ipset_proto6_allports`, `route`: a failure line for
//!   `atk` bans it; the kernel object holds the address, `atk` is blocked and `ok` is not; an
//!   unban through the control socket frees it; stop removes the objects.
//! - `hostsdeny_with_tcp_wrappers`: Debian's sshd still checks `/etc/hosts.deny`; in a
//!   private mount namespace whose `/etc` is an overlay (the machine's own file is never
//!   touched), the ban's line makes sshd close `atk`'s connections before its banner, and
//!   the unban removes the line.

mod daemon_support;
mod firewall_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon_support::*;
use firewall_support::*;
// The firewall tests pass the socket path themselves.
use firewall_support::client;

/// fail2ban's `config/` folder (a skip when the corpus is missing).
fn f2b_config(test: &str) -> Option<PathBuf> {
    jailor_testkit::require_corpus(test).map(|c| c.join("config"))
}

/// A temp copy of fail2ban's whole configuration with a `fail2ban.local` keeping the server's
/// files in `dir` and a `jail.local` enabling `sshd` on `dir/auth.log` with `banaction`.
fn sshd_conf(f2b: &Path, dir: &Path, banaction: &str) -> PathBuf {
    let conf = dir.join("conf");
    copy_dir(f2b, &conf);
    let d = dir.display();
    fs::write(
        conf.join("fail2ban.local"),
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

/// The real-attack scenario with fail2ban's `banaction`; `in_kernel(srv, addr)` says whether
/// the action's kernel object holds `addr`, `leftover(srv)` whether any of its objects is
/// still there.
fn real_attack(
    test: &str,
    banaction: &str,
    in_kernel: fn(&Netns, &str) -> bool,
    leftover: fn(&Netns) -> bool,
) {
    if !ssh_requirements(test) {
        return;
    }
    let Some(f2b) = f2b_config(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let auth_log = dir.path().join("auth.log");
    let lab = Lab::new(dir.path(), &auth_log);
    let (srv, atk, ok) = (&lab.srv, &lab.atk, &lab.ok);
    let conf = sshd_conf(&f2b, dir.path(), banaction);
    let jailor_log = dir.path().join("jailor.log");
    let stderr = dir.path().join("stderr.txt");
    let d = start_daemon(srv, &conf, &stderr);
    let diag = || {
        format!(
            "jailor's log:\n{}\nits stderr:\n{}\nsshd's log:\n{}",
            read(&jailor_log),
            read(&stderr),
            read(&auth_log)
        )
    };
    wait_for("the sshd jail", 30, || {
        read(&jailor_log).contains("Jail 'sshd' started")
    });

    let sock = dir.path().join("jailor.sock");
    // Round 0: IPv4, freed by bantime; round 1: IPv4, freed by unbanip; round 2: the same
    // over IPv6.
    for round in 0..3 {
        let (server, attacker, bystander_server) = if round < 2 {
            ("10.201.1.1", "10.201.1.2", "10.201.2.1")
        } else {
            ("fd42:201:1::1", "fd42:201:1::2", "fd42:201:2::1")
        };
        if round == 1 {
            // The later bans last 10 minutes: only the unbanip can lift them in time.
            let out = client(&conf, &sock, &["set", "sshd", "bantime", "600"]);
            assert!(out.status.success(), "{out:?}");
        }
        for _ in 0..3 {
            wrong_password(atk, server);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !in_kernel(srv, attacker) {
            assert!(
                Instant::now() < deadline,
                "no ban of {attacker} in the kernel\n{}",
                diag()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let banned_at = Instant::now();
        assert!(
            read(&jailor_log).contains(&format!("[sshd] Ban {attacker}")),
            "{}",
            diag()
        );
        assert!(!atk.connects(server), "the attacker still connects");
        assert!(
            ok.connects(bystander_server),
            "the bystander is blocked too"
        );
        if round == 0 {
            // After bantime (10 s) the attacker connects again.
            wait_for("the unban", 30, || atk.connects(server));
            let after = banned_at.elapsed();
            assert!(after >= Duration::from_secs(7), "unbanned after {after:?}");
            assert!(read(&jailor_log).contains(&format!("[sshd] Unban {attacker}")));
            assert!(!in_kernel(srv, attacker));
        } else {
            // Lifted at once through the control socket.
            let out = client(&conf, &sock, &["set", "sshd", "unbanip", attacker]);
            assert!(out.status.success(), "{out:?}");
            wait_for("the unbanip's effect", 5, || !in_kernel(srv, attacker));
            assert!(atk.connects(server), "still blocked after unbanip");
            assert!(banned_at.elapsed() < Duration::from_secs(120));
        }
    }
    d.stop();
    assert!(!leftover(srv), "left behind at stop:\n{}", srv.ruleset());
}

/// `iptables -S CHAIN` (`ip6tables` for an IPv6 address) mentions `addr`.
fn iptables_chain_has(ns: &Netns, chain: &str, addr: &str) -> bool {
    let (tool, len) = if addr.contains(':') {
        ("ip6tables", 128)
    } else {
        ("iptables", 32)
    };
    let out = ns.run(&[tool, "-w", "-S", chain]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&format!("{addr}/{len}"))
}

/// The chain exists for IPv4 or IPv6.
fn iptables_chain_exists(ns: &Netns, chain: &str) -> bool {
    ["iptables", "ip6tables"]
        .iter()
        .any(|tool| ns.run(&[tool, "-w", "-S", chain]).status.success())
}

/// The elements of an nftables set of fail2ban's table `inet f2b-table` mention `addr`.
fn f2b_nft_set_has(ns: &Netns, set: &str, addr: &str) -> bool {
    let out = ns.run(&["nft", "list", "set", "inet", "f2b-table", set]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(addr)
}

fn f2b_nft_table_exists(ns: &Netns) -> bool {
    ns.run(&["nft", "list", "table", "inet", "f2b-table"])
        .status
        .success()
}

fn iptables_requirements(test: &str) -> bool {
    jailor_testkit::require_command(test, "iptables", "iptables").is_some()
}

#[test]
fn iptables_multiport_real_attack() {
    let test = "iptables_multiport_real_attack";
    if !iptables_requirements(test) {
        return;
    }
    real_attack(
        test,
        "iptables-multiport",
        |ns, a| iptables_chain_has(ns, "f2b-sshd", a),
        |ns| iptables_chain_exists(ns, "f2b-sshd"),
    );
}

#[test]
fn nftables_multiport_real_attack() {
    real_attack(
        "nftables_multiport_real_attack",
        "nftables-multiport",
        |ns, a| {
            let set = if a.contains(':') {
                "addr6-set-sshd"
            } else {
                "addr-set-sshd"
            };
            f2b_nft_set_has(ns, set, a)
        },
        f2b_nft_table_exists,
    );
}

/// A jail `test` on the test filter with fail2ban's `action.d` beside it and `action`.
fn injected_conf(f2b: &Path, action: &str) -> Conf {
    let conf = Conf::new(&format!(
        "[DEFAULT]\nbantime = 600\nfindtime = 60\nmaxretry = 1\n\
         [test]\nenabled = true\nfilter = test\nbackend = polling\nlogpath = @DIR@/auth.log\n\
         action = {action}\n"
    ));
    copy_dir(&f2b.join("action.d"), &conf.file("action.d"));
    append(&conf.file("auth.log"), "");
    conf
}

/// Bans `atk` with fail2ban's `action` from a failure line; `in_kernel(srv, addr)` must then
/// hold and `atk` be blocked while `ok` is not; an unban through the control socket reverses
/// both; `leftover(srv)` must be false after the stop.
fn injected(
    test: &str,
    action: &str,
    in_kernel: impl Fn(&Netns, &str) -> bool,
    leftover: impl Fn(&Netns) -> bool,
) {
    if !ssh_requirements(test) {
        return;
    }
    let Some(f2b) = f2b_config(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::new(dir.path(), &dir.path().join("sshd.log"));
    let (srv, atk, ok) = (&lab.srv, &lab.atk, &lab.ok);
    let conf = injected_conf(&f2b, action);
    let d = start_daemon(srv, conf.path(), &conf.file("stderr.txt"));
    wait_for("the jail start", 30, || {
        conf.log().contains("Jail 'test' started")
    });
    append(&conf.file("auth.log"), &failure("10.201.1.2"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !in_kernel(srv, "10.201.1.2") {
        assert!(
            Instant::now() < deadline,
            "no ban in the kernel\n{}\n{}",
            conf.log(),
            read(&conf.file("stderr.txt"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!atk.connects("10.201.1.1"), "the attacker still connects");
    assert!(ok.connects("10.201.2.1"), "the bystander is blocked too");
    let out = client(
        conf.path(),
        &conf.file("jailor.sock"),
        &["set", "test", "unbanip", "10.201.1.2"],
    );
    assert!(out.status.success(), "{out:?}");
    wait_for("the unban's effect", 10, || !in_kernel(srv, "10.201.1.2"));
    assert!(atk.connects("10.201.1.1"), "still blocked after the unban");
    d.stop();
    assert!(!leftover(srv), "left behind at stop:\n{}", srv.ruleset());
}

#[test]
fn iptables_allports() {
    let test = "iptables_allports";
    if !iptables_requirements(test) {
        return;
    }
    injected(
        test,
        "iptables-allports",
        |ns, a| iptables_chain_has(ns, "f2b-test", a),
        |ns| iptables_chain_exists(ns, "f2b-test"),
    );
}

#[test]
fn nftables_allports() {
    injected(
        "nftables_allports",
        "nftables-allports",
        |ns, a| f2b_nft_set_has(ns, "addr-set-test", a),
        f2b_nft_table_exists,
    );
}

/// An ipset action: the set `f2b-test` holds the address, and at stop neither the set nor a
/// rule naming it is left.
fn ipset_action(test: &str, action: &str) {
    if !iptables_requirements(test)
        || jailor_testkit::require_command(test, "ipset", "ipset").is_none()
    {
        return;
    }
    injected(
        test,
        action,
        |ns, a| {
            let out = ns.run(&["ipset", "list", "f2b-test"]);
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .any(|l| l.split_whitespace().next() == Some(a))
        },
        |ns| {
            ns.run(&["ipset", "list", "f2b-test"]).status.success()
                || String::from_utf8_lossy(&ns.run(&["iptables", "-w", "-S"]).stdout)
                    .contains("f2b-test")
        },
    );
}

#[test]
fn iptables_ipset() {
    ipset_action("iptables_ipset", "iptables-ipset[port=22]");
}

#[test]
fn iptables_ipset_proto6_allports() {
    ipset_action(
        "iptables_ipset_proto6_allports",
        "iptables-ipset-proto6-allports",
    );
}

#[test]
fn route() {
    injected(
        "route",
        "route",
        |ns, a| {
            String::from_utf8_lossy(
                &ns.run(&["ip", "route", "show", "type", "unreachable"])
                    .stdout,
            )
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(a))
        },
        |ns| {
            !String::from_utf8_lossy(
                &ns.run(&["ip", "route", "show", "type", "unreachable"])
                    .stdout,
            )
            .trim()
            .is_empty()
        },
    );
}

/// A process holding a private mount namespace (inside network namespace `ns`) whose `/etc`
/// is an overlay with its writable layer on a tmpfs: writes to `/etc` there never reach the
/// machine's own files. Killed when dropped.
struct PrivateEtc {
    holder: std::process::Child,
    children: Vec<std::process::Child>,
}

impl PrivateEtc {
    fn new(ns: &Netns) -> PrivateEtc {
        let script = "set -e; mount --make-rprivate /; d=$(mktemp -d); mount -t tmpfs jailor-test $d; \
                      mkdir $d/up $d/work; \
                      mount -t overlay overlay -o lowerdir=/etc,upperdir=$d/up,workdir=$d/work /etc; \
                      echo ready; exec sleep 600";
        let mut holder = ns
            .command(&["unshare", "--mount", "bash", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = holder.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the private /etc failed");
        PrivateEtc {
            holder,
            children: Vec::new(),
        }
    }

    /// A command run in the holder's mount and network namespaces.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.holder.id().to_string(), "-m", "-n", "--"])
            .args(args);
        c
    }
}

impl Drop for PrivateEtc {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The first bytes sshd sends on a new connection from `ns` (empty when it closes at once).
/// The timeout is generous: sshd starts a process per connection, slow on a loaded machine.
fn banner(ns: &Netns, addr: &str) -> String {
    let script = format!("exec 3<>/dev/tcp/{addr}/22 && head -c 4 <&3");
    String::from_utf8_lossy(&ns.run(&["timeout", "15", "bash", "-c", &script]).stdout).into_owned()
}

#[test]
fn hostsdeny_with_tcp_wrappers() {
    let test = "hostsdeny_with_tcp_wrappers";
    if !ssh_requirements(test)
        || jailor_testkit::require_command(test, "nsenter", "util-linux").is_none()
        || jailor_testkit::require_command(test, "unshare", "util-linux").is_none()
    {
        return;
    }
    let Some(f2b) = f2b_config(test) else { return };
    // sshd without libwrap ignores hosts.deny: nothing to test against then.
    let sshd = jailor_testkit::find_command("sshd").unwrap_or_default();
    let ldd = Command::new("ldd").arg(&sshd).output();
    let wrapped = ldd.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libwrap"));
    if !wrapped {
        jailor_testkit::skip::<()>(test, "this sshd is built without tcp wrappers (libwrap)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::bare();
    let (srv, atk, ok) = (&lab.srv, &lab.atk, &lab.ok);
    // sshd and jailor share a private mount namespace whose /etc/hosts.deny is their own.
    let mut etc = PrivateEtc::new(srv);
    let args = sshd_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sshd = spawn_sshd(etc.command(&args), dir.path().join("sshd.log"));
    etc.children.push(sshd);
    wait_for("sshd's banner", 20, || banner(ok, "10.201.2.1") == "SSH-");
    assert_eq!(banner(atk, "10.201.1.1"), "SSH-");
    assert_eq!(banner(atk, "fd42:201:1::1"), "SSH-");

    let conf = injected_conf(&f2b, "hostsdeny");
    let stderr = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(conf.file("stderr.txt"))
        .unwrap();
    let daemon = etc
        .command(&[env!("CARGO_BIN_EXE_jailor"), "server", "-f", "-x", "-c"])
        .arg(conf.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let d = Daemon { child: daemon };
    wait_for("the jail start", 30, || {
        conf.log().contains("Jail 'test' started")
    });
    let deny = || {
        let out = etc.command(&["cat", "/etc/hosts.deny"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = deny();
    assert!(!before.contains("10.201.1.2"), "{before}");
    append(&conf.file("auth.log"), &failure("10.201.1.2"));
    append(&conf.file("auth.log"), &failure("fd42:201:1::2"));
    wait_for("the ban lines in hosts.deny", 20, || {
        let text = deny();
        text.lines().any(|l| l == "ALL: 10.201.1.2")
            && text.lines().any(|l| l == "ALL: [fd42:201:1::2]")
    });
    // The machine's own file is untouched.
    assert!(!fs::read_to_string("/etc/hosts.deny")
        .unwrap_or_default()
        .contains("10.201.1.2"));
    // sshd closes the banned address's connections before its banner; others get it.
    assert_eq!(
        banner(atk, "10.201.1.1"),
        "",
        "the banned address gets a banner"
    );
    assert_eq!(banner(atk, "fd42:201:1::1"), "");
    assert_eq!(banner(ok, "10.201.2.1"), "SSH-");

    let out = client(
        conf.path(),
        &conf.file("jailor.sock"),
        &["set", "test", "unbanip", "10.201.1.2"],
    );
    assert!(out.status.success(), "{out:?}");
    wait_for("the line's removal", 10, || {
        !deny().contains("ALL: 10.201.1.2")
    });
    assert!(deny().contains("ALL: [fd42:201:1::2]"));
    assert_eq!(banner(atk, "10.201.1.1"), "SSH-");
    d.stop();
    assert_eq!(deny(), before);
}
