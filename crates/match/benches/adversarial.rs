//! Worst search time per corpus regex on 100 KB adversarial lines (release; goal ≤ 20 ms).
//! Run: `cargo bench -p jailor-match --bench adversarial`.

use std::time::{Duration, Instant};

use jailor_match::{PyFlags, Regex};

include!("../tests/common/adversarial.rs");

fn main() {
    let Some(corpus) = jailor_testkit::require_corpus("adversarial bench") else {
        return;
    };
    let patterns = corpus_patterns(&corpus);
    let lines = adversarial_lines();
    let mut rows: Vec<(Duration, String)> = Vec::new();
    let mut limit_hits = 0;
    for (key, p, multiline) in &patterns {
        let flags = PyFlags {
            multiline: *multiline,
            ..PyFlags::default()
        };
        let Ok(re) = Regex::new(p, flags) else {
            println!("{key}: does not compile");
            continue;
        };
        let mut caps = re.new_captures();
        let mut worst = (Duration::ZERO, "");
        for (name, line) in &lines {
            // Best of 3 runs, so a scheduler hiccup is not reported as the pattern's cost.
            let mut best = Duration::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                if re.captures(line, &mut caps).is_err() {
                    limit_hits += 1;
                }
                best = best.min(t.elapsed());
            }
            if best > worst.0 {
                worst = (best, name);
            }
        }
        rows.push((worst.0, format!("{key} (on {})", worst.1)));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    println!(
        "worst time per pattern, {} patterns x {} lines of 100 KB:",
        rows.len(),
        lines.len()
    );
    for (d, k) in rows.iter().take(15) {
        println!("  {:>9.3} ms  {k}", d.as_secs_f64() * 1e3);
    }
    let over = rows
        .iter()
        .filter(|(d, _)| *d > Duration::from_millis(20))
        .count();
    println!("patterns over 20 ms: {over}; backtracking-limit hits: {limit_hits}");
}
