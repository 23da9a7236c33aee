//! Lines per second through `DateDetector::find` (plain harness: `cargo bench -p jailor-date`).

use jailor_date::{DateDetector, Zone};
use std::hint::black_box;
use std::time::Instant;

fn lines(make: impl Fn(usize) -> String) -> Vec<String> {
    (0..100_000).map(make).collect()
}

fn run(name: &str, datepattern: Option<&str>, lines: &[String]) {
    let mut dd = DateDetector::new(datepattern).unwrap();
    dd.set_zone(Zone::Fixed(0));
    dd.set_now(Some(1_124_013_600.0));
    for l in lines.iter().take(1000) {
        black_box(dd.find(l));
    }
    let rounds = 5;
    let start = Instant::now();
    for _ in 0..rounds {
        for l in lines {
            black_box(dd.find(black_box(l)));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = (lines.len() * rounds) as f64;
    println!(
        "{name:<40} {:>8.2} M lines/s  ({:.0} ns/line)",
        n / secs / 1e6,
        secs / n * 1e9
    );
}

fn main() {
    let syslog = lines(|i| {
        format!(
            "Aug {:>2} {:02}:{:02}:{:02} host sshd[{}]: Failed password for root from 10.0.{}.{} port 22 ssh2",
            1 + i % 28, i % 24, i % 60, (i / 7) % 60, 1000 + i, i % 256, (i / 256) % 256
        )
    });
    let iso = lines(|i| {
        format!(
            "2005-08-{:02} {:02}:{:02}:{:02}.{:03} host app: login failed for x from 10.0.0.{}",
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 7) % 60,
            i % 1000,
            i % 256
        )
    });
    let apache = lines(|i| {
        format!(
            "10.0.0.{} - - [{:02}/Aug/2005:{:02}:{:02}:{:02} +0200] \"GET /x HTTP/1.1\" 404 12",
            i % 256,
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 7) % 60
        )
    });
    run("syslog, default templates", None, &syslog);
    run("syslog, datepattern {^LN-BEG}", Some("{^LN-BEG}"), &syslog);
    run("ISO 8601, default templates", None, &iso);
    run("apache (regex path), default templates", None, &apache);
}
