//! Checks against fail2ban's reference dumps in the compatibility corpus.

use crate::defaults;
use crate::directive::Decades;
use crate::engine::Matcher;
use crate::fast::FastResult;
use crate::fields::DateMatch;
use crate::template::Template;

/// Byte offset → Python (code point) index.
fn cp(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

#[test]
fn default_template_regexes_equal_fail2bans() {
    let Some(corpus) = jailor_testkit::require_corpus("default_template_regexes_equal_fail2bans")
    else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("reference/date_templates.txt")).unwrap();
    let want: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("regex="))
        .collect();
    // The dump was taken in 2026: `%ExY` = 20[012]\d.
    let got: Vec<String> = defaults::cache()
        .iter()
        .map(|(p, w)| {
            Template::new(p, *w, Decades::for_year(2026))
                .unwrap()
                .regex
                .to_string()
        })
        .collect();
    assert_eq!(want.len(), 31);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "template [{i:02}]");
    }
}

#[test]
fn date_search_vectors_agree_with_python() {
    let Some(corpus) = jailor_testkit::require_corpus("date_search_vectors_agree_with_python")
    else {
        return;
    };
    let text = std::fs::read_to_string(corpus.join("reference/search_vectors.jsonl")).unwrap();
    let mut matchers: std::collections::HashMap<String, Matcher> = Default::default();
    let (mut n, mut bad) = (0, Vec::new());
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["k"] != "date" {
            continue;
        }
        n += 1;
        let mut p = v["p"].as_str().unwrap().to_string();
        if v["f"].as_u64().unwrap() & 2 != 0 && !p.starts_with("(?i") {
            p = format!("(?i){p}");
        }
        let s = v["s"].as_str().unwrap();
        let m = matchers
            .entry(p.clone())
            .or_insert_with(|| Matcher::new(&p, &p).unwrap());
        let mut out = DateMatch::default();
        let got = m
            .search(s, &mut out)
            .then(|| (cp(s, out.start), cp(s, out.date.0), cp(s, out.date.1)));
        let want = v["m"].as_array().map(|m| {
            let g1 = v["g1"].as_array().unwrap();
            let n = |x: &serde_json::Value| x.as_u64().unwrap() as usize;
            (n(&m[0]), n(&g1[0]), n(&g1[1]))
        });
        if got != want {
            bad.push(format!("{p} on {s:?}: got {got:?} want {want:?}"));
        }
    }
    assert_eq!(n, 1348);
    assert!(
        bad.is_empty(),
        "{} of {n} differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The fast parsers answer as the template regex does, on the corpus' lines and on edge cases.
#[test]
fn fast_parsers_agree_with_their_regex() {
    let mut lines: Vec<String> = [
        "Jan 23 21:59:59 host",
        "jan  3 01:02:03 x",
        "Sun Jan 23 21:59:59.011 2005 x",
        "Jan 23 21:59:59 2005x",
        "Jan 23 21:59:59.1234567 x",
        "Jan 23 21:59:59x",
        "[Jan 23 21:59:59]",
        "((Jan 23 21:59:59",
        "(((Jan 23 21:59:59",
        "Jan 23 24:00:00",
        "Jan 23 21:59:60",
        "Jan 32 21:59:59",
        "Jan 3 1:02:03",
        "Mon Jan 23 21:59:59 2029 x",
        "Mon Jan 23 21:59:59 2039 x",
        "Monday",
        "ſep 1 10:00:00",
        "2005-01-23 21:59:59 x",
        "2005-01-23T21:59:59.123456Z",
        "2005/01/23 21:59:59,5 +0100 x",
        "2005-01/23 21:59:59",
        "2005.01.23  21:59:59 UTC",
        "2005-01-23 21:59:59 Zurich",
        "2005-01-23 21:59:59+01:00x",
        "2005-01-23 21:59:59 +01:00 x",
        "2005-01-23T21:59:59.5-0130 host",
        "2005-01-23 21:59:59 \t UTC host",
        "2005-01-23 21:59:59 +01:0",
        "2005-1-23 21:59:59",
        "2005-01-23 9:59:59",
        "[2005-01-23 21:59:59] x",
        "2005-01-23 21:59:59\tGMT",
        "2005-13-01 10:00:00",
        "20050123 215959",
        "",
        "x",
        "  ",
        "20",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(corpus) = jailor_testkit::require_corpus("fast_parsers_agree_with_their_regex") {
        for e in std::fs::read_dir(corpus.join("logs")).unwrap() {
            let p = e.unwrap().path();
            if let Ok(t) = std::fs::read_to_string(&p) {
                lines.extend(t.lines().map(str::to_string));
            }
        }
    }
    let mut fast_hits = 0;
    let mut extents_checked = 0;
    for (pattern, w) in defaults::cache() {
        let mut t = Template::new(pattern, *w, Decades::for_year(2026)).unwrap();
        let Some(fast) = t.fast else { continue };
        for line in &lines {
            let mut f = DateMatch::default();
            let mut r = DateMatch::default();
            let regex_hit = t.matcher.search(line, &mut r);
            match fast.parse(line, &mut f) {
                FastResult::Hit => {
                    fast_hits += 1;
                    assert!(regex_hit, "{pattern}: fast hit, regex miss on {line:?}");
                    assert_eq!(f.date, r.date, "{pattern} on {line:?}");
                    assert_eq!(f.fields, r.fields, "{pattern} on {line:?}");
                    extents_checked += usize::from(extent_holds(fast, line, &f));
                }
                FastResult::Miss => {
                    assert!(!regex_hit, "{pattern}: fast miss, regex hit on {line:?}")
                }
                FastResult::Unsure => {}
            }
        }
    }
    assert!(fast_hits > 10);
    assert!(extents_checked > 10, "{extents_checked}");
}

/// A fast hit's [`crate::fast::Fast::extent`] bounds what the parser read: whatever follows
/// it (other bytes, or the line cut there) the parser answers the same. False when the line
/// is shorter than the extent (nothing to vary).
fn extent_holds(fast: crate::fast::Fast, line: &str, want: &DateMatch) -> bool {
    let k = fast.extent(line, want);
    if line.len() < k || !line.is_char_boundary(k) {
        return false;
    }
    let head = &line[..k];
    let tails = [
        "", " ", "x", "2", "20", " 2005", " 2005x", "2005 x", "005 x", "05 x", "5 x", "0", ".5",
        "Z", "+01:00", "1:00", ":00", "00", "0 x", "  UTC", "TC", "C x", "\t", "é",
    ];
    for tail in tails {
        let other = format!("{head}{tail}");
        let mut got = DateMatch::default();
        assert_eq!(
            fast.parse(&other, &mut got),
            FastResult::Hit,
            "{other:?} (from {line:?})"
        );
        assert_eq!(&got, want, "{other:?} (from {line:?})");
    }
    true
}
