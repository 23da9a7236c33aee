//! The real `jailor client` against a real `jailor server`: status, manual bans through the
//! jail's actions, `--json`, unknown jails, settings, reload (good and broken) and stop.

mod daemon_support;

use std::path::PathBuf;
use std::process::Command;

use daemon_support::*;

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 60
maxretry = 3
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
";

fn socket(conf: &Conf) -> PathBuf {
    conf.file("jailor.sock")
}

fn started(conf: &Conf) -> (Daemon, PathBuf) {
    append(&conf.file("auth.log"), "");
    let d = Daemon::start_ready(conf, &["test"]);
    wait_for("the socket", 10, || socket(conf).exists());
    (d, conf.file("actions.txt"))
}

#[test]
fn status_banip_banned_unbanip_and_json() {
    let conf = Conf::new(JAILS);
    let (d, actions) = started(&conf);
    assert_eq!(ok(&conf, &["ping"]), "Server replied: pong\n");
    let status = ok(&conf, &["status"]);
    assert_eq!(
        status,
        "Status\n|- Number of jail:\t1\n`- Jail list:\ttest\n"
    );

    assert_eq!(
        ok(&conf, &["set", "test", "banip", "192.0.2.9"]).trim(),
        "1"
    );
    wait_for("the ban action", 10, || {
        read(&actions).contains("ban 192.0.2.9 600")
    });
    // Banning again counts nothing new.
    assert_eq!(
        ok(&conf, &["set", "test", "banip", "192.0.2.9"]).trim(),
        "0"
    );
    let jail = ok(&conf, &["status", "test"]);
    assert!(
        jail.starts_with("Status for the jail: test\n|- Filter\n"),
        "{jail}"
    );
    assert!(jail.contains("`- File list:\t"), "{jail}");
    assert!(jail.contains("auth.log"), "{jail}");
    assert!(jail.contains("   |- Currently banned:\t1\n"), "{jail}");
    assert!(
        jail.contains("   `- Banned IP list:\t192.0.2.9\n"),
        "{jail}"
    );
    assert_eq!(ok(&conf, &["banned"]).trim(), "[{'test': ['192.0.2.9']}]");

    let json: serde_json::Value = serde_json::from_str(&ok(&conf, &["--json", "banned"])).unwrap();
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["response"]["data"][0]["jail"], "test", "{json}");
    assert_eq!(json["response"]["data"][0]["ips"][0], "192.0.2.9", "{json}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&conf, &["--json", "status", "test"])).unwrap();
    assert_eq!(
        json["response"]["data"]["actions"]["currently_banned"], 1,
        "{json}"
    );

    assert_eq!(
        ok(&conf, &["set", "test", "unbanip", "192.0.2.9"]).trim(),
        "1"
    );
    wait_for("the unban action", 10, || {
        read(&actions).contains("unban 192.0.2.9")
    });
    assert_eq!(ok(&conf, &["banned"]).trim(), "[{'test': []}]");
    assert!(conf.log().contains("[test] Unban 192.0.2.9"));

    // `unban IP` works across jails and answers the count.
    ok(
        &conf,
        &["set", "test", "banip", "198.51.100.1", "198.51.100.2"],
    );
    assert_eq!(ok(&conf, &["unban", "198.51.100.1"]).trim(), "1");
    assert_eq!(ok(&conf, &["unban", "--all"]).trim(), "1");
    drop(d);
}

#[test]
fn failures_exit_255_with_a_message() {
    let conf = Conf::new(JAILS);
    let (_d, _) = started(&conf);
    let out = client(&conf, &["status", "nope"]);
    assert_eq!(out.status.code(), Some(255));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Sorry but the jail 'nope' does not exist"),
        "{text}"
    );
    let out = client(&conf, &["set", "test", "banip", "not-an-address"]);
    assert_eq!(out.status.code(), Some(255));
    let out = client(&conf, &["set", "test", "bantime", "soon"]);
    assert_eq!(out.status.code(), Some(255));
    // The refused value changed nothing.
    assert_eq!(ok(&conf, &["get", "test", "bantime"]).trim(), "600");
    // A second server on the live socket refuses to start.
    let second = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(["server", "-f", "-c"])
        .arg(conf.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("Server already running"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
}

#[test]
fn settings_change_and_read_back() {
    let conf = Conf::new(JAILS);
    let (_d, actions) = started(&conf);
    ok(&conf, &["set", "test", "banip", "192.0.2.33"]);
    assert_eq!(ok(&conf, &["get", "test", "findtime"]).trim(), "60");
    assert_eq!(ok(&conf, &["set", "test", "findtime", "10m"]).trim(), "600");
    assert_eq!(ok(&conf, &["get", "test", "findtime"]).trim(), "600");
    assert_eq!(ok(&conf, &["set", "test", "maxretry", "7"]).trim(), "7");
    assert_eq!(ok(&conf, &["get", "test", "maxretry"]).trim(), "7");
    assert_eq!(ok(&conf, &["set", "test", "bantime", "1h"]).trim(), "3600");
    let ign = ok(&conf, &["set", "test", "addignoreip", "203.0.113.0/24"]);
    assert!(ign.contains("203.0.113.0/24"), "{ign}");
    // An ignored address is not banned from the log.
    append(&conf.file("auth.log"), &failure("203.0.113.5").repeat(8));
    wait_for("the ignored failures read", 30, || {
        count(&conf.log(), "[test] Ignore 203.0.113.5 by ip") == 8
    });
    let ign = ok(&conf, &["set", "test", "delignoreip", "203.0.113.0/24"]);
    assert!(!ign.contains("203.0.113.0/24"), "{ign}");
    assert!(!read(&actions).contains("203.0.113.5"));
    // The manual ban is still there.
    assert_eq!(ok(&conf, &["banned"]).trim(), "[{'test': ['192.0.2.33']}]");
    assert_eq!(
        ok(&conf, &["get", "loglevel"]).trim(),
        "Current logging level is 'INFO'"
    );
    ok(&conf, &["set", "loglevel", "DEBUG"]);
    assert_eq!(
        ok(&conf, &["get", "loglevel"]).trim(),
        "Current logging level is 'DEBUG'"
    );
    // What jailor does not run (fail2ban's Python actions) says so, without killing the
    // daemon.
    let out = client(
        &conf,
        &["set", "test", "addaction", "py", "/etc/py_action.py", "{}"],
    );
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not supported by jailor"));
    assert_eq!(ok(&conf, &["ping"]), "Server replied: pong\n");
}

#[test]
fn reload_keeps_bans_and_a_broken_config_keeps_the_jail() {
    let conf = Conf::new(JAILS);
    let (mut d, _) = started(&conf);
    ok(&conf, &["set", "test", "banip", "192.0.2.44"]);
    // A changed jail restarts; its ban comes back from the store.
    conf.set_jails(&JAILS.replace("findtime = 60", "findtime = 120"));
    ok(&conf, &["reload"]);
    assert_eq!(ok(&conf, &["get", "test", "findtime"]).trim(), "120");
    assert_eq!(ok(&conf, &["banned"]).trim(), "[{'test': ['192.0.2.44']}]");
    // A jail whose filter is missing: the error comes back and the old jail runs on.
    conf.set_jails(&JAILS.replace("filter = test", "filter = missing-filter"));
    let out = client(&conf, &["reload"]);
    assert_eq!(out.status.code(), Some(255));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("missing-filter"), "{text}");
    assert_eq!(ok(&conf, &["get", "test", "findtime"]).trim(), "120");
    assert_eq!(ok(&conf, &["banned"]).trim(), "[{'test': ['192.0.2.44']}]");

    // stop: answered, then the daemon exits and removes its socket.
    assert!(ok(&conf, &["stop"]).contains("Shutdown successful"));
    wait_for("the daemon to exit", 20, || !d.is_running());
    assert!(!socket(&conf).exists());
    let out = client(&conf, &["ping"]);
    assert_eq!(out.status.code(), Some(255));
}
