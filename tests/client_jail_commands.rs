//! The real `jailor client` against a real `jailor server`: the jail commands fail2ban-client
//! has beyond status and bans — options changed in place, start/stop/reload of one jail,
//! log paths, regexes and actions added and removed, `get` of each — in human and `--json`
//! form, with fail2ban-client's texts and exit codes on failure.

mod daemon_support;

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

/// `jailor_lines_read_total` of jail `test`, scraped from the endpoint the server logged.
fn lines_read(conf: &Conf) -> u64 {
    use std::io::{Read, Write};
    let log = conf.log();
    let Some(addr) = log
        .lines()
        .find_map(|l| l.split("Metrics served on http://").nth(1))
        .and_then(|rest| rest.strip_suffix("/metrics"))
    else {
        return 0;
    };
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("jailor_lines_read_total{jail=\"test\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
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

/// Lines of the test filter's second failure form, dated now.
fn bad_login(ip: &str) -> String {
    format!("{} bad login from {ip}\n", epoch())
}

#[test]
fn logpaths_regexes_and_actions_added_and_removed() {
    let conf = Conf::new(JAILS);
    let dir = conf.path().display().to_string();
    let _d = started(&conf);
    ok(&conf, &["set", "test", "banip", "198.51.100.50"]);
    assert_eq!(
        ok(&conf, &["get", "test", "logpath"]),
        format!("Current monitored log file(s):\n`- {dir}/auth.log\n")
    );

    // addlogpath: the new file is read; the jail restarted with its ban kept.
    append(&conf.file("auth2.log"), "");
    assert_eq!(
        ok(
            &conf,
            &["set", "test", "addlogpath", &format!("{dir}/auth2.log")]
        ),
        format!("Current monitored log file(s):\n|- {dir}/auth.log\n`- {dir}/auth2.log\n")
    );
    append(&conf.file("auth2.log"), &failure("198.51.100.2").repeat(3));
    wait_for("a ban from the added file", 30, || {
        conf.actions().contains("ban 198.51.100.2 600")
    });
    assert!(ok(&conf, &["get", "test", "banned"]).contains("198.51.100.50"));
    let missing = format!("{dir}/missing.log");
    let (out, _) = fails(&conf, &["set", "test", "addlogpath", &missing]);
    assert_eq!(
        out,
        format!("[Errno 2] No such file or directory: '{missing}'\n")
    );
    let v = json(&conf, &["set", "test", "addlogpath", &missing]);
    assert_eq!(v["error"]["kind"], "invalid_value", "{v}");
    assert_eq!(
        ok(
            &conf,
            &["set", "test", "dellogpath", &format!("{dir}/auth2.log")]
        ),
        format!("Current monitored log file(s):\n`- {dir}/auth.log\n")
    );
    let v = json(&conf, &["get", "test", "logpath"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "list", "data": [format!("{dir}/auth.log")]})
    );

    // addfailregex: a second failure form bans; a regex that does not compile is refused.
    let regexes = ok(
        &conf,
        &["set", "test", "addfailregex", "^\\s*bad login from <HOST>$"],
    );
    assert!(
        regexes.starts_with("The following regular expression are defined:\n|- [0]: "),
        "{regexes}"
    );
    assert!(
        regexes.ends_with("`- [1]: ^\\s*bad login from <HOST>$\n"),
        "{regexes}"
    );
    append(&conf.file("auth.log"), &bad_login("198.51.100.9").repeat(3));
    wait_for("a ban by the added regex", 30, || {
        conf.actions().contains("ban 198.51.100.9 600")
    });
    let (out, _) = fails(&conf, &["set", "test", "addfailregex", "(["]);
    assert!(
        out.starts_with("Unable to compile regular expression '(['"),
        "{out}"
    );
    let v = json(&conf, &["get", "test", "failregex"]);
    assert_eq!(
        v["response"]["data"].as_array().map(Vec::len),
        Some(2),
        "{v}"
    );
    // An index past the end changes nothing (fail2ban's answer: the list).
    assert_eq!(ok(&conf, &["set", "test", "delfailregex", "7"]), regexes);
    let one = ok(&conf, &["set", "test", "delfailregex", "1"]);
    assert!(one.contains("`- [0]: ") && !one.contains("[1]"), "{one}");

    // ignoreregex: a matching line is no failure.
    assert_eq!(
        ok(&conf, &["get", "test", "ignoreregex"]),
        "No regular expression is defined\n"
    );
    assert_eq!(
        ok(
            &conf,
            &["set", "test", "addignoreregex", "from 198\\.51\\.100\\.77$"]
        ),
        "The following regular expression are defined:\n`- [0]: from 198\\.51\\.100\\.77$\n"
    );
    let before = total_failed(&conf);
    let mut lines = failure("198.51.100.77").repeat(3);
    lines.push_str(&failure("198.51.100.78"));
    append(&conf.file("auth.log"), &lines);
    wait_for("the failure after the ignored lines", 30, || {
        total_failed(&conf) > before
    });
    assert_eq!(total_failed(&conf), before + 1);
    assert!(!conf.actions().contains("198.51.100.77"));
    assert_eq!(
        ok(&conf, &["set", "test", "delignoreregex", "0"]),
        "No regular expression is defined\n"
    );

    // Actions: one of action.d added with arguments, its commands read back, removed.
    std::fs::write(conf.file("action.d/second.conf"), RECORD_ACTION).unwrap();
    assert_eq!(
        ok(&conf, &["get", "test", "actions"]),
        "The jail test has the following actions:\nrecord\n"
    );
    let second = format!("second[file=\"{dir}/second.txt\"]");
    assert_eq!(
        ok(&conf, &["set", "test", "addaction", &second]),
        "second\n"
    );
    assert_eq!(
        ok(&conf, &["get", "test", "actions"]),
        "The jail test has the following actions:\nrecord, second\n"
    );
    ok(&conf, &["set", "test", "banip", "198.51.100.60"]);
    wait_for("the added action's ban", 30, || {
        read(&conf.file("second.txt")).contains("ban 198.51.100.60 600")
    });
    let cmd = ok(&conf, &["get", "test", "action", "second", "actionban"]);
    assert!(cmd.contains("echo \"ban <ip> <bantime>\""), "{cmd}");
    let props = ok(&conf, &["get", "test", "actionproperties", "second"]);
    assert!(
        props.starts_with("The jail test action second has the following properties:\n"),
        "{props}"
    );
    assert!(props.contains("actionban"), "{props}");
    let (out, _) = fails(&conf, &["set", "test", "addaction", &second]);
    assert!(out.contains("already exists"), "{out}");
    assert_eq!(ok(&conf, &["set", "test", "delaction", "second"]), "None\n");
    let (out, _) = fails(&conf, &["set", "test", "delaction", "nothere"]);
    assert_eq!(out, "'Invalid Action name: nothere'\n");
    let v = json(&conf, &["get", "test", "actions"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "list", "data": ["record"]})
    );
    // Through every restart the manual ban stayed.
    assert!(ok(&conf, &["get", "test", "banned"]).contains("198.51.100.50"));
}

#[test]
fn start_stop_and_reload_one_jail() {
    let two = format!(
        "{JAILS}[web]\nenabled = true\nfilter = test\nlogpath = @DIR@/web.log\naction = record[file=\"@DIR@/web.txt\"]\n[off]\nenabled = false\nfilter = test\nlogpath = @DIR@/off.log\n"
    );
    let conf = Conf::new(&two);
    append(&conf.file("web.log"), "");
    append(&conf.file("auth.log"), "");
    let d = Daemon::start_ready(&conf, &["test", "web"]);
    wait_for("the socket", 10, || conf.file("jailor.sock").exists());
    ok(&conf, &["set", "test", "banip", "198.51.100.50"]);

    append(&conf.file("auth.log"), &failure("198.51.100.11").repeat(2));
    wait_for("two failures counted", 30, || total_failed(&conf) == 2);
    // reload JAIL updates that jail only.
    conf.set_jails(&two.replace("findtime = 60", "findtime = 120"));
    assert_eq!(ok(&conf, &["reload", "test"]), "OK\n");
    assert_eq!(ok(&conf, &["get", "test", "findtime"]), "120\n");
    assert_eq!(ok(&conf, &["get", "web", "findtime"]), "60\n");
    // findtime is changed in place (fail2ban's live option): no restart.
    assert!(conf.log().contains("[test] Changed in place"));
    assert_eq!(count(&conf.actions(), "start\n"), 1, "{}", conf.actions());
    // Another change restarts the jail alone.
    let changed = two.replace("findtime = 60", "findtime = 120").replacen(
        "[test]\nenabled = true\n",
        "[test]\nenabled = true\nusedns = no\n",
        1,
    );
    conf.set_jails(&changed);
    assert_eq!(ok(&conf, &["reload", "test"]), "OK\n");
    assert_eq!(ok(&conf, &["get", "test", "usedns"]), "no\n");
    assert_eq!(count(&conf.actions(), "start\n"), 2, "{}", conf.actions());
    // The restarted jail resumed at its stored position: the old lines are not read again.
    append(&conf.file("auth.log"), &failure("198.51.100.12"));
    wait_for("the failure after the reload", 30, || {
        total_failed(&conf) >= 3
    });
    assert_eq!(total_failed(&conf), 3);
    assert!(ok(&conf, &["get", "test", "banned"]).contains("198.51.100.50"));
    // A broken jail on reload: the error comes back, the jail runs on as it was.
    conf.set_jails(&two.replace(
        "filter = test\nlogpath = @DIR@/auth.log",
        "filter = nosuch\nlogpath = @DIR@/auth.log",
    ));
    let (out, err) = fails(&conf, &["reload", "test"]);
    assert!(format!("{out}{err}").contains("nosuch"), "{out}{err}");
    assert_eq!(ok(&conf, &["get", "test", "findtime"]), "120\n");
    conf.set_jails(&two);
    let (out, err) = fails(&conf, &["reload", "nojail"]);
    assert!(
        format!("{out}{err}").contains("Failed during configuration: No section: 'nojail'"),
        "{out}{err}"
    );
    assert_eq!(ok(&conf, &["reload", "--if-exists", "nojail"]), "OK\n");
    let v = json(&conf, &["reload", "nojail"]);
    assert_eq!(v["error"]["kind"], "config", "{v}");

    // stop JAIL: gone from status, its actions stopped; the other jail runs on.
    assert_eq!(ok(&conf, &["stop", "test"]), "Jail stopped\n");
    wait_for("the jail's actions to stop", 30, || {
        conf.actions().contains("stop\n")
    });
    assert_eq!(
        ok(&conf, &["status"]),
        "Status\n|- Number of jail:\t1\n`- Jail list:\tweb\n"
    );
    let (out, _) = fails(&conf, &["status", "test"]);
    assert_eq!(out, "Sorry but the jail 'test' does not exist\n");
    let (out, _) = fails(&conf, &["stop", "test"]);
    assert_eq!(out, "Sorry but the jail 'test' does not exist\n");
    let v = json(&conf, &["stop", "nojail"]);
    assert_eq!(v["error"]["kind"], "unknown_jail", "{v}");
    // start JAIL: back from the configuration, with its ban restored from the store.
    assert_eq!(ok(&conf, &["start", "test"]), "Jail started\n");
    assert!(ok(&conf, &["get", "test", "banned"]).contains("198.51.100.50"));
    assert_eq!(ok(&conf, &["start", "test"]), "Jail started\n");
    // A disabled or unknown jail does not start.
    let (out, _) = fails(&conf, &["start", "off"]);
    assert_eq!(out, "Sorry but the jail 'off' does not exist\n");
    let v = json(&conf, &["start", "test"]);
    assert_eq!(
        v,
        serde_json::json!({"ok": true, "command": ["start", "test"], "response": {"type": "done"}})
    );
    // stop --all: no jail left, the daemon answers on.
    assert_eq!(ok(&conf, &["stop", "--all"]), "Jail stopped\n");
    assert_eq!(
        ok(&conf, &["status"]),
        "Status\n|- Number of jail:\t0\n`- Jail list:\t\n"
    );

    // The daemon gone: fail2ban-client's message and exit code, and the JSON kind.
    d.stop();
    let (_, err) = fails(&conf, &["start", "test"]);
    assert!(
        err.contains(&format!(
            "Failed to access socket path: {}. Is fail2ban running?",
            conf.file("jailor.sock").display()
        )),
        "{err}"
    );
    let v = json(&conf, &["set", "test", "banip", "198.51.100.1"]);
    assert_eq!(v["error"]["kind"], "not_running", "{v}");
}

#[test]
fn options_server_settings_and_simple_commands() {
    let conf = Conf::new(JAILS);
    let dir = conf.path().display().to_string();
    let _d = started(&conf);
    for (args, expected) in [
        (&["ping"][..], "Server replied: pong\n"),
        (&["echo", "a", "b"][..], "a b\n"),
        (&["get", "test", "findtime"][..], "60\n"),
        (&["get", "test", "bantime"][..], "600\n"),
        (&["get", "test", "maxretry"][..], "3\n"),
        (&["get", "test", "maxmatches"][..], "3\n"),
        (&["get", "test", "ignoreself"][..], "True\n"),
        (&["get", "test", "usedns"][..], "warn\n"),
        (&["get", "test", "maxlines"][..], "1\n"),
        (&["get", "test", "prefregex"][..], "\n"),
        (&["get", "test", "bantime.increment"][..], "False\n"),
        (&["get", "test", "bantime.factor"][..], "None\n"),
        (
            &["get", "test", "logencoding"][..],
            "Current log encoding is set to:\nUTF-8\n",
        ),
        (
            &["get", "test", "journalmatch"][..],
            "No journal match filter set\n",
        ),
        (
            &["get", "test", "datepattern"][..],
            "Current date pattern set to: {^LN-BEG}Epoch\n",
        ),
        (
            &["get", "test", "ignoreip"][..],
            "No IP address/network is ignored\n",
        ),
        (
            &["get", "syslogsocket"][..],
            "Current syslog socket is:\n`- auto\n",
        ),
        (
            &["get", "dbpurgeage"][..],
            "Current database purge age is:\n`- 86400seconds\n",
        ),
    ] {
        assert_eq!(ok(&conf, args), expected, "{args:?}");
    }
    assert_eq!(
        ok(&conf, &["get", "dbfile"]),
        format!("Current database file is:\n`- {dir}/jailor.sqlite3\n")
    );
    assert_eq!(
        ok(&conf, &["get", "logtarget"]),
        format!("Current logging target is:\n`- {dir}/jailor.log\n")
    );
    assert_eq!(ok(&conf, &["version"]).trim(), env!("CARGO_PKG_VERSION"));
    let v = json(&conf, &["get", "dbmaxmatches"]);
    assert_eq!(v["response"]["type"], "number", "{v}");
    assert_eq!(
        json(&conf, &["ping"])["response"],
        serde_json::json!({"type": "pong"})
    );

    // Options set in place or with a restart of the jail alone; each answered as fail2ban.
    for (args, expected) in [
        (&["set", "test", "bantime.increment", "true"][..], "True\n"),
        (&["get", "test", "bantime.increment"][..], "True\n"),
        (&["set", "test", "usedns", "no"][..], "no\n"),
        (&["set", "test", "maxlines", "2"][..], "2\n"),
        (&["set", "test", "logtimezone", "UTC"][..], "UTC\n"),
        (&["get", "test", "logtimezone"][..], "UTC\n"),
        (&["set", "test", "prefregex", ""][..], "\n"),
        (
            &["set", "test", "datepattern", "^EPOCH"][..],
            "Current date pattern set to: {^LN-BEG}Epoch\n",
        ),
        (
            &["set", "test", "logencoding", "latin-1"][..],
            "Current log encoding is set to:\nlatin-1\n",
        ),
        (
            &["set", "test", "addignoreip", "203.0.113.0/24"][..],
            "These IP addresses/networks are ignored:\n`- 203.0.113.0/24\n",
        ),
    ] {
        assert_eq!(ok(&conf, args), expected, "{args:?}");
    }
    let v = json(&conf, &["get", "test", "maxlines"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "number", "data": 2})
    );
    let v = json(&conf, &["get", "test", "bantime.increment"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "bool", "data": true})
    );

    // Failure paths: bad values, unknown options, bad addresses, unknown jails.
    let (out, _) = fails(&conf, &["set", "test", "usedns", "sometimes"]);
    assert!(out.starts_with("Invalid value for usedns"), "{out}");
    assert_eq!(ok(&conf, &["get", "test", "usedns"]), "no\n");
    let (out, _) = fails(&conf, &["get", "test", "nothing"]);
    assert_eq!(
        out,
        "Invalid command (no get action or not yet implemented)\n"
    );
    let (out, _) = fails(&conf, &["set", "test", "nothing", "1"]);
    assert_eq!(
        out,
        "Invalid command 'nothing' (no set action or not yet implemented)\n"
    );
    let (out, _) = fails(&conf, &["set", "test", "banip", "198.51.100.999"]);
    assert_eq!(out, "'198.51.100.999' is not a valid IP address\n");
    let v = json(&conf, &["set", "test", "banip", "198.51.100.999"]);
    assert_eq!(v["error"]["kind"], "invalid_value", "{v}");
    let v = json(&conf, &["unban", "not-an-address"]);
    assert_eq!(v["error"]["kind"], "invalid_value", "{v}");
    for args in [
        &["get", "nojail", "logpath"][..],
        &["set", "nojail", "addlogpath", "/x"][..],
        &["set", "nojail", "banip", "198.51.100.1"][..],
        &["status", "nojail"][..],
        &["start", "nojail"][..],
        &["stop", "nojail"][..],
    ] {
        let (out, _) = fails(&conf, args);
        assert_eq!(
            out, "Sorry but the jail 'nojail' does not exist\n",
            "{args:?}"
        );
        let v = json(&conf, args);
        assert_eq!(v["error"]["kind"], "unknown_jail", "{args:?} {v}");
    }

    // Bans by hand and by the log after all those restarts; banned, unban and stats.
    assert_eq!(ok(&conf, &["set", "test", "banip", "198.51.100.3"]), "1\n");
    assert_eq!(ok(&conf, &["banned", "198.51.100.3"]), "[['test']]\n");
    assert_eq!(ok(&conf, &["banned", "198.51.100.4"]), "[[]]\n");
    let v = json(&conf, &["banned", "198.51.100.3"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "banned_by", "data": [["test"]]})
    );
    assert_eq!(ok(&conf, &["unban", "198.51.100.3"]), "1\n");
    assert_eq!(ok(&conf, &["unban", "198.51.100.3"]), "0\n");
    append(&conf.file("auth.log"), &failure("198.51.100.5").repeat(3));
    wait_for("a ban from the log", 30, || {
        conf.actions().contains("ban 198.51.100.5")
    });
    let table = ok(&conf, &["stats"]);
    assert!(table.contains(" test "), "{table}");
    let v = json(&conf, &["stats"]);
    assert_eq!(v["response"]["data"][0]["failed_total"], 3, "{v}");
    assert_eq!(v["response"]["data"][0]["banned_current"], 1, "{v}");
}

#[test]
fn idle_attempt_flushlogs_and_logtarget() {
    let conf = Conf::new(JAILS);
    let dir = conf.path().display().to_string();
    // The metrics endpoint tells when the idle jail has read its lines.
    enable_metrics(&conf);
    let _d = started(&conf);
    // Idle: lines are read, no failure is counted.
    assert_eq!(ok(&conf, &["set", "test", "idle", "on"]), "True\n");
    assert_eq!(ok(&conf, &["get", "test", "idle"]), "True\n");
    append(&conf.file("auth.log"), &failure("198.51.100.20").repeat(4));
    wait_for("the idle jail to read its lines", 30, || {
        lines_read(&conf) == 4
    });
    assert_eq!(total_failed(&conf), 0);
    assert_eq!(ok(&conf, &["set", "test", "idle", "off"]), "False\n");
    let v = json(&conf, &["get", "test", "idle"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "bool", "data": false})
    );

    // attempt: failures by hand count as failures from the log; three ban.
    for n in 1..=3 {
        assert_eq!(
            ok(&conf, &["set", "test", "attempt", "198.51.100.21"]),
            "1\n"
        );
        wait_for("the attempt counted", 30, || total_failed(&conf) >= n);
    }
    wait_for("the ban by attempts", 30, || {
        conf.actions().contains("ban 198.51.100.21 600")
    });
    assert!(
        !conf.actions().contains("198.51.100.20"),
        "{}",
        conf.actions()
    );
    let (out, _) = fails(&conf, &["set", "test", "attempt", "not-an-ip"]);
    assert_eq!(out, "'not-an-ip' is not a valid IP address\n");

    // flushlogs reopens the log file; logtarget moves the log.
    assert_eq!(ok(&conf, &["flushlogs"]), "logs: rolled over\n");
    let moved = format!("{dir}/moved.log");
    assert_eq!(
        ok(&conf, &["set", "logtarget", &moved]),
        format!("Current logging target is:\n`- {moved}\n")
    );
    ok(&conf, &["set", "test", "banip", "198.51.100.22"]);
    wait_for("the ban logged in the new file", 30, || {
        read(std::path::Path::new(&moved)).contains("Ban 198.51.100.22")
    });
    assert!(!conf.log().contains("Ban 198.51.100.22"));
    let v = json(&conf, &["get", "logtarget"]);
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "text", "data": moved})
    );
}
