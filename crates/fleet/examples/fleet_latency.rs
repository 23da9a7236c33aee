//! End-to-end latency of fleet bans: host A queues bans in its outbox at a steady
//! pace, host B's runtime receives, checks, commits and hands them to its sink; the
//! time from A's `publish` call to B's sink is measured (same clock).
//!
//! Usage: `fleet_latency <nats|redis> <server url> [count] [per second]`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use jailor_fleet::{now_ms, parse_addr, Action, EngineKind, Fleet, FleetConfig, Received};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let engine = match args.get(1).map(String::as_str) {
        Some("redis") => EngineKind::Redis,
        _ => EngineKind::Nats,
    };
    let url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let count: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rate: u64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("jailor-fleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (tx, rx) = mpsc::channel::<(Received, Instant)>();
    let b = Fleet::start(
        FleetConfig::new(engine, vec![url.clone()], "b"),
        &dir.join("b.sqlite3"),
        Box::new(move |r| {
            let _ = tx.send((r, Instant::now()));
        }),
    )?;
    let a = Fleet::start(
        FleetConfig::new(engine, vec![url], "a"),
        &dir.join("a.sqlite3"),
        Box::new(|_| {}),
    )?;
    let start = Instant::now();
    while !b.stats().connected && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut sent = Vec::with_capacity(count);
    let t0 = Instant::now();
    for i in 0..count {
        let due = t0 + Duration::from_micros(i as u64 * 1_000_000 / rate.max(1));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let addr = parse_addr(&format!("198.18.{}.{}", i / 250, i % 250 + 1))?;
        sent.push((addr, Instant::now()));
        a.publish("sshd", addr, Action::Ban, Some(now_ms() + 600_000))?;
    }
    let mut lat = Vec::with_capacity(count);
    let sent: std::collections::HashMap<_, _> = sent.into_iter().collect();
    while lat.len() < count {
        let (r, at) = rx.recv_timeout(Duration::from_secs(30))?;
        if let Some(t) = sent.get(&r.addr) {
            lat.push(at.duration_since(*t).as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{} bans at {rate}/s: A publish -> B applied p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    a.stop();
    b.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
