//! fail2ban's sample logs: every `# failJSON:` with a `"time"` must get that time from our
//! detector, under the suite's zone and fixed now (FAIL2BAN-SPEC §5).

use jailor_date::{DateDetector, HitTime, Zone};
use std::path::Path;

/// The suite's `TZ` and `MyTime.setTime`.
const SUITE_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
const SUITE_NOW: f64 = 1_124_013_600.0;

/// How a filter's `datepattern` is read for this test.
enum Pattern {
    Value(Option<String>),
    /// Needs `%(...)s`/`<tag>` resolution: left to the config crate's test.
    Later(String),
}

/// Reads option `name` of `[Definition]`-like sections of a filter file (with continuation lines).
fn option(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let mut v = value.trim().to_string();
        while let Some(next) = lines.peek() {
            if next.starts_with([' ', '\t'])
                && !next.trim().is_empty()
                && !next.trim().starts_with('#')
            {
                v.push('\n');
                v.push_str(next.trim());
                lines.next();
            } else {
                break;
            }
        }
        return Some(v);
    }
    None
}

fn includes_common(dir: &Path, text: &str, depth: u8) -> bool {
    let Some(before) = option(text, "before") else {
        return false;
    };
    before.split_whitespace().any(|f| {
        f == "common.conf"
            || (depth < 3
                && std::fs::read_to_string(dir.join(f))
                    .is_ok_and(|t| includes_common(dir, &t, depth + 1)))
    })
}

fn filter_pattern(corpus: &Path, name: &str) -> Option<Pattern> {
    let dir = corpus.join("config/filter.d");
    let text = std::fs::read_to_string(dir.join(format!("{name}.conf"))).ok()?;
    if option(&text, "maxlines").is_some_and(|m| m != "1") {
        return Some(Pattern::Later("multi-line filter".into()));
    }
    match option(&text, "datepattern") {
        Some(v) => {
            let tag = v.contains("%(") || v.contains("<lt_") || v.contains("<L_");
            if tag {
                Some(Pattern::Later(format!(
                    "datepattern needs interpolation: {v}"
                )))
            } else {
                Some(Pattern::Value(Some(v.replace("%%", "%"))))
            }
        }
        None if includes_common(&dir, &text, 0) => Some(Pattern::Value(Some("{^LN-BEG}".into()))),
        None => Some(Pattern::Value(None)),
    }
}

/// `"%Y-%m-%dT%H:%M:%S[.%f]"` in the suite's zone → epoch seconds.
fn expected_epoch(zone: &jiff::tz::TimeZone, s: &str) -> f64 {
    let (main, frac) = s.split_once('.').unwrap_or((s, ""));
    // Python's strptime accepts one-digit fields (`2005-03-7T02:09:33`).
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

#[test]
fn sample_log_times_agree() {
    let Some(corpus) = jailor_testkit::require_corpus("sample_log_times_agree") else {
        return;
    };
    let zone = jiff::tz::TimeZone::posix(SUITE_TZ).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(corpus.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let (mut total, mut agree, mut later, mut unchecked) = (0usize, 0usize, 0usize, 0usize);
    let mut later_files = Vec::new();
    let mut disagreements = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let expectations = text
            .lines()
            .filter(|l| {
                l.contains("failJSON") && l.contains("\"time\"") && l.contains("\"match\": true")
            })
            .count();
        let pattern = match filter_pattern(&corpus, &name) {
            Some(Pattern::Value(v)) => v,
            Some(Pattern::Later(why)) => {
                total += expectations;
                later += expectations;
                later_files.push(format!("{name} ({expectations}): {why}"));
                continue;
            }
            None => {
                total += expectations;
                later += expectations;
                later_files.push(format!(
                    "{name} ({expectations}): no filter.d/{name}.conf in the corpus"
                ));
                continue;
            }
        };
        let mut dd = DateDetector::new(pattern.as_deref()).unwrap();
        dd.set_zone(Zone::parse(SUITE_TZ).unwrap());
        dd.set_now(Some(SUITE_NOW));
        let mut last: Option<f64> = None;
        let mut pending: Option<serde_json::Value> = None;
        let mut options_later = false;
        for line in text.lines() {
            if let Some(rest) = line.split_once("filterOptions:").map(|x| x.1) {
                options_later = rest.contains("\"logtype\"")
                    || rest.contains("\"logging\"")
                    || rest.contains("\"type\"");
                continue;
            }
            if let Some(json) = line.strip_prefix("# failJSON:") {
                pending = Some(serde_json::from_str(json.trim()).unwrap());
                continue;
            }
            let Some(expect) = pending.take() else {
                continue;
            };
            let hit = dd.find(line);
            let got = match hit.as_ref().map(|h| h.time) {
                Some(HitTime::At(t)) => Some(t),
                Some(HitTime::Invalid) => None,
                Some(HitTime::Empty) | None => Some(last.unwrap_or(SUITE_NOW)),
            };
            if let Some(t) = got {
                last = Some(t);
            }
            let Some(time) = expect.get("time").and_then(|t| t.as_str()) else {
                continue;
            };
            // fail2ban's suite compares the time of matching lines only.
            if expect.get("match").and_then(|m| m.as_bool()) != Some(true) {
                unchecked += 1;
                continue;
            }
            total += 1;
            if options_later || expect.get("constraint").is_some() {
                later += 1;
                later_files.push(format!(
                    "{name}: line with filterOptions/constraint: {line}"
                ));
                continue;
            }
            let want = expected_epoch(&zone, time);
            if got == Some(want) {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{name}: want {time} ({want}) got {got:?} span {:?}: {line}",
                    hit.map(|h| h.span)
                ));
            }
        }
    }
    let covered = total - later;
    println!("{agree}/{covered} time expectations agree ({later} of {total} covered later; {unchecked} on non-matching lines, unchecked as in fail2ban)");
    for f in &later_files {
        println!("covered later: {f}");
    }
    for d in &disagreements {
        println!("DISAGREE {d}");
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements",
        disagreements.len()
    );
}
