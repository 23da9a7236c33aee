//! A flood against a running `jailor server` (the real binary), issue 11: one million failure
//! lines from one million addresses plus 10,000 lines of 100 KB, written within a minute, while
//! one genuine attacker fails three times in the middle of it.
//!
//! Asserted: the daemon's peak resident memory stays under a bound derived from the jail's
//! caps (`maxtrackedaddresses`, `maxlinelength`); the daemon answers `ping` throughout the
//! flood with p99 under `PING_P99` (50 ms, issue 11), measured here on a new connection per
//! ping through the client library, as `jailor client ping` does; real `jailor client ping`
//! processes run now and then too, held to the looser `CLIENT_PING_P99` (starting a process
//! on a loaded machine is most of their time) and reported; the attacker is banned (its
//! action ran) within `BAN_WITHIN` (1 s) of its last line being written; no flood address is
//! banned; the metrics endpoint counts every cut line and every address evicted at the cap,
//! and reports the queue and process-bound counters.
//!
//! Measured (debug build, load average 8 to 9 on 2 cores): ping p50 0.2 ms, p99 6.5 ms (24
//! to 52 ms before the control socket kept its connection threads: see
//! `crates/proto/src/server/pool.rs`); `jailor client ping` processes p50 5 ms, p99 32 ms;
//! ban 20 to 130 ms after the attacker's last line. The figures are printed.
//!
//! It is the only test in its binary, so cargo runs it alone; the flood is written from one
//! thread at a steady pace, at the lowest priority (it stands for the logging services, and
//! formatting a million lines in a debug build would otherwise take the CPU the pings are
//! measured on).

mod daemon_support;

use std::fs::OpenOptions;
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon_support::*;
use jailor_proto::{Client, Request, Response};

/// Addresses the jail tracks failures for, at most.
const TRACKED_CAP: usize = 20_000;
/// Flood lines, each from its own address.
const FLOOD_LINES: u32 = 1_000_000;
/// Long lines, and their length.
const LONG_LINES: u32 = 10_000;
const LONG_LEN: usize = 100 * 1024;
/// The flood is written in this many slices, one every `SLICE`.
const SLICES: u32 = 200;
const SLICE: Duration = Duration::from_millis(200);
/// Issue 11's targets: the daemon answers `ping` with p99 under 50 ms, the attacker is
/// banned within 1 s. A whole `jailor client ping` process is held to `CLIENT_PING_P99`
/// (see the top of this file).
const PING_P99: Duration = Duration::from_millis(50);
const CLIENT_PING_P99: Duration = Duration::from_millis(1000);
const BAN_WITHIN: Duration = Duration::from_secs(1);
/// The genuine attacker.
const ATTACKER: &str = "192.0.2.66";

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 3
[flood]
enabled = true
filter = test
logpath = @DIR@/auth.log
maxtrackedaddresses = 20000
maxlinelength = 4096
action = record[file=\"@DIR@/actions.txt\"]
";

/// The memory the caps allow the flood to add to the daemon's resident set, in bytes:
///
/// - tracked failures: at most `TRACKED_CAP` addresses, each with its failure times and up to
///   `maxmatches` (= maxretry = 3) matched lines of this flood (under 64 bytes each) and its
///   map/LRU entries: 1 KiB each is generous, 20 MiB in all;
/// - reading: the tailer's 128 KiB buffer and one line of at most `LINE_CAP` bytes, whatever
///   the 100 KB lines hold;
/// - the bounded queues: 8,192 reader→keeper messages (positions, ban candidates) of well
///   under 1 KiB, 8 MiB;
/// - 4 MiB of allocator slack.
///
/// Without the cap, a million tracked addresses take about 100 MB (bench/daemon), and a
/// reader holding whole 100 KB lines at the keeper's queue bound would take 800 MB: a broken
/// bound fails this test.
const FLOOD_BUDGET: u64 = (20 + 8 + 4) << 20;

#[test]
fn flood_changes_nothing() {
    let conf = Conf::new(JAILS);
    enable_metrics(&conf);
    let log_path = conf.file("auth.log");
    std::fs::write(&log_path, "").unwrap();
    let daemon = Daemon::start_ready(&conf, &["flood"]);
    let pid = daemon.child.id();
    let metrics = metrics_addr(&conf);

    // Warm up: the filter compiles on the first line; the baseline is taken after it.
    append(&log_path, &failure("198.51.100.1"));
    wait_for("the warm-up line read", 60, || {
        metric(&scrape(&metrics), "jailor_lines_read_total{jail=\"flood\"}") >= 1
    });
    let baseline = proc_status_kb(pid, "VmRSS").expect("VmRSS") * 1024;

    // Pings during the flood: the daemon's own answer, measured here (a new connection per
    // ping through the client library, as `jailor client ping` makes), and now and then the
    // real client process, whose start on a loaded machine is most of its time.
    let flooding = Arc::new(AtomicBool::new(true));
    let pinger = {
        let flooding = flooding.clone();
        let socket = conf.file("jailor.sock");
        std::thread::spawn(move || {
            let mut took = Vec::new();
            while flooding.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut client = Client::connect(&socket, Some(Duration::from_secs(30)))
                    .expect("connecting during the flood");
                let answer = client.send(&Request::Ping).expect("ping during the flood");
                took.push(t.elapsed());
                assert!(
                    matches!(answer, Response::Pong),
                    "ping answered {answer:?} during the flood"
                );
                drop(client);
                std::thread::sleep(Duration::from_millis(20));
            }
            took
        })
    };
    let client_pinger = {
        let flooding = flooding.clone();
        let dir = conf.path().to_owned();
        std::thread::spawn(move || {
            let mut took = Vec::new();
            while flooding.load(Ordering::Relaxed) {
                let t = Instant::now();
                let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
                    .arg("client")
                    .arg("-c")
                    .arg(&dir)
                    .arg("-s")
                    .arg(dir.join("jailor.sock"))
                    .arg("ping")
                    .output()
                    .unwrap();
                took.push(t.elapsed());
                assert!(
                    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("pong"),
                    "jailor client ping failed during the flood: {out:?}"
                );
                std::thread::sleep(Duration::from_millis(250));
            }
            took
        })
    };
    // Resident memory sampled during the flood (VmHWM at the end catches what falls between).
    let peak_sampled = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (flooding, peak) = (flooding.clone(), peak_sampled.clone());
        std::thread::spawn(move || {
            while flooding.load(Ordering::Relaxed) {
                if let Some(kb) = proc_status_kb(pid, "VmRSS") {
                    peak.fetch_max(kb * 1024, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // When the attacker's ban action ran, watched from before the flood starts.
    let ban_watcher = {
        let actions = conf.file("actions.txt");
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(150);
            while Instant::now() < deadline {
                if read(&actions).contains(&format!("ban {ATTACKER} ")) {
                    return Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            None
        })
    };
    let started = Instant::now();
    let last_attack = {
        let log_path = log_path.clone();
        std::thread::spawn(move || write_flood(&log_path))
            .join()
            .unwrap()
    };
    let flood_took = started.elapsed();

    let ban_seen = ban_watcher.join().unwrap();
    // The rest of the flood read (polls on the daemon's own counter).
    let total_lines = 1 + FLOOD_LINES as u64 + LONG_LINES as u64 + 3;
    let mut body = String::new();
    wait_for("the whole flood read", 120, || {
        body = scrape(&metrics);
        metric(&body, "jailor_lines_read_total{jail=\"flood\"}") >= total_lines
    });
    flooding.store(false, Ordering::Relaxed);
    let mut pings = pinger.join().unwrap();
    let mut client_pings = client_pinger.join().unwrap();
    sampler.join().unwrap();
    let hwm = proc_status_kb(pid, "VmHWM").expect("VmHWM") * 1024;
    let peak = hwm.max(peak_sampled.load(Ordering::Relaxed));

    pings.sort();
    client_pings.sort();
    let p = |q: f64| quantile(&pings, q);
    let pc = |q: f64| quantile(&client_pings, q);
    let ban_after = ban_seen.map(|t| t.duration_since(last_attack));
    eprintln!(
        "flood: written in {:.1} s; RSS baseline {:.1} MiB, peak {:.1} MiB (bound {:.1} MiB); \
         {} pings, p50 {:?}, p99 {:?}, max {:?}; {} client processes, p50 {:?}, p99 {:?}, \
         max {:?}; attacker banned {:?} after its last line",
        flood_took.as_secs_f64(),
        baseline as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        (baseline + FLOOD_BUDGET) as f64 / 1048576.0,
        pings.len(),
        p(0.5),
        p(0.99),
        pings.last().copied().unwrap_or_default(),
        client_pings.len(),
        pc(0.5),
        pc(0.99),
        client_pings.last().copied().unwrap_or_default(),
        ban_after
    );
    eprintln!(
        "flood metrics: {}",
        body.lines()
            .filter(|l| !l.starts_with('#')
                && (l.contains("flood") || l.starts_with("jailor_action_proc")))
            .collect::<Vec<_>>()
            .join("; ")
    );

    assert!(
        flood_took < Duration::from_secs(60),
        "the flood took {flood_took:?} to write"
    );
    let ban_after = ban_after.expect("the attacker was never banned");
    assert!(
        ban_after < BAN_WITHIN,
        "attacker banned {ban_after:?} after its last line"
    );
    assert!(pings.len() >= 500, "only {} pings", pings.len());
    assert!(p(0.99) < PING_P99, "ping p99 {:?}", p(0.99));
    assert!(
        client_pings.len() >= 20,
        "only {} client processes",
        client_pings.len()
    );
    assert!(
        pc(0.99) < CLIENT_PING_P99,
        "jailor client ping p99 {:?}",
        pc(0.99)
    );
    assert!(
        peak <= baseline + FLOOD_BUDGET,
        "peak RSS {peak} B over baseline {baseline} B + budget {FLOOD_BUDGET} B"
    );

    // Only the attacker was banned.
    let actions = conf.actions();
    let bans: Vec<&str> = actions.lines().filter(|l| l.starts_with("ban ")).collect();
    assert_eq!(bans.len(), 1, "bans: {bans:?}");

    // The bounds' counters.
    let m = |name: &str| metric(&body, &format!("{name}{{jail=\"flood\"}}"));
    assert_eq!(
        m("jailor_lines_cut_total"),
        LONG_LINES as u64,
        "every long line cut once"
    );
    assert_eq!(m("jailor_bans_total"), 1);
    let tracked = m("jailor_failed_current");
    assert!(tracked <= TRACKED_CAP as u64, "{tracked} addresses tracked");
    let evicted = m("jailor_addresses_evicted_total");
    assert!(
        evicted >= (FLOOD_LINES as u64 + 1) - TRACKED_CAP as u64,
        "{evicted} evicted at the cap of {TRACKED_CAP}"
    );
    for name in [
        "jailor_keeper_queue_full_total",
        "jailor_action_queue_full_total",
        "jailor_action_backlog",
        "jailor_action_backlog_full_total",
    ] {
        assert!(
            body.contains(&format!("{name}{{jail=\"flood\"}} ")),
            "{name} missing"
        );
    }
    assert!(body.contains("\njailor_action_process_waits_total "));
    assert_eq!(metric(&body, "jailor_action_processes_max"), 4);
    daemon.stop();
}

/// Writes the flood in `SLICES` slices at a steady pace: each slice holds its share of the
/// short lines (10.0.0.0/8, one address each) and of the 100 KB lines. In the middle slice
/// the attacker's three failures go in among the flood lines; returns when its last line was
/// written.
fn write_flood(path: &std::path::Path) -> Instant {
    // The flood's writer stands for the services logging the attack, not for the daemon:
    // at the lowest priority (per thread on Linux), so that formatting a million lines in a
    // debug build does not take the CPU the daemon's pings are measured on.
    // SAFETY: setpriority has no memory effects; 0 names the calling thread.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    let long_tail = "A".repeat(LONG_LEN - 60);
    let per_slice = FLOOD_LINES / SLICES;
    let long_per_slice = LONG_LINES / SLICES;
    let mut next = Instant::now();
    let mut last_attack = None;
    let mut buf = String::with_capacity(8 << 20);
    for s in 0..SLICES {
        let now = epoch();
        buf.clear();
        for i in 0..per_slice {
            let n = s * per_slice + i;
            if s == SLICES / 2 && i % 500 == 0 && i / 500 < 3 {
                buf.push_str(&format!("{now} auth failure from {ATTACKER}\n"));
                if i / 500 == 2 {
                    file.write_all(buf.as_bytes()).unwrap();
                    last_attack = Some(Instant::now());
                    buf.clear();
                }
            }
            let [_, a, b, c] = n.to_be_bytes();
            buf.push_str(&format!("{now} auth failure from 10.{a}.{b}.{c}\n"));
            if i % (per_slice / long_per_slice) == 0 {
                // A 100 KB line whose end would name an address if it were read whole.
                buf.push_str(&format!(
                    "{now} {long_tail} auth failure from 203.0.113.{}\n",
                    n % 250
                ));
            }
        }
        file.write_all(buf.as_bytes()).unwrap();
        next += SLICE;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    last_attack.expect("the attacker's lines were written")
}

/// The `q` quantile of sorted durations (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A `/proc/PID/status` field in kB.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
