//! Bans reach the kernel: the real `jailor server` with `banaction = jailor-nftables`, run
//! inside network namespaces the tests create and delete.
//!
//! - `native_action_through_the_daemon`: with no `action.d` file for it, a ban shows in
//!   `nft list set`, leaves at stop, comes back at restart with its remaining time, and goes
//!   at its unban.
//! - `real_sshd_attack_is_blocked`: a real OpenSSH server in namespace `srv`, its log read by
//!   jailor's `sshd` jail (our own `config/`); namespace `atk` tries wrong passwords with a
//!   real `ssh` client; after maxretry failures its TCP connections to port 22 fail while
//!   namespace `ok` still connects, and after bantime `atk` connects again; banned a second
//!   time, `jailor client set sshd unbanip` lets it in at once; the same over IPv6.
//! - `prefix_ban_covers_the_64`: with `banprefix6 = 64`, one banned IPv6 address blocks
//!   another of its /64 and not one of another /64.
//! - `kill_9_keeps_the_kernel_ban`: after `kill -9` of the daemon the kernel keeps dropping
//!   the attacker; a restarted daemon adds no second table, chain, rule or element; with the
//!   daemon dead again, the element's timeout lets the attacker back in.
//!
//! Addresses are 10.201.x.x and fd42:201::/32 on veth pairs that exist only in the
//! namespaces.

mod daemon_support;
mod firewall_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemon_support::*;
use firewall_support::*;
// The firewall tests pass the socket path themselves.
use firewall_support::client;

#[test]
fn native_action_through_the_daemon() {
    let test = "native_action_through_the_daemon";
    if !requirements(test) {
        return;
    }
    let conf = Conf::new(
        "[DEFAULT]
bantime = 20
findtime = 60
maxretry = 2
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = jailor-nftables[port=\"22\", blocktype=drop]
",
    );
    // No action.d/jailor-nftables.conf here: the name alone selects the native action.
    assert!(!conf.file("action.d/jailor-nftables.conf").exists());
    append(&conf.file("auth.log"), "");
    let ns = Netns::new("d");
    let d = start_daemon(&ns, conf.path(), &conf.file("stderr.txt"));
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
    assert!(matches!(e[0].1, Some(t) if (15..=20).contains(&t)), "{e:?}");
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
    let d = start_daemon(&ns, conf.path(), &conf.file("stderr.txt"));
    wait_for("the restore", 20, || {
        has(&ns, "addr4-test", "192.0.2.7") && has(&ns, "addr6-test", "2001:db8::7")
    });
    // A generous bantime, so a slow stop and start on a loaded machine leave time to see it.
    let left = 20u64.saturating_sub(banned_at.elapsed().as_secs());
    for set in ["addr4-test", "addr6-test"] {
        let e = elements(&ns, set);
        assert!(
            matches!(e[0].1, Some(t) if t <= left + 1),
            "{set}: {e:?}, {left} s left"
        );
    }
    assert!(conf.log().contains("Restore Ban 192.0.2.7"));

    // The unban removes them.
    wait_for("the unban", 30, || conf.log().contains("Unban 192.0.2.7"));
    wait_for("the element's removal", 3, || {
        !has(&ns, "addr4-test", "192.0.2.7")
    });
    d.stop();
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

#[test]
fn real_sshd_attack_is_blocked() {
    let test = "real_sshd_attack_is_blocked";
    if !ssh_requirements(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let auth_log = dir.path().join("auth.log");
    let lab = Lab::new(dir.path(), &auth_log);
    let (srv, atk, ok) = (&lab.srv, &lab.atk, &lab.ok);

    let conf = sshd_config(dir.path(), "jailor-nftables");
    let jailor_log = dir.path().join("jailor.log");
    let d = start_daemon(srv, &conf, &dir.path().join("stderr.txt"));
    wait_for("the sshd jail", 30, || {
        read(&jailor_log).contains("Jail 'sshd' started")
    });

    for _ in 0..3 {
        wrong_password(atk, "10.201.1.1");
    }
    wait_for("the ban in the kernel", 20, || {
        has(srv, "addr4-sshd", "10.201.1.2")
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
    wait_for("the unban", 30, || atk.connects("10.201.1.1"));
    let after = banned_at.elapsed();
    assert!(after >= Duration::from_secs(7), "unbanned after {after:?}");
    // The kernel's timeout and the daemon's unban fall due together.
    wait_for("the Unban line", 10, || {
        read(&jailor_log).contains("[sshd] Unban 10.201.1.2")
    });
    assert!(!has(srv, "addr4-sshd", "10.201.1.2"));

    // Banned again, for 10 minutes this time, then lifted at once through the control
    // socket.
    let sock = dir.path().join("jailor.sock");
    let out = client(&conf, &sock, &["set", "sshd", "bantime", "600"]);
    assert!(out.status.success(), "{out:?}");
    for _ in 0..3 {
        wrong_password(atk, "10.201.1.1");
    }
    wait_for("the second ban in the kernel", 20, || {
        has(srv, "addr4-sshd", "10.201.1.2")
    });
    assert!(!atk.connects("10.201.1.1"), "the attacker still connects");
    let e = elements(srv, "addr4-sshd");
    assert!(matches!(e[0].1, Some(t) if t > 500), "{e:?}");
    let out = client(&conf, &sock, &["set", "sshd", "unbanip", "10.201.1.2"]);
    assert!(out.status.success(), "{out:?}");
    let lifted = Instant::now();
    // A generous bound: far below the ban's 600 s.
    wait_for("the element's removal after unbanip", 5, || {
        !has(srv, "addr4-sshd", "10.201.1.2")
    });
    assert!(atk.connects("10.201.1.1"), "still blocked after unbanip");
    assert!(lifted.elapsed() < Duration::from_secs(60));

    // The same over IPv6.
    for _ in 0..3 {
        wrong_password(atk, "fd42:201:1::1");
    }
    wait_for("the IPv6 ban in the kernel", 20, || {
        has(srv, "addr6-sshd", "fd42:201:1::2")
    });
    assert!(
        !atk.connects("fd42:201:1::1"),
        "the attacker still connects"
    );
    assert!(ok.connects("fd42:201:2::1"), "the bystander is blocked too");
    let out = client(&conf, &sock, &["set", "sshd", "unbanip", "fd42:201:1::2"]);
    assert!(out.status.success(), "{out:?}");
    wait_for("the IPv6 element's removal", 5, || {
        !has(srv, "addr6-sshd", "fd42:201:1::2")
    });
    assert!(atk.connects("fd42:201:1::1"), "still blocked after unbanip");
    d.stop();
}

/// A jail `test` on the test filter (`auth failure from <HOST>` in `@DIR@/auth.log`) with the
/// native action given by `action`.
fn test_jail(action: &str, bantime: u32) -> Conf {
    let conf = Conf::new(&format!(
        "[DEFAULT]\nbantime = {bantime}\nfindtime = 60\nmaxretry = 1\n\
         [test]\nenabled = true\nfilter = test\nbackend = polling\nlogpath = @DIR@/auth.log\n\
         action = {action}\n"
    ));
    append(&conf.file("auth.log"), "");
    conf
}

#[test]
fn prefix_ban_covers_the_64() {
    let test = "prefix_ban_covers_the_64";
    if !ssh_requirements(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::new(dir.path(), &dir.path().join("sshd.log"));
    let (srv, atk) = (&lab.srv, &lab.atk);
    // A second address in the attacker's /64 and one in another /64, routed through the same
    // link.
    let (srv_dev, atk_dev) = (&lab.srv_dev, &lab.atk_dev);
    add6(atk, atk_dev, "fd42:201:1::3/64");
    add6(atk, atk_dev, "fd42:201:9::2/64");
    srv.ok(&[
        "ip",
        "-6",
        "route",
        "add",
        "fd42:201:9::/64",
        "dev",
        srv_dev,
    ]);
    for src in ["fd42:201:1::2", "fd42:201:1::3", "fd42:201:9::2"] {
        wait_for(&format!("{src} reaching sshd"), 10, || {
            atk.connects_from(src, "fd42:201:1::1", atk_dev)
        });
    }

    let conf = test_jail(
        "jailor-nftables[port=\"22\", blocktype=drop, banprefix6=64]",
        60,
    );
    let d = start_daemon(srv, conf.path(), &conf.file("stderr.txt"));
    wait_for("the jail start", 30, || {
        conf.log().contains("Jail 'test' started")
    });
    append(&conf.file("auth.log"), &failure("fd42:201:1::2"));
    wait_for("the /64 in the kernel", 15, || {
        has(srv, "addr6-test", "fd42:201:1::/64")
    });
    assert_eq!(elements(srv, "addr6-test").len(), 1);
    assert!(!atk.connects_from("fd42:201:1::2", "fd42:201:1::1", atk_dev));
    assert!(
        !atk.connects_from("fd42:201:1::3", "fd42:201:1::1", atk_dev),
        "a second address of the banned /64 still connects"
    );
    assert!(
        atk.connects_from("fd42:201:9::2", "fd42:201:1::1", atk_dev),
        "an address outside the banned /64 is blocked"
    );
    // IPv4 is banned address by address: the attacker's IPv4 address is untouched.
    assert!(atk.connects("10.201.1.1"));
    d.stop();
}

/// `(tables named jailor, chains jail-test, rules matching @addr4-test)` in `nft list ruleset`.
fn object_counts(ns: &Netns) -> (usize, usize, usize) {
    let rules = ns.ruleset();
    (
        count(&rules, "table inet jailor {"),
        count(&rules, "chain jail-test {"),
        count(&rules, "@addr4-test"),
    )
}

#[test]
fn kill_9_keeps_the_kernel_ban() {
    let test = "kill_9_keeps_the_kernel_ban";
    if !ssh_requirements(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::new(dir.path(), &dir.path().join("sshd.log"));
    let (srv, atk, ok) = (&lab.srv, &lab.atk, &lab.ok);
    let bantime = 40;
    let conf = test_jail("jailor-nftables[port=\"22\", blocktype=drop]", bantime);
    let stderr = conf.file("stderr.txt");
    let d = start_daemon(srv, conf.path(), &stderr);
    wait_for("the jail start", 30, || {
        conf.log().contains("Jail 'test' started")
    });
    let before = object_counts(srv);
    assert_eq!(before, (1, 1, 1), "{}", srv.ruleset());

    append(&conf.file("auth.log"), &failure("10.201.1.2"));
    wait_for("the ban in the kernel", 15, || {
        has(srv, "addr4-test", "10.201.1.2")
    });
    let banned_at = Instant::now();
    d.kill9();
    // Nobody runs a stop: the kernel keeps the table, the rule and the element.
    assert!(
        !atk.connects("10.201.1.1"),
        "the attacker connects after kill -9"
    );
    assert!(ok.connects("10.201.2.1"));

    // A restart re-creates nothing twice and keeps the one element.
    let started = count(&conf.log(), "Jail 'test' started");
    let d = start_daemon(srv, conf.path(), &stderr);
    wait_for("the jail's restart", 30, || {
        count(&conf.log(), "Jail 'test' started") > started
    });
    wait_for("the restore", 15, || {
        conf.log().contains("Restore Ban 10.201.1.2")
    });
    assert_eq!(object_counts(srv), (1, 1, 1), "{}", srv.ruleset());
    let e = elements(srv, "addr4-test");
    assert_eq!(e.len(), 1, "{e:?}");
    let left = u64::from(bantime).saturating_sub(banned_at.elapsed().as_secs());
    assert!(
        matches!(e[0].1, Some(t) if t <= left + 1),
        "{e:?}, {left} s left"
    );
    assert!(
        !atk.connects("10.201.1.1"),
        "the attacker connects after the restart"
    );

    // Dead again: the element's own timeout lets the attacker back in.
    d.kill9();
    wait_for("the kernel's expiry", 120, || atk.connects("10.201.1.1"));
    let after = banned_at.elapsed();
    assert!(
        after >= Duration::from_secs(u64::from(bantime) - 3),
        "free after {after:?}"
    );
    assert!(elements(srv, "addr4-test").is_empty());
}
