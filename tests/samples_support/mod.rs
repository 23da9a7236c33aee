//! The sample-log harness shared by the sample tests: reads fail2ban-style sample logs
//! (`# failJSON:`, `# filterOptions:`, `# fileOptions:`, `# addFILE:` annotations, FAIL2BAN-SPEC
//! §5.2), runs each data line through jailor's pipeline with the named filter under the suite's
//! time zone and fixed now, and compares the failures with the expectations.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use jailor_config::{extract_options, Loader};
use jailor_date::{DateDetector, Zone};
use jailor_match::{Failure, Filter, FilterOptions, Pipeline, UseDns, Value};
use serde_json::Value as Json;

/// Where a suite's filters and sample logs are, and what it compares.
pub struct Suite {
    /// The configuration folder whose `filter.d` holds the filters.
    pub config: PathBuf,
    /// The folder of sample logs, one per filter name.
    pub logs: PathBuf,
    /// Compare only `match` and `host` (how our filters are held to fail2ban's samples).
    pub only_match_and_host: bool,
}

/// The marker of a disagreement where a line that must not match did.
pub const FALSE_MATCH: &str = "unexpected failure";

/// The suite's `TZ` and `MyTime.setTime`.
const SUITE_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
const SUITE_NOW: f64 = 1_124_013_600.0;

/// One option set of a `# filterOptions:` line, and the pipeline built from it.
struct Variant {
    opts: BTreeMap<String, String>,
    pipeline: Option<Pipeline>,
    journal: bool,
    prefix: String,
}

fn json_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The few Python conditions the suite uses: `name == 'x'`, `opts.get('k') != 'v'`.
fn condition(expr: &str, name: &str, opts: &BTreeMap<String, String>) -> bool {
    let expr = expr.trim();
    let (lhs, rhs, eq) = if let Some((l, r)) = expr.split_once("==") {
        (l.trim(), r.trim(), true)
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l.trim(), r.trim(), false)
    } else {
        panic!("unsupported condition {expr}");
    };
    let unquote = |s: &str| s.trim_matches(|c| c == '\'' || c == '"').to_owned();
    let value = if lhs == "name" {
        Some(name.to_owned())
    } else if let Some(k) = lhs
        .strip_prefix("opts.get(")
        .and_then(|r| r.strip_suffix(')'))
    {
        opts.get(&unquote(k)).cloned()
    } else {
        panic!("unsupported condition {expr}");
    };
    (value.as_deref() == Some(unquote(rhs).as_str())) == eq
}

fn build(suite: &Suite, filter: &str, opts: &BTreeMap<String, String>) -> Pipeline {
    let args: Vec<String> = opts
        .iter()
        .filter(|(k, _)| !k.starts_with("test."))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let name = opts.get("test.filter-name").map_or(filter, String::as_str);
    let spec_text = if args.is_empty() {
        name.to_owned()
    } else {
        format!("{name}[{}]", args.join(", "))
    };
    let (n, a) = extract_options(&spec_text).unwrap();
    let spec = Loader::new(&suite.config)
        .load_filter_with(&n, &a, "auto")
        .unwrap_or_else(|e| panic!("{spec_text}: {e}"));
    let maxlines = spec.maxlines().flatten().unwrap_or(1).max(1) as usize;
    // The suite returns raw hosts (no DNS) unless the filter excludes names altogether.
    let usedns = match spec.usedns.as_deref().map(str::trim) {
        Some("no") | Some("false") => UseDns::No,
        _ => UseDns::Raw,
    };
    let fopts = FilterOptions {
        prefregex: spec.prefregex.clone(),
        failregex: spec.failregex.clone(),
        ignoreregex: spec.ignoreregex.clone(),
        maxlines,
        usedns,
        check_all: true,
        ..FilterOptions::default()
    };
    let f = Filter::new(fopts).unwrap_or_else(|e| panic!("{spec_text}: {e}"));
    let mut dd = DateDetector::new(spec.datepattern.as_deref())
        .unwrap_or_else(|e| panic!("{spec_text}: datepattern: {e}"));
    let tz = spec.logtimezone.as_deref().unwrap_or(SUITE_TZ);
    dd.set_zone(Zone::parse(tz).unwrap());
    let mut p = Pipeline::new(f, dd);
    p.set_now(Some(SUITE_NOW));
    p
}

/// `"%Y-%m-%dT%H:%M:%S[.%f]"` in the suite's zone → epoch seconds.
fn expected_epoch(s: &str) -> f64 {
    let zone = jiff::tz::TimeZone::posix(SUITE_TZ).unwrap();
    let (main, frac) = s.split_once('.').unwrap_or((s, ""));
    let n: Vec<i64> = main
        .split(['-', 'T', ':'])
        .map(|p| p.parse().unwrap())
        .collect();
    let dt = jiff::civil::datetime(
        n[0] as i16,
        n[1] as i8,
        n[2] as i8,
        n[3] as i8,
        n[4] as i8,
        n[5] as i8,
        0,
    );
    let ts = zone.to_ambiguous_timestamp(dt).compatible().unwrap();
    let us: f64 = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse().unwrap()
    };
    ts.as_second() as f64 + us
}

fn field_text(f: &Failure, k: &str) -> Option<String> {
    match f.fields.get(k) {
        Some(Value::Text(t)) => Some(t.clone()),
        Some(Value::Tuple(t)) => Some(format!("{t:?}")),
        None => None,
    }
}

/// Compares one line's failures with its expectation; `Err` says how they differ.
fn compare(
    exp: &serde_json::Map<String, Json>,
    found: &[Failure],
    only_match_and_host: bool,
) -> Result<(), String> {
    let fails: Vec<&Failure> = found.iter().filter(|f| !f.nofail).collect();
    let want = exp.get("match").and_then(Json::as_bool).unwrap_or(false);
    if !want {
        return match fails.first() {
            None => Ok(()),
            Some(f) => Err(format!(
                "unexpected failure {} (regex {})",
                f.id, f.regex_index
            )),
        };
    }
    let f = match fails.as_slice() {
        [] => return Err("no failure".into()),
        [f] => *f,
        many => {
            return Err(format!(
                "multiple regexs matched: {:?}",
                many.iter().map(|f| f.regex_index).collect::<Vec<_>>()
            ))
        }
    };
    for (k, v) in exp {
        if only_match_and_host && k != "host" {
            continue;
        }
        match k.as_str() {
            "match" | "desc" | "constraint" => {}
            "host" => {
                // The suite returns raw hosts: the captured text, not the parsed address.
                let got = ["host", "fid", "ip4", "ip6", "dns"]
                    .iter()
                    .find_map(|k| field_text(f, k))
                    .unwrap_or_else(|| f.id.to_string());
                if got != json_str(v) {
                    return Err(format!("host {got} != {}", json_str(v)));
                }
            }
            "time" => {
                let want = expected_epoch(v.as_str().unwrap_or(""));
                if (f.time - want).abs() > 1e-6 || f.time.is_nan() {
                    return Err(format!("time {} != {want} ({v})", f.time));
                }
            }
            "attempts" => {
                let want = v.as_u64().unwrap_or(0) as usize;
                if f.matches.len() != want {
                    return Err(format!("attempts {} != {want}", f.matches.len()));
                }
            }
            "users" => {
                let mut want: Vec<String> = v
                    .as_array()
                    .map(|a| a.iter().map(json_str).collect())
                    .unwrap_or_default();
                want.sort();
                let mut got = f.users.clone();
                got.sort();
                if got != want {
                    return Err(format!("users {got:?} != {want:?}"));
                }
            }
            key => {
                let got = field_text(f, key);
                let want = match v {
                    Json::Null => None,
                    other => Some(json_str(other)),
                };
                if got != want {
                    return Err(format!("{key} {got:?} != {want:?}"));
                }
            }
        }
    }
    Ok(())
}

/// Outcome of one sample file (and the files it adds).
#[derive(Default)]
pub struct Outcome {
    /// Expectations seen.
    pub total: usize,
    /// Expectations that agree.
    pub agree: usize,
    /// (file, line, why) of every disagreement.
    pub bad: Vec<(String, usize, String)>,
}

fn parse_options(v: &Json) -> Vec<BTreeMap<String, String>> {
    let one = |o: &Json| -> BTreeMap<String, String> {
        o.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), json_str(v))).collect())
            .unwrap_or_default()
    };
    match v {
        Json::Array(a) => a.iter().map(one).collect(),
        o => vec![one(o)],
    }
}

fn run_file(suite: &Suite, filter: &str, file: &str, out: &mut Outcome, adds: &mut Vec<String>) {
    let text = std::fs::read_to_string(suite.logs.join(file)).unwrap();
    let mut file_opts: BTreeMap<String, String> = BTreeMap::new();
    let make = |opts: BTreeMap<String, String>| -> Variant {
        let active = opts
            .get("test.condition")
            .is_none_or(|c| condition(c, filter, &opts));
        Variant {
            journal: opts.get("logtype").is_some_and(|l| l == "journal"),
            prefix: opts.get("test.prefix-line").cloned().unwrap_or_default(),
            pipeline: active.then(|| build(suite, filter, &opts)),
            opts,
        }
    };
    let mut variants = vec![make(BTreeMap::new())];
    let mut pending: Option<(usize, serde_json::Map<String, Json>)> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if let Some((jline, exp)) = pending.take() {
            out.total += 1;
            let mut why = None;
            for v in &mut variants {
                let Some(p) = v.pipeline.as_mut() else {
                    continue;
                };
                // A journal entry is the message with the entry's time, except when the
                // sample line carries its own leading date (exported entries, gh-3954).
                let dated = line.as_bytes().first().is_some_and(u8::is_ascii_digit);
                let found = if v.journal && !dated {
                    p.process_journal(&format!("{}{line}", v.prefix), SUITE_NOW)
                } else {
                    p.process_line(line).failures
                };
                let applies = exp
                    .get("constraint")
                    .and_then(Json::as_str)
                    .is_none_or(|c| condition(c, filter, &v.opts));
                if !applies {
                    continue;
                }
                if let Err(e) = compare(&exp, &found, suite.only_match_and_host) {
                    why.get_or_insert_with(|| format!("{:?}: {e}", v.opts));
                }
            }
            match why {
                None => out.agree += 1,
                Some(w) => out.bad.push((file.to_owned(), jline, w)),
            }
            continue;
        }
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let rest = rest.trim_start_matches('#').trim_start();
        let Some((key, value)) = rest.split_once(':') else {
            continue;
        };
        match key {
            "failJSON" => {
                let v: Json = serde_json::from_str(value.trim())
                    .unwrap_or_else(|e| panic!("{file}:{lineno}: {e}"));
                pending = Some((lineno, v.as_object().cloned().unwrap_or_default()));
            }
            "filterOptions" => {
                let v: Json = serde_json::from_str(value.trim()).unwrap();
                variants = parse_options(&v)
                    .into_iter()
                    .map(|mut o| {
                        for (k, v) in &file_opts {
                            o.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                        make(o)
                    })
                    .collect();
            }
            "fileOptions" => {
                let v: Json = serde_json::from_str(value.trim()).unwrap();
                file_opts = parse_options(&v).into_iter().next().unwrap_or_default();
                variants = vec![make(file_opts.clone())];
            }
            "addFILE" => {
                let v: Json = serde_json::from_str(value.trim()).unwrap();
                adds.push(json_str(&v));
            }
            _ => {}
        }
    }
}

/// Runs a sample file (plus its `addFILE`s) with its filter.
pub fn run_sample(suite: &Suite, name: &str) -> Outcome {
    let mut out = Outcome::default();
    if !suite
        .config
        .join("filter.d")
        .join(format!("{name}.conf"))
        .is_file()
    {
        // fail2ban keeps this filter in its test folder, not in config/: count the file's
        // expectations as unchecked.
        let text = std::fs::read_to_string(suite.logs.join(name)).unwrap();
        for (i, l) in text.lines().enumerate() {
            if l.starts_with('#') && l.contains("failJSON:") {
                out.total += 1;
                out.bad.push((
                    name.to_owned(),
                    i + 1,
                    "filter not in the corpus".to_owned(),
                ));
            }
        }
        return out;
    }
    let mut adds = Vec::new();
    run_file(suite, name, name, &mut out, &mut adds);
    for add in adds {
        run_file(suite, name, &add, &mut out, &mut Vec::new());
    }
    out
}
