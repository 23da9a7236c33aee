//! Every regex search recorded from fail2ban's own sample suite gives Python's answer
//! through our translation + engine dispatch.

use std::collections::HashMap;

use jailor_match::{PyFlags, Regex};
use serde_json::Value;

/// Byte offset → Python code-point offset.
fn cp(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

fn span(v: &Value) -> Option<(usize, usize)> {
    let a = v.as_array()?;
    Some((a.first()?.as_u64()? as usize, a.get(1)?.as_u64()? as usize))
}

#[test]
fn all_search_vectors_agree_with_python() {
    let Some(corpus) = jailor_testkit::require_corpus("all_search_vectors_agree_with_python")
    else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("reference/search_vectors.jsonl")).unwrap();
    let mut cache: HashMap<(String, u32), Regex> = HashMap::new();
    let (mut total, mut agree) = (0usize, 0usize);
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: Value = serde_json::from_str(line).unwrap();
        let pattern = rec["p"].as_str().unwrap().to_owned();
        let flags = rec["f"].as_u64().unwrap() as u32;
        let subject = rec["s"].as_str().unwrap();
        total += 1;
        let re = cache
            .entry((pattern.clone(), flags))
            .or_insert_with(|| Regex::new(&pattern, PyFlags::from_bits(flags)).unwrap());
        let mut caps = re.new_captures();
        let matched = re.captures(subject, &mut caps).unwrap();
        let ok = match (&rec["m"], matched) {
            (Value::Null, false) => true,
            (m, true) if !m.is_null() => {
                let whole = caps.get(0).map(|(s, e)| (cp(subject, s), cp(subject, e)));
                let mut same = whole == span(m);
                if let Some(groups) = rec["g"].as_object() {
                    for (name, want) in groups {
                        let got = re
                            .group_index(name)
                            .and_then(|i| caps.get(i))
                            .map(|(s, e)| (cp(subject, s), cp(subject, e)));
                        same &= got == span(want);
                    }
                }
                same
            }
            _ => false,
        };
        if ok {
            agree += 1;
        } else if failures.len() < 10 {
            failures.push(format!(
                "{pattern:?} flags={flags} on {subject:?}: python {}",
                rec["m"]
            ));
        }
    }
    println!("{agree}/{total} searches agree");
    eprintln!("{agree}/{total} searches agree");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(agree, total);
    assert!(total > 12_000);
}
