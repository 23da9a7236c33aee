//! An anchored leftmost-first search of a lazy DFA, stepped here rather than through
//! `meta::Regex::search_with`: the prefregex head's searches, which every line pays, are
//! short and anchored, so the meta engine's per-search set-up (the `Input`, the strategy's
//! dispatch, the hybrid regex's wrapper) cost about as much as the steps themselves. (A long
//! search, the failregex set's on an sshd line's content, is faster in the lazy DFA's own
//! unrolled loop: this one is for short walks.)
//!
//! The walk is the lazy DFA's own forward search: matches are delayed by one byte, and the
//! end-of-input transition decides a match at the end.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind, PatternID};
use regex_syntax::hir::Hir;

/// A leftmost-first lazy DFA over `hirs` (one pattern each, no captures), as the ASCII
/// automata are built (no UTF-8 mode); `None` when it is too big.
pub(crate) fn leftmost_first(hirs: &[Hir], cache_capacity: usize) -> Option<DFA> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .nfa_size_limit(Some(64 << 20))
                .which_captures(thompson::WhichCaptures::None),
        )
        .build_many_from_hir(hirs)
        .ok()?;
    DFA::builder()
        .configure(
            DFA::config()
                .match_kind(MatchKind::LeftmostFirst)
                .cache_capacity(cache_capacity),
        )
        .build_from_nfa(nfa)
        .ok()
}

/// The end of `dfa`'s leftmost-first match anchored at `from` in `hay` (the byte before
/// `from` is the look-behind), and its pattern: `Some(None)` when there is none, `None`
/// when the DFA gives up (a quit byte, a cache that cannot be grown).
#[inline]
pub(crate) fn anchored_end(
    dfa: &DFA,
    cache: &mut Cache,
    hay: &[u8],
    from: usize,
) -> Option<Option<(usize, PatternID)>> {
    let behind = from.checked_sub(1).and_then(|i| hay.get(i).copied());
    let config = start::Config::new()
        .anchored(Anchored::Yes)
        .look_behind(behind);
    let mut sid = dfa.start_state(cache, &config).ok()?;
    let mut found = None;
    let mut at = from;
    while let Some(&b) = hay.get(at) {
        if sid.is_tagged() {
            // A match state (the match may go on): the checked step.
            sid = dfa.next_state(cache, sid, b).ok()?;
        } else {
            // A run of untagged states: one table read per byte, up to a tagged state.
            let mut prev = sid;
            sid = dfa.next_state_untagged(cache, prev, b);
            while !sid.is_tagged() {
                at += 1;
                let Some(&b) = hay.get(at) else {
                    break;
                };
                prev = sid;
                sid = dfa.next_state_untagged(cache, prev, b);
            }
            let Some(&b) = hay.get(at) else {
                break;
            };
            if sid.is_unknown() {
                // Not computed yet (or the cache was cleared): the checked step computes it.
                sid = dfa.next_state(cache, prev, b).ok()?;
            }
        }
        if sid.is_tagged() {
            if sid.is_match() {
                found = Some((at, dfa.match_pattern(cache, sid, 0)));
            } else if sid.is_dead() {
                return Some(found);
            } else if sid.is_quit() {
                return None;
            }
        }
        at += 1;
    }
    sid = dfa.next_eoi_state(cache, sid).ok()?;
    if sid.is_match() {
        found = Some((hay.len(), dfa.match_pattern(cache, sid, 0)));
    } else if sid.is_quit() {
        return None;
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::Input;

    fn parse(p: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(p)
            .unwrap()
    }

    /// The walk agrees with the lazy DFA's own anchored search, at every start, on
    /// patterns with look-around at both ends, alternatives of several lengths and
    /// several patterns (the first in order wins).
    #[test]
    fn the_walk_finds_what_the_dfas_own_search_finds() {
        let sets: &[&[&str]] = &[
            &[r"^\S+ "],
            &[r"a|ab|abc"],
            &[r"(?:ab)*b?"],
            &[r"\bfoo\b", r"fo+"],
            &[r"x$", r"x"],
            &[r"(?m)^b", r"(?m)b$", r"[a-z]+\d"],
            &[r"\d+\.\d+(?: port \d+)?", r"\d+"],
        ];
        let hays = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "foo bar\n",
            "fooo",
            "x",
            "x\n",
            "a\nb\n",
            "b",
            "b\nx",
            "12.34 port 5",
            "12.34 port",
            "7",
            "abab b",
            "ab1 c",
        ];
        for pats in sets {
            let hirs: Vec<Hir> = pats.iter().map(|p| parse(p)).collect();
            let dfa = leftmost_first(&hirs, 1 << 20).unwrap();
            let mut cache = dfa.create_cache();
            for hay in hays {
                for from in 0..=hay.len() {
                    let input = Input::new(hay.as_bytes())
                        .range(from..)
                        .anchored(Anchored::Yes);
                    let want = dfa
                        .try_search_fwd(&mut cache, &input)
                        .unwrap()
                        .map(|m| (m.offset(), m.pattern()));
                    let got = anchored_end(&dfa, &mut cache, hay.as_bytes(), from).unwrap();
                    assert_eq!(got, want, "{pats:?} on {hay:?} from {from}");
                }
            }
        }
    }
}
