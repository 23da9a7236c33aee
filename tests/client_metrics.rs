//! The metrics endpoint of a real `jailor server` and the failure counters of `status JAIL`:
//! a scrape is valid Prometheus text (every line parsed) whose counters equal the traffic the
//! test wrote; `status` shows fail2ban's "Currently failed"/"Total failed" for the same traffic.

mod daemon_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use daemon_support::*;

/// `test` bans through the recording action and an action whose ban always fails.
const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 3
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
         failing
";

const FAILING_ACTION: &str = "[Definition]\nactionban = false\nactionunban = true\n";

fn conf_with_metrics() -> Conf {
    let conf = Conf::new(JAILS);
    std::fs::write(conf.file("action.d/failing.conf"), FAILING_ACTION).unwrap();
    enable_metrics(&conf);
    conf
}

/// One HTTP request; the status line and the body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP head");
    let status = head.lines().next().unwrap_or("").to_owned();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    (status, body.to_owned())
}

/// A sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `{k="v",...}` with the text format's escapes; returns the labels and the rest.
fn parse_labels(text: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    let mut rest = text.strip_prefix('{').expect("labels open with {");
    loop {
        rest = rest.trim_start_matches(',');
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (key, after) = rest.split_once("=\"").expect("label key=\"value\"");
        assert!(valid_name(key), "label name {key:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next().expect("a closed label value");
            match c {
                '\\' => match chars.next().expect("an escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    other => panic!("bad escape \\{other}"),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = &after[end + 1..];
    }
}

/// Parses the whole text format: every line is a HELP, a TYPE or a sample of a family whose
/// TYPE came first; panics on anything else.
fn parse_exposition(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "the text ends with a newline");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(valid_name(name), "{line}");
            assert!(!help.is_empty(), "{line}");
            assert!(
                helps.insert(name.into(), help.into()).is_none(),
                "HELP twice: {line}"
            );
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(valid_name(name), "{line}");
            assert!(
                ["counter", "gauge", "untyped", "summary", "histogram"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "TYPE twice: {line}"
            );
        } else {
            assert!(
                !line.starts_with('#') && !line.is_empty(),
                "stray line {line:?}"
            );
            let name_end = line.find(['{', ' ']).expect("a sample has a value");
            let name = &line[..name_end];
            assert!(valid_name(name), "{line}");
            let (labels, rest) = if line[name_end..].starts_with('{') {
                parse_labels(&line[name_end..])
            } else {
                (BTreeMap::new(), &line[name_end..])
            };
            let value: f64 = rest
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("value in {line:?}"));
            let kind = types
                .get(name)
                .unwrap_or_else(|| panic!("no TYPE before {line}"));
            if kind == "counter" {
                assert!(value >= 0.0, "{line}");
            }
            samples.push((name.to_owned(), labels, value));
        }
    }
    samples
}

fn value(samples: &[Sample], name: &str, jail: Option<&str>) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l.get("jail").map(String::as_str) == jail)
        .unwrap_or_else(|| panic!("no sample {name} for {jail:?}"))
        .2
}

fn scrape(addr: &str) -> Vec<Sample> {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.0 200 OK");
    parse_exposition(&body)
}

#[test]
fn a_scrape_is_valid_text_and_counts_the_traffic() {
    let conf = conf_with_metrics();
    append(&conf.file("auth.log"), "");
    let _d = Daemon::start_ready(&conf, &["test"]);
    let addr = metrics_addr(&conf);
    let before = scrape(&addr);
    assert_eq!(value(&before, "jailor_lines_read_total", Some("test")), 0.0);
    assert_eq!(value(&before, "jailor_jails", None), 1.0);

    // 3 failures of .1 (a ban), 1 of .2, 2 lines that are no failure: 6 lines.
    let mut traffic = failure("198.51.100.1").repeat(3);
    traffic.push_str(&failure("198.51.100.2"));
    traffic.push_str("1 something else happened\nnot even a date\n");
    append(&conf.file("auth.log"), &traffic);
    wait_for("the ban", 30, || {
        read(&conf.file("actions.txt")).contains("ban 198.51.100.1 600")
    });
    let mut m = Vec::new();
    wait_for("the counters to settle", 30, || {
        m = scrape(&addr);
        value(&m, "jailor_lines_read_total", Some("test")) == 6.0
            && value(&m, "jailor_banned_current", Some("test")) == 1.0
            && value(&m, "jailor_action_errors_total", Some("test")) >= 1.0
    });
    let jail = Some("test");
    assert_eq!(value(&m, "jailor_lines_matched_total", jail), 4.0);
    assert_eq!(value(&m, "jailor_failures_total", jail), 4.0);
    assert_eq!(value(&m, "jailor_failed_current", jail), 1.0);
    assert_eq!(value(&m, "jailor_bans_total", jail), 1.0);
    assert_eq!(value(&m, "jailor_unbans_total", jail), 0.0);
    assert_eq!(value(&m, "jailor_action_errors_total", jail), 1.0);
    assert_eq!(value(&m, "jailor_lines_cut_total", jail), 0.0);
    assert_eq!(value(&m, "jailor_lines_dropped_total", jail), 0.0);
    assert_eq!(value(&m, "jailor_regex_limit_hits_total", jail), 0.0);
    assert!(value(&m, "process_resident_memory_bytes", None) > 1e6);
    assert!(value(&m, "process_cpu_seconds_total", None) >= 0.0);

    // fail2ban's numbers in `status`: .2 is still failing, 4 failures in all.
    let status = ok(&conf, &["status", "test"]);
    assert!(status.contains("|  |- Currently failed:\t1\n"), "{status}");
    assert!(status.contains("|  |- Total failed:\t4\n"), "{status}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&conf, &["--json", "status", "test"])).unwrap();
    assert_eq!(json["response"]["data"]["filter"]["currently_failed"], 1);
    assert_eq!(json["response"]["data"]["filter"]["total_failed"], 4);
    let stats: serde_json::Value = serde_json::from_str(&ok(&conf, &["--json", "stats"])).unwrap();
    assert_eq!(stats["response"]["data"][0]["failed_total"], 4, "{stats}");

    // An unban by hand is counted.
    assert_eq!(
        ok(&conf, &["set", "test", "unbanip", "198.51.100.1"]).trim(),
        "1"
    );
    wait_for("the unban in the metrics", 30, || {
        let m = scrape(&addr);
        value(&m, "jailor_unbans_total", jail) == 1.0
            && value(&m, "jailor_banned_current", jail) == 0.0
    });
    // Other paths and methods are refused; the endpoint goes on.
    let (status, _) = http_get(&addr, "/");
    assert_eq!(status, "HTTP/1.0 404 Not Found");
    assert_eq!(value(&scrape(&addr), "jailor_bans_total", jail), 1.0);
}

#[test]
fn a_metrics_address_that_cannot_be_used_stops_the_start() {
    let conf = Conf::new(JAILS.replace("         failing\n", "").as_str());
    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(["server", "-f", "--metrics", "no such address", "-c"])
        .arg(conf.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metrics"), "{err}");
    // Nothing was left behind: the socket was not kept.
    let sock: PathBuf = conf.file("jailor.sock");
    assert!(!sock.exists());
}
