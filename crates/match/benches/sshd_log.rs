//! Lines/s of fail2ban's complete sshd filter (from the corpus' `filters_expanded.json`)
//! through the whole [`Pipeline`] (date detection included) on a generated auth.log, with 1
//! and 2 threads. Run: `cargo bench -p jailor-match --bench sshd_log`; set `JAILOR_BENCH_LOG`
//! to use another log (default: 200k lines from `../shared/bench/gen_authlog.py`).

use std::time::Instant;

use jailor_date::{DateDetector, Zone};
use jailor_match::{Filter, FilterOptions, Pipeline, UseDns};

fn sshd_options(corpus: &std::path::Path, mode: &str) -> (FilterOptions, Option<String>) {
    let text = std::fs::read_to_string(corpus.join("reference/filters_expanded.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let var = v["sshd"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| {
            let o = x["opts"].as_object().unwrap();
            o.len() == usize::from(!mode.is_empty())
                && (mode.is_empty() || o.get("mode").and_then(|m| m.as_str()) == Some(mode))
        })
        .unwrap();
    let list = |k: &str| -> Vec<String> {
        var["raw"][k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let opts = FilterOptions {
        prefregex: var["raw"]["prefregex"].as_str().map(str::to_owned),
        failregex: list("failregex"),
        ignoreregex: list("ignoreregex"),
        usedns: UseDns::Warn,
        ..FilterOptions::default()
    };
    (opts, var["datepattern"].as_str().map(str::to_owned))
}

fn main() {
    let Some(corpus) = jailor_testkit::require_corpus("sshd_log bench") else {
        return;
    };
    let log = match std::env::var_os("JAILOR_BENCH_LOG") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let Some(bench) = jailor_testkit::require_shared_bench("sshd_log bench") else {
                return;
            };
            let p = std::env::temp_dir().join("jailor-bench-auth-200k.log");
            if !p.is_file() {
                let st = std::process::Command::new("python3")
                    .arg(bench.join("gen_authlog.py"))
                    .args([
                        "--lines",
                        "200000",
                        "--seed",
                        "1",
                        "--attackers",
                        "2000",
                        "--out",
                    ])
                    .arg(&p)
                    .stderr(std::process::Stdio::null())
                    .status()
                    .unwrap();
                assert!(st.success());
            }
            p
        }
    };
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for mode in ["", "aggressive"] {
        for threads in [1, 2] {
            let (opts, dp) = sshd_options(&corpus, mode);
            let mut dd = DateDetector::new(dp.as_deref()).unwrap();
            dd.set_zone(Zone::parse("UTC").unwrap());
            let mut p = Pipeline::new(Filter::new(opts).unwrap(), dd);
            p.set_now(Some(1_800_000_000.0));
            let t = Instant::now();
            let mut failures = 0usize;
            for batch in lines.chunks(16 * 1024) {
                p.process_lines(batch, threads, |_, r| {
                    failures += r.failures.iter().filter(|f| !f.nofail).count()
                });
            }
            let secs = t.elapsed().as_secs_f64();
            let st = p.filter().stats();
            println!(
                "sshd{} threads={threads}: {} lines in {secs:.3} s = {:.0} k lines/s, {failures} failures, {:.0}% prefiltered",
                if mode.is_empty() { String::new() } else { format!("[mode={mode}]") },
                lines.len(),
                lines.len() as f64 / secs / 1e3,
                st.prefiltered as f64 * 100.0 / st.lines.max(1) as f64,
            );
            assert!(failures > 0);
        }
    }
}
