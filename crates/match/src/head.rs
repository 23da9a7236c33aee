//! A prefregex ending in `<F-CONTENT>.+</F-CONTENT>$` (most of fail2ban's) searched without
//! its content group: the content is then simply the rest of the line, so the capture
//! search (the costly part) runs on the short head of the line only.
//!
//! Exact: the head's preferred match is the full pattern's whenever it leaves at least one
//! character before the line's final newline (`.+$` then matches that rest, and nothing
//! else); otherwise the caller runs the full pattern.
//!
//! A head of the form `^(?P<g>X)Y` (no other group, `Y` able to match the empty string
//! anywhere: a sequence of optional items), fail2ban's usual `^<F-MLFID>…</F-MLFID>…`, needs
//! no capture engine at all: its preferred match takes `X`'s preferred match (the first
//! completion of `X` in priority order, and `Y` then always succeeds), then `Y`'s from there.
//! Two anchored DFA walks ([`crate::walk`]) give both ends.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::meta;
use regex_syntax::hir::{Capture, Hir, HirKind, Look, Repetition};

use crate::engine::{ascii_config, ascii_syntax, Captures, DFA_SIZE_LIMIT};
use crate::long::{self, LongNfa};
use crate::walk;

/// The part of a prefregex before a final `(?P<content>.+)$`, compiled for ASCII lines.
#[derive(Debug)]
pub(crate) struct ContentHead {
    re: meta::Regex,
    /// `^(?P<g>X)Y`: `X` alone, `Y` alone (lazy DFAs, searched anchored) and `g`'s index.
    split: Option<(DFA, DFA, usize)>,
    /// The bytes a non-empty match of `Y` can start with, when a small literal set tells.
    y_starts: Option<Box<[bool; 256]>>,
    /// Index of the content group (the full pattern's last group).
    content: usize,
    /// The head itself, for the NFA of a long match (built on the first one).
    head: Hir,
    long: LongNfa,
}

/// Whether `h` matches the empty string at every position: an optional item, an empty
/// pattern, or a sequence of those (no look-around).
fn always_empty(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Empty => true,
        HirKind::Repetition(r) => r.min == 0,
        HirKind::Concat(subs) => subs.iter().all(always_empty),
        HirKind::Capture(c) => always_empty(&c.sub),
        _ => false,
    }
}

/// Whether `h` has a capture group.
fn has_group(h: &Hir) -> bool {
    h.properties().explicit_captures_len() > 0
}

/// The first bytes of `h`'s non-empty matches, from its prefix literals: `None` unless
/// every match starts with one of a finite set of literals (an exact empty one standing for
/// the empty match).
fn first_bytes(h: &Hir) -> Option<Box<[bool; 256]>> {
    let mut ex = regex_syntax::hir::literal::Extractor::new();
    ex.kind(regex_syntax::hir::literal::ExtractKind::Prefix);
    let seq = ex.extract(h);
    let mut set = Box::new([false; 256]);
    for lit in seq.literals()? {
        match lit.as_bytes().first() {
            Some(b) => set[usize::from(*b)] = true,
            None if lit.is_exact() => {}
            None => return None,
        }
    }
    Some(set)
}

/// `(X, Y, g)` for a head `^(?P<g>X)Y` as in the module notes.
fn split_head(head: &[Hir]) -> Option<(DFA, DFA, usize)> {
    let [start, cap, rest @ ..] = head else {
        return None;
    };
    if start.kind() != &HirKind::Look(Look::Start) {
        return None;
    }
    let HirKind::Capture(Capture { index, sub, .. }) = cap.kind() else {
        return None;
    };
    let y = Hir::concat(rest.to_vec());
    if has_group(sub) || has_group(&y) || !always_empty(&y) {
        return None;
    }
    let build = |h: Hir| walk::leftmost_first(&[h], DFA_SIZE_LIMIT);
    Some((build(*sub.clone())?, build(y)?, *index as usize))
}

impl ContentHead {
    /// The head of `pattern` (a linear pattern of the `regex` crate's syntax, `content` its
    /// last group), when the pattern ends in `(?P<content>.+)(?m:$)` at its top level.
    /// `parsed`: the pattern already parsed as [`crate::engine::parse_ascii`] does, if at hand.
    pub(crate) fn new(
        pattern: &str,
        parsed: Option<&Hir>,
        content: usize,
        groups: usize,
    ) -> Option<ContentHead> {
        if !pattern.is_ascii() || content + 1 != groups {
            return None;
        }
        let parse = |p: &str| {
            regex_syntax::ParserBuilder::new()
                .unicode(false)
                .utf8(false)
                .build()
                .parse(p)
                .ok()
        };
        let owned;
        let hir = match parsed {
            Some(h) => h,
            None => {
                owned = parse(pattern)?;
                &owned
            }
        };
        let dot = parse(".")?;
        let HirKind::Concat(subs) = hir.kind() else {
            return None;
        };
        let [head @ .., cap, end] = subs.as_slice() else {
            return None;
        };
        if end.kind() != &HirKind::Look(Look::EndLF) {
            return None;
        }
        let HirKind::Capture(Capture { index, sub, .. }) = cap.kind() else {
            return None;
        };
        let HirKind::Repetition(Repetition {
            min: 1,
            max: None,
            greedy: true,
            sub: item,
        }) = sub.kind()
        else {
            return None;
        };
        if *index as usize != content || **item != dot {
            return None;
        }
        let split = split_head(head);
        let y_starts = match head {
            [_, _, rest @ ..] if split.is_some() => first_bytes(&Hir::concat(rest.to_vec())),
            _ => None,
        };
        let head = Hir::concat(head.to_vec());
        let re = meta::Builder::new()
            .configure(ascii_config().match_kind(regex_automata::MatchKind::LeftmostFirst))
            .syntax(ascii_syntax())
            .build_from_hir(&head)
            .ok()?;
        (re.group_info().group_len(regex_automata::PatternID::ZERO) == content).then(|| {
            ContentHead {
                re,
                split,
                y_starts,
                content,
                head,
                long: LongNfa::default(),
            }
        })
    }

    /// Slots and caches for [`ContentHead::captures`] (per thread).
    pub(crate) fn new_scratch(&self) -> HeadScratch {
        HeadScratch {
            caps: Captures::for_head(&self.re, self.content + 1),
            x: None,
            y: None,
        }
    }

    /// The full pattern's search on `hay` (a line plus its final newline): `Some(found)`
    /// with `s.caps` filled as the full pattern would fill them, or `None` when the head
    /// cannot tell (non-ASCII, an inner newline, nothing left for the content, a DFA that
    /// gave up).
    pub(crate) fn captures(&self, hay: &str, s: &mut HeadScratch) -> Option<bool> {
        let body = hay.strip_suffix('\n')?;
        if !hay.is_ascii() || memchr::memchr(b'\n', body.as_bytes()).is_some() {
            return None;
        }
        let caps = &mut s.caps;
        let (start, end) = match &self.split {
            Some((x, y, g)) => {
                for i in 0..caps.len() {
                    caps.set_span(i, None);
                }
                let bytes = hay.as_bytes();
                let xc = s.x.get_or_insert_with(|| x.create_cache());
                let Some((x_end, _)) = walk::anchored_end(x, xc, bytes, 0)? else {
                    return Some(false);
                };
                // `Y` can match nothing here but the empty string: no search.
                let y_end = match &self.y_starts {
                    Some(st) if bytes.get(x_end).is_none_or(|b| !st[usize::from(*b)]) => x_end,
                    _ => {
                        let yc = s.y.get_or_insert_with(|| y.create_cache());
                        walk::anchored_end(y, yc, bytes, x_end)??.0
                    }
                };
                caps.set_span(*g, Some((0, x_end)));
                (0, y_end)
            }
            None => {
                let long_nfa = || self.long.get(|| long::nfa_of_hir(&self.head));
                match caps.search_head(&self.re, hay.as_bytes(), long_nfa) {
                    Some(m) => m,
                    None => return Some(false),
                }
            }
        };
        if end >= body.len() {
            return None;
        }
        caps.set_span(0, Some((start, body.len())));
        caps.set_span(self.content, Some((end, body.len())));
        Some(true)
    }
}

/// Per-thread buffers of a [`ContentHead`]'s search.
#[derive(Debug)]
pub(crate) struct HeadScratch {
    /// The full pattern's group spans after a search.
    pub(crate) caps: Captures,
    /// The split head's DFA caches (made on first use).
    x: Option<Cache>,
    y: Option<Cache>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Regex;
    use crate::translate::PyFlags;

    fn head_of(py: &str) -> (Regex, Option<ContentHead>) {
        let re = Regex::new(py, PyFlags::default()).unwrap();
        let c = re.group_index("content").unwrap();
        let head = ContentHead::new(re.accept_pattern(), None, c, re.groups_len());
        (re, head)
    }

    fn spans(c: &Captures) -> Vec<Option<(usize, usize)>> {
        (0..c.len()).map(|i| c.get(i)).collect()
    }

    #[test]
    fn only_a_final_content_dot_plus_dollar_has_a_head() {
        assert!(head_of(r"^(?P<m>\S+ )(?P<content>.+)$").1.is_some());
        assert!(head_of(r"^(?P<m>\S+ )(?P<content>.+?)$").1.is_none());
        assert!(head_of(r"^(?P<m>\S+ )(?P<content>.+)").1.is_none());
        assert!(head_of(r"^(?P<m>\S+ )(?P<content>.*)$").1.is_none());
        assert!(head_of(r"^(?P<m>\S+ )(?P<content>.+)(?P<x>)$").1.is_none());
        assert!(head_of(r"^a|(?P<m>\S+ )(?P<content>.+)$").1.is_none());
    }

    #[test]
    fn head_gives_the_full_patterns_groups_or_defers() {
        let (re, head) = head_of(r"^(?P<m>\S+(?: \S+)?)(?: (?P<k>x):)?(?P<content>.+)$");
        let head = head.unwrap();
        assert!(head.split.is_none());
        same_as_full(&re, &head);
    }

    #[test]
    fn group_then_optional_items_is_split_and_exact() {
        // fail2ban's shape: `^<F-MLFID>prefix</F-MLFID>(?:optional)?<F-CONTENT>.+</F-CONTENT>$`.
        for p in [
            r"^(?P<m>\S+(?: \S+)?)(?: x:)?(?P<content>.+)$",
            r"^(?P<m>(?:\S+\s+)?(?:[\[\(]?sd(?:\[\d+\])?:?)?\s*)(?:(?:error|fatal): (?:PAM: )?)?(?P<content>.+)$",
            r"^(?P<m>a*)(?:ab)?(?:b)*(?P<content>.+)$",
        ] {
            let (re, head) = head_of(p);
            let head = head.unwrap();
            assert!(head.split.is_some(), "{p}");
            same_as_full(&re, &head);
        }
        // `Y`'s non-empty matches start with `e` or `f` (error:, fatal:), `a` or `b`.
        for (p, starts) in [
            (
                r"^(?P<m>\S+ )(?:(?:error|fatal): (?:PAM: )?)?(?P<content>.+)$",
                "ef",
            ),
            (r"^(?P<m>a*)(?:ab)?(?:b)*(?P<content>.+)$", "ab"),
        ] {
            let set = head_of(p).1.unwrap().y_starts.unwrap();
            let got: String = (0..=255u8)
                .filter(|b| set[usize::from(*b)])
                .map(char::from)
                .collect();
            assert_eq!(got, starts, "{p}");
        }
        // Not split: a group after the first, a tail that must match something.
        for p in [
            r"^(?P<m>\S+)(?P<n> )?(?P<content>.+)$",
            r"^(?P<m>\S+) (?P<content>.+)$",
            r"(?P<m>\S+)(?: x)?(?P<content>.+)$",
        ] {
            let (_, head) = head_of(p);
            assert!(head.is_none_or(|h| h.split.is_none()), "{p}");
        }
    }

    fn same_as_full(re: &Regex, head: &ContentHead) {
        let mut full = re.new_captures();
        let mut hc = head.new_scratch();
        let mut decided = 0;
        for line in [
            "a b c d\n",
            "a b\n",
            "a\n",
            "ab x: rest\n",
            "a b x: rest\n",
            "\n",
            "a b x:\n",
            " lead\n",
            "a\nb c\n",
            "é b c\n",
            "a b",
            "a b c\nd\n",
            "host sd[12]: error: PAM: x y\n",
            "host sd: fatal: rest\n",
            "sd[1]:  error: z\n",
            "aab rest\n",
            "aaabbb\n",
            "ab\n",
            "abbbbx\n",
        ] {
            let want = re.captures(line, &mut full).unwrap();
            // None: deferred (the head took the whole line, an inner newline, non-ASCII);
            // the caller then runs the full pattern.
            if let Some(got) = head.captures(line, &mut hc) {
                decided += 1;
                assert_eq!(got, want, "{line:?}");
                if got {
                    assert_eq!(spans(&hc.caps), spans(&full), "{line:?}");
                }
            }
        }
        assert!(decided >= 5, "{decided}");
    }
}
