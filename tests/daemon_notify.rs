//! `jailor server` under systemd's `Type=notify`: with `$NOTIFY_SOCKET` set it sends
//! `READY=1` only once every jail started (actions started, bans restored, log being read),
//! `RELOADING=1` (with `MONOTONIC_USEC`) then `READY=1` around a SIGHUP reload (after the new
//! jails started), and `STOPPING=1` on SIGTERM. The test binds the notification socket
//! itself, as systemd does.

mod daemon_support;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use daemon_support::*;

/// An action whose start takes a while, so an early `READY=1` would be seen.
const SLOW_START: &str = "[Definition]
actionstart = sleep 1; echo \"start <name>\" >> <file>
actionstop = echo \"stop <name>\" >> <file>
actionban = echo \"ban <ip>\" >> <file>
actionunban = echo \"unban <ip>\" >> <file>
[Init]
file = /dev/null
";

fn jail(name: &str) -> String {
    format!(
        "[{name}]
enabled = true
filter = test
logpath = @DIR@/{name}.log
action = slow[name={name}, file=\"@DIR@/actions.txt\"]
"
    )
}

/// The next notification (generous timeout: jails start slowly on a loaded machine).
fn next(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("no notification within 90 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn assert_started(conf: &Conf, jails: &[&str], when: &str) {
    let log = conf.log();
    let actions = conf.actions();
    for j in jails {
        assert!(
            log.contains(&format!("Jail '{j}' started")),
            "{when} before jail {j} started; the log:\n{log}"
        );
        assert!(
            actions.contains(&format!("start {j}\n")),
            "{when} before {j}'s actionstart ran: {actions}"
        );
    }
}

#[test]
fn ready_after_every_jail_started_reloading_and_stopping() {
    let conf = Conf::new(&format!(
        "[DEFAULT]\nmaxretry = 2\n{}{}",
        jail("a"),
        jail("b")
    ));
    std::fs::write(conf.file("action.d/slow.conf"), SLOW_START).unwrap();
    for j in ["a", "b", "c"] {
        append(&conf.file(&format!("{j}.log")), "");
    }
    let path = conf.file("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(90)))
        .unwrap();
    let mut d = Daemon::start_with_env(&conf, &[("NOTIFY_SOCKET", path.to_str().unwrap())]);

    let first = next(&sock);
    assert_eq!(first, "READY=1\nSTATUS=2 jail(s) running");
    assert_started(&conf, &["a", "b"], "READY=1 arrived");
    assert!(d.is_running());
    // Ready means protecting: a failure is counted and banned.
    append(&conf.file("a.log"), &failure("192.0.2.30").repeat(2));
    wait_for("the ban", 30, || {
        conf.actions().contains("ban 192.0.2.30\n")
    });

    // A reload that adds jail c: RELOADING=1, then READY=1 once c started.
    conf.set_jails(&format!(
        "[DEFAULT]\nmaxretry = 2\n{}{}{}",
        jail("a"),
        jail("b"),
        jail("c")
    ));
    d.signal("HUP");
    let reloading = next(&sock);
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .and_then(|u| u.parse::<u64>().ok());
    assert!(usec.is_some_and(|u| u > 0), "{reloading:?}");
    assert_eq!(next(&sock), "READY=1\nSTATUS=3 jail(s) running");
    assert_started(&conf, &["c"], "READY=1 after the reload arrived");

    d.signal("TERM");
    assert_eq!(next(&sock), "STOPPING=1");
    wait_for("the server to exit", 30, || !d.is_running());
    let status = d.child.wait().unwrap();
    assert!(status.success(), "server exited with {status}");
}

#[test]
fn a_notify_socket_nobody_listens_on_is_not_fatal() {
    let conf = Conf::new(&jail("a"));
    std::fs::write(conf.file("action.d/slow.conf"), SLOW_START).unwrap();
    append(&conf.file("a.log"), "");
    let gone = conf.file("nobody.sock");
    let mut d = Daemon::start_with_env(&conf, &[("NOTIFY_SOCKET", gone.to_str().unwrap())]);
    wait_for("jail a to start or the server to exit", 60, || {
        conf.log().contains("Jail 'a' started") || !d.is_running()
    });
    assert!(d.is_running(), "{}", read(&conf.file("stderr.txt")));
    d.stop();
}
