//! `jailor server` bans as fail2ban does: maxretry within findtime, one ban, its unban after
//! bantime, the ignore rules, bantime.increment, and recidive on jailor's own log.

mod daemon_support;

use daemon_support::*;

const BASIC: &str = "[DEFAULT]
bantime = 2
findtime = 60
maxretry = 3
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
";

#[test]
fn maxretry_failures_give_one_ban_and_its_unban_after_bantime() {
    let conf = Conf::new(BASIC);
    append(&conf.file("auth.log"), "");
    let d = Daemon::start_ready(&conf, &["test"]);
    let log = conf.file("auth.log");
    // Two failures stay below maxretry.
    append(&log, &failure("192.0.2.7").repeat(2));
    wait_for("two Found lines", 10, || {
        count(&conf.log(), "Found 192.0.2.7 -") == 2
    });
    assert_eq!(count(&conf.actions(), "ban 192.0.2.7"), 0);
    // The third bans, the fourth and fifth do not ban again.
    append(&log, &failure("192.0.2.7").repeat(3));
    wait_for("the ban", 10, || conf.actions().contains("ban 192.0.2.7 2"));
    let banned_at = std::time::Instant::now();
    wait_for("the unban", 10, || {
        conf.actions().contains("unban 192.0.2.7")
    });
    let after = banned_at.elapsed();
    assert!(
        after >= std::time::Duration::from_millis(900),
        "unbanned after {after:?}"
    );
    let log_text = conf.log();
    assert_eq!(
        count_lines_ending(&log_text, "[test] Ban 192.0.2.7"),
        1,
        "{log_text}"
    );
    assert_eq!(count_lines_ending(&log_text, "[test] Unban 192.0.2.7"), 1);
    assert_eq!(
        conf.actions()
            .lines()
            .filter(|l| l.starts_with("ban "))
            .count(),
        1,
        "{}",
        conf.actions()
    );
    // The pidfile holds the server's pid while it runs and is removed at stop.
    let pid = read(&conf.file("jailor.pid"));
    assert_eq!(pid.trim(), d.child.id().to_string());
    d.stop();
    assert!(!conf.file("jailor.pid").exists());
    let actions = conf.actions();
    assert!(
        actions.starts_with("start\n") && actions.ends_with("stop\n"),
        "{actions}"
    );
}

#[test]
fn ignoreip_ignoreself_and_ignorecommand_are_respected() {
    let conf = Conf::new(
        "[DEFAULT]
bantime = 600
findtime = 60
maxretry = 1
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
ignoreip = 198.51.100.0/24 203.0.113.1
ignoreself = true
ignorecommand = test <ip> = 203.0.113.77
action = record[file=\"@DIR@/actions.txt\"]
",
    );
    append(&conf.file("auth.log"), "");
    let _d = Daemon::start_ready(&conf, &["test"]);
    let ips = [
        "198.51.100.5",
        "203.0.113.1",
        "127.0.0.1",
        "203.0.113.77",
        "192.0.2.8",
    ];
    let text: String = ips.iter().map(|ip| failure(ip)).collect();
    append(&conf.file("auth.log"), &text);
    wait_for("the ban of 192.0.2.8", 10, || {
        conf.actions().contains("ban 192.0.2.8")
    });
    let log = conf.log();
    assert!(log.contains("[test] Ignore 198.51.100.5 by ip"), "{log}");
    assert!(log.contains("[test] Ignore 203.0.113.1 by ip"), "{log}");
    assert!(
        log.contains("[test] Ignore 127.0.0.1 by ignoreself rule"),
        "{log}"
    );
    assert!(
        log.contains("[test] Ignore 203.0.113.77 by command"),
        "{log}"
    );
    let bans: Vec<&str> = log.lines().filter(|l| l.contains("] Ban ")).collect();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert!(bans[0].ends_with("[test] Ban 192.0.2.8"));
}

#[test]
fn bantime_increment_doubles_for_each_earlier_ban() {
    let conf = Conf::new(
        "[DEFAULT]
bantime = 1
findtime = 60
maxretry = 2
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
bantime.increment = true
action = record[file=\"@DIR@/actions.txt\"]
",
    );
    append(&conf.file("auth.log"), "");
    let _d = Daemon::start_ready(&conf, &["test"]);
    let log = conf.file("auth.log");
    // 1st ban: bantime; then fail2ban's default formula doubles per earlier ban. A repeat
    // offender's failure counts min(2^n / 2 + 1, maxretry): one failure bans again.
    let expected = ["ban 192.0.2.9 1", "ban 192.0.2.9 2", "ban 192.0.2.9 4"];
    for (round, want) in expected.iter().enumerate() {
        let n = if round == 0 { 2 } else { 1 };
        // A failure must be later than the last ban (whole seconds) to count.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        append(&log, &failure("192.0.2.9").repeat(n));
        wait_for(want, 15, || conf.actions().contains(want));
        if round + 1 < expected.len() {
            wait_for("the unban", 15, || {
                count(&conf.actions(), "unban 192.0.2.9") == round + 1
            });
        }
    }
    let text = conf.log();
    assert!(
        text.contains("[test] Increase Ban 192.0.2.9 (2 # 2s -> "),
        "{text}"
    );
    assert!(
        text.contains("[test] Increase Ban 192.0.2.9 (3 # 4s -> "),
        "{text}"
    );
}

#[test]
fn recidive_bans_from_jailors_own_log() {
    let conf = Conf::new(
        "[DEFAULT]
findtime = 600
[test]
enabled = true
filter = test
bantime = 1
maxretry = 1
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
[recidive]
enabled = true
filter = own-bans
bantime = 600
maxretry = 3
logpath = @DIR@/jailor.log
action = record[file=\"@DIR@/recidive.txt\"]
",
    );
    // Our own filter for jailor's (= fail2ban's) log format.
    std::fs::write(
        conf.file("filter.d/own-bans.conf"),
        "[Definition]\nfailregex = ^\\s*fail2ban\\.actions\\s*\\[\\d+\\]:\\s+NOTICE\\s+\\[(?!recidive\\])[^\\]]*\\]\\s+Ban\\s+<HOST>$\n",
    )
    .unwrap();
    append(&conf.file("auth.log"), "");
    let _d = Daemon::start_ready(&conf, &["test", "recidive"]);
    for round in 1..=3 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        append(&conf.file("auth.log"), &failure("192.0.2.10"));
        wait_for("a ban", 10, || {
            count(&conf.actions(), "ban 192.0.2.10 1") == round
        });
        if round < 3 {
            wait_for("its unban", 10, || {
                count(&conf.actions(), "unban 192.0.2.10") == round
            });
        }
    }
    wait_for("recidive's ban", 10, || {
        read(&conf.file("recidive.txt")).contains("ban 192.0.2.10 600")
    });
    let log = conf.log();
    assert_eq!(
        count_lines_ending(&log, "[recidive] Ban 192.0.2.10"),
        1,
        "{log}"
    );
    assert_eq!(count(&log, "[recidive] Found 192.0.2.10"), 3, "{log}");
}
