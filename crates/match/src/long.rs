//! Capture searches whose match is long (an attacker's 100 KB line of spaces that a
//! prefregex's `^\s*…(?P<content>.+)$` takes whole).
//!
//! Once the lazy DFA has found the match, `regex-automata`'s meta engine resolves its groups
//! with the bounded backtracker only while the backtracker's visited set (NFA states × span
//! bits) fits 256 KiB; past that it takes the PikeVM, which on fail2ban's prefregexes costs
//! ~0.3 µs per byte (dozens of optional groups in every step's closure). The same
//! backtracker with a visited set sized for the span, allocated for this search and freed
//! after it, gives the same groups (both engines report the leftmost-first match) several
//! times faster. Above [`VISITED_BUDGET`] the meta engine keeps the search.

use std::sync::OnceLock;

use regex_automata::nfa::thompson::backtrack::{self, BoundedBacktracker};
use regex_automata::nfa::thompson::{self, NFA};
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::Hir;

use crate::engine::ascii_syntax;

/// Matches at least this long have their groups resolved here (shorter ones fit the meta
/// engine's own backtracker for most patterns).
pub(crate) const MIN_SPAN: usize = 4 * 1024;

/// Largest visited set (bytes) allocated for one search: 8 MiB covers a 100 KB match of
/// every prefregex of fail2ban's filters (the largest, dovecot's, has 480 NFA states).
pub(crate) const VISITED_BUDGET: usize = 8 << 20;

/// The NFA of an ASCII automaton, compiled on the first long match.
#[derive(Debug, Default)]
pub(crate) struct LongNfa {
    cell: OnceLock<Option<NFA>>,
}

impl LongNfa {
    /// The NFA, built by `build` on first use (`None` if it cannot be built).
    pub(crate) fn get(&self, build: impl FnOnce() -> Option<NFA>) -> Option<&NFA> {
        self.cell.get_or_init(build).as_ref()
    }
}

/// The NFA the meta engine builds for [`crate::engine::compile_ascii`]'s `pattern`.
pub(crate) fn nfa_of_pattern(pattern: &str) -> Option<NFA> {
    compiler().build(pattern).ok()
}

/// The NFA of an HIR parsed with [`ascii_syntax`].
pub(crate) fn nfa_of_hir(hir: &Hir) -> Option<NFA> {
    compiler().build_from_hir(hir).ok()
}

fn compiler() -> thompson::Compiler {
    let mut c = thompson::Compiler::new();
    c.syntax(ascii_syntax()).configure(
        thompson::Config::new()
            .utf8(false)
            .shrink(false)
            .nfa_size_limit(Some(64 << 20)),
    );
    c
}

/// Resolves the groups of the match `span` of `hay` (found by the DFA of the automaton
/// `nfa` was built for) into `slots`. False, slots untouched, when the visited set would
/// exceed [`VISITED_BUDGET`] (or the backtracker cannot run): the caller then searches as
/// before.
pub(crate) fn captures(
    nfa: &NFA,
    hay: &[u8],
    span: std::ops::Range<usize>,
    slots: &mut [Option<NonMaxUsize>],
) -> bool {
    // Anchored at the match's start and bounded by its end: the leftmost-first match found
    // there is the whole search's (look-arounds still see the bytes around the span).
    let input = Input::new(hay).span(span).anchored(Anchored::Yes);
    let need = backtrack::min_visited_capacity(nfa, &input);
    if need > VISITED_BUDGET {
        return false;
    }
    let Ok(bt) = BoundedBacktracker::builder()
        .configure(BoundedBacktracker::config().visited_capacity(need))
        .build_from_nfa(nfa.clone())
    else {
        return false;
    };
    let mut cache = bt.create_cache();
    matches!(bt.try_search_slots(&mut cache, &input, slots), Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use regex_automata::meta;

    use super::*;
    use crate::engine::compile_ascii;

    /// The long path's groups against the meta engine's (its PikeVM at these lengths);
    /// false when there is no long match to compare.
    fn agree(pattern: &str, hay: &str) -> bool {
        let re = compile_ascii(pattern).unwrap();
        let nfa = nfa_of_pattern(pattern).unwrap();
        let mut want = vec![None; re.group_info().slot_len()];
        let found = re.search_slots(&Input::new(hay), &mut want);
        let Some(m) = re.search(&Input::new(hay)) else {
            assert!(found.is_none(), "{pattern}");
            return false;
        };
        if m.len() < MIN_SPAN {
            return false;
        }
        let mut got = vec![None; want.len()];
        assert!(
            captures(&nfa, hay.as_bytes(), m.range(), &mut got),
            "{pattern}"
        );
        assert_eq!(got, want, "{pattern} on {:?}…", &hay[..40]);
        true
    }

    #[test]
    fn long_matches_get_the_meta_engines_groups() {
        let spaces = format!("{}\n", " ".repeat(20_000));
        let words = format!("x{}\n", " from 1.2.3.4".repeat(2_000));
        let mixed = format!("host {}: tail\n", "a b [1] ".repeat(2_000));
        let patterns = [
            r"^\s*(?:\S+\s+)?(?:(?P<d>sshd)(?:\[\d+\])?:?\s+)?(?P<content>.+)(?m:$)",
            r"^(?P<pre>\s*)(?P<w>\w+)?(?P<content>.+?)\s*(?m:$)",
            r"from (?P<h>\d+\.\d+\.\d+\.\d+)(?P<rest>(?: from \S+)*)",
            r"^host (?:(?P<a>a|a b|\[\d+\]) ?)+: (?P<t>tail)",
            r"(?P<a>a|a b)+ (?P<last>\[\d+\]):?",
            r"^(?P<all>.*)\b(?P<end>\w+)(?m:$)",
            r"^host (?P<body>(?:[^:]|:(?! ))*): (?P<t>tail)(?m:$)",
        ];
        let mut matched = 0;
        for p in patterns {
            // A pattern the linear engine rejects (the look-ahead) is simply skipped.
            if compile_ascii(p).is_none() {
                continue;
            }
            for hay in [&spaces, &words, &mixed] {
                matched += usize::from(agree(p, hay));
            }
        }
        assert!(matched >= 10, "{matched}");
    }

    #[test]
    fn over_budget_searches_are_left_to_the_caller() {
        // Enough states that a 100 KB span needs more than the budget.
        let p = r"^(?P<n>(?:a\d?){0,1000}).*(?m:$)";
        let hay = "a1".repeat(60_000);
        let nfa = nfa_of_pattern(p).unwrap();
        let input = Input::new(&hay);
        assert!(backtrack::min_visited_capacity(&nfa, &input) > VISITED_BUDGET);
        let re: meta::Regex = compile_ascii(p).unwrap();
        let m = re.search(&input).unwrap();
        let mut slots = vec![None; re.group_info().slot_len()];
        assert!(!captures(&nfa, hay.as_bytes(), m.range(), &mut slots));
        assert!(slots.iter().all(Option::is_none));
    }
}
