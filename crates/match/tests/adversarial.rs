//! Attacker-controlled 100 KB lines: the linear path stays linear, the fallback stops at
//! its limit and says so. Bounds are generous (debug builds); speed is measured in benches.

use std::time::{Duration, Instant};

use jailor_match::{Filter, FilterOptions, UseDns};

/// Our own syslog-prefix pattern with the overlapping optional whitespace groups that make
/// backtracking engines quadratic.
const PREFIX: &str = r"^\s*(?:\S+\s+)?(?:\S+\s*)?(?:\[\d+\])?:?\s*(?:\S+\s+)?";

fn sshd_like() -> FilterOptions {
    FilterOptions {
        prefregex: Some(format!(r"{PREFIX}<F-CONTENT>.+</F-CONTENT>$")),
        failregex: vec![
            r"^Failed \S+ for (?:invalid user )?<F-USER>.*?</F-USER> from <HOST>(?: port \d+)?\s*$"
                .into(),
            r"^Invalid user <F-USER>.*</F-USER> from <HOST>(?! from )".into(),
            r"^Connection closed by (?:authenticating user <F-USER>\S+</F-USER> )?<HOST>\s*$"
                .into(),
            r"^(?:\s*\w+)*\s+from <HOST>\s*$".into(),
        ],
        usedns: UseDns::Warn,
        line_cap: 128 * 1024,
        ..FilterOptions::default()
    }
}

fn adversarial() -> Vec<(&'static str, String)> {
    vec![
        ("spaces", " ".repeat(100_000)),
        ("a-space", "a ".repeat(50_000)),
        (
            "from-ip",
            format!("Invalid user x{}", " from 1.2.3.4".repeat(7_500)),
        ),
        (
            "failed-a",
            format!("Failed password for invalid user {}", "a ".repeat(50_000)),
        ),
        ("words", "word ".repeat(20_000)),
    ]
}

#[test]
fn linear_path_stays_linear_on_100k_lines() {
    let mut f = Filter::new(sshd_like()).unwrap();
    for (name, line) in adversarial() {
        let t = Instant::now();
        let _ = f.process("", "", &line, 0.0);
        let took = t.elapsed();
        assert!(took < Duration::from_secs(2), "{name}: {took:?}");
    }
    assert_eq!(f.stats().cut_lines, 0);
}

#[test]
fn fallback_stops_at_its_limit_and_reports_it() {
    let mut o = sshd_like();
    // Exponential for a backtracker; the linear prefilter (look-ahead dropped) accepts.
    o.failregex = vec![r"^(?:a|a)+(?=b)<HOST>".into()];
    o.prefregex = None;
    o.backtrack_limit = 100_000;
    o.usedns = UseDns::No;
    let mut f = Filter::new(o).unwrap();
    let line = format!("{}1.2.3.4", "a".repeat(100_000));
    let t = Instant::now();
    assert!(f.process("", "", &line, 0.0).is_empty());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(f.stats().limit_hits, 1);
    // A line the prefilter rejects never reaches the backtracker.
    assert!(f.process("", "", &"a".repeat(100_000), 0.0).is_empty());
    assert_eq!(f.stats().limit_hits, 1);
}
