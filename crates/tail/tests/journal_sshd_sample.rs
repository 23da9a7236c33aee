//! fail2ban's `sshd-journal` samples read back from a REAL journal: every sample line is
//! written as a journal entry (hostname, identifier, pid, message), read through the
//! journal reader with the sshd filter's own `journalmatch`, and matched under
//! `logtype = journal` as fail2ban's sample suite does (FAIL2BAN-SPEC §5.2); every
//! `# failJSON:` expectation must hold.
//!
//! The sample file is read from the corpus at run time; nothing of it is kept here.

mod journal_support;

use std::collections::BTreeMap;
use std::path::Path;

use jailor_config::load_filter;
use jailor_date::DateDetector;
use jailor_match::{Failure, Filter, FilterOptions, Pipeline, UseDns, Value};
use jailor_tail::{JournalMatch, JournalOptions, JournalReader, JournalStart};
use journal_support::{journal_remote, write_journal, Entry};
use serde_json::Value as Json;

/// The suite's fixed now (2005-08-14 10:00:00 UTC).
const SUITE_NOW: u64 = 1_124_013_600;

type Opts = BTreeMap<String, String>;

/// One step of the sample file.
enum Step {
    /// New filter option sets (one pipeline each, state reset).
    Variants(Vec<Opts>),
    /// A data line and what is expected of it.
    Line {
        lineno: usize,
        expect: serde_json::Map<String, Json>,
        text: String,
    },
}

fn json_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn options(v: &Json, file: &Opts) -> Vec<Opts> {
    let one = |o: &Json| -> Opts {
        let mut m: Opts = o
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), json_str(v))).collect())
            .unwrap_or_default();
        for (k, v) in file {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m
    };
    match v {
        Json::Array(a) => a.iter().map(one).collect(),
        o => vec![one(o)],
    }
}

fn steps(text: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut file = Opts::new();
    let mut pending = None;
    for (i, line) in text.lines().enumerate() {
        if let Some((lineno, expect)) = pending.take() {
            out.push(Step::Line {
                lineno,
                expect,
                text: line.to_string(),
            });
            continue;
        }
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((key, value)) = rest.trim_start_matches('#').trim_start().split_once(':') else {
            continue;
        };
        let parse = || serde_json::from_str::<Json>(value.trim()).unwrap();
        match key {
            "failJSON" => pending = Some((i + 1, parse().as_object().cloned().unwrap())),
            "fileOptions" => {
                file = options(&parse(), &Opts::new()).remove(0);
                out.push(Step::Variants(vec![file.clone()]));
            }
            "filterOptions" => out.push(Step::Variants(options(&parse(), &file))),
            _ => {}
        }
    }
    out
}

/// `name == 'x'` and `opts.get('k') ==/!= 'v'`, the conditions the samples use.
fn condition(expr: &str, opts: &Opts) -> bool {
    let (lhs, rhs, eq) = match expr.split_once("!=") {
        Some((l, r)) => (l, r, false),
        None => match expr.split_once("==") {
            Some((l, r)) => (l, r, true),
            None => panic!("unknown condition {expr:?}"),
        },
    };
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
    let lhs = lhs.trim();
    let got = if lhs == "name" {
        Some("sshd".to_string())
    } else if let Some(k) = lhs
        .strip_prefix("opts.get(")
        .and_then(|s| s.strip_suffix(')'))
    {
        opts.get(&unquote(k)).cloned()
    } else {
        panic!("unknown condition {expr:?}")
    };
    (got.as_deref() == Some(unquote(rhs).as_str())) == eq
}

fn build(config: &Path, opts: &Opts) -> Pipeline {
    let args: Vec<String> = opts
        .iter()
        .filter(|(k, _)| !k.starts_with("test."))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let spec = load_filter(config, &format!("sshd[{}]", args.join(", ")), "systemd").unwrap();
    let filter = Filter::new(FilterOptions {
        prefregex: spec.prefregex.clone(),
        failregex: spec.failregex.clone(),
        ignoreregex: spec.ignoreregex.clone(),
        maxlines: spec.maxlines().flatten().unwrap_or(1).max(1) as usize,
        usedns: UseDns::Raw,
        check_all: true,
        ..FilterOptions::default()
    })
    .unwrap();
    let mut p = Pipeline::new(filter, DateDetector::new(None).unwrap());
    p.set_now(Some(SUITE_NOW as f64));
    p
}

fn text_of(f: &Failure, k: &str) -> Option<String> {
    match f.fields.get(k) {
        Some(Value::Text(t)) => Some(t.clone()),
        Some(Value::Tuple(t)) => Some(format!("{t:?}")),
        None => None,
    }
}

fn compare(exp: &serde_json::Map<String, Json>, found: &[Failure]) -> Result<(), String> {
    let fails: Vec<&Failure> = found.iter().filter(|f| !f.nofail).collect();
    if !exp.get("match").and_then(Json::as_bool).unwrap_or(false) {
        return match fails.first() {
            None => Ok(()),
            Some(f) => Err(format!("unexpected failure {}", f.id)),
        };
    }
    let [f] = fails.as_slice() else {
        return Err(format!("{} failures, want one", fails.len()));
    };
    for (k, v) in exp {
        let (got, want) = match k.as_str() {
            "match" | "desc" | "constraint" => continue,
            "host" => (
                ["host", "fid", "ip4", "ip6", "dns"]
                    .iter()
                    .find_map(|k| text_of(f, k))
                    .unwrap_or_else(|| f.id.to_string()),
                json_str(v),
            ),
            "attempts" => (f.matches.len().to_string(), json_str(v)),
            "users" => {
                let mut want: Vec<String> = v.as_array().unwrap().iter().map(json_str).collect();
                let mut got = f.users.clone();
                want.sort();
                got.sort();
                (format!("{got:?}"), format!("{want:?}"))
            }
            key => (
                format!("{:?}", text_of(f, key)),
                format!("{:?}", Some(json_str(v))),
            ),
        };
        if got != want {
            return Err(format!("{k}: {got} != {want}"));
        }
    }
    Ok(())
}

/// `host ident[pid]: message` as a journal entry; anything else as a bare message.
fn entry_of(line: &str, usec: u64) -> Entry {
    let e = Entry::new(0)
        .field("__REALTIME_TIMESTAMP", &usec.to_string())
        .field("_SYSTEMD_UNIT", "sshd.service");
    let parsed = line.split_once(' ').and_then(|(host, rest)| {
        let (head, msg) = rest.split_once(": ")?;
        let (ident, pid) = head.strip_suffix(']')?.split_once('[')?;
        Some((host, ident, pid, msg))
    });
    match parsed {
        Some((host, ident, pid, msg)) => e
            .field("_HOSTNAME", host)
            .field("SYSLOG_IDENTIFIER", ident)
            .field("_COMM", ident)
            .field("_PID", pid)
            .field("MESSAGE", msg),
        None => e.field("_COMM", "sshd").field("MESSAGE", line),
    }
}

#[test]
fn sshd_journal_samples_hold_when_read_from_a_journal() {
    const TEST: &str = "sshd_journal_samples_hold_when_read_from_a_journal";
    let Some(corpus) = jailor_testkit::require_corpus(TEST) else {
        return;
    };
    let Some(remote) = journal_remote(TEST) else {
        return;
    };
    let config = corpus.join("config");
    let text = std::fs::read_to_string(corpus.join("logs/sshd-journal")).unwrap();
    let steps = steps(&text);
    let lines: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Line { text, .. } => Some(text.as_str()),
            Step::Variants(_) => None,
        })
        .collect();
    assert!(lines.len() > 100, "sample file too short: {}", lines.len());

    // Into a journal, one entry per line, a microsecond apart; plus noise the filter's
    // journalmatch must leave out.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("system.journal");
    let base = SUITE_NOW * 1_000_000;
    let mut entries: Vec<Entry> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        entries.push(entry_of(l, base + 2 * i as u64));
        entries.push(
            Entry::new(0)
                .field(
                    "__REALTIME_TIMESTAMP",
                    &(base + 2 * i as u64 + 1).to_string(),
                )
                .field("_COMM", "cron")
                .field("_SYSTEMD_UNIT", "cron.service")
                .field(
                    "MESSAGE",
                    &format!(
                        "Failed password for root from 192.0.2.{} port 1 ssh2",
                        i % 250
                    ),
                ),
        );
    }
    write_journal(&remote, &file, &entries);

    let spec = load_filter(&config, "sshd[logtype=journal]", "systemd").unwrap();
    assert!(!spec.journalmatch.is_empty(), "sshd has a journalmatch");
    let mut opts = JournalOptions::new("").unwrap();
    opts.matches = JournalMatch::from_lines(&spec.journalmatch).unwrap();
    opts.files = vec![file.display().to_string()];
    let mut reader = JournalReader::open(&opts, JournalStart::Head).unwrap();
    let read: Vec<_> = std::iter::from_fn(|| reader.next_entry()).collect();
    let read_lines: Vec<&str> = read.iter().map(|e| e.line.as_str()).collect();
    assert_eq!(read_lines, lines, "the journal line is the sample line");

    let mut read = read.into_iter();
    let mut variants: Vec<(Opts, Pipeline)> = Vec::new();
    let (mut total, mut checked, mut bad) = (0, 0, Vec::new());
    for step in &steps {
        match step {
            Step::Variants(sets) => {
                variants = sets
                    .iter()
                    .filter(|o| o.get("test.condition").is_none_or(|c| condition(c, o)))
                    .map(|o| (o.clone(), build(&config, o)))
                    .collect();
            }
            Step::Line { lineno, expect, .. } => {
                let entry = read.next().unwrap();
                total += 1;
                for (opts, p) in &mut variants {
                    assert_eq!(opts.get("logtype").map(String::as_str), Some("journal"));
                    let found = p.process_journal(&entry.line, entry.time);
                    let applies = expect
                        .get("constraint")
                        .and_then(Json::as_str)
                        .is_none_or(|c| condition(c, opts));
                    checked += usize::from(applies);
                    if let (true, Err(e)) = (applies, compare(expect, &found)) {
                        bad.push(format!("line {lineno} {opts:?}: {e}"));
                    }
                }
            }
        }
    }
    assert!(total > 100);
    // Most lines are checked under two option sets (normal and aggressive, ddos...).
    assert!(checked > total, "{checked} checks for {total} lines");
    assert!(
        bad.is_empty(),
        "{} of {total} disagree:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
