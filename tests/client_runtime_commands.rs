//! The real `jailor client` against a real `jailor server`: the remaining fail2ban-client
//! commands — `add JAIL [BACKEND]`, action method calls, `get|set dbfile|dbpurgeage|
//! dbmaxmatches|syslogsocket`, `ignorecache`, the `datepattern` name and the `cymru` flavor —
//! in human and `--json` form, with fail2ban-client's texts and exit code (255) on failure.

mod daemon_support;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

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

/// Runs the client, asserts exit code 255 and returns its standard output (fail2ban-client
/// prints the message there, and `ERROR   NOK: ...` on standard error).
fn fails(conf: &Conf, args: &[&str]) -> String {
    let out = client(conf, args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(255),
        "{args:?}\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn database_and_syslog_options_change_live() {
    let conf = Conf::new(JAILS);
    let _d = started(&conf);
    let dir = conf.path().display().to_string();

    assert_eq!(
        ok(&conf, &["get", "dbfile"]),
        format!("Current database file is:\n`- {dir}/jailor.sqlite3\n")
    );
    assert_eq!(
        ok(&conf, &["get", "dbpurgeage"]),
        "Current database purge age is:\n`- 86400seconds\n"
    );
    assert_eq!(
        ok(&conf, &["set", "dbpurgeage", "2d"]),
        "Current database purge age is:\n`- 172800seconds\n"
    );
    assert!(fails(&conf, &["set", "dbpurgeage", "soon"]).contains("soon"));
    let v = json(&conf, &["get", "dbpurgeage"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "number", "data": 172800})
    );
    assert_eq!(ok(&conf, &["get", "dbmaxmatches"]), "10\n");
    assert_eq!(ok(&conf, &["set", "dbmaxmatches", "5"]), "5\n");
    assert_eq!(ok(&conf, &["get", "dbmaxmatches"]), "5\n");
    fails(&conf, &["set", "dbmaxmatches", "x"]);

    // syslogsocket: the log goes to the socket named, at once when the target is SYSLOG.
    let path = conf.file("syslog.sock");
    let syslog = UnixDatagram::bind(&path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let p = path.display().to_string();
    assert_eq!(
        ok(&conf, &["get", "syslogsocket"]),
        "Current syslog socket is:\n`- auto\n"
    );
    assert_eq!(
        ok(&conf, &["set", "syslogsocket", &p]),
        format!("Current syslog socket is:\n`- {p}\n")
    );
    ok(&conf, &["set", "logtarget", "SYSLOG"]);
    ok(&conf, &["set", "test", "maxretry", "4"]);
    let mut buf = vec![0u8; 4096];
    let mut got = String::new();
    while !got.contains("Set maxretry = 4") {
        let n = syslog
            .recv(&mut buf)
            .expect("a message on the syslog socket");
        got = String::from_utf8_lossy(&buf[..n]).into_owned();
    }
    assert!(
        got.starts_with('<') && got.contains("fail2ban.jail["),
        "{got}"
    );
    ok(&conf, &["set", "logtarget", &format!("{dir}/jailor.log")]);

    // dbfile: refused while jails run (fail2ban's answer), taken when none does.
    let other = format!("{dir}/other.sqlite3");
    let out = fails(&conf, &["set", "dbfile", &other]);
    assert!(
        out.contains("Cannot change database when there are jails present"),
        "{out}"
    );
    assert_eq!(ok(&conf, &["stop", "--all"]), "Jail stopped\n");
    assert_eq!(
        ok(&conf, &["set", "dbfile", &other]),
        format!("Current database file is:\n`- {other}\n")
    );
    assert!(conf.file("other.sqlite3").exists());
    assert_eq!(
        ok(&conf, &["set", "dbfile", "None"]),
        "Database currently disabled\n"
    );
    assert_eq!(
        ok(&conf, &["get", "dbpurgeage"]),
        "Database currently disabled\n"
    );
    assert_eq!(ok(&conf, &["get", "dbmaxmatches"]), "None\n");
    let v = json(&conf, &["get", "dbfile"]);
    assert_eq!(v["response"], serde_json::json!({"type": "null"}));
}

#[test]
fn ignorecache_datepattern_names_and_cymru_flavor() {
    let conf = Conf::new(JAILS);
    let _d = started(&conf);

    // ignorecache: fail2ban's [key, max-count, max-time] list.
    assert_eq!(ok(&conf, &["get", "test", "ignorecache"]), "None\n");
    assert_eq!(
        ok(
            &conf,
            &[
                "set",
                "test",
                "ignorecache",
                "key=\"<ip>\", max-count=5, max-time=1h"
            ]
        ),
        "['<ip>', 5, 3600]\n"
    );
    assert_eq!(
        ok(&conf, &["set", "test", "ignorecache", "key=<F-USER>@<ip>"]),
        "['<F-USER>@<ip>', 100, 300]\n"
    );
    let v = json(&conf, &["get", "test", "ignorecache"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "ignore_cache",
            "data": {"key": "<F-USER>@<ip>", "max_count": 100, "max_time": 300}})
    );
    assert_eq!(
        fails(&conf, &["set", "test", "ignorecache", "max-count=10"]),
        "'key'\n"
    );
    fails(&conf, &["set", "test", "ignorecache", "key=a, max-count=x"]);
    assert_eq!(
        ok(&conf, &["get", "test", "ignorecache"]),
        "['<F-USER>@<ip>', 100, 300]\n"
    );
    assert_eq!(ok(&conf, &["set", "test", "ignorecache", ""]), "None\n");
    // In force: ignorecommand runs once per key, not once per failure.
    let runs = conf.file("ignore-runs.txt");
    let cmd = format!("echo <ip> >> {}; exit 1", runs.display());
    ok(&conf, &["set", "test", "ignorecommand", &cmd]);
    ok(
        &conf,
        &["set", "test", "ignorecache", "key=\"<ip>\", max-time=1h"],
    );
    append(&conf.file("auth.log"), &failure("198.51.100.4").repeat(2));
    wait_for("two failures counted", 30, || {
        ok(&conf, &["status", "test"]).contains("Total failed:\t2\n")
    });
    assert_eq!(read(&runs), "198.51.100.4\n");

    // datepattern: the pattern and its name, as fail2ban shows them.
    assert_eq!(
        ok(&conf, &["get", "test", "datepattern"]),
        "Current date pattern set to: {^LN-BEG}Epoch\n"
    );
    assert_eq!(
        ok(&conf, &["set", "test", "datepattern", "%Y-%m-%d %H:%M:%S"]),
        "Current date pattern set to: %Y-%m-%d %H:%M:%S (Year-Month-Day 24hour:Minute:Second)\n"
    );
    let v = json(&conf, &["get", "test", "datepattern"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "date_pattern",
            "data": {"pattern": "%Y-%m-%d %H:%M:%S", "name": "Year-Month-Day 24hour:Minute:Second"}})
    );
    assert_eq!(
        ok(&conf, &["set", "test", "datepattern", "{^LN-BEG}"]),
        "Current date pattern set to: Default Detectors\n"
    );
    // Back to the filter's own, and the jail still reads and counts.
    ok(&conf, &["set", "test", "datepattern", "^EPOCH"]);
    append(&conf.file("auth.log"), &failure("198.51.100.3"));
    wait_for("the failure counted", 30, || {
        ok(&conf, &["status", "test"]).contains("Total failed:\t3\n")
    });

    // cymru: jailor makes no DNS lookups, so the lists say what fail2ban's say when the
    // lookups cannot be made.
    ok(&conf, &["set", "test", "banip", "198.51.100.20"]);
    let out = ok(&conf, &["status", "test", "cymru"]);
    assert!(
        out.ends_with(
            "   |- Banned IP list:\t198.51.100.20\n   |- Banned ASN list:\terror\n   |- Banned Country list:\terror\n   `- Banned RIR list:\terror\n"
        ),
        "{out}"
    );
    let v = json(&conf, &["status", "test", "cymru"]);
    assert_eq!(
        v["response"]["data"]["actions"]["cymru"],
        serde_json::json!({"asn": ["error"], "country": ["error"], "rir": ["error"]})
    );
    let v = json(&conf, &["status", "test"]);
    assert_eq!(
        v["response"]["data"]["actions"]["cymru"],
        serde_json::json!(null)
    );
}

#[test]
fn add_jail_then_fill_it_until_it_bans() {
    let conf = Conf::new(JAILS);
    let _d = started(&conf);
    let dir = conf.path().display().to_string();

    assert_eq!(fails(&conf, &["add"]), "Sorry but the command is invalid\n");
    assert_eq!(
        fails(&conf, &["add", "x", "bogus"]),
        "Unknown backend bogus. Must be among ['pyinotify', 'gamin', 'polling', 'systemd'] or 'auto'\n"
    );
    assert_eq!(ok(&conf, &["add", "new", "polling"]), "Added jail new\n");
    assert!(fails(&conf, &["add", "new"]).contains("already exists"));
    assert!(fails(&conf, &["add", "test"]).contains("already exists"));
    let v = json(&conf, &["add", "other"]);
    assert_eq!(v["response"], serde_json::json!({"type": "done"}));
    assert_eq!(
        ok(&conf, &["status"]),
        "Status\n|- Number of jail:\t3\n`- Jail list:\tnew, other, test\n"
    );
    // fail2ban's defaults, nothing to read, no action.
    assert_eq!(
        ok(&conf, &["status", "new"]),
        "Status for the jail: new\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n|  `- File list:\t\n`- Actions\n   |- Currently banned:\t0\n   |- Total banned:\t0\n   `- Banned IP list:\t\n"
    );
    assert_eq!(ok(&conf, &["get", "new", "findtime"]), "600\n");
    assert_eq!(ok(&conf, &["get", "new", "maxretry"]), "3\n");
    assert_eq!(
        ok(&conf, &["get", "new", "actions"]),
        "No actions for jail new\n"
    );
    assert_eq!(ok(&conf, &["start", "new"]), "Jail started\n");

    // Filled as fail2ban's configuration stream fills a jail, it bans.
    let log = format!("{dir}/new.log");
    append(&conf.file("new.log"), "");
    ok(&conf, &["set", "new", "addlogpath", &log, "tail"]);
    ok(
        &conf,
        &[
            "set",
            "new",
            "addfailregex",
            "^\\s*auth failure from <HOST>$",
        ],
    );
    ok(&conf, &["set", "new", "datepattern", "^EPOCH"]);
    ok(&conf, &["set", "new", "maxretry", "2"]);
    let action = format!("record[file=\"{dir}/new.txt\"]");
    assert_eq!(ok(&conf, &["set", "new", "addaction", &action]), "record\n");
    append(&conf.file("new.log"), &failure("198.51.100.31").repeat(2));
    wait_for("the added jail's ban", 60, || {
        read(&conf.file("new.txt")).contains("ban 198.51.100.31 600")
    });
    assert!(ok(&conf, &["get", "new", "banned"]).contains("198.51.100.31"));
    // The other jail saw nothing of it.
    assert!(!conf.actions().contains("198.51.100.31"));
    assert_eq!(ok(&conf, &["stop", "new"]), "Jail stopped\n");
}

#[test]
fn action_methods_run_one_action_by_hand() {
    let conf = Conf::new(JAILS);
    let _d = started(&conf);
    wait_for("the action started", 30, || {
        conf.actions().contains("start\n")
    });

    let methods = ok(&conf, &["get", "test", "actionmethods", "record"]);
    assert_eq!(
        methods,
        "The jail test action record has the following methods:\nban, flush, prolong, reban, reload, start, stop, unban\n"
    );
    let v = json(&conf, &["set", "test", "action", "record", "stop"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "bool", "data": true})
    );
    assert_eq!(count(&conf.actions(), "stop\n"), 1, "{}", conf.actions());
    // Started again after its stop (a start of a started action does nothing).
    assert_eq!(
        ok(&conf, &["set", "test", "action", "record", "start"]),
        "True\n"
    );
    assert_eq!(count(&conf.actions(), "start\n"), 2, "{}", conf.actions());
    assert_eq!(
        ok(&conf, &["set", "test", "action", "record", "flush"]),
        "True\n"
    );

    // A ban method runs that action's actionban only; the jail's bans do not change.
    assert_eq!(
        ok(
            &conf,
            &[
                "set",
                "test",
                "action",
                "record",
                "ban",
                "{\"aInfo\": {\"ip\": \"198.51.100.9\", \"bantime\": 77}}"
            ]
        ),
        "None\n"
    );
    assert!(
        conf.actions().contains("ban 198.51.100.9 77\n"),
        "{}",
        conf.actions()
    );
    assert_eq!(ok(&conf, &["get", "test", "banned"]), "[]\n");
    ok(
        &conf,
        &[
            "set",
            "test",
            "action",
            "record",
            "unban",
            "{\"aInfo\": {\"ip\": \"198.51.100.9\"}}",
        ],
    );
    assert!(
        conf.actions().contains("unban 198.51.100.9\n"),
        "{}",
        conf.actions()
    );

    // Failures: fail2ban's texts where it has one, exit code 255.
    assert!(fails(&conf, &["set", "test", "action", "record", "ban"])
        .contains("missing 1 required positional argument: 'aInfo'"));
    assert!(fails(
        &conf,
        &["set", "test", "action", "record", "flush", "{\"x\": 1}"]
    )
    .contains("got an unexpected keyword argument 'x'"));
    fails(
        &conf,
        &["set", "test", "action", "record", "start", "notjson"],
    );
    let bad_ip = "{\"aInfo\": {\"ip\": \"1.2.3.4; touch /tmp/x\"}}";
    assert!(
        fails(&conf, &["set", "test", "action", "record", "ban", bad_ip])
            .contains("is not a valid IP address")
    );
    assert!(!conf.actions().contains("touch"));
    assert_eq!(
        fails(&conf, &["set", "test", "action", "record", "check"]),
        "Sorry but the command is invalid\n"
    );
    assert_eq!(
        fails(&conf, &["set", "test", "action", "nope", "ban"]),
        "'Invalid Action name: nope'\n"
    );
    assert_eq!(
        fails(&conf, &["get", "test", "action", "record", "nosuch"]),
        "'CommandAction' object has no attribute 'nosuch'\n"
    );
    let v = json(&conf, &["set", "test", "action", "nope", "start"]);
    assert_eq!(v["error"]["kind"], "invalid_value");

    // Properties change the running action in place: no stop, no start, the next ban runs
    // the new command.
    let before = conf.actions();
    assert_eq!(
        ok(&conf, &["set", "test", "action", "record", "timeout", "30"]),
        "30\n"
    );
    assert_eq!(
        ok(&conf, &["get", "test", "action", "record", "timeout"]),
        "30\n"
    );
    let changed = "echo \"changed <ip>\" >> <file>";
    assert_eq!(
        ok(
            &conf,
            &["set", "test", "action", "record", "actionban", changed]
        ),
        format!("{changed}\n")
    );
    assert_eq!(conf.actions(), before);
    ok(&conf, &["set", "test", "banip", "198.51.100.10"]);
    wait_for("the changed actionban", 30, || {
        conf.actions().contains("changed 198.51.100.10\n")
    });
    assert_eq!(count(&conf.actions(), "stop\n"), 1, "{}", conf.actions());
    assert!(
        fails(&conf, &["set", "test", "action", "record", "timeout", "-3"]).contains("timeout")
    );

    // A failing start is the method's failure.
    assert_eq!(
        ok(
            &conf,
            &["set", "test", "action", "record", "actionstart", "false"]
        ),
        "false\n"
    );
    assert_eq!(
        ok(&conf, &["set", "test", "action", "record", "stop"]),
        "True\n"
    );
    let out = fails(&conf, &["set", "test", "action", "record", "start"]);
    assert!(
        out.contains("Error starting action Jail('test')/record"),
        "{out}"
    );
    let v = json(&conf, &["set", "test", "action", "record", "start"]);
    assert_eq!(v["error"]["kind"], "failed");
}
