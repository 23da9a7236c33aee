//! fail2ban's `ufw`, `shorewall` and `firewallcmd-*` actions, compared with the real fail2ban.
//!
//! Debian has the three tools, but CI does not install them, and none can be used in a test
//! as it is: firewalld needs D-Bus and its daemon, ufw and shorewall keep their rules in the
//! machine's `/etc`. So each is a recording stand-in on `PATH` (the only fake binaries in the
//! firewall tests), and what is checked is the command lines: the same configuration, the
//! same failures, the same unban and stop through jailor and through the real
//! `fail2ban-client -f start` (Debian's fail2ban) must call the tools with the same
//! arguments, IPv4 and IPv6 alike.

mod daemon_support;
mod firewall_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon_support::*;
use firewall_support::copy_dir;

/// The actions under test, each with the jail's arguments.
const ACTIONS: &[&str] = &[
    "ufw",
    "shorewall",
    "firewallcmd-multiport[port=\"22,2222\"]",
    "firewallcmd-allports",
    "firewallcmd-new[port=22]",
    "firewallcmd-rich-rules[port=22]",
    "firewallcmd-rich-logging[port=22]",
    "firewallcmd-ipset[ipsetbackend=firewalld, port=22]",
];

/// One server's folder: fail2ban's `action.d`, the test filter and jail, recording stand-ins
/// in `bin/` writing to `calls.txt`.
fn setup(f2b: &Path) -> Conf {
    let list = ACTIONS.join("\n         ");
    let conf = Conf::new(&format!(
        "[DEFAULT]\nbantime = 600\nfindtime = 60\nmaxretry = 1\nignoreself = false\n\
         [test]\nenabled = true\nfilter = test\nbackend = polling\nlogpath = @DIR@/auth.log\n\
         action = {list}\n"
    ));
    copy_dir(&f2b.join("action.d"), &conf.file("action.d"));
    append(&conf.file("auth.log"), "");
    let bin = conf.file("bin");
    fs::create_dir_all(&bin).unwrap();
    let calls = conf.file("calls.txt");
    for tool in ["ufw", "shorewall", "shorewall6", "firewall-cmd"] {
        let path = bin.join(tool);
        // The line is written with one `printf`: actions run concurrently, and a line
        // written piece by piece interleaves with another tool call's.
        fs::write(
            &path,
            format!(
                "#!/bin/sh\nl=$(basename \"$0\"); for a in \"$@\"; do l=\"$l [$a]\"; done; printf '%s\\n' \"$l\" >> '{}'\n",
                calls.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    conf
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The recorded calls, sorted (actions of one jail may run in any order).
fn calls(conf: &Conf) -> Vec<String> {
    let mut v: Vec<String> = read(&conf.file("calls.txt"))
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Waits until `addr` shows in at least `n` recorded calls.
fn wait_calls(conf: &Conf, addr: &str, n: usize, who: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&read(&conf.file("calls.txt")), addr) < n {
        assert!(
            Instant::now() < deadline,
            "{who}: fewer than {n} calls for {addr}:\n{}\nlog:\n{}",
            read(&conf.file("calls.txt")),
            conf.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the scenario with `start` (the server) and `client` (a control command), returns
/// the sorted calls.
fn scenario(
    conf: &Conf,
    who: &str,
    start: impl FnOnce() -> Child,
    client: impl Fn(&[&str]) -> bool,
) -> Vec<String> {
    let mut server = start();
    wait_for(&format!("{who}: the jail start"), 60, || {
        conf.log().contains("Jail 'test' started")
    });
    let n = ACTIONS.len();
    let started = read(&conf.file("calls.txt")).lines().count();
    append(&conf.file("auth.log"), &failure("192.0.2.7"));
    append(&conf.file("auth.log"), &failure("2001:db8::7"));
    // Every action names the address in its ban (the rich rules twice, ipset in a flag).
    wait_calls(conf, "192.0.2.7", n, who);
    wait_calls(conf, "2001:db8::7", n, who);
    // Let a late action finish before the unban.
    std::thread::sleep(Duration::from_millis(500));
    let banned = read(&conf.file("calls.txt")).lines().count();
    assert!(banned > started, "{who}: no ban calls");
    assert!(
        client(&["set", "test", "unbanip", "192.0.2.7"]),
        "{who}: unbanip"
    );
    wait_calls(conf, "192.0.2.7", 2 * n, who);
    assert!(client(&["stop"]), "{who}: stop");
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{who}: the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    calls(conf)
}

#[test]
fn tool_command_lines_match_fail2ban() {
    let test = "tool_command_lines_match_fail2ban";
    let Some(corpus) = jailor_testkit::require_corpus(test) else {
        return;
    };
    let Some(f2b_client) = jailor_testkit::require_command(test, "fail2ban-client", "fail2ban")
    else {
        return;
    };
    let f2b = corpus.join("config");

    let theirs = setup(&f2b);
    let sock: PathBuf = theirs.file("jailor.sock");
    let path = path_with(&theirs.file("bin"));
    let expected = scenario(
        &theirs,
        "fail2ban",
        || {
            Command::new(&f2b_client)
                .args(["-f", "-x", "-c"])
                .arg(theirs.path())
                .args(["-s"])
                .arg(&sock)
                .arg("start")
                .env("PATH", &path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        },
        |args| {
            Command::new(&f2b_client)
                .arg("-c")
                .arg(theirs.path())
                .arg("-s")
                .arg(&sock)
                .args(args)
                .env("PATH", &path)
                .output()
                .is_ok_and(|o| o.status.success())
        },
    );

    let ours = setup(&f2b);
    let sock: PathBuf = ours.file("jailor.sock");
    let path = path_with(&ours.file("bin"));
    let got = scenario(
        &ours,
        "jailor",
        || {
            Command::new(env!("CARGO_BIN_EXE_jailor"))
                .args(["server", "-f", "-x", "-c"])
                .arg(ours.path())
                .env("PATH", &path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        },
        |args| {
            firewall_support::client(ours.path(), &sock, args)
                .status
                .success()
        },
    );
    // The folders differ: compare with each one's own path taken out.
    let norm = |v: Vec<String>, conf: &Conf| -> Vec<String> {
        let d = conf.path().display().to_string();
        v.into_iter().map(|l| l.replace(&d, "@DIR@")).collect()
    };
    let (expected, got) = (norm(expected, &theirs), norm(got, &ours));
    assert!(expected.len() > 4 * ACTIONS.len(), "{expected:#?}");
    if expected != got {
        let missing: Vec<&String> = expected.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<&String> = got.iter().filter(|l| !expected.contains(l)).collect();
        panic!(
            "jailor's tool calls differ from fail2ban's\nonly fail2ban: {missing:#?}\nonly jailor: {extra:#?}\n({} vs {} calls)",
            expected.len(),
            got.len()
        );
    }
}
