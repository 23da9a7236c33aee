//! `jailor regex` end to end on our own fixtures (a temp config folder with one filter):
//! filter resolution, `-o`, `--json`, the report, comment lines, encodings, `--now`.

use std::path::Path;
use std::process::Command;

const FILTER: &str = r#"[INCLUDES]
before =

[Definition]
_daemon = demo
prefregex = ^<F-MLFID>\s*\S+ %(_daemon)s\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$
failregex = ^login failed for <F-USER>\S+</F-USER> from <HOST>$
            ^<F-NOFAIL>probe</F-NOFAIL> from <HOST>$
            ^token <F-ID>\w+</F-ID> rejected(?: from <HOST>)?$
ignoreregex = from 10\.
"#;

const LOG: &str = "# a comment line
Mar  3 10:00:01 gw demo[7]: login failed for alice from 192.0.2.1
Mar  3 10:00:02 gw demo[7]: probe from 192.0.2.2

Mar  3 10:00:03 gw demo[7]: login failed for bob from 10.1.2.3
Mar  3 10:00:04 gw other[8]: login failed for carol from 192.0.2.4
Mar  3 10:00:05 gw demo[9]: token ab12 rejected from 192.0.2.5
Mar  3 10:00:06 gw demo[9]: session closed
";

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf/filter.d")).unwrap();
    std::fs::write(dir.path().join("conf/filter.d/demo.conf"), FILTER).unwrap();
    let log = dir.path().join("demo.log");
    std::fs::write(&log, LOG).unwrap();
    (dir, log)
}

fn jailor(conf: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .arg("regex")
        .arg("-c")
        .arg(conf)
        .args(["--now", "2026-06-01 00:00:00"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn out_ip_prints_one_address_per_failure() {
    let (dir, log) = setup();
    let conf = dir.path().join("conf");
    let out = jailor(&conf, &["-o", "ip", log.to_str().unwrap(), "demo"]);
    // bob is ignored (10.x), carol is another daemon, the probe is no failure; the token
    // line's id is the F-ID, its address the ip.
    assert_eq!(out, "192.0.2.1\n192.0.2.5\n");
    let out = jailor(&conf, &["-o", "id", log.to_str().unwrap(), "demo"]);
    assert_eq!(out, "192.0.2.1\nab12\n");
    let out = jailor(
        &conf,
        &["-o", "<ip> <F-USER>", log.to_str().unwrap(), "demo"],
    );
    assert_eq!(out, "192.0.2.1 alice\n192.0.2.5 None\n");
    let out = jailor(&conf, &["-o", "msg", log.to_str().unwrap(), "demo"]);
    assert_eq!(out.lines().next(), LOG.lines().nth(1));
}

#[test]
fn json_gives_failures_then_a_summary() {
    let (dir, log) = setup();
    let conf = dir.path().join("conf");
    let out = jailor(&conf, &["--json", log.to_str().unwrap(), "demo"]);
    let objs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // alice, the probe (nofail, kept: fail2ban-regex checks every regex), the token.
    assert_eq!(objs.len(), 4, "{out}");
    assert_eq!(objs[0]["lineno"], 2);
    assert_eq!(objs[0]["host"], "192.0.2.1");
    assert_eq!(objs[0]["user"], "alice");
    assert_eq!(objs[0]["nofail"], false);
    // --now is in 2026: the year-less date is March 2026 (local time zone).
    let t = objs[0]["time"].as_f64().unwrap();
    assert!((1_772_400_000.0..1_772_700_000.0).contains(&t), "{t}");
    assert_eq!(objs[1]["nofail"], true);
    assert_eq!(objs[2]["fid"], "ab12");
    assert_eq!(objs[2]["host"], "192.0.2.5");
    assert_eq!(objs[2]["lineno"], 7);
    let s = &objs[3]["summary"];
    assert_eq!(s["lines"], 6, "comment and blank lines are not counted");
    assert_eq!(s["failregex_hits"], serde_json::json!([1, 1, 1]));
    assert_eq!(s["ignoreregex_hits"], serde_json::json!([1]));
}

#[test]
fn report_counts_lines_like_fail2ban_regex() {
    let (dir, log) = setup();
    let conf = dir.path().join("conf");
    let out = jailor(&conf, &[log.to_str().unwrap(), "demo"]);
    assert!(
        out.contains("Use   failregex filter file : demo, basedir: "),
        "{out}"
    );
    assert!(out.contains("Prefregex: 5 total"), "{out}");
    assert!(out.contains("Failregex: 3 total"), "{out}");
    assert!(out.contains("|   1) [1] ^login failed for <F-USER>\\S+</F-USER> from <HOST>$"));
    assert!(out.contains("Ignoreregex: 1 total"), "{out}");
    assert!(
        out.contains("Lines: 6 lines, 2 ignored, 2 matched, 2 missed"),
        "{out}"
    );
    assert!(out.contains("|- Missed line(s):\n|  Mar  3 10:00:04 gw other[8]"));
    let out = jailor(&conf, &["--print-no-missed", log.to_str().unwrap(), "demo"]);
    assert!(!out.contains("Missed line(s)"));
}

#[test]
fn a_regex_string_and_a_log_line_work_too() {
    let (dir, _) = setup();
    let conf = dir.path().join("conf");
    let out = jailor(
        &conf,
        &[
            "-o",
            "ip",
            "Mar  3 10:00:01 gw x: denied 2001:db8::7 now",
            r"denied <HOST> now$",
        ],
    );
    assert_eq!(out, "2001:db8::7\n");
}

#[test]
fn latin1_logs_decode_every_byte() {
    let (dir, _) = setup();
    let conf = dir.path().join("conf");
    let log = dir.path().join("latin1.log");
    std::fs::write(
        &log,
        b"Mar  3 10:00:01 gw demo[7]: login failed for Andr\xe9 from 192.0.2.9\n",
    )
    .unwrap();
    let out = jailor(
        &conf,
        &["-e", "latin-1", "-o", "user", log.to_str().unwrap(), "demo"],
    );
    assert_eq!(out, "André\n");
}

/// The report names each date template that matched, with its hits, in fail2ban-regex's
/// words (what fail2ban-regex printed for this log).
#[test]
fn report_names_date_templates_like_fail2ban_regex() {
    let (dir, _) = setup();
    let log = dir.path().join("dates.log");
    std::fs::write(
        &log,
        "Jan  5 10:11:12 h app[1]: bad from 192.0.2.1\n\
         Jan  5 10:11:13 h app[1]: bad from 192.0.2.2\n\
         2026-01-05 10:11:14 h app[1]: bad from 192.0.2.3\n",
    )
    .unwrap();
    let conf = dir.path().join("conf");
    let text = jailor(&conf, &[log.to_str().unwrap(), "bad from <HOST>$"]);
    let want = [
        r"|  [2] {^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\.Microseconds)?(?: ExYear)?",
        r"|  [1] {^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\s*Zone offset)?",
    ];
    let got: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Date template hits:"))
        .skip(2)
        .take_while(|l| l.starts_with("|  ["))
        .collect();
    assert_eq!(got, want, "{text}");
}
