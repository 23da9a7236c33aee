//! `jailor server` keeps its state: bans restored and re-applied after a restart, lines
//! written while it was down counted once, no logged ban lost to `kill -9`; a failing or
//! hanging action does not stop bans from being recorded or matching; SIGHUP reloads.

mod daemon_support;

use std::time::{Duration, Instant};

use daemon_support::*;

const LONG: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 3
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
";

#[test]
fn restart_restores_bans_and_counts_lines_written_while_down_once() {
    let conf = Conf::new(LONG);
    let log = conf.file("auth.log");
    append(&log, "");
    let d = Daemon::start_ready(&conf, &["test"]);
    append(&log, &failure("192.0.2.20").repeat(3));
    append(&log, &failure("192.0.2.21"));
    wait_for("the ban", 10, || conf.actions().contains("ban 192.0.2.20"));
    wait_for("the lone failure", 10, || {
        conf.log().contains("Found 192.0.2.21 -")
    });
    d.stop();
    // Stopping unbans through the action (it has no actionflush), then stops it.
    assert!(
        conf.actions().ends_with("unban 192.0.2.20\nstop\n"),
        "{}",
        conf.actions()
    );
    // Written while the daemon is down.
    append(&log, &failure("192.0.2.22"));
    let d = Daemon::start_ready(&conf, &["test"]);
    let actions = conf.actions();
    let second_run = &actions[actions.rfind("start\n").unwrap()..];
    assert!(second_run.contains("ban 192.0.2.20 600"), "{actions}");
    wait_for("the line written while down", 10, || {
        conf.log().contains("Found 192.0.2.22 -")
    });
    std::thread::sleep(Duration::from_millis(500));
    let text = conf.log();
    assert_eq!(
        count_lines_ending(&text, "[test] Restore Ban 192.0.2.20"),
        1,
        "{text}"
    );
    assert_eq!(count(&text, "Found 192.0.2.20 -"), 3, "{text}");
    assert_eq!(count(&text, "Found 192.0.2.21 -"), 1, "{text}");
    assert_eq!(count(&text, "Found 192.0.2.22 -"), 1, "{text}");
    d.stop();
}

#[test]
fn kill_9_during_a_burst_loses_no_logged_ban() {
    let conf = Conf::new(&LONG.replace("maxretry = 3", "maxretry = 1"));
    let log = conf.file("auth.log");
    append(&log, "");
    let d = Daemon::start_ready(&conf, &["test"]);
    let burst: String = (0..2000)
        .map(|i| failure(&format!("10.{}.{}.1", i / 250, i % 250)))
        .collect();
    append(&log, &burst);
    wait_for("some bans", 10, || count(&conf.log(), "] Ban ") >= 20);
    d.kill9();
    let banned: Vec<String> = conf
        .log()
        .lines()
        .filter_map(|l| l.split_once("[test] Ban ").map(|(_, ip)| ip.to_owned()))
        .collect();
    assert!(banned.len() >= 20);
    let before = conf.log().len();
    let d = Daemon::start_ready(&conf, &["test"]);
    let restored = |log: &str| -> Vec<String> {
        log[before..]
            .lines()
            .filter_map(|l| {
                l.split_once("[test] Restore Ban ")
                    .map(|(_, ip)| ip.to_owned())
            })
            .collect()
    };
    let log = conf.log();
    let back = restored(&log);
    for ip in &banned {
        assert!(
            back.contains(ip),
            "{ip} was logged as banned but not restored"
        );
    }
    d.kill9();
}

#[test]
fn a_hanging_and_failing_action_is_repaired_and_bans_are_still_recorded() {
    let conf = Conf::new(
        "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 1
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = stuck[dir=\"@DIR@\"]
",
    );
    std::fs::write(
        conf.file("action.d/stuck.conf"),
        "[Definition]
actionban = sleep 30
actioncheck = test -e <dir>/repaired
actionrepair = echo repair >> <dir>/repairs.txt; touch <dir>/repaired
actionunban = true
[Init]
timeout = 1
dir = /nonexistent
",
    )
    .unwrap();
    let log = conf.file("auth.log");
    append(&log, "");
    let d = Daemon::start_ready(&conf, &["test"]);
    append(&log, &failure("192.0.2.30"));
    wait_for("the first ban", 10, || {
        conf.log().contains("[test] Ban 192.0.2.30")
    });
    // While the action hangs, matching goes on: the next ban is logged at once.
    let t = Instant::now();
    append(&log, &failure("192.0.2.31"));
    wait_for("the second ban", 10, || {
        conf.log().contains("[test] Ban 192.0.2.31")
    });
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    wait_for("timeout, repair and the error", 20, || {
        conf.log()
            .contains("Failed to execute ban jail 'test' action 'stuck'")
    });
    assert!(read(&conf.file("repairs.txt")).contains("repair"));
    d.kill9();
    // Both bans were recorded although the action failed.
    let before = conf.log().len();
    let d = Daemon::start_ready(&conf, &["test"]);
    let log = conf.log();
    assert!(log[before..].contains("Restore Ban 192.0.2.30"), "{log}");
    assert!(log[before..].contains("Restore Ban 192.0.2.31"), "{log}");
    d.kill9();
}

#[test]
fn sighup_reloads_and_a_broken_configuration_keeps_the_jails() {
    let conf = Conf::new(LONG);
    let log = conf.file("auth.log");
    append(&log, "");
    let d = Daemon::start_ready(&conf, &["test"]);
    // A broken jail.conf: the running jail stays.
    std::fs::write(conf.file("jail.conf"), "[test\nenabled = true\n").unwrap();
    d.signal("HUP");
    wait_for("the reload error", 10, || {
        conf.log().contains("Reload failed")
    });
    append(&log, &failure("192.0.2.40").repeat(3));
    wait_for("a ban after the failed reload", 10, || {
        conf.actions().contains("ban 192.0.2.40")
    });
    // A jail whose maxretry changed takes it in place (as fail2ban): its ban stays.
    conf.set_jails(&LONG.replace("maxretry = 3", "maxretry = 1"));
    d.signal("HUP");
    wait_for("the reload", 30, || conf.log().contains("Reload finished"));
    assert!(conf.log().contains("[test] Changed in place"));
    assert!(!conf.log().contains("Unban 192.0.2.40"));
    append(&log, &failure("192.0.2.41"));
    wait_for("a ban with maxretry 1", 10, || {
        conf.actions().contains("ban 192.0.2.41")
    });
    d.stop();
}
