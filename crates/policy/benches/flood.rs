//! A flood of distinct addresses: failures/s into one jail's [`FailureWindow`] and the memory
//! it takes, plus the deadline heap at the same scale.
//!
//! Run with `cargo bench -p jailor-policy --bench flood`. Prints one line per case with the
//! rate and the resident memory (VmRSS from /proc/self/status) gained.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use jailor_policy::{Deadlines, FailureWindow, Id, WindowConfig};

const N: u32 = 1_000_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn v4(n: u32) -> Id {
    Id::ip(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | n)))
}

fn v6(n: u32) -> Id {
    Id::ip(IpAddr::V6(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0,
        0,
        0,
        0,
        (n >> 16) as u16,
        n as u16,
    )))
}

fn flood(label: &str, make: fn(u32) -> Id, maxmatches: usize, line: &str) {
    let ids: Vec<Id> = (0..N).map(make).collect();
    let before = rss_kib();
    let mut w = FailureWindow::new(WindowConfig {
        findtime: 600,
        maxretry: 5,
        maxmatches,
        max_tracked: N as usize,
    });
    let lines = [line];
    let start = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        black_box(w.add(id, 1_700_000_000 + (i as i64 >> 10), &lines, 1));
    }
    let secs = start.elapsed().as_secs_f64();
    let grown = rss_kib().saturating_sub(before);
    println!(
        "flood {label:<28} {N} distinct ids: {:>6.2} M failures/s, RSS +{:.1} MB ({:.0} B/id), tracked {}",
        f64::from(N) / secs / 1e6,
        grown as f64 / 1024.0,
        grown as f64 * 1024.0 / f64::from(N),
        w.len(),
    );
    // Past the cap: every new id evicts one.
    let start = Instant::now();
    for i in 0..N / 4 {
        black_box(w.add(&make(N + i), 1_700_001_000, &lines, 1));
    }
    println!(
        "flood {label:<28} past the cap: {:>6.2} M failures/s, evicted {}",
        f64::from(N / 4) / start.elapsed().as_secs_f64() / 1e6,
        w.stats().evicted,
    );
    let start = Instant::now();
    let dropped = w.cleanup(1_800_000_000);
    println!(
        "flood {label:<28} cleanup of {dropped} stale ids: {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
}

fn repeat_offenders() {
    // 10k addresses failing again and again: the steady state of a busy jail.
    let ids: Vec<Id> = (0..10_000).map(v4).collect();
    let mut w = FailureWindow::new(WindowConfig {
        maxretry: 1_000_000,
        ..WindowConfig::default()
    });
    let start = Instant::now();
    let rounds = 100u32;
    for r in 0..rounds {
        for id in &ids {
            black_box(w.add(id, 1_700_000_000 + i64::from(r), &["x"], 1));
        }
    }
    println!(
        "repeat 10k ids x {rounds}: {:.2} M failures/s",
        f64::from(rounds) * 1e4 / start.elapsed().as_secs_f64() / 1e6
    );
}

fn deadlines() {
    let mut d = Deadlines::new();
    let start = Instant::now();
    for i in 0..N {
        // Scattered end times, as bans of different lengths give.
        d.set(i, i64::from(i.wrapping_mul(2_654_435_761) % 86_400));
    }
    let set = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut popped = 0;
    for now in (0..86_400).step_by(60) {
        popped += d.pop_due(now).len();
    }
    popped += d.pop_due(i64::MAX).len();
    println!(
        "deadlines {N}: set {:.2} M/s, pop {:.2} M/s ({popped} popped)",
        f64::from(N) / set / 1e6,
        popped as f64 / start.elapsed().as_secs_f64() / 1e6
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep it quick then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("flood: run with `cargo bench` to measure");
        return;
    }
    println!(
        "size_of::<Id>() = {} B (a tracked id costs 64 B + index)",
        std::mem::size_of::<Id>()
    );
    flood("IPv4, no matches kept", v4, 0, "");
    flood("IPv6, no matches kept", v6, 0, "");
    flood(
        "IPv4, one 80-byte line kept",
        v4,
        5,
        "Failed password for invalid user admin from 10.0.0.1 port 22 ssh2 (80 bytes...)",
    );
    repeat_offenders();
    deadlines();
}
