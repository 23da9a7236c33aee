//! A failregex ending in an alternation (`^P(?:A|B|…)`, as the linear rewrite of a
//! conditional gives), split into one pattern per branch (`^PA`, `^PB`, …) for the
//! leftmost-first set: the set then also tells which branch matched, and the capture engine
//! runs on that branch alone instead of exploring the branches before it.
//!
//! Exact when `P` can end at one place only on the subject (then `PA` matches exactly when
//! `A` matches where `P` ends, and the first such branch is the whole pattern's choice, with
//! `P`'s preferred path). That is checked on each search: `P`'s shortest and longest
//! anchored matches must end at the same place; otherwise the caller runs the whole
//! pattern.

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::nfa::thompson::backtrack::{self, BoundedBacktracker};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Hir, HirKind};

use crate::resolve::{self, ResolveCache, Resolver};

/// At most this many branches per pattern (each is compiled on its own).
const MAX_BRANCHES: usize = 8;

/// One branch: the pattern with the alternation replaced by that branch, and the prefixes
/// (one per alternation level, outermost first) whose end must be unique.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) hir: Hir,
    prefixes: Vec<Hir>,
}

/// The branches of a pattern's final alternation(s), `None` when it has none (or too many).
pub(crate) fn branches(hir: &Hir) -> Option<Vec<Branch>> {
    let mut out = Vec::new();
    split(hir, &[], &[], &mut out)?;
    (out.len() >= 2).then_some(out)
}

fn split(h: &Hir, prefix: &[Hir], checks: &[Hir], out: &mut Vec<Branch>) -> Option<()> {
    let (head, alts): (&[Hir], &[Hir]) = match h.kind() {
        HirKind::Concat(subs) => match subs.split_last() {
            Some((last, head)) => match last.kind() {
                HirKind::Alternation(alts) => (head, alts),
                _ => (&[], &[]),
            },
            None => (&[], &[]),
        },
        HirKind::Alternation(alts) => (&[], alts),
        _ => (&[], &[]),
    };
    if alts.is_empty() {
        if out.len() >= MAX_BRANCHES {
            return None;
        }
        let mut all = prefix.to_vec();
        all.push(h.clone());
        out.push(Branch {
            hir: Hir::concat(all),
            prefixes: checks.to_vec(),
        });
        return Some(());
    }
    let mut pre = prefix.to_vec();
    pre.extend(head.iter().cloned());
    let mut checks = checks.to_vec();
    if !pre.is_empty() {
        checks.push(Hir::concat(pre.clone()));
    }
    for a in alts {
        split(a, &pre, &checks, out)?;
    }
    Some(())
}

/// A branch compiled: its capture engine and the automata of its prefixes.
#[derive(Debug)]
pub(crate) struct BranchEngine {
    bt: BoundedBacktracker,
    prefixes: Vec<DFA>,
    /// The branch's groups without the backtracker, when its shape allows.
    res: Option<Resolver>,
}

impl BranchEngine {
    /// `None` when a part does not compile.
    pub(crate) fn new(b: &Branch) -> Option<BranchEngine> {
        let nfa = |h: &Hir, which| {
            thompson::Compiler::new()
                .configure(
                    thompson::Config::new()
                        .utf8(false)
                        .nfa_size_limit(Some(64 << 20))
                        .which_captures(which),
                )
                .build_from_hir(h)
                .ok()
        };
        let bt = BoundedBacktracker::builder()
            .build_from_nfa(nfa(&b.hir, WhichCaptures::All)?)
            .ok()?;
        let prefixes = b
            .prefixes
            .iter()
            .map(|p| {
                DFA::builder()
                    .configure(
                        DFA::config()
                            .match_kind(regex_automata::MatchKind::All)
                            .cache_capacity(1 << 20),
                    )
                    .build_from_nfa(nfa(p, WhichCaptures::Implicit)?)
                    .ok()
            })
            .collect::<Option<Vec<_>>>()?;
        let groups = bt
            .get_nfa()
            .group_info()
            .group_len(regex_automata::PatternID::ZERO);
        let res = Resolver::new(&b.hir).filter(|r| r.groups_len() == groups);
        Some(BranchEngine { bt, prefixes, res })
    }

    /// Per-thread caches and slots for [`BranchEngine::search`].
    pub(crate) fn new_slots(&self) -> BranchSlots {
        BranchSlots {
            bt: self.bt.create_cache(),
            prefixes: self.prefixes.iter().map(DFA::create_cache).collect(),
            slots: vec![None; self.bt.get_nfa().group_info().slot_len()],
            res: self.res.as_ref().map(Resolver::create_cache),
            resolved: false,
        }
    }

    /// The branch's groups on `hay`, where the set found it matching `start..end`: `Some`
    /// when every prefix ends at one place and the capture engine confirms the match (then
    /// [`BranchSlots::get`] gives group spans by the pattern's own group indexes), `None`
    /// when the caller must run the whole pattern.
    pub(crate) fn search(
        &self,
        s: &mut BranchSlots,
        hay: &[u8],
        start: usize,
        end: usize,
    ) -> Option<()> {
        for (dfa, cache) in self.prefixes.iter().zip(s.prefixes.iter_mut()) {
            let input = Input::new(hay).range(start..).anchored(Anchored::Yes);
            let longest = dfa.try_search_fwd(cache, &input).ok()??;
            let shortest = dfa.try_search_fwd(cache, &input.earliest(true)).ok()??;
            if longest.offset() != shortest.offset() {
                return None;
            }
        }
        s.resolved = false;
        if let (Some(r), Some(c)) = (&self.res, s.res.as_mut()) {
            if r.resolve(c, hay, start, end) {
                s.resolved = true;
                return Some(());
            }
            resolve::count_fallback();
        }
        let input = Input::new(hay).range(start..end).anchored(Anchored::Yes);
        self.bt
            .try_search_slots(&mut s.bt, &input, &mut s.slots)
            .ok()?
            .map(|_| ())
    }

    /// Test hook ([`crate::Regex::resolver_diff`]): the branch's preferred match on `hay`
    /// (anchored at its start) resolved by the resolver and by the backtracker. `Ok(None)`
    /// when there is nothing to compare, `Ok(Some(answered))` when they agree.
    pub(crate) fn diff(&self, hay: &[u8]) -> Result<Option<bool>, String> {
        let Some(r) = &self.res else {
            return Ok(None);
        };
        let mut s = self.new_slots();
        let input = Input::new(hay).anchored(Anchored::Yes);
        let Ok(Some(_)) = self.bt.try_search_slots(&mut s.bt, &input, &mut s.slots) else {
            return Ok(None);
        };
        let want = crate::engine::spans_of(&s.slots);
        let Some(Some((_, end))) = want.first().copied() else {
            return Ok(None);
        };
        let Some(c) = s.res.as_mut() else {
            return Ok(None);
        };
        if !r.resolve(c, hay, 0, end) {
            return Ok(Some(false));
        }
        let got: Vec<_> = (0..want.len()).map(|i| c.get(i)).collect();
        if want != got {
            return Err(format!("resolver {got:?}, backtracker {want:?}"));
        }
        Ok(Some(true))
    }
}

/// Caches and slots of one [`BranchEngine`] (one per thread).
#[derive(Debug, Clone)]
pub(crate) struct BranchSlots {
    bt: backtrack::Cache,
    prefixes: Vec<DfaCache>,
    slots: Vec<Option<NonMaxUsize>>,
    res: Option<ResolveCache>,
    /// The last search's groups are the resolver's.
    resolved: bool,
}

impl BranchSlots {
    /// Group `i`'s span after a successful [`BranchEngine::search`] (groups of other
    /// branches: `None`).
    pub(crate) fn get(&self, i: usize) -> Option<(usize, usize)> {
        if self.resolved {
            return self.res.as_ref().and_then(|c| c.get(i));
        }
        let s = self.slots.get(i * 2).copied().flatten()?;
        let e = self.slots.get(i * 2 + 1).copied().flatten()?;
        Some((s.get(), e.get()))
    }
}
