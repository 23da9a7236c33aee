//! The daemon's bounded queues filled for real (issue 11), against the real binary: each
//! full-queue counter moves, and no ban is lost.
//!
//! - Reader → keeper (8,192 messages): the test holds the store's write lock (a slow disk
//!   would do the same), so the keeper waits in its commit while a burst of 40,000 failures
//!   (`maxretry = 1`: each one a ban) comes in; the reader waits at the full queue, counted
//!   by `jailor_keeper_queue_full_total`. Every ban is then made and recorded.
//! - Keeper → worker (1,024 jobs) and the keeper's backlog (`maxactionbacklog`, here 100):
//!   the jail's action waits at a gate (a file the test creates), so its worker takes no job
//!   while 3,000 bans come in. Jobs that find the worker's queue full are counted
//!   (`jailor_action_queue_full_total`); the backlog reaching its bound holds the reader back
//!   (`jailor_action_backlog_full_total`, the backlog gauge stays within its bound plus the
//!   keeper's queue). Once the gate opens, every ban's action runs, once.
//!
//! It is the only test in its binary, so cargo runs it alone.

mod daemon_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use daemon_support::*;

/// Bans in the keeper-queue burst, and in the action-queue burst.
const BURST: u32 = 40_000;
const SLOW: u32 = 12_000;
/// The slow jail's `maxactionbacklog`.
const BACKLOG: u64 = 100;
/// The keeper's queue (`keeper::spawn`).
const KEEPER_QUEUE: u64 = 8192;

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 1
[burst]
enabled = true
filter = test
logpath = @DIR@/burst.log
action =
[slow]
enabled = true
filter = test
logpath = @DIR@/slow.log
maxactionbacklog = 100
action = gated[file=\"@DIR@/actions.txt\", gate=\"@DIR@/gate\"]
";

/// An action whose ban waits until the file `<gate>` exists.
const GATED_ACTION: &str = "[Definition]
actionban = while [ ! -e <gate> ]; do sleep 0.05; done; echo \"ban <ip>\" >> <file>
[Init]
file = /dev/null
gate = /nonexistent
timeout = 300
";

#[test]
fn full_queues_are_counted_and_lose_no_ban() {
    let conf = Conf::new(JAILS);
    enable_metrics(&conf);
    std::fs::write(conf.file("action.d/gated.conf"), GATED_ACTION).unwrap();
    for log in ["burst.log", "slow.log"] {
        std::fs::write(conf.file(log), "").unwrap();
    }
    let daemon = Daemon::start_ready(&conf, &["burst", "slow"]);
    let metrics = metrics_addr(&conf);
    let m =
        |body: &str, name: &str, jail: &str| metric(body, &format!("{name}{{jail=\"{jail}\"}}"));

    // 1. The keeper stuck in its commit: the reader's queue to it fills.
    let db = rusqlite::Connection::open(conf.file("jailor.sqlite3")).unwrap();
    db.busy_timeout(Duration::from_secs(30)).unwrap();
    let now = epoch();
    let lines: String = (0..BURST)
        .map(|n| {
            let [_, _, a, b] = n.to_be_bytes();
            format!("{now} auth failure from 10.1.{a}.{b}\n")
        })
        .collect();
    // The daemon waits up to 5 s for the store's lock: hold it at most 3 s at a time.
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    append(&conf.file("burst.log"), &lines);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut held_since = Instant::now();
    loop {
        let body = scrape(&metrics);
        let full = m(&body, "jailor_keeper_queue_full_total", "burst");
        // Failures counted, not lines read: the reader reads a round ahead of its sends.
        let counted = m(&body, "jailor_failures_total", "burst");
        if full > 0 || counted >= u64::from(BURST) || Instant::now() > deadline {
            break;
        }
        if held_since.elapsed() > Duration::from_secs(3) {
            db.execute_batch("COMMIT").unwrap();
            std::thread::sleep(Duration::from_millis(500));
            db.execute_batch("BEGIN IMMEDIATE").unwrap();
            held_since = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    db.execute_batch("COMMIT").unwrap();
    let mut body = String::new();
    wait_for("every burst ban made", 180, || {
        body = scrape(&metrics);
        m(&body, "jailor_bans_total", "burst") >= u64::from(BURST)
    });
    let keeper_full = m(&body, "jailor_keeper_queue_full_total", "burst");
    assert!(
        keeper_full > 0,
        "the reader never found the keeper's queue full"
    );
    assert_eq!(m(&body, "jailor_bans_total", "burst"), u64::from(BURST));
    let stored = || -> i64 {
        db.query_row("SELECT count(*) FROM bans WHERE jail = 'burst'", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    wait_for("every burst ban recorded", 60, || {
        stored() == i64::from(BURST)
    });
    assert_eq!(count(&conf.log(), "Cannot record bans"), 0);

    // 2. The actions stuck at the gate: the worker's queue fills, then the keeper's backlog.
    let now = epoch();
    let lines: String = (0..SLOW)
        .map(|n| {
            let [_, _, a, b] = n.to_be_bytes();
            format!("{now} auth failure from 10.2.{a}.{b}\n")
        })
        .collect();
    append(&conf.file("slow.log"), &lines);
    // The reader is held back as soon as the backlog and a batch's bans reach the bound,
    // even while the worker's queue still has room; once that queue is full, the jobs
    // wait in the backlog.
    wait_for(
        "the worker's queue full and the backlog at its bound",
        120,
        || {
            body = scrape(&metrics);
            m(&body, "jailor_action_backlog_full_total", "slow") > 0
                && m(&body, "jailor_action_queue_full_total", "slow") > 0
        },
    );
    let queue_full = m(&body, "jailor_action_queue_full_total", "slow");
    let backlog = m(&body, "jailor_action_backlog", "slow");
    // The bound, the keeper's queue, and the one candidate the reader may have been
    // sending when the hold came.
    let bound = BACKLOG + KEEPER_QUEUE + 1;
    assert!(backlog <= bound, "backlog {backlog} past {bound}");
    // Held back, the reader does not read on: once the backlog stops growing (the same for
    // 1 s), it is within its bound plus the keeper's queue. Without the hold, the reader goes
    // on to the end and the backlog holds all but the worker's 1,025 jobs.
    let mut last = (u64::MAX, Instant::now());
    let mut backlog_later = 0;
    wait_for("the backlog to settle", 120, || {
        body = scrape(&metrics);
        backlog_later = m(&body, "jailor_action_backlog", "slow");
        if backlog_later != last.0 {
            last = (backlog_later, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(100));
        last.1.elapsed() >= Duration::from_secs(1)
    });
    assert!(
        backlog_later <= bound,
        "backlog {backlog_later} past the bound {BACKLOG} and the keeper's queue"
    );
    assert_eq!(count(&conf.actions(), "ban "), 0, "the gate was closed");

    std::fs::write(conf.file("gate"), "").unwrap();
    wait_for("every slow ban's action", 240, || {
        count(&conf.actions(), "ban ") >= SLOW as usize
    });
    let actions = conf.actions();
    let banned: Vec<&str> = actions.lines().filter(|l| l.starts_with("ban ")).collect();
    let distinct: HashSet<&str> = banned.iter().copied().collect();
    assert_eq!(banned.len(), SLOW as usize, "one action per ban");
    assert_eq!(distinct.len(), SLOW as usize, "every address once");
    wait_for("the backlog drained", 60, || {
        body = scrape(&metrics);
        m(&body, "jailor_action_backlog", "slow") == 0
    });
    assert_eq!(m(&body, "jailor_bans_total", "slow"), u64::from(SLOW));
    assert_eq!(m(&body, "jailor_lines_read_total", "slow"), u64::from(SLOW));
    eprintln!(
        "queues: keeper queue full {keeper_full} times (burst of {BURST}); worker queue full \
         {queue_full} times, backlog at its bound {} times, {backlog} jobs when it held the \
         reader back, {backlog_later} once settled (slow jail, {SLOW} bans)",
        m(&body, "jailor_action_backlog_full_total", "slow")
    );
    daemon.stop();
}
