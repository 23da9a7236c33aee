//! `jailor regex -o ip` on generated logs (`../shared/bench/gen_authlog.py`) gives, address by
//! address, the failure counts of the generator's ground truth (checked by its
//! `check_truth.py`), with fail2ban's own filters from the corpus. 100k lines here; the 1M run
//! is in `bench/regex/run.sh`.

use std::path::Path;
use std::process::{Command, Stdio};

const LINES: &str = "100000";

fn generate(bench: &Path, dir: &Path, format: &str) -> std::path::PathBuf {
    let log = dir.join(format!("{format}.log"));
    let st = Command::new("python3")
        .arg(bench.join("gen_authlog.py"))
        .args(["--lines", LINES, "--seed", "1", "--attackers", "500"])
        .args(["--format", format, "--out"])
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "gen_authlog.py failed");
    log
}

/// Runs `jailor regex -o ip LOG FILTER` and checks its addresses against the truth's `field`.
fn check(corpus: &Path, bench: &Path, log: &Path, filter: &str, field: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(["regex", "-c"])
        .arg(corpus.join("config"))
        .args(["-o", "ip"])
        .arg(log)
        .arg(filter)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jailor regex {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "{filter}: no failure found");
    let ips = log.with_extension(format!("{field}.ips"));
    std::fs::write(&ips, &out.stdout).unwrap();
    let truth = format!("{}.truth.json", log.display());
    let res = Command::new("python3")
        .arg(bench.join("check_truth.py"))
        .arg(truth)
        .arg(field)
        .arg(&ips)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&res.stdout);
    println!("{filter}: {report}");
    assert!(
        res.status.success(),
        "{filter} disagrees with the truth:\n{report}"
    );
    assert!(report.contains("mismatches=0"), "{report}");
}

fn setup(test: &str) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let corpus = jailor_testkit::require_corpus(test)?;
    let bench = jailor_testkit::require_shared_bench(test)?;
    jailor_testkit::require_command(test, "python3", "python3")?;
    Some((corpus, bench))
}

#[test]
fn sshd_counts_equal_the_truth_in_both_modes() {
    let Some((corpus, bench)) = setup("sshd_counts_equal_the_truth_in_both_modes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = generate(&bench, dir.path(), "sshd-syslog");
    check(&corpus, &bench, &log, "sshd", "normal");
    check(&corpus, &bench, &log, "sshd[mode=aggressive]", "aggressive");
}

#[test]
fn nginx_access_counts_equal_the_truth() {
    let Some((corpus, bench)) = setup("nginx_access_counts_equal_the_truth") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = generate(&bench, dir.path(), "nginx-access");
    check(&corpus, &bench, &log, "nginx-botsearch", "nginx-botsearch");
    check(
        &corpus,
        &bench,
        &log,
        "nginx-bad-request",
        "nginx-bad-request",
    );
}

#[test]
fn apache_error_counts_equal_the_truth() {
    let Some((corpus, bench)) = setup("apache_error_counts_equal_the_truth") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = generate(&bench, dir.path(), "apache-error");
    check(&corpus, &bench, &log, "apache-auth", "apache-auth");
}
