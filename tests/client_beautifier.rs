//! fail2ban-client's output layouts: every example of
//! `../shared/compat/reference/beautifier_examples.txt` (read at run time) rendered from the
//! typed response holding the example's values must equal the example byte for byte; and the
//! `status` layouts of a real `jailor server` must have the examples' shape line for line.

mod daemon_support;

use std::process::Command;

use daemon_support::*;
use jailor_proto::{
    render, ActionsStatus, BanEntry, FailureKind, FilterStatus, JailBans, JailStats, JailStatus,
    LogSource, Request, Response, ServerStatus,
};

/// The examples: the command words after `fail2ban-client` and the expected output.
fn examples(text: &str) -> Vec<(Vec<String>, String)> {
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("$ fail2ban-client") {
            let words = cmd.split_whitespace().map(str::to_owned).collect();
            out.push((words, String::new()));
        } else if let Some((_, expected)) = out.last_mut() {
            expected.push_str(line);
            expected.push('\n');
        }
    }
    for (_, expected) in &mut out {
        while expected.ends_with('\n') {
            expected.pop();
        }
    }
    out
}

fn sshd_status() -> JailStatus {
    JailStatus {
        jail: "sshd".into(),
        filter: FilterStatus {
            currently_failed: 1,
            total_failed: 7,
            source: LogSource::Files(vec!["/var/log/auth.log".into()]),
        },
        actions: ActionsStatus {
            currently_banned: 2,
            total_banned: 3,
            banned: Some(vec!["192.0.2.1".into(), "2001:db8::1".into()]),
            cymru: None,
        },
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The daemon's typed answer holding the values of the example for `words`.
fn response_for(words: &[&str]) -> Option<Response> {
    let stats = |jail: &str, backend: &str, n: [u64; 4]| JailStats {
        jail: jail.into(),
        backend: backend.into(),
        failed_current: n[0],
        failed_total: n[1],
        banned_current: n[2],
        banned_total: n[3],
    };
    Some(match words {
        ["ping"] => Response::Pong,
        ["status"] => Response::ServerStatus(ServerStatus {
            jails: strings(&["recidive", "sshd"]),
        }),
        ["status", "sshd"] => Response::JailStatus(sshd_status()),
        ["status", "--all"] => Response::AllStatus {
            server: ServerStatus {
                jails: strings(&["sshd"]),
            },
            jails: vec![sshd_status()],
        },
        ["stats"] => Response::Stats(vec![
            stats("sshd", "polling", [1, 7, 2, 3]),
            stats("recidive", "pyinotify", [0, 0, 0, 0]),
        ]),
        ["get", "sshd", "banip", "--with-time"] => {
            // 10:00 on 2025-01-01 in this machine's zone, as the client prints local times.
            let start = jiff::civil::date(2025, 1, 1)
                .at(10, 0, 0, 0)
                .to_zoned_datetime(jiff::tz::TimeZone::system())
                .ok()?
                .timestamp()
                .as_second();
            Response::BanTimes(vec![BanEntry {
                ip: "192.0.2.1".into(),
                start,
                bantime: 600,
                end: start + 600,
            }])
        }
        ["get", "sshd", "banip", ..] => Response::List(strings(&["192.0.2.1", "192.0.2.2"])),
        ["get", "sshd", "ignoreip"] => Response::List(strings(&["127.0.0.1/8", "::1"])),
        ["get", "sshd", "failregex"] => Response::List(strings(&["^a <HOST>$", "^b <HOST>$"])),
        ["get", "sshd", "logpath"] => Response::List(strings(&["/var/log/auth.log"])),
        ["get", "sshd", "datepattern"] => Response::Null,
        ["get", "sshd", "actions"] => Response::List(strings(&["nftables", "sendmail-whois"])),
        ["get", "loglevel"] => Response::Text("INFO".into()),
        ["get", "dbfile"] => Response::Text("/var/lib/fail2ban/fail2ban.sqlite3".into()),
        ["get", "dbpurgeage"] => Response::Number(86_400),
        ["set", "sshd", "banip", _] => Response::Number(1),
        ["banned"] => Response::Banned(vec![
            JailBans {
                jail: "sshd".into(),
                ips: strings(&["192.0.2.1"]),
            },
            JailBans {
                jail: "recidive".into(),
                ips: Vec::new(),
            },
        ]),
        ["banned", _] => Response::BannedBy(vec![strings(&["sshd"])]),
        ["status", jail] => Response::error(
            FailureKind::UnknownJail,
            format!("Sorry but the jail '{jail}' does not exist"),
        ),
        ["version"] => Response::Text("1.1.2.dev1".into()),
        ["echo", rest @ ..] => Response::List(strings(rest)),
        ["stop"] => Response::Done,
        ["flushlogs"] => Response::Text("rolled over".into()),
        _ => return None,
    })
}

#[test]
fn every_example_renders_as_fail2ban_client_prints_it() {
    let test = "every_example_renders_as_fail2ban_client_prints_it";
    let Some(corpus) = jailor_testkit::require_corpus(test) else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("reference/beautifier_examples.txt")).unwrap();
    let all = examples(&text);
    assert!(all.len() >= 20, "only {} examples found", all.len());
    for (words, expected) in &all {
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let response =
            response_for(&refs).unwrap_or_else(|| panic!("no response for the example {words:?}"));
        let request = Request::from_words(words)
            .unwrap_or_else(|e| panic!("{words:?} is not a command: {e}"));
        assert_eq!(&render(&request, &response), expected, "{words:?}");
    }
}

/// A layout's shape: each line up to its value (the text after `:\t`, or after `: ` of a
/// `Jail:` line), so a real daemon's output compares with an example's.
fn shape(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| match l.split_once(":\t") {
            Some((head, _)) => format!("{head}:\t…"),
            None => match l.split_once("Jail: ") {
                Some((head, _)) => format!("{head}Jail: …"),
                None => l.to_owned(),
            },
        })
        .collect()
}

fn example<'a>(all: &'a [(Vec<String>, String)], words: &[&str]) -> &'a str {
    all.iter()
        .find(|(w, _)| w.iter().map(String::as_str).eq(words.iter().copied()))
        .map(|(_, e)| e.as_str())
        .unwrap_or_else(|| panic!("no example for {words:?}"))
}

#[test]
fn a_real_daemons_status_has_the_examples_layout() {
    let test = "a_real_daemons_status_has_the_examples_layout";
    let Some(corpus) = jailor_testkit::require_corpus(test) else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("reference/beautifier_examples.txt")).unwrap();
    let all = examples(&text);
    let conf = Conf::new(
        "[sshd]\nenabled = true\nfilter = test\nlogpath = @DIR@/auth.log\naction = record[file=\"@DIR@/actions.txt\"]\n",
    );
    append(&conf.file("auth.log"), "");
    let _d = Daemon::start_ready(&conf, &["sshd"]);
    let client = |args: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
            .arg("client")
            .arg("-s")
            .arg(conf.file("jailor.sock"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let mut s = String::from_utf8(out.stdout).unwrap();
        assert_eq!(s.pop(), Some('\n'));
        s
    };
    client(&["set", "sshd", "banip", "198.51.100.1", "2001:db8::1"]);
    append(&conf.file("auth.log"), &failure("198.51.100.7"));
    wait_for("the failure counted", 30, || {
        client(&["status", "sshd"]).contains("Total failed:\t1")
    });
    for words in [
        &["status", "sshd"][..],
        &["status", "--all"][..],
        &["status"][..],
    ] {
        let ours = client(words);
        let theirs = example(&all, words);
        // The examples' `status` lists two jails; the line layout is the same for one.
        assert_eq!(
            shape(&ours),
            shape(theirs),
            "{words:?}:\n{ours}\n---\n{theirs}"
        );
    }
    assert_eq!(
        client(&["status", "sshd"]),
        format!(
            "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t1\n|  |- Total failed:\t1\n|  `- File list:\t{}\n`- Actions\n   |- Currently banned:\t2\n   |- Total banned:\t2\n   `- Banned IP list:\t198.51.100.1 2001:db8::1",
            conf.file("auth.log").display()
        )
    );
}
