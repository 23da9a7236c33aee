//! fail2ban's `<tag>` substitution over a filter's or action's combined options: `<name>` is
//! replaced by the value of option `name`, innermost first (so `<mdre-<mode>>` works), until
//! nothing changes. Unknown tags (`<HOST>`, `<ip>`) stay as they are.

use std::borrow::Cow;

use crate::map::Set;

use crate::map::Map;

use crate::error::{Error, ErrorKind, Result};

/// How often one tag may be replaced inside one value, and how many passes one value may need.
pub const MAX_TAG_REPLACE_COUNT: usize = 25;

/// Finds the next `<tag>` (tag = one or more characters other than space, `<`, `>`) at or after
/// `from`; returns (start, end, tag name).
fn next_tag(s: &str, from: usize) -> Option<(usize, usize, &str)> {
    let mut i = from;
    while let Some(p) = s.get(i..).and_then(|r| r.find('<')) {
        let start = i + p;
        let body = &s[start + 1..];
        // Bytes, not chars: the three are ASCII (a char pattern decodes every char).
        let end = body.bytes().position(|b| matches!(b, b' ' | b'<' | b'>'));
        match end {
            Some(e) if e > 0 && body[e..].starts_with('>') => {
                return Some((start, start + 1 + e + 1, &body[..e]));
            }
            _ => i = start + 1,
        }
    }
    None
}

/// Whether `s` contains a `<tag>`.
pub fn has_tag(s: &str) -> bool {
    next_tag(s, 0).is_some()
}

/// Substitutes tags in every option of `opts` (except keys containing `?`, which are
/// conditional variants, and keys in `ignore`).
///
/// Lookup order for `<t>`: `t?conditional` (when `conditional` is not empty), `t`, then
/// `fallback(t)` (which resolves `section/option` forms). Tags in `ignore` and, when
/// `keep_conditional` is set, tags that have a `t?...` variant are left for later.
pub fn substitute(
    opts: &mut Map<String, String>,
    conditional: &str,
    ignore: &Set<&str>,
    keep_conditional: bool,
    fallback: &dyn Fn(&str) -> Result<Option<String>>,
) -> Result<()> {
    let conditional_bases: Set<String> = opts
        .keys()
        .filter_map(|k| k.split_once('?').map(|(b, _)| b.to_string()))
        .collect();
    let keys: Vec<String> = opts.keys().cloned().collect();
    let mut passes: Map<String, usize> = Map::default();
    let mut done: Set<String> = Set::default();
    loop {
        let mut again = false;
        for key in &keys {
            if key.contains('?') || ignore.contains(key.as_str()) || done.contains(key) {
                continue;
            }
            let Some(orig) = opts.get(key) else {
                continue;
            };
            if !orig.contains('<') {
                // No tag: nothing to do now or in a later pass.
                done.insert(key.clone());
                continue;
            }
            // Borrowed until a tag is replaced (most tags, `<HOST>` and the like, are not).
            let mut value: Cow<'_, str> = Cow::Borrowed(orig.as_str());
            let mut counts: Map<String, usize> = Map::default();
            let mut pos = 0;
            while let Some((start, end, tag)) = next_tag(&value, pos) {
                if ignore.contains(tag)
                    || (keep_conditional
                        && conditional.is_empty()
                        && conditional_bases.contains(tag))
                {
                    pos = end;
                    continue;
                }
                if tag == key || counts.get(tag).copied().unwrap_or(0) >= MAX_TAG_REPLACE_COUNT {
                    return Err(Error::new(
                        ErrorKind::TagRecursion,
                        format!(
                            "option \"{key}\" refers to itself through <{tag}>, so its tags cannot be resolved"
                        ),
                    ));
                }
                let mut repl = None;
                if !conditional.is_empty() {
                    repl = opts.get(&format!("{tag}?{conditional}")).cloned();
                }
                if repl.is_none() {
                    repl = opts.get(tag).cloned();
                }
                if repl.is_none() {
                    repl = fallback(tag)?;
                }
                let Some(repl) = repl else {
                    pos = end;
                    continue;
                };
                let tag = tag.to_string();
                value = Cow::Owned(value.replace(&format!("<{tag}>"), &repl));
                *counts.entry(tag).or_default() += 1;
                pos = start;
            }
            let value = match value {
                // Nothing replaced: the value stays as it is.
                Cow::Borrowed(_) => continue,
                Cow::Owned(v) => v,
            };
            if value != *orig && has_tag(&value) {
                let n = passes.entry(key.clone()).or_default();
                *n += 1;
                if *n < MAX_TAG_REPLACE_COUNT {
                    again = true;
                } else {
                    return Err(Error::new(
                        ErrorKind::TagRecursion,
                        format!("option \"{key}\" still has tags after {MAX_TAG_REPLACE_COUNT} rounds of substitution (a loop between tags?)"),
                    ));
                }
            }
            let finished = !value.contains('<');
            opts.insert(key.clone(), value);
            if finished {
                done.insert(key.clone());
            }
        }
        if !again {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pairs: &[(&str, &str)]) -> Result<Map<String, String>> {
        let mut m: Map<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        substitute(&mut m, "", &Set::default(), true, &|_| Ok(None))?;
        Ok(m)
    }

    #[test]
    fn nested_and_unknown_tags() {
        let m = run(&[
            ("failregex", "a <mdre-<mode>> <HOST>"),
            ("mode", "normal"),
            ("mdre-normal", "N<x>"),
            ("x", "!"),
        ])
        .unwrap();
        assert_eq!(m["failregex"], "a N! <HOST>");
    }

    #[test]
    fn self_reference_is_an_error() {
        let e = run(&[("a", "x<a>")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TagRecursion);
        let e = run(&[("a", "<b>"), ("b", "<a>")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TagRecursion);
    }

    #[test]
    fn conditional_tags_are_kept_or_chosen() {
        let mut m: Map<String, String> = [
            ("cmd", "<bt> <p>"),
            ("bt", "DROP"),
            ("bt?family=inet6", "DROP6"),
            ("p", "22"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut m2 = m.clone();
        substitute(&mut m, "", &Set::default(), true, &|_| Ok(None)).unwrap();
        assert_eq!(m["cmd"], "<bt> 22");
        substitute(&mut m2, "family=inet6", &Set::default(), true, &|_| {
            Ok(None)
        })
        .unwrap();
        assert_eq!(m2["cmd"], "DROP6 22");
    }
}
