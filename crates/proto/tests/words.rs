//! Every fail2ban-client command parsed from its words, and the error texts of bad ones.

use jailor_proto::{
    BanTimeOption, ErrorKind, Flavor, JailQuery, JailSetting, Request, ServerOption, ServerSetting,
};

fn parse(line: &str) -> Request {
    let words: Vec<&str> = line.split(' ').collect();
    match Request::from_words(&words) {
        Ok(r) => r,
        Err(e) => panic!("{line:?} did not parse: {e}"),
    }
}

fn error(line: &str) -> ErrorKind {
    let words: Vec<&str> = if line.is_empty() {
        Vec::new()
    } else {
        line.split(' ').collect()
    };
    match Request::from_words(&words) {
        Ok(r) => panic!("{line:?} parsed as {r:?}"),
        Err(e) => e.kind().clone(),
    }
}

fn set(jail: &str, setting: JailSetting) -> Request {
    Request::SetJail {
        jail: jail.into(),
        setting,
    }
}

fn get(jail: &str, query: JailQuery) -> Request {
    Request::GetJail {
        jail: jail.into(),
        query,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn basic_commands() {
    assert_eq!(parse("ping"), Request::Ping);
    assert_eq!(parse("ping 5"), Request::Ping);
    assert_eq!(parse("version"), Request::Version);
    for w in ["stats", "statistic", "statistics"] {
        assert_eq!(parse(w), Request::Stats);
    }
    assert_eq!(
        parse("echo a b"),
        Request::Echo {
            words: strings(&["a", "b"])
        }
    );
    assert_eq!(parse("flushlogs"), Request::FlushLogs);
    assert_eq!(parse("server-status"), Request::ServerStatus);
    assert_eq!(parse("sleep 0.5"), Request::Sleep { seconds: 0.5 });
    assert_eq!(parse("stop"), Request::Stop);
    assert_eq!(parse("stop --all"), Request::StopJail { jail: None });
    assert_eq!(
        parse("stop sshd"),
        Request::StopJail {
            jail: Some("sshd".into())
        }
    );
    assert_eq!(
        parse("start sshd"),
        Request::StartJail {
            jail: "sshd".into()
        }
    );
    assert_eq!(
        parse("add sshd polling"),
        Request::AddJail {
            jail: "sshd".into(),
            backend: "polling".into()
        }
    );
}

#[test]
fn status_and_flavors() {
    assert_eq!(
        parse("status"),
        Request::Status {
            all: false,
            flavor: Flavor::Basic
        }
    );
    assert_eq!(
        parse("status --all short"),
        Request::Status {
            all: true,
            flavor: Flavor::Short
        }
    );
    assert_eq!(
        parse("status sshd cymru"),
        Request::JailStatus {
            jail: "sshd".into(),
            flavor: Flavor::Cymru
        }
    );
    // An unknown flavor is the basic one, as fail2ban (which only warns).
    assert_eq!(
        parse("status sshd fancy"),
        Request::JailStatus {
            jail: "sshd".into(),
            flavor: Flavor::Basic
        }
    );
}

#[test]
fn banned_and_unban() {
    assert_eq!(parse("banned"), Request::Banned { ips: vec![] });
    assert_eq!(
        parse("banned 192.0.2.1 2001:db8::1"),
        Request::Banned {
            ips: strings(&["192.0.2.1", "2001:db8::1"])
        }
    );
    assert_eq!(
        parse("unban --all"),
        Request::Unban {
            ips: vec![],
            all: true
        }
    );
    assert_eq!(
        parse("unban 192.0.2.1 192.0.2.0/24"),
        Request::Unban {
            ips: strings(&["192.0.2.1", "192.0.2.0/24"]),
            all: false
        }
    );
    assert_eq!(
        error("unban"),
        ErrorKind::InvalidCommand(jailor_proto::SHORT_COMMAND.into())
    );
}

#[test]
fn reload_and_restart() {
    assert_eq!(
        parse("reload"),
        Request::Reload {
            jail: None,
            restart: false,
            unban: false,
            all: false,
            if_exists: false
        }
    );
    assert_eq!(
        parse("reload --restart --unban --all"),
        Request::Reload {
            jail: None,
            restart: true,
            unban: true,
            all: true,
            if_exists: false
        }
    );
    assert_eq!(
        parse("reload --if-exists sshd"),
        Request::Reload {
            jail: Some("sshd".into()),
            restart: false,
            unban: false,
            all: false,
            if_exists: true
        }
    );
    // `restart JAIL` is `reload --restart JAIL`.
    assert_eq!(
        parse("restart --unban sshd"),
        Request::Reload {
            jail: Some("sshd".into()),
            restart: true,
            unban: true,
            all: false,
            if_exists: false
        }
    );
    assert_eq!(parse("restart"), Request::Restart { unban: false });
    assert_eq!(
        error("reload --bogus"),
        ErrorKind::InvalidCommand("Invalid command".into())
    );
    assert_eq!(
        error("reload a b"),
        ErrorKind::InvalidCommand("Sorry but the command is invalid".into())
    );
}

#[test]
fn server_options() {
    assert_eq!(
        parse("set loglevel debug"),
        Request::SetServer {
            setting: ServerSetting::LogLevel("DEBUG".into())
        }
    );
    assert_eq!(
        parse("set loglevel 20"),
        Request::SetServer {
            setting: ServerSetting::LogLevel("20".into())
        }
    );
    assert_eq!(
        parse("set dbmaxmatches 12"),
        Request::SetServer {
            setting: ServerSetting::DbMaxMatches(12)
        }
    );
    assert_eq!(
        parse("set dbpurgeage 2d"),
        Request::SetServer {
            setting: ServerSetting::DbPurgeAge("2d".into())
        }
    );
    assert_eq!(
        parse("set logtarget STDOUT"),
        Request::SetServer {
            setting: ServerSetting::LogTarget("STDOUT".into())
        }
    );
    for option in ServerOption::ALL {
        assert_eq!(
            parse(&format!("get {}", option.as_word())),
            Request::GetServer { option }
        );
    }
    assert_eq!(
        error("set loglevel BLAH"),
        ErrorKind::InvalidValue("Invalid log level 'BLAH'".into())
    );
}

#[test]
fn jail_settings() {
    let cases: Vec<(&str, JailSetting)> = vec![
        ("idle on", JailSetting::Idle { on: true }),
        ("ignoreself false", JailSetting::IgnoreSelf { value: false }),
        (
            "addignoreip 10.0.0.0/8 ::1",
            JailSetting::AddIgnoreIp {
                values: strings(&["10.0.0.0/8", "::1"]),
            },
        ),
        (
            "delignoreip 10.0.0.0/8",
            JailSetting::DelIgnoreIp {
                values: strings(&["10.0.0.0/8"]),
            },
        ),
        (
            "ignorecommand /bin/true",
            JailSetting::IgnoreCommand {
                value: "/bin/true".into(),
            },
        ),
        (
            "ignorecache key=<ip>",
            JailSetting::IgnoreCache {
                value: "key=<ip>".into(),
            },
        ),
        (
            "addlogpath /var/log/a.log tail",
            JailSetting::AddLogPath {
                path: "/var/log/a.log".into(),
                tail: true,
            },
        ),
        (
            "addlogpath /var/log/a.log",
            JailSetting::AddLogPath {
                path: "/var/log/a.log".into(),
                tail: false,
            },
        ),
        (
            "dellogpath /var/log/a.log",
            JailSetting::DelLogPath {
                path: "/var/log/a.log".into(),
            },
        ),
        (
            "logencoding utf-8",
            JailSetting::LogEncoding {
                value: "utf-8".into(),
            },
        ),
        (
            "addjournalmatch _SYSTEMD_UNIT=sshd.service + _COMM=sshd",
            JailSetting::AddJournalMatch {
                values: strings(&["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]),
            },
        ),
        (
            "deljournalmatch _COMM=sshd",
            JailSetting::DelJournalMatch {
                values: strings(&["_COMM=sshd"]),
            },
        ),
        (
            "prefregex ^<F-CONTENT>.+</F-CONTENT>$",
            JailSetting::PrefRegex {
                value: "^<F-CONTENT>.+</F-CONTENT>$".into(),
            },
        ),
        (
            "addfailregex ^x<HOST>$",
            JailSetting::AddFailRegex {
                value: "^x<HOST>$".into(),
            },
        ),
        ("delfailregex 1", JailSetting::DelFailRegex { index: 1 }),
        (
            "addignoreregex ^ok",
            JailSetting::AddIgnoreRegex {
                value: "^ok".into(),
            },
        ),
        ("delignoreregex 0", JailSetting::DelIgnoreRegex { index: 0 }),
        (
            "findtime 10m",
            JailSetting::FindTime {
                value: "10m".into(),
            },
        ),
        ("bantime -1", JailSetting::BanTime { value: "-1".into() }),
        (
            "datepattern ^%Y-%m-%d",
            JailSetting::DatePattern {
                value: "^%Y-%m-%d".into(),
            },
        ),
        (
            "logtimezone UTC",
            JailSetting::LogTimeZone {
                value: "UTC".into(),
            },
        ),
        ("usedns no", JailSetting::UseDns { value: "no".into() }),
        (
            "attempt 192.0.2.1 line1 line2",
            JailSetting::Attempt {
                ip: "192.0.2.1".into(),
                failures: strings(&["line1", "line2"]),
            },
        ),
        (
            "banip 192.0.2.1 192.0.2.2",
            JailSetting::BanIp {
                ips: strings(&["192.0.2.1", "192.0.2.2"]),
            },
        ),
        (
            "unbanip --report-absent 192.0.2.1",
            JailSetting::UnbanIp {
                ips: strings(&["192.0.2.1"]),
                report_absent: true,
            },
        ),
        (
            "unbanip 192.0.2.1",
            JailSetting::UnbanIp {
                ips: strings(&["192.0.2.1"]),
                report_absent: false,
            },
        ),
        ("maxretry 3", JailSetting::MaxRetry { value: 3 }),
        ("maxmatches 7", JailSetting::MaxMatches { value: 7 }),
        ("maxlines 2", JailSetting::MaxLines { value: 2 }),
        (
            "addaction nftables",
            JailSetting::AddAction {
                action: "nftables".into(),
                python: None,
            },
        ),
        (
            "delaction nftables",
            JailSetting::DelAction {
                action: "nftables".into(),
            },
        ),
        (
            "action nftables actionban true",
            JailSetting::Action {
                action: "nftables".into(),
                key: "actionban".into(),
                value: Some("true".into()),
            },
        ),
        (
            "action myaction flush",
            JailSetting::Action {
                action: "myaction".into(),
                key: "flush".into(),
                value: None,
            },
        ),
    ];
    for (words, setting) in cases {
        let expected = set("sshd", setting);
        assert_eq!(parse(&format!("set sshd {words}")), expected, "{words}");
        // The canonical words parse back to the same request.
        assert_eq!(Request::from_words(&expected.to_words()).unwrap(), expected);
    }
    for option in BanTimeOption::ALL {
        let expected = set(
            "sshd",
            JailSetting::BanTimeExtra {
                option,
                value: "v".into(),
            },
        );
        assert_eq!(parse(&format!("set sshd {} v", option.as_word())), expected);
    }
}

#[test]
fn jail_queries() {
    let simple = [
        ("logpath", JailQuery::LogPath),
        ("logencoding", JailQuery::LogEncoding),
        ("journalmatch", JailQuery::JournalMatch),
        ("ignoreself", JailQuery::IgnoreSelf),
        ("ignoreip", JailQuery::IgnoreIp),
        ("ignorecommand", JailQuery::IgnoreCommand),
        ("ignorecache", JailQuery::IgnoreCache),
        ("prefregex", JailQuery::PrefRegex),
        ("failregex", JailQuery::FailRegex),
        ("ignoreregex", JailQuery::IgnoreRegex),
        ("findtime", JailQuery::FindTime),
        ("bantime", JailQuery::BanTime),
        ("datepattern", JailQuery::DatePattern),
        ("logtimezone", JailQuery::LogTimeZone),
        ("usedns", JailQuery::UseDns),
        ("maxretry", JailQuery::MaxRetry),
        ("maxmatches", JailQuery::MaxMatches),
        ("maxlines", JailQuery::MaxLines),
        ("idle", JailQuery::Idle),
        ("actions", JailQuery::Actions),
        (
            "bantime.increment",
            JailQuery::BanTimeExtra {
                option: BanTimeOption::Increment,
            },
        ),
        ("banned", JailQuery::Banned { ips: vec![] }),
        (
            "banned 192.0.2.1",
            JailQuery::Banned {
                ips: strings(&["192.0.2.1"]),
            },
        ),
        (
            "banip",
            JailQuery::BanIp {
                separator: None,
                with_time: false,
            },
        ),
        (
            "banip ,",
            JailQuery::BanIp {
                separator: Some(",".into()),
                with_time: false,
            },
        ),
        (
            "banip --with-time",
            JailQuery::BanIp {
                separator: None,
                with_time: true,
            },
        ),
        (
            "action nftables actionban",
            JailQuery::Action {
                action: "nftables".into(),
                property: "actionban".into(),
            },
        ),
        (
            "actionproperties nftables",
            JailQuery::ActionProperties {
                action: "nftables".into(),
            },
        ),
        (
            "actionmethods nftables",
            JailQuery::ActionMethods {
                action: "nftables".into(),
            },
        ),
    ];
    for (words, query) in simple {
        let expected = get("sshd", query);
        assert_eq!(parse(&format!("get sshd {words}")), expected, "{words}");
        assert_eq!(Request::from_words(&expected.to_words()).unwrap(), expected);
    }
}

#[test]
fn fail2ban_error_texts() {
    // Texts observed from fail2ban 1.0.2's client for the same words.
    assert_eq!(
        error("foo"),
        ErrorKind::InvalidCommand("Invalid command".into())
    );
    assert_eq!(
        error("set sshd foo 1"),
        ErrorKind::InvalidCommand(
            "Invalid command 'foo' (no set action or not yet implemented)".into()
        )
    );
    // Two words after `set`: the second is taken as the jail command, as fail2ban does.
    assert_eq!(
        error("set foo 1"),
        ErrorKind::InvalidCommand(
            "Invalid command '1' (no set action or not yet implemented)".into()
        )
    );
    assert_eq!(
        error("get sshd foo"),
        ErrorKind::InvalidCommand("Invalid command (no get action or not yet implemented)".into())
    );
    for line in ["get foo", "get sshd", "set", "get", ""] {
        assert_eq!(
            error(line),
            ErrorKind::InvalidCommand("Sorry but the command is invalid".into()),
            "{line:?}"
        );
    }
    assert_eq!(
        error("set sshd maxretry x"),
        ErrorKind::InvalidValue("invalid literal for int() with base 10: 'x'".into())
    );
    assert!(matches!(
        error("set sshd delfailregex -1"),
        ErrorKind::InvalidValue(_)
    ));
    assert!(matches!(error("start"), ErrorKind::InvalidCommand(_)));
    assert!(matches!(error("sleep abc"), ErrorKind::InvalidValue(_)));
    assert!(matches!(
        error("set sshd idle maybe"),
        ErrorKind::InvalidValue(_)
    ));
}

#[test]
fn every_request_round_trips_through_json_and_words() {
    let lines = [
        "ping",
        "status",
        "status --all stats",
        "status sshd short",
        "banned 192.0.2.1",
        "reload --unban sshd",
        "restart --unban",
        "unban --all",
        "set dbfile None",
        "get dbpurgeage",
        "set sshd bantime.maxtime 1w",
        "get sshd banip --with-time",
        "sleep 2",
    ];
    for line in lines {
        let req = parse(line);
        let json = serde_json::to_string(&req).unwrap();
        let back: Request = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req, "{json}");
        assert_eq!(Request::from_words(&req.to_words()).unwrap(), req, "{line}");
    }
}

#[test]
fn wire_json_has_the_documented_shape() {
    let json = |line: &str| serde_json::to_value(parse(line)).unwrap();
    assert_eq!(json("ping"), serde_json::json!({"command": "ping"}));
    assert_eq!(
        json("status sshd"),
        serde_json::json!({"command": "jail_status", "jail": "sshd", "flavor": "basic"})
    );
    assert_eq!(
        json("set sshd banip 192.0.2.1"),
        serde_json::json!({"command": "set_jail", "jail": "sshd",
            "setting": {"set": "ban_ip", "ips": ["192.0.2.1"]}})
    );
    assert_eq!(
        json("get sshd banip"),
        serde_json::json!({"command": "get_jail", "jail": "sshd",
            "query": {"get": "ban_ip", "separator": null, "with_time": false}})
    );
    assert_eq!(
        json("set loglevel debug"),
        serde_json::json!({"command": "set_server",
            "setting": {"option": "log_level", "value": "DEBUG"}})
    );
    assert_eq!(
        json("reload"),
        serde_json::json!({"command": "reload", "jail": null, "restart": false,
            "unban": false, "all": false, "if_exists": false})
    );
}
