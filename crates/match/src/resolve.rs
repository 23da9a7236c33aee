//! Group spans of a known match without a backtracker: the pattern is cut into pieces
//! (runs without groups, groups, alternations and greedy optional parts holding groups) and
//! resolved left to right, each piece by an anchored leftmost-first lazy-DFA search (or a
//! byte comparison, a walk over a class run, or the scan of `<HOST>`'s expansion,
//! [`crate::host_scan`]).
//!
//! Why it is exact: the preferred (leftmost-first) match is the first complete path of the
//! pattern in priority order, and that order is lexicographic over the pieces' own choices.
//! At each piece the resolver takes a choice that comes no later than the first one the
//! rest of the pattern can complete: the piece's own first complete path, or, for a class
//! run, its first length after which the next piece matches (a necessary condition for the
//! rest to complete). If the chain of such choices completes and ends where the known match
//! ends, it is a complete path that no complete path precedes, so it is the preferred one
//! and its group spans are the backtracker's. When a piece finds nothing or the end
//! differs, the caller asks the backtracker ([`fallbacks`] counts those searches).

use std::sync::atomic::{AtomicU64, Ordering};

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::primitives::PatternID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind, Repetition};

use crate::host_scan::HostScan;

/// At most this many distinct group-free parts per pattern (each is a DFA pattern).
const MAX_PARTS: usize = 64;

/// At most this many lengths of a class run are tried against the next part (else the
/// backtracker decides): each try is a search, and an attacker's long run must not make
/// the resolver quadratic.
const MAX_TRIES: usize = 64;

/// Longer matches are left to the caller's engines (an attacker's 100 KB line): the class
/// runs' tries each search on, and the long-match path (`long.rs`) is already bounded.
const MAX_SPAN: usize = crate::long::MIN_SPAN;

/// Searches the resolver handed back to the backtracker (process-wide).
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// How many capture searches the resolver handed back to the backtracker so far.
pub fn fallbacks() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// Counts one search handed back to the backtracker.
pub(crate) fn count_fallback() {
    FALLBACKS.fetch_add(1, Ordering::Relaxed);
}

/// One part of the pattern's tree.
#[derive(Debug)]
struct Node {
    /// The part without its groups, as a DFA pattern.
    pid: PatternID,
    /// It can match the empty string.
    nullable: bool,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// No group inside: a literal compared as bytes, runs of one class (alternatives in
    /// order), or anything else (the DFA's first path).
    Run(Run),
    /// A capture group.
    Group { index: usize, sub: Box<Node> },
    /// Parts in sequence.
    Concat(Vec<Node>),
    /// Alternatives with groups inside: the first that matches is taken.
    Alt(Vec<Node>),
    /// `(?:X)?`, greedy, with groups inside: X when it matches, else nothing.
    Opt(Box<Node>),
    /// The expansion of `<HOST>` or `<ADDR>`: its own preferred match, by one scan.
    Host(HostScan),
}

#[derive(Debug)]
enum Run {
    Literal(Box<[u8]>),
    Reps(Vec<ClassRep>),
    /// `<HOST>` or `<ADDR>` without its groups.
    Host(HostScan),
    Other,
}

/// `[class]{min,max}`, greedy or lazy.
#[derive(Debug)]
struct ClassRep {
    set: Box<[bool; 256]>,
    min: usize,
    max: usize,
    greedy: bool,
}

/// A pattern's resolver (see the module's notes).
#[derive(Debug)]
pub(crate) struct Resolver {
    dfa: DFA,
    /// For each part: the bytes a match of it can start with, when known (it cannot match
    /// the empty string and its prefixes are a short list): a search from elsewhere fails
    /// without the DFA.
    firsts: Vec<Option<Box<[bool; 256]>>>,
    /// For each part: its shape, so that a search of a literal or of class runs (the
    /// part after a class run, tested at each length) is a byte comparison or a walk
    /// instead of a DFA search.
    shapes: Vec<Run>,
    root: Node,
    groups: usize,
}

/// Per-thread state of a [`Resolver`]: its DFA cache, the spans found, the last searches.
#[derive(Debug, Clone)]
pub(crate) struct ResolveCache {
    dfa: DfaCache,
    spans: Vec<Option<(usize, usize)>>,
    /// Recent searches: (pattern, start, end found), most recent first.
    recent: [(u32, usize, Option<usize>); 4],
}

impl ResolveCache {
    /// Group `i`'s span after a successful [`Resolver::resolve`].
    pub(crate) fn get(&self, i: usize) -> Option<(usize, usize)> {
        self.spans.get(i).copied().flatten()
    }
}

/// Builds the tree; `parts` collects the group-free patterns (deduplicated).
struct Builder {
    parts: Vec<Hir>,
    /// The largest group index seen (a branch of a split pattern keeps the whole
    /// pattern's indexes, so they need not be dense).
    max_index: usize,
}

impl Builder {
    fn pid(&mut self, h: Hir) -> Option<PatternID> {
        if let Some(i) = self.parts.iter().position(|p| *p == h) {
            return PatternID::new(i).ok();
        }
        if self.parts.len() >= MAX_PARTS {
            return None;
        }
        self.parts.push(h);
        PatternID::new(self.parts.len() - 1).ok()
    }

    fn node(&mut self, h: &Hir) -> Option<Node> {
        if h.properties().explicit_captures_len() == 0 {
            let run = run_of(h);
            return Some(Node {
                pid: self.pid(h.clone())?,
                nullable: nullable(h),
                kind: Kind::Run(run),
            });
        }
        let pid = self.pid(strip(h))?;
        if let Some(host) = HostScan::recognise(h) {
            self.max_index = self.max_index.max(host.max_group());
            return Some(Node {
                pid,
                nullable: nullable(h),
                kind: Kind::Host(host),
            });
        }
        let kind = match h.kind() {
            HirKind::Capture(c) => {
                let index = usize::try_from(c.index).ok()?;
                self.max_index = self.max_index.max(index);
                Kind::Group {
                    index,
                    sub: Box::new(self.node(&c.sub)?),
                }
            }
            HirKind::Concat(subs) => {
                let mut out = Vec::new();
                let mut run: Vec<Hir> = Vec::new();
                for s in subs {
                    if s.properties().explicit_captures_len() == 0 {
                        run.push(s.clone());
                        continue;
                    }
                    if !run.is_empty() {
                        out.push(self.node(&Hir::concat(std::mem::take(&mut run)))?);
                    }
                    out.push(self.node(s)?);
                }
                if !run.is_empty() {
                    out.push(self.node(&Hir::concat(run))?);
                }
                Kind::Concat(out)
            }
            HirKind::Alternation(alts) => {
                Kind::Alt(alts.iter().map(|a| self.node(a)).collect::<Option<_>>()?)
            }
            HirKind::Repetition(Repetition {
                min: 0,
                max: Some(1),
                greedy: true,
                sub,
            }) => Kind::Opt(Box::new(self.node(sub)?)),
            _ => return None,
        };
        Some(Node {
            pid,
            nullable: nullable(h),
            kind,
        })
    }
}

fn nullable(h: &Hir) -> bool {
    h.properties().minimum_len().is_none_or(|n| n == 0)
}

/// `h` without its capture groups.
pub(crate) fn strip(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Capture(c) => strip(&c.sub),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(strip).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(strip).collect()),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(strip(&r.sub)),
        }),
        _ => h.clone(),
    }
}

/// The bytes a match of `h` can start with, when `h` cannot match the empty string and its
/// prefixes are a finite list.
fn first_bytes(h: &Hir) -> Option<Box<[bool; 256]>> {
    if h.properties().minimum_len().is_none_or(|n| n == 0) {
        return None;
    }
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(h);
    let mut set = Box::new([false; 256]);
    for lit in seq.literals()? {
        set[usize::from(*lit.as_bytes().first()?)] = true;
    }
    Some(set)
}

/// How a group-free part is resolved.
fn run_of(h: &Hir) -> Run {
    match shape_of(h) {
        Run::Other => HostScan::recognise_bare(h).map_or(Run::Other, Run::Host),
        run => run,
    }
}

/// A group-free part as a literal or class runs.
fn shape_of(h: &Hir) -> Run {
    match h.kind() {
        HirKind::Literal(l) => Run::Literal(l.0.clone()),
        HirKind::Repetition(_) => class_rep(h).map_or(Run::Other, |r| Run::Reps(vec![r])),
        HirKind::Alternation(alts) => alts
            .iter()
            .map(class_rep)
            .collect::<Option<Vec<_>>>()
            .map_or(Run::Other, Run::Reps),
        _ => Run::Other,
    }
}

/// `h` as a repetition of one byte class.
fn class_rep(h: &Hir) -> Option<ClassRep> {
    let HirKind::Repetition(r) = h.kind() else {
        return None;
    };
    let mut set = Box::new([false; 256]);
    match r.sub.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            for range in c.iter() {
                for b in range.start()..=range.end() {
                    set[usize::from(b)] = true;
                }
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            for range in c.iter() {
                // Only ASCII classes: the haystacks here are ASCII.
                let (a, b) = (u32::from(range.start()), u32::from(range.end()));
                if b > 0x7f {
                    return None;
                }
                for x in a..=b {
                    set[x as usize] = true;
                }
            }
        }
        HirKind::Literal(l) if l.0.len() == 1 => set[usize::from(l.0[0])] = true,
        _ => return None,
    }
    Some(ClassRep {
        set,
        min: usize::try_from(r.min).ok()?,
        max: r
            .max
            .map_or(Some(usize::MAX), |m| usize::try_from(m).ok())?,
        greedy: r.greedy,
    })
}

impl Resolver {
    /// The resolver of `hir` (parsed as the ASCII automata parse their pattern), `None`
    /// when its shape is not supported (a repetition holding a group, a lazy optional
    /// group...) or it does not compile.
    pub(crate) fn new(hir: &Hir) -> Option<Resolver> {
        let mut b = Builder {
            parts: Vec::new(),
            max_index: 0,
        };
        let root = b.node(hir)?;
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(64 << 20))
                    .which_captures(WhichCaptures::None),
            )
            .build_many_from_hir(&b.parts)
            .ok()?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::LeftmostFirst)
                    .starts_for_each_pattern(true)
                    .cache_capacity(1 << 20),
            )
            .build_from_nfa(nfa)
            .ok()?;
        let groups = b.max_index + 1;
        let firsts = b.parts.iter().map(first_bytes).collect();
        let shapes = b.parts.iter().map(run_of).collect();
        Some(Resolver {
            dfa,
            firsts,
            shapes,
            root,
            groups,
        })
    }

    /// Number of groups (group 0 included) the spans cover.
    pub(crate) fn groups_len(&self) -> usize {
        self.groups
    }

    /// Fresh per-thread state.
    pub(crate) fn create_cache(&self) -> ResolveCache {
        ResolveCache {
            dfa: self.dfa.create_cache(),
            spans: vec![None; self.groups],
            recent: [(u32::MAX, 0, None); 4],
        }
    }

    /// The group spans of the pattern's preferred match on `hay`, known to be
    /// `start..end` (anchored at `start`), into `c` ([`ResolveCache::get`]). False when the
    /// resolver cannot tell (the caller then runs the backtracker).
    pub(crate) fn resolve(
        &self,
        c: &mut ResolveCache,
        hay: &[u8],
        start: usize,
        end: usize,
    ) -> bool {
        if start > end || end > hay.len() || end - start > MAX_SPAN {
            return false;
        }
        c.spans.iter_mut().for_each(|s| *s = None);
        c.recent = [(u32::MAX, 0, None); 4];
        let cx = Cx { hay, end };
        match self.node(c, &cx, &self.root, start, None) {
            Some(q) if q == end => {
                if let Some(s) = c.spans.first_mut() {
                    *s = Some((start, end));
                }
                true
            }
            _ => false,
        }
    }

    /// Resolves `n` from `p`; `next` is the part that follows it, if known. Returns where
    /// the chosen path of `n` ends.
    fn node(
        &self,
        c: &mut ResolveCache,
        cx: &Cx<'_>,
        n: &Node,
        p: usize,
        next: Option<PatternID>,
    ) -> Option<usize> {
        match &n.kind {
            Kind::Run(Run::Literal(l)) => literal_end(cx, l, p),
            Kind::Run(Run::Reps(reps)) => self.reps(c, cx, reps, p, next),
            Kind::Run(Run::Host(host)) => host_end(cx, host, p),
            Kind::Run(Run::Other) => self.search(c, cx, n.pid, p),
            // The closing `]` is taken when what follows can match after it, as a class
            // run's length is chosen.
            Kind::Host(host) => {
                let hay = cx.hay.get(..cx.end)?;
                let m = host.scan_before(hay, p, |q| {
                    next.is_none_or(|nx| self.search(c, cx, nx, q).is_some())
                })?;
                host.write_spans(&m, &mut c.spans);
                Some(m.end)
            }
            Kind::Group { index, sub } => {
                let q = self.node(c, cx, sub, p, next)?;
                if let Some(s) = c.spans.get_mut(*index) {
                    *s = Some((p, q));
                }
                Some(q)
            }
            Kind::Concat(parts) => {
                let mut p = p;
                for (i, part) in parts.iter().enumerate() {
                    let after = parts.get(i + 1).map(|x| x.pid).or(next);
                    p = self.node(c, cx, part, p, after)?;
                }
                Some(p)
            }
            // An alternative (or the optional part) that may match is taken: it is the
            // first choice left, so no later one can precede it; if it does not match
            // after all, the chain fails and the backtracker decides.
            Kind::Alt(alts) => {
                let last = alts.len().saturating_sub(1);
                for (i, a) in alts.iter().enumerate() {
                    // The last alternative needs no test of its own: it is resolved anyway.
                    if i == last || self.may_match(c, cx, a, p) {
                        return self.node(c, cx, a, p, next);
                    }
                }
                None
            }
            Kind::Opt(sub) => {
                if self.may_match(c, cx, sub, p) {
                    self.node(c, cx, sub, p, next)
                } else {
                    Some(p)
                }
            }
        }
    }

    /// False only when `n` cannot match at `p`: a test of its first part (whose search
    /// the resolution then finds in [`ResolveCache`]'s recent ones).
    fn may_match(&self, c: &mut ResolveCache, cx: &Cx<'_>, n: &Node, p: usize) -> bool {
        match &n.kind {
            Kind::Run(Run::Literal(l)) => cx
                .hay
                .get(p..cx.end)
                .is_some_and(|rest| rest.starts_with(l)),
            Kind::Run(Run::Reps(reps)) => {
                let rest = cx.hay.get(p..cx.end).unwrap_or_default();
                reps.iter().any(|r| {
                    r.min == 0
                        || (rest.len() >= r.min
                            && rest.iter().take(r.min).all(|b| r.set[usize::from(*b)]))
                })
            }
            Kind::Group { sub, .. } => self.may_match(c, cx, sub, p),
            Kind::Run(Run::Host(host)) | Kind::Host(host) => host_end(cx, host, p).is_some(),
            // The first part tells, unless it can match nothing (then what follows it
            // would have to be tested too: the whole part is searched instead).
            Kind::Concat(parts) => match parts.first() {
                Some(first) if !first.nullable => self.may_match(c, cx, first, p),
                _ => self.search(c, cx, n.pid, p).is_some(),
            },
            Kind::Run(Run::Other) | Kind::Alt(_) | Kind::Opt(_) => {
                self.search(c, cx, n.pid, p).is_some()
            }
        }
    }

    /// Runs of one class, alternatives in order: the first length (longest first when
    /// greedy) after which `next` matches; without `next`, the first length.
    fn reps(
        &self,
        c: &mut ResolveCache,
        cx: &Cx<'_>,
        reps: &[ClassRep],
        p: usize,
        next: Option<PatternID>,
    ) -> Option<usize> {
        let rest = cx.hay.get(p..cx.end)?;
        for r in reps {
            let limit = rest.len().min(r.max);
            let run = rest
                .iter()
                .take(limit)
                .position(|b| !r.set[usize::from(*b)])
                .unwrap_or(limit);
            if run < r.min {
                continue;
            }
            let Some(next) = next else {
                return Some(p + if r.greedy { run } else { r.min });
            };
            let lens = r.min..=run;
            let found = if r.greedy {
                lens.rev()
                    .take(MAX_TRIES)
                    .find(|len| self.search(c, cx, next, p + len).is_some())
            } else {
                lens.take(MAX_TRIES)
                    .find(|len| self.search(c, cx, next, p + len).is_some())
            };
            match found {
                Some(len) => return Some(p + len),
                // Lengths left untried: the first that fits may be among them.
                None if run - r.min >= MAX_TRIES => return None,
                None => {}
            }
        }
        None
    }

    /// Where the first path of part `pid` from `p` ends (anchored, bounded by the match's
    /// end, look-arounds seeing the whole haystack); `None` when it has none.
    fn search(&self, c: &mut ResolveCache, cx: &Cx<'_>, pid: PatternID, p: usize) -> Option<usize> {
        // A literal's, class runs' or address's first path is found without the DFA (none
        // holds a look-around, so only the bytes of `p..end` decide).
        match self.shapes.get(pid.as_usize()) {
            Some(Run::Literal(l)) => return literal_end(cx, l, p),
            Some(Run::Reps(reps)) => return self.reps(c, cx, reps, p, None),
            Some(Run::Host(host)) => return host_end(cx, host, p),
            Some(Run::Other) | None => {}
        }
        let key = pid.as_u32();
        if let Some(hit) = c.recent.iter().find(|r| r.0 == key && r.1 == p) {
            return hit.2;
        }
        if p > cx.end {
            return None;
        }
        if let Some(Some(first)) = self.firsts.get(pid.as_usize()) {
            if !cx.hay[..cx.end]
                .get(p)
                .is_some_and(|b| first[usize::from(*b)])
            {
                return None;
            }
        }
        // A DFA that gives up counts as no match: the chain then fails and the caller
        // falls back.
        let found = self.first_path_end(&mut c.dfa, cx, pid, p);
        c.recent.rotate_right(1);
        c.recent[0] = (key, p, found);
        found
    }
}

impl Resolver {
    /// The anchored leftmost-first search of part `pid` over `p..cx.end` as the lazy DFA's
    /// own forward search does it (matches delayed by one byte, the byte after the range
    /// or the end of input deciding a match at its end), without its per-search setup
    /// (prefilter, unrolling, cache bookkeeping): these searches are short (an address,
    /// a word) and there are a few per resolved line. `None` also when the DFA gives up.
    #[inline]
    fn first_path_end(
        &self,
        cache: &mut DfaCache,
        cx: &Cx<'_>,
        pid: PatternID,
        p: usize,
    ) -> Option<usize> {
        let behind = p.checked_sub(1).and_then(|i| cx.hay.get(i).copied());
        let config = start::Config::new()
            .anchored(Anchored::Pattern(pid))
            .look_behind(behind);
        let mut sid = self.dfa.start_state(cache, &config).ok()?;
        let mut found = None;
        for (at, &b) in cx.hay.get(p..cx.end)?.iter().enumerate() {
            sid = self.dfa.next_state(cache, sid, b).ok()?;
            if sid.is_tagged() {
                if sid.is_match() {
                    found = Some(p + at);
                } else if sid.is_dead() {
                    return found;
                } else if sid.is_quit() {
                    return None;
                }
            }
        }
        sid = match cx.hay.get(cx.end) {
            Some(&b) => self.dfa.next_state(cache, sid, b).ok()?,
            None => self.dfa.next_eoi_state(cache, sid).ok()?,
        };
        if sid.is_match() {
            found = Some(cx.end);
        } else if sid.is_quit() {
            return None;
        }
        found
    }
}

/// Where the preferred match of `<HOST>`/`<ADDR>` from `p` ends (before the match's end).
fn host_end(cx: &Cx<'_>, host: &HostScan, p: usize) -> Option<usize> {
    host.scan(cx.hay.get(..cx.end)?, p).map(|m| m.end)
}

/// Where literal `l` ends when it is found at `p` (before the match's end).
fn literal_end(cx: &Cx<'_>, l: &[u8], p: usize) -> Option<usize> {
    let q = p.checked_add(l.len())?;
    (q <= cx.end && cx.hay.get(p..q)? == l).then_some(q)
}

/// The search's haystack and the known match's end.
struct Cx<'h> {
    hay: &'h [u8],
    end: usize,
}

#[cfg(test)]
mod tests {
    use crate::{PyFlags, Regex};

    #[test]
    fn chains_that_must_back_off_agree_with_the_backtracker() {
        let cases = [
            (r"^(?P<a>\w+)(?P<b>\w+)$", "abcd"),
            (
                r"^x (?P<u>.*?) from (?P<h>\d+)(?: port \d+)?$",
                "x a from 2 from 3 port 4",
            ),
            (r"^(?P<u>\S+|.*?) from (?P<h>\d+)$", "a b from 1"),
            (
                r"^(?:\[?(?P<v4>\d+\.\d+)\]?|(?P<dns>[\w.]*\w))(?P<t> t)?$",
                "1.2.x t",
            ),
            (r"^(?P<p>a)?(?P<q>a+)b$", "aab"),
            (r"^(?:(?P<k>key)|\S+) (?P<r>.+)$", "keyring x"),
        ];
        let mut answered = 0;
        for (p, line) in cases {
            let re = Regex::new(p, PyFlags::default()).unwrap();
            let hay = format!("{line}\n");
            let (a, _) = re
                .resolver_diff(&hay)
                .unwrap_or_else(|e| panic!("{p} {line}: {e}"));
            answered += a;
        }
        assert!(answered >= 3, "{answered}");
    }
}
