//! The real `jailor client` against a real `jailor server`: the jail commands fail2ban-client
//! has beyond status and bans — options changed in place, start/stop/reload of one jail,
//! log paths, regexes and actions added and removed, `get` of each — in human and `--json`
//! form, with fail2ban-client's texts and exit codes on failure.

mod daemon_support;

use std::process::{Command, Output};

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

fn client(conf: &Conf, args: &[&str]) -> Output {
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
fn ok(conf: &Conf, args: &[&str]) -> String {
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

/// Runs the client, asserts exit code 255 and returns standard output and error.
fn fails(conf: &Conf, args: &[&str]) -> (String, String) {
    let out = client(conf, args);
    assert_eq!(
        out.status.code(),
        Some(255),
        "{args:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `--json` output, parsed.
fn json(conf: &Conf, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = client(conf, &all);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    let code = if v["ok"] == true { 0 } else { 255 };
    assert_eq!(out.status.code(), Some(code), "{v}");
    v
}

fn started(conf: &Conf) -> Daemon {
    append(&conf.file("auth.log"), "");
    let d = Daemon::start_ready(conf, &["test"]);
    wait_for("the socket", 10, || conf.file("jailor.sock").exists());
    d
}

/// "Total failed" of `status test`.
fn total_failed(conf: &Conf) -> u64 {
    let v = json(conf, &["status", "test"]);
    v["response"]["data"]["filter"]["total_failed"]
        .as_u64()
        .unwrap()
}

#[test]
fn findtime_bantime_maxretry_change_in_place() {
    let conf = Conf::new(JAILS);
    let _d = started(&conf);
    ok(&conf, &["set", "test", "banip", "198.51.100.50"]);
    append(&conf.file("auth.log"), &failure("198.51.100.7").repeat(2));
    wait_for("two failures counted", 30, || total_failed(&conf) == 2);

    assert_eq!(ok(&conf, &["set", "test", "maxretry", "4"]), "4\n");
    assert_eq!(ok(&conf, &["set", "test", "bantime", "1234"]), "1234\n");
    assert_eq!(ok(&conf, &["set", "test", "findtime", "10m"]), "600\n");
    let v = json(&conf, &["set", "test", "maxmatches", "2"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "number", "data": 2})
    );
    assert_eq!(ok(&conf, &["get", "test", "maxmatches"]), "2\n");

    // The third failure is under the new maxretry: still failing, not banned.
    append(&conf.file("auth.log"), &failure("198.51.100.7"));
    wait_for("three failures counted", 30, || total_failed(&conf) == 3);
    let status = ok(&conf, &["status", "test"]);
    assert!(status.contains("Currently failed:\t1\n"), "{status}");
    // The fourth bans, with the new bantime: the failures before the change were kept.
    append(&conf.file("auth.log"), &failure("198.51.100.7"));
    wait_for("the ban with the new bantime", 30, || {
        conf.actions().contains("ban 198.51.100.7 1234")
    });
    // No restart: the actions started once and never stopped; the manual ban is there.
    assert_eq!(count(&conf.actions(), "start\n"), 1, "{}", conf.actions());
    assert_eq!(count(&conf.actions(), "stop\n"), 0, "{}", conf.actions());
    assert!(!conf.log().contains("Jail 'test' stopped"));
    let banned = ok(&conf, &["get", "test", "banned"]);
    assert!(banned.contains("198.51.100.50"), "{banned}");
    assert!(conf.log().contains("[test] Set maxretry = 4"));

    // Bad values: fail2ban's exit code, nothing changed.
    let (out, err) = fails(&conf, &["set", "test", "maxretry", "x"]);
    assert!(format!("{out}{err}").contains("'x'"), "{out}{err}");
    fails(&conf, &["set", "test", "findtime", "soon"]);
    assert_eq!(ok(&conf, &["get", "test", "findtime"]), "600\n");
    let v = json(&conf, &["set", "test", "bantime", "soon"]);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "invalid_value");
    assert_eq!(ok(&conf, &["get", "test", "bantime"]), "1234\n");
}
