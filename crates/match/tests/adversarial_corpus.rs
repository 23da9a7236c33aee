//! Every regex of every filter (and mode) in fail2ban's corpus against 100 KB adversarial
//! lines: no search may take long. The bound is generous (debug builds, a shared machine);
//! `benches/adversarial.rs` reports the real worst times in release.

use std::time::{Duration, Instant};

use jailor_match::{PyFlags, Regex};

include!("common/adversarial.rs");

/// Far above the ≤ 20 ms release goal: catches a catastrophic (seconds-long) search only.
const BOUND: Duration = Duration::from_secs(3);

#[test]
fn every_corpus_regex_is_fast_on_100k_lines() {
    let Some(corpus) = jailor_testkit::require_corpus("every_corpus_regex_is_fast_on_100k_lines")
    else {
        return;
    };
    let patterns = corpus_patterns(&corpus);
    assert!(patterns.len() > 200, "only {} patterns", patterns.len());
    let lines = adversarial_lines();
    let mut worst = (Duration::ZERO, String::new());
    let mut limit_hits = 0;
    for (key, p, multiline) in &patterns {
        let flags = PyFlags {
            multiline: *multiline,
            ..PyFlags::default()
        };
        let re = Regex::new(p, flags).unwrap_or_else(|e| panic!("{key}: {e}"));
        let mut caps = re.new_captures();
        for (name, line) in &lines {
            let t = Instant::now();
            if re.captures(line, &mut caps).is_err() {
                limit_hits += 1;
            }
            let took = t.elapsed();
            if took > worst.0 {
                worst = (took, format!("{key} on {name}"));
            }
            assert!(took < BOUND, "{key} on {name}: {took:?}");
        }
    }
    println!(
        "{} patterns x {} lines: worst {:?} ({}), {limit_hits} limit hit(s)",
        patterns.len(),
        lines.len(),
        worst.0,
        worst.1
    );
}
