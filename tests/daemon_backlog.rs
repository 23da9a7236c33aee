//! A backlog written in one go (matched ahead on two threads by the reader) gives exactly
//! what matching line by line gives: every failure found once, in the file's order, with
//! the date rules (two date formats switching back and forth, lines without a date taking
//! the last one, a stale date taken as now) and one ban per address past maxretry.

mod daemon_support;

use std::collections::BTreeMap;
use std::process::Command;

use daemon_support::*;

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 70
[backlog]
enabled = true
filter = backlog
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
";

/// No `datepattern`: fail2ban's default templates, so syslog and ISO dates both work.
const FILTER: &str = "[Definition]\nfailregex = ^\\s*host x: auth failure from <HOST>$\n";

/// `epoch` as `date` prints it in the local time zone with `format`.
fn local(epoch: u64, format: &str) -> String {
    let out = Command::new("date")
        .arg("-d")
        .arg(format!("@{epoch}"))
        .arg(format!("+{format}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_big_backlog_is_matched_in_order_with_the_date_rules() {
    let conf = Conf::new(JAILS);
    std::fs::write(conf.file("filter.d/backlog.conf"), FILTER).unwrap();
    let log = conf.file("auth.log");
    append(&log, "");
    let d = Daemon::start_ready(&conf, &["backlog"]);
    let now = epoch();
    let syslog = local(now - 20, "%b %e %H:%M:%S");
    let iso = local(now - 10, "%Y-%m-%d %H:%M:%S");
    let stale = local(now - 2 * 86_400, "%b %e %H:%M:%S");
    let mut text = String::new();
    let mut found = Vec::new();
    for i in 0..6000u32 {
        // A skewed spread: a few addresses pass maxretry, most do not.
        let addr = format!("198.51.100.{}", (i * i + 3 * i) % 97 + 1);
        let failure = format!("host x: auth failure from {addr}");
        // Runs of one date format, then the other, so the template tried first changes.
        let line = match (i / 50 % 3, i % 10) {
            (_, 8) => format!("{syslog} host x: session opened for {addr}"),
            (_, 9) => failure.clone(),
            (_, 7) => format!("{stale} {failure}"),
            (0 | 1, _) => format!("{syslog} {failure}"),
            _ => format!("{iso} {failure}"),
        };
        if i % 10 != 8 {
            found.push(addr);
        }
        text.push_str(&line);
        text.push('\n');
    }
    append(&log, &text);
    wait_for("every failure found", 120, || {
        count(&conf.log(), "[backlog] Found ") >= found.len()
    });
    let mut per_addr: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &found {
        *per_addr.entry(a.as_str()).or_default() += 1;
    }
    let want_bans: Vec<&str> = per_addr
        .iter()
        .filter(|(_, n)| **n >= 70)
        .map(|(a, _)| *a)
        .collect();
    assert!(
        !want_bans.is_empty() && want_bans.len() < per_addr.len(),
        "{per_addr:?}"
    );
    wait_for("the bans", 60, || {
        want_bans
            .iter()
            .all(|a| count_lines_ending(&conf.actions(), &format!("ban {a} 600")) == 1)
    });
    let server_log = conf.log();
    let seen: Vec<&str> = server_log
        .lines()
        .filter_map(|l| l.split_once("[backlog] Found ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert_eq!(seen.len(), found.len());
    assert!(seen == found, "Found lines out of order or wrong addresses");
    // Every Found line's time: its own date, the last date for undated lines, now (within
    // the test's run) for the stale one; none is two days old.
    let stale_day = local(now - 2 * 86_400, "%Y-%m-%d");
    assert_eq!(count(&server_log, &format!("- {stale_day} ")), 0);
    d.stop();
    let actions = conf.actions();
    let bans: Vec<&str> = actions
        .lines()
        .filter_map(|l| l.strip_prefix("ban "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut sorted = bans.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, want_bans, "{actions}");
}
