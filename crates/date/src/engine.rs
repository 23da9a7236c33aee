//! Runs one template regex (Python syntax, as fail2ban builds it) with Python's `re.search`
//! semantics.
//!
//! The date templates use look-around only in a few fixed shapes: the word-begin guard
//! `(?=^|\b|\W)` in front, the word-end guard `(?=\b|\W|$)` at the end, and back-references
//! `(?P=_sep)`. The linear `regex` crate runs a relaxed version without them (guards removed,
//! a back-reference widened to a lazy `.*?` group), and the guards are checked in code:
//!
//! * the word-begin guard depends only on the match start, so a failed check just moves the
//!   search one character on, exactly as Python's `search` would;
//! * the word-end guard and the back-references depend on the path the match took. When the
//!   preferred path passes them, Python would have taken the same path (the relaxed regex tries
//!   paths in the same order and only accepts more); when it does not, Python would backtrack,
//!   so that (rare) line goes to the backtracking engine.
//!
//! Patterns the `regex` crate cannot compile even then (EPOCH's conditionals, user patterns with
//! other look-around) run on `fancy-regex` alone, with a backtrack limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::{Error, ErrorKind};
use crate::fields::{DateMatch, Field};

const WORD_BEGIN: &str = r"(?=^|\b|\W)";
const WORD_END: &str = r"(?=\b|\W|$)";
/// Backtracking budget per search; a line that exhausts it counts as "no date".
const BACKTRACK_LIMIT: usize = 200_000;

/// Python's `\w` for one character.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn char_before(s: &str, i: usize) -> Option<char> {
    s.get(..i).and_then(|h| h.chars().next_back())
}

fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|t| t.chars().next())
}

/// Python's `\b` at byte `i`.
fn boundary(s: &str, i: usize) -> bool {
    char_before(s, i).is_some_and(is_word) != char_at(s, i).is_some_and(is_word)
}

/// `(?=^|\b|\W)` at byte `i`.
pub(crate) fn begin_ok(s: &str, i: usize) -> bool {
    i == 0 || boundary(s, i) || char_at(s, i).is_some_and(|c| !is_word(c))
}

/// `(?=\b|\W|$)` at byte `i` (the line carries no trailing newline).
pub(crate) fn end_ok(s: &str, i: usize) -> bool {
    i >= s.len() || boundary(s, i) || char_at(s, i).is_some_and(|c| !is_word(c))
}

/// The relaxed, linear form of a template regex.
#[derive(Debug)]
struct Linear {
    re: regex::Regex,
    check_begin: bool,
    check_end: bool,
    /// (group of the widened back-reference, group it refers to).
    backrefs: Vec<(usize, usize)>,
    /// Field of each capture group index.
    fields: Vec<Option<Field>>,
}

/// The backtracking engine and the field of each of its groups.
type Fancy = (fancy_regex::Regex, Vec<Option<Field>>);

/// The compiled forms of one template regex, shared by every detector of the process.
///
/// Each engine is built on first need: most lines are decided by a template's hand-written
/// parser or by the template tried first, so most of the 31 default regexes are never run.
/// Both engines are safe to share between threads (`regex` keeps one scratch cache per
/// thread in a pool), so ten jails with the default templates hold one copy, not ten.
#[derive(Debug)]
struct Compiled {
    python: String,
    linear: OnceLock<Option<Linear>>,
    /// `Err` is kept so a bad pattern is compiled only once.
    fancy: OnceLock<Result<Fancy, String>>,
}

impl Compiled {
    fn linear(&self) -> Option<&Linear> {
        self.linear
            .get_or_init(|| Linear::new(&self.python))
            .as_ref()
    }

    fn fancy(&self) -> Result<&Fancy, &str> {
        let built = self.fancy.get_or_init(|| {
            fancy_regex::RegexBuilder::new(&to_fancy(&self.python))
                .backtrack_limit(BACKTRACK_LIMIT)
                .build()
                .map(|re| {
                    let f = field_map(re.capture_names());
                    (re, f)
                })
                .map_err(|e| e.to_string())
        });
        built.as_ref().map_err(String::as_str)
    }
}

/// The process-wide table of compiled template regexes, by regex text. Entries are weak:
/// a template no detector uses any more (after a reload) frees its engines.
fn shared(python: &str) -> Arc<Compiled> {
    static TABLE: OnceLock<Mutex<HashMap<String, Weak<Compiled>>>> = OnceLock::new();
    let mut table = TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(c) = table.get(python).and_then(Weak::upgrade) {
        return c;
    }
    table.retain(|_, w| w.strong_count() > 0);
    let c = Arc::new(Compiled {
        python: python.to_string(),
        linear: OnceLock::new(),
        fancy: OnceLock::new(),
    });
    table.insert(python.to_string(), Arc::downgrade(&c));
    c
}

/// A template regex as one detector uses it: the shared engines and this detector's own
/// capture slots.
#[derive(Debug)]
pub(crate) struct Matcher {
    compiled: Arc<Compiled>,
    locs: Option<regex::CaptureLocations>,
}

impl Clone for Matcher {
    /// The same shared engines, with capture slots of its own (made on first search).
    fn clone(&self) -> Matcher {
        Matcher {
            compiled: Arc::clone(&self.compiled),
            locs: None,
        }
    }
}

/// Splits leading global flags `(?iu)` off a Python regex; returns (flags, rest).
fn split_flags(p: &str) -> (&str, &str) {
    if let Some(rest) = p.strip_prefix("(?") {
        let n = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        if n > 0 && rest.as_bytes().get(n) == Some(&b')') {
            return (&rest[..n], &rest[n + 1..]);
        }
    }
    ("", p)
}

/// Python's inline flags for Rust: `u` is the default there, `L` and `a` have no equivalent.
fn rust_flags(flags: &str) -> Option<String> {
    let mut out = String::new();
    for c in flags.chars() {
        match c {
            'u' => {}
            'i' | 'm' | 's' | 'x' => out.push(c),
            _ => return None,
        }
    }
    Some(if out.is_empty() {
        out
    } else {
        format!("(?{out})")
    })
}

/// Rewrites `(?P=name)` as a widened group; returns the names in order.
fn widen_backrefs(p: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(p.len());
    let mut names = Vec::new();
    let mut rest = p;
    while let Some(pos) = rest.find("(?P=") {
        // An escaped `\(` is a literal, not a back-reference.
        let escaped = rest[..pos].chars().rev().take_while(|&c| c == '\\').count() % 2 == 1;
        let after = &rest[pos + 4..];
        let Some(close) = after.find(')').filter(|_| !escaped) else {
            out.push_str(&rest[..pos + 4]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..pos]);
        out.push_str(&format!("(?P<__br{}>(?s:.*?))", names.len()));
        names.push(after[..close].to_string());
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    (out, names)
}

fn field_map<'a>(names: impl Iterator<Item = Option<&'a str>>) -> Vec<Option<Field>> {
    names.map(|n| n.and_then(Field::from_group)).collect()
}

impl Linear {
    fn new(python: &str) -> Option<Linear> {
        let (flags, mut body) = split_flags(python);
        let flags = rust_flags(flags)?;
        let check_begin = body.starts_with(WORD_BEGIN);
        if check_begin {
            body = &body[WORD_BEGIN.len()..];
        }
        let check_end = body.ends_with(WORD_END) && !body.ends_with(&format!("\\{WORD_END}"));
        if check_end {
            body = &body[..body.len() - WORD_END.len()];
        }
        let (body, names) = widen_backrefs(body);
        let re = regex::RegexBuilder::new(&format!("{flags}{body}"))
            .size_limit(4 << 20)
            .build()
            .ok()?;
        let mut backrefs = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let widened = re
                .capture_names()
                .position(|n| n == Some(&format!("__br{i}")))?;
            let target = re.capture_names().position(|n| n == Some(name))?;
            backrefs.push((widened, target));
        }
        let fields = field_map(re.capture_names());
        Some(Linear {
            re,
            check_begin,
            check_end,
            backrefs,
            fields,
        })
    }

    /// `Ok(found)` when the answer is exact, `Err(start)` when Python would backtrack at `start`.
    fn search(
        &self,
        locs: &mut regex::CaptureLocations,
        line: &str,
        out: &mut DateMatch,
    ) -> Result<bool, usize> {
        let mut from = 0;
        loop {
            if self.re.captures_read_at(locs, line, from).is_none() {
                return Ok(false);
            }
            let Some((s, e)) = locs.get(0) else {
                return Ok(false);
            };
            if self.check_begin && !begin_ok(line, s) {
                // Python's lookahead fails at `s` whatever follows: try the next position.
                from = s + char_at(line, s).map_or(1, char::len_utf8);
                if from > line.len() {
                    return Ok(false);
                }
                continue;
            }
            if self.check_end && !end_ok(line, e) {
                return Err(s);
            }
            for &(widened, target) in &self.backrefs {
                let text = |g| locs.get(g).map(|(a, b)| &line[a..b]);
                if text(widened) != text(target) {
                    return Err(s);
                }
            }
            fill(out, s, locs.get(1).unwrap_or((s, e)), &self.fields, |i| {
                locs.get(i)
            });
            return Ok(true);
        }
    }
}

fn fill(
    out: &mut DateMatch,
    start: usize,
    date: (usize, usize),
    fields: &[Option<Field>],
    get: impl Fn(usize) -> Option<(usize, usize)>,
) {
    *out = DateMatch {
        start,
        date,
        ..DateMatch::default()
    };
    for (i, f) in fields.iter().enumerate() {
        if let (Some(f), Some(span)) = (f, get(i)) {
            out.set(*f, span);
        }
    }
}

/// Python syntax → fancy-regex syntax (same semantics).
fn to_fancy(python: &str) -> String {
    let (flags, body) = split_flags(python);
    let flags: String = flags.chars().filter(|&c| c != 'u').collect();
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!("(?{flags})")
    };
    // Python's `(?(name)` tests a group; fancy-regex needs `(?(<name>)`.
    let mut out = String::with_capacity(body.len() + 8);
    let mut rest = body;
    while let Some(pos) = rest.find("(?(") {
        out.push_str(&rest[..pos + 3]);
        rest = &rest[pos + 3..];
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if n > 0 && rest.as_bytes().get(n) == Some(&b')') && !rest.as_bytes()[0].is_ascii_digit() {
            out.push('<');
            out.push_str(&rest[..n]);
            out.push('>');
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    format!("{flags}{out}")
}

/// Parses a regex in `fancy-regex`'s syntax without compiling it: the tree, then each plain
/// part it hands to the `regex` crate (class ranges and escapes are checked only there).
fn check_syntax(fancy: &str) -> Result<(), String> {
    let tree = fancy_regex::Expr::parse_tree(fancy).map_err(|e| e.to_string())?;
    let mut todo = vec![&tree.expr];
    while let Some(e) = todo.pop() {
        if let fancy_regex::Expr::Delegate { inner, .. } = e {
            regex_syntax::ast::parse::Parser::new()
                .parse(inner)
                .map_err(|e| e.to_string())?;
        }
        todo.extend(e.children_iter());
    }
    Ok(())
}

impl Matcher {
    /// A matcher for `python` (a template regex in fail2ban's syntax), whose syntax is
    /// checked now (parsed, not compiled: a bad pattern is an error here, a good one costs
    /// nothing until a line needs it); `pattern` names it in errors.
    pub(crate) fn new(python: &str, pattern: &str) -> Result<Matcher, Error> {
        if let Err(message) = check_syntax(&to_fancy(python)) {
            return Err(ErrorKind::BadRegex {
                pattern: pattern.to_string(),
                message,
            }
            .into());
        }
        Ok(Matcher::lazy(python))
    }

    /// A matcher for a regex known to compile (fail2ban's default templates): nothing is
    /// built until the first search needs it.
    pub(crate) fn lazy(python: &str) -> Matcher {
        Matcher {
            compiled: shared(python),
            locs: None,
        }
    }

    /// Whether another matcher than this one uses the same engines (a detector's copy of a
    /// template the process keeps built).
    pub(crate) fn shared_with_others(&self) -> bool {
        Arc::strong_count(&self.compiled) > 1
    }

    /// Whether the linear engine runs this template (else every search backtracks).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_linear(&self) -> bool {
        self.compiled.linear().is_some()
    }

    /// Python's `re.search(regex, line)`: fills `out` and returns true on a match.
    pub(crate) fn search(&mut self, line: &str, out: &mut DateMatch) -> bool {
        let c = &*self.compiled;
        let from = match c.linear() {
            Some(l) => {
                let locs = self.locs.get_or_insert_with(|| l.re.capture_locations());
                match l.search(locs, line, out) {
                    Ok(found) => return found,
                    Err(start) => start,
                }
            }
            None => 0,
        };
        let Ok((re, fields)) = c.fancy() else {
            return false;
        };
        // A backtrack-limit error is treated as "no date" (the line keeps its text).
        let Ok(Some(caps)) = re.captures_from_pos(line, from) else {
            return false;
        };
        let Some(whole) = caps.get(0) else {
            return false;
        };
        let date = caps
            .get(1)
            .map_or((whole.start(), whole.end()), |g| (g.start(), g.end()));
        fill(out, whole.start(), date, fields, |i| {
            caps.get(i).map(|g| (g.start(), g.end()))
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(p: &str, s: &str) -> Option<(usize, usize)> {
        let mut m = Matcher::new(p, p).unwrap();
        let mut out = DateMatch::default();
        m.search(s, &mut out).then_some(out.date)
    }

    #[test]
    fn word_begin_guard_skips_positions_inside_words() {
        let p = r"(?=^|\b|\W)((?P<H>\d\d):(?P<M>\d\d))(?=\b|\W|$)";
        assert!(Matcher::new(p, p).unwrap().is_linear());
        assert_eq!(find(p, "x112:30 12:31"), Some((8, 13)));
        assert_eq!(find(p, "12:30"), Some((0, 5)));
    }

    #[test]
    fn word_end_guard_falls_back_to_backtracking() {
        // The preferred path takes the year, which is glued to a word: Python drops the year.
        let p = r"((?P<H>\d\d):(?P<M>\d\d)(?: (?P<Y>\d{4}))?)(?=\b|\W|$)";
        assert_eq!(find(p, "12:30 2005x"), Some((0, 5)));
        assert_eq!(find(p, "12:30 2005 x"), Some((0, 10)));
    }

    #[test]
    fn back_references_must_repeat_the_group() {
        let p = r"((?P<Y>\d{4})(?P<_sep>[-/.])(?P<m>\d\d)(?P=_sep)(?P<d>\d\d))";
        assert_eq!(find(p, "2005-01/02 2005.01.02"), Some((11, 21)));
        assert_eq!(find(p, "2005-01-02"), Some((0, 10)));
    }

    #[test]
    fn conditionals_run_on_the_backtracking_engine() {
        let p = r"((?:^|(?P<square>(?<=^\[)))\d{10}\b)(?(square)(?=\]))(?=\b|\W|$)";
        let m = Matcher::new(p, p).unwrap();
        assert!(!m.is_linear());
        assert_eq!(find(p, "[1234567890] x"), Some((1, 11)));
        assert_eq!(find(p, "[1234567890 x"), None);
        assert_eq!(find(p, "1234567890 x"), Some((0, 10)));
    }

    #[test]
    fn detectors_share_one_lazily_built_engine() {
        let p = r"(?=^|\b|\W)((?P<H>\d\d):(?P<M>\d\d)!shared)(?=\b|\W|$)";
        let mut a = Matcher::lazy(p);
        let b = Matcher::lazy(p);
        assert!(Arc::ptr_eq(&a.compiled, &b.compiled));
        assert!(a.compiled.linear.get().is_none(), "built before any search");
        let mut out = DateMatch::default();
        assert!(a.search("at 12:30!shared", &mut out));
        assert_eq!(out.date, (3, 15));
        assert!(b.compiled.linear.get().is_some_and(Option::is_some));
        // Another thread searches with the same engine and its own capture slots.
        let mut c = Matcher::lazy(p);
        let found = std::thread::spawn(move || {
            let mut out = DateMatch::default();
            c.search("x 09:15!shared", &mut out).then_some(out.date)
        })
        .join()
        .unwrap();
        assert_eq!(found, Some((2, 14)));
    }

    #[test]
    fn an_unused_template_is_freed() {
        let p = r"((?P<H>\d\d)h(?P<M>\d\d)!freed)";
        let weak = Arc::downgrade(&Matcher::new(p, p).unwrap().compiled);
        assert!(weak.upgrade().is_none());
        let again = Matcher::lazy(p);
        assert!(again.compiled.linear.get().is_none());
    }

    #[test]
    fn bad_patterns_are_errors_not_panics() {
        assert!(Matcher::new("((", "((").is_err());
        assert!(Matcher::new("[z-a]", "[z-a]").is_err());
        assert!(Matcher::new(r"(?P=nope)x", "(?P=nope)x").is_err());
    }

    #[test]
    fn a_good_pattern_is_compiled_on_first_search_only() {
        let python = r"(?P<_sep>[-/])x(?P=_sep)y";
        let mut m = Matcher::new(python, python).unwrap();
        assert!(m.compiled.linear.get().is_none() && m.compiled.fancy.get().is_none());
        let mut out = DateMatch::default();
        assert!(m.search("a-x-y", &mut out));
        assert!(!m.search("a-x/y", &mut out));
        assert!(m.compiled.linear.get().is_some());
    }
}
