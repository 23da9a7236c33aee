//! Measures reading throughput and inotify wake-up latency. Run once:
//! `cargo bench -p jailor-tail --bench tail`.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jailor_tail::{Backend, StartAt, Tailer};

fn main() {
    throughput();
    latency();
}

/// Reads a 64 MiB syslog-like file from the start, page cache warm.
fn throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    let mut data = Vec::with_capacity(64 << 20);
    let mut i = 0u64;
    while data.len() < 64 << 20 {
        writeln!(
            data,
            "Jan 12 10:{:02}:{:02} host sshd[{}]: Failed password for invalid user u{} from 10.{}.{}.{} port {} ssh2",
            i / 60 % 60, i % 60, 1000 + i % 5000, i % 977, i % 256, i / 256 % 256, i % 251, 1024 + i % 60000
        )
        .expect("write");
        i += 1;
    }
    std::fs::write(&log, &data).expect("write log");
    let mut best = Duration::MAX;
    let mut lines = 0u64;
    for _ in 0..3 {
        let mut t = Tailer::builder()
            .path(log.to_str().expect("utf-8 path"), StartAt::Head)
            .backend(Backend::Polling)
            .build()
            .expect("build");
        let start = Instant::now();
        let mut n = 0u64;
        let mut bytes = 0usize;
        while t.poll(|l| {
            n += 1;
            bytes += l.text().len();
        }) {}
        best = best.min(start.elapsed());
        lines = n;
        assert!(bytes > 0);
    }
    let secs = best.as_secs_f64();
    println!(
        "throughput: {} lines, {:.0} MiB in {:.1} ms: {:.1} M lines/s, {:.0} MiB/s",
        lines,
        data.len() as f64 / 1048576.0,
        secs * 1e3,
        lines as f64 / secs / 1e6,
        data.len() as f64 / 1048576.0 / secs
    );
}

/// Time from an appended line to its delivery with the inotify backend.
fn latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    std::fs::write(&log, b"").expect("create");
    let mut t = Tailer::builder()
        .path(log.to_str().expect("utf-8 path"), StartAt::Tail)
        .backend(Backend::Inotify)
        .poll_interval(Duration::from_secs(30))
        .build()
        .expect("build");
    if t.backend() != Backend::Inotify {
        println!("latency: inotify unavailable, skipped");
        return;
    }
    let stop = t.stop_handle();
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        t.run(
            |_| {
                let _ = tx.send(Instant::now());
            },
            |_| {},
        )
    });
    let mut w = OpenOptions::new().append(true).open(&log).expect("open");
    let mut samples = Vec::new();
    for i in 0..200 {
        std::thread::sleep(Duration::from_millis(2));
        let sent = Instant::now();
        writeln!(w, "line {i}").expect("append");
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("delivered");
        samples.push(got.duration_since(sent));
    }
    stop.stop();
    let _ = thread.join();
    samples.sort();
    println!(
        "inotify latency over {} lines: median {:?}, p99 {:?}, max {:?}",
        samples.len(),
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples[samples.len() - 1]
    );
}
