//! fail2ban-client's human layouts, built from the documented beautifier format (a tab after
//! each colon, `|-`/`` `- `` trees, lists joined by spaces).

use jailor_proto::{
    render, ActionsStatus, BanEntry, FailureKind, FilterStatus, JailBans, JailStats, JailStatus,
    LogSource, Request, Response, ServerStatus,
};

fn req(line: &str) -> Request {
    Request::from_words(&line.split(' ').collect::<Vec<_>>()).unwrap()
}

fn jail(name: &str, failed: (u64, u64), banned: &[&str], total_banned: u64) -> JailStatus {
    JailStatus {
        jail: name.into(),
        filter: FilterStatus {
            currently_failed: failed.0,
            total_failed: failed.1,
            source: LogSource::Files(vec!["/var/log/auth.log".into()]),
        },
        actions: ActionsStatus {
            currently_banned: banned.len() as u64,
            total_banned,
            banned: Some(banned.iter().map(|s| s.to_string()).collect()),
            cymru: None,
        },
    }
}

#[test]
fn ping_and_simple_answers() {
    assert_eq!(
        render(&req("ping"), &Response::Pong),
        "Server replied: pong"
    );
    assert_eq!(render(&req("stop"), &Response::Done), "Shutdown successful");
    assert_eq!(render(&req("start sshd"), &Response::Done), "Jail started");
    assert_eq!(render(&req("stop sshd"), &Response::Done), "Jail stopped");
    assert_eq!(
        render(&req("add sshd auto"), &Response::Done),
        "Added jail sshd"
    );
    assert_eq!(
        render(&req("flushlogs"), &Response::Text("rolled over".into())),
        "logs: rolled over"
    );
    assert_eq!(
        render(
            &req("echo a b"),
            &Response::List(vec!["a".into(), "b".into()])
        ),
        "a b"
    );
    assert_eq!(
        render(&req("set sshd banip 192.0.2.9"), &Response::Number(1)),
        "1"
    );
    assert_eq!(
        render(&req("get sshd ignoreself"), &Response::Bool(true)),
        "True"
    );
    assert_eq!(
        render(&req("get sshd bantime.factor"), &Response::Null),
        "None"
    );
}

#[test]
fn server_status_layout() {
    let status = Response::ServerStatus(ServerStatus {
        jails: vec!["recidive".into(), "sshd".into()],
    });
    assert_eq!(
        render(&req("status"), &status),
        "Status\n|- Number of jail:\t2\n`- Jail list:\trecidive, sshd"
    );
    let empty = Response::ServerStatus(ServerStatus::default());
    assert_eq!(
        render(&req("status"), &empty),
        "Status\n|- Number of jail:\t0\n`- Jail list:\t"
    );
}

#[test]
fn jail_status_layout() {
    let j = jail("sshd", (1, 7), &["192.0.2.1", "2001:db8::1"], 3);
    let expected = [
        "Status for the jail: sshd",
        "|- Filter",
        "|  |- Currently failed:\t1",
        "|  |- Total failed:\t7",
        "|  `- File list:\t/var/log/auth.log",
        "`- Actions",
        "   |- Currently banned:\t2",
        "   |- Total banned:\t3",
        "   `- Banned IP list:\t192.0.2.1 2001:db8::1",
    ]
    .join("\n");
    assert_eq!(
        render(&req("status sshd"), &Response::JailStatus(j.clone())),
        expected
    );

    // The short flavor drops the address list; the previous row becomes the last.
    let mut short = j;
    short.actions.banned = None;
    let out = render(&req("status sshd short"), &Response::JailStatus(short));
    assert!(
        out.ends_with("   |- Currently banned:\t2\n   `- Total banned:\t3"),
        "{out}"
    );

    let mut journal = jail("sshd", (0, 0), &[], 0);
    journal.filter.source = LogSource::Journal(vec!["_SYSTEMD_UNIT=sshd.service".into()]);
    let out = render(&req("status sshd"), &Response::JailStatus(journal));
    assert!(
        out.contains("|  `- Journal matches:\t_SYSTEMD_UNIT=sshd.service\n"),
        "{out}"
    );
}

#[test]
fn status_all_layout() {
    let resp = Response::AllStatus {
        server: ServerStatus {
            jails: vec!["sshd".into()],
        },
        jails: vec![jail("sshd", (1, 7), &["192.0.2.1", "2001:db8::1"], 3)],
    };
    let expected = [
        "Status",
        "|- Number of jail:\t1",
        "|- Jail list:\tsshd",
        "`- Status for the jails:",
        "   `- Jail: sshd",
        "      |- Filter",
        "      |  |- Currently failed:\t1",
        "      |  |- Total failed:\t7",
        "      |  `- File list:\t/var/log/auth.log",
        "      `- Actions",
        "         |- Currently banned:\t2",
        "         |- Total banned:\t3",
        "         `- Banned IP list:\t192.0.2.1 2001:db8::1",
    ]
    .join("\n");
    assert_eq!(render(&req("status --all"), &resp), expected);

    // With two jails the first one's tree hangs off a `|` rail.
    let two = Response::AllStatus {
        server: ServerStatus {
            jails: vec!["a".into(), "b".into()],
        },
        jails: vec![jail("a", (0, 0), &[], 0), jail("b", (0, 0), &[], 0)],
    };
    let out = render(&req("status --all"), &two);
    assert!(out.contains("   |- Jail: a\n   |  |- Filter\n"), "{out}");
    assert!(out.contains("   `- Jail: b\n      |- Filter\n"), "{out}");
}

#[test]
fn stats_table_layout() {
    let rows = vec![
        JailStats {
            jail: "sshd".into(),
            backend: "polling".into(),
            failed_current: 1,
            failed_total: 7,
            banned_current: 2,
            banned_total: 3,
        },
        JailStats {
            jail: "recidive".into(),
            backend: "pyinotify".into(),
            ..JailStats::default()
        },
    ];
    let expected = [
        "          ║           ║ Filter    ║ Actions  ",
        " Jail     ║ Backend   ╟───────────╫───────────",
        "          ║           ║ cur │ tot ║ cur │ tot",
        "══════════╬═══════════╬═══════════╬═══════════",
        " sshd     ║ polling   ║   1 │   7 ║   2 │   3",
        " recidive ║ pyinotify ║   0 │   0 ║   0 │   0",
        "══════════╩═══════════╩═══════════╩═══════════",
    ]
    .join("\n");
    assert_eq!(render(&req("stats"), &Response::Stats(rows)), expected);
}

#[test]
fn jail_option_layouts() {
    let list = |items: &[&str]| Response::List(items.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        render(&req("get sshd ignoreip"), &list(&["127.0.0.1/8", "::1"])),
        "These IP addresses/networks are ignored:\n|- 127.0.0.1/8\n`- ::1"
    );
    assert_eq!(
        render(&req("get sshd ignoreip"), &list(&[])),
        "No IP address/network is ignored"
    );
    assert_eq!(
        render(
            &req("set sshd addignoreip 10.0.0.0/8"),
            &list(&["10.0.0.0/8"])
        ),
        "These IP addresses/networks are ignored:\n`- 10.0.0.0/8"
    );
    assert_eq!(
        render(
            &req("get sshd failregex"),
            &list(&["^a <HOST>$", "^b <HOST>$"])
        ),
        "The following regular expression are defined:\n|- [0]: ^a <HOST>$\n`- [1]: ^b <HOST>$"
    );
    assert_eq!(
        render(&req("get sshd ignoreregex"), &list(&[])),
        "No regular expression is defined"
    );
    assert_eq!(
        render(&req("get sshd logpath"), &list(&["/var/log/auth.log"])),
        "Current monitored log file(s):\n`- /var/log/auth.log"
    );
    assert_eq!(
        render(&req("get sshd logpath"), &list(&[])),
        "No file is currently monitored"
    );
    assert_eq!(
        render(&req("get sshd datepattern"), &Response::Null),
        "Current date pattern set to: Default Detectors"
    );
    assert_eq!(
        render(
            &req("get sshd actions"),
            &list(&["nftables", "sendmail-whois"])
        ),
        "The jail sshd has the following actions:\nnftables, sendmail-whois"
    );
    assert_eq!(
        render(&req("get sshd actions"), &list(&[])),
        "No actions for jail sshd"
    );
    assert_eq!(
        render(&req("get sshd banip"), &list(&["192.0.2.1", "192.0.2.2"])),
        "192.0.2.1 192.0.2.2"
    );
    assert_eq!(
        render(&req("get sshd banip ,"), &list(&["192.0.2.1", "192.0.2.2"])),
        "192.0.2.1,192.0.2.2"
    );
    assert_eq!(
        render(&req("get sshd journalmatch"), &list(&[])),
        "No journal match filter set"
    );
    assert_eq!(
        render(
            &req("get sshd logencoding"),
            &Response::Text("UTF-8".into())
        ),
        "Current log encoding is set to:\nUTF-8"
    );
}

#[test]
fn ban_times_layout() {
    // 1735725600 is 2025-01-01 10:00:00 UTC.
    std::env::set_var("TZ", "UTC");
    let entries = vec![BanEntry {
        ip: "192.0.2.1".into(),
        start: 1_735_725_600,
        bantime: 600,
        end: 1_735_726_200,
    }];
    assert_eq!(
        render(
            &req("get sshd banip --with-time"),
            &Response::BanTimes(entries)
        ),
        "192.0.2.1 \t2025-01-01 10:00:00 + 600 = 2025-01-01 10:10:00"
    );
}

#[test]
fn server_option_layouts() {
    let text = |s: &str| Response::Text(s.into());
    assert_eq!(
        render(&req("get loglevel"), &text("INFO")),
        "Current logging level is 'INFO'"
    );
    assert_eq!(
        render(&req("set loglevel DEBUG"), &text("DEBUG")),
        "Current logging level is 'DEBUG'"
    );
    assert_eq!(
        render(
            &req("get dbfile"),
            &text("/var/lib/fail2ban/fail2ban.sqlite3")
        ),
        "Current database file is:\n`- /var/lib/fail2ban/fail2ban.sqlite3"
    );
    assert_eq!(
        render(&req("get dbpurgeage"), &Response::Number(86400)),
        "Current database purge age is:\n`- 86400seconds"
    );
    assert_eq!(
        render(&req("get logtarget"), &text("STDOUT")),
        "Current logging target is:\n`- STDOUT"
    );
    assert_eq!(
        render(&req("get syslogsocket"), &text("auto")),
        "Current syslog socket is:\n`- auto"
    );
    assert_eq!(
        render(&req("get dbmaxmatches"), &Response::Number(10)),
        "10"
    );
}

#[test]
fn banned_as_python_reprs() {
    let resp = Response::Banned(vec![
        JailBans {
            jail: "sshd".into(),
            ips: vec!["192.0.2.1".into()],
        },
        JailBans {
            jail: "recidive".into(),
            ips: vec![],
        },
    ]);
    assert_eq!(
        render(&req("banned"), &resp),
        "[{'sshd': ['192.0.2.1']}, {'recidive': []}]"
    );
    assert_eq!(
        render(
            &req("banned 192.0.2.1"),
            &Response::BannedBy(vec![vec!["sshd".into()]])
        ),
        "[['sshd']]"
    );
    assert_eq!(
        render(
            &req("get sshd banned"),
            &Response::List(vec!["it's".into()])
        ),
        "[\"it's\"]"
    );
}

#[test]
fn failures_render_their_message_and_json_has_the_envelope() {
    let resp = Response::unknown_jail("nojail");
    assert_eq!(
        render(&req("status nojail"), &resp),
        "Sorry but the jail 'nojail' does not exist"
    );
    let words = vec!["status".to_string(), "nojail".to_string()];
    let json = jailor_proto::render::json(&words, &resp);
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"]["kind"], "unknown_jail");
    assert_eq!(json["command"][1], "nojail");
    let ok = jailor_proto::render::json(&words, &Response::Number(3));
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["response"]["type"], "number");
    assert_eq!(ok["response"]["data"], 3);
    let failure = Response::error(FailureKind::Config, "bad");
    assert!(failure.is_error());
}
