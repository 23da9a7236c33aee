//! The hybrid engine: the linear-time `regex` crate whenever the translated pattern allows,
//! else `fancy-regex` with a backtracking limit behind a linear "relaxed superset" prefilter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use regex_automata::meta;
use regex_automata::nfa::thompson::backtrack::{self, BoundedBacktracker};
use regex_automata::nfa::thompson::NFA;
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::Input;

use crate::error::{Error, ErrorKind};
use crate::flat::{self, BranchEngine, BranchSlots};
use crate::long::{self, LongNfa};
use crate::resolve::{self, ResolveCache, Resolver};
use crate::rewrite::{linearize, Check, Linearized};
use crate::translate::{translate, PyFlags, Translated};

/// Default backtracking limit of the fallback engine (steps per search).
pub const DEFAULT_BACKTRACK_LIMIT: usize = 1_000_000;

/// Lazy-DFA cache limit per pattern. The default 2 MiB thrashes on fail2ban's patterns.
pub(crate) const DFA_SIZE_LIMIT: usize = 16 << 20;

/// A Python `re` pattern compiled for Rust.
///
/// Searches behave like Python's `re.search` (spans are byte offsets). Searches that need
/// the backtracking engine and hit its limit return [`ErrorKind::LimitHit`] and are
/// counted in [`Regex::limit_hits`]; they are never reported as a silent non-match.
#[derive(Debug)]
pub struct Regex {
    python: String,
    exec: Exec,
    /// Fancy form of a linear pattern with a single-line `$`, for subjects with inner newlines.
    strict: Option<(String, OnceLock<Option<fancy_regex::Regex>>)>,
    names: Vec<Option<Box<str>>>,
    relaxed: String,
    /// The linear pattern compiled without Unicode classes: the same answers on ASCII
    /// subjects (Unicode `\w`, `\s`, `\d`, `.`, `\b` agree with ASCII ones there) from far
    /// smaller automata. `None` when the pattern needs Unicode (a non-ASCII literal...).
    /// Compiled on first use: most searches start from a set's span and use the capture
    /// engine alone ([`Regex::captures_at`]).
    ascii: Option<LazyAscii>,
    /// The pattern parsed as [`LazyAscii`] reads it, kept while the filter is built (its
    /// sets and heads reuse it) and dropped after ([`Regex::drop_parsed`]).
    parsed: Option<regex_syntax::hir::Hir>,
    /// `ascii`'s NFA for groups of long matches (built on the first one).
    long: LongNfa,
    /// The ASCII automaton's capture engine alone, for [`Regex::captures_at`] (compiled on
    /// first use): the caller already knows the match's span, so meta's DFA passes would
    /// only find it again.
    spans: OnceLock<Option<BoundedBacktracker>>,
    /// The resolver of [`Regex::captures_at`]'s groups without a backtracker (compiled on
    /// first use; `None` when the pattern's shape is not supported).
    resolver: OnceLock<Option<Resolver>>,
    /// The engines of [`Regex::branches`] (compiled on first use).
    branch_engines: OnceLock<Option<Vec<BranchEngine>>>,
    backtrack_limit: usize,
    limit_hits: AtomicU64,
    /// Tells this regex's [`Captures`] from another's (their search caches must not mix).
    id: u64,
}

/// The ASCII automaton of a linear pattern, compiled on first use.
#[derive(Debug)]
struct LazyAscii {
    /// The automaton's slot count (two per group, the whole match's included), known from
    /// the parse.
    slot_len: usize,
    cell: OnceLock<Option<meta::Regex>>,
}

impl LazyAscii {
    /// For `hir`, the parse of an ASCII pattern by [`parse_ascii`].
    fn new(hir: &regex_syntax::hir::Hir) -> LazyAscii {
        LazyAscii {
            slot_len: 2 * (hir.properties().explicit_captures_len() + 1),
            cell: OnceLock::new(),
        }
    }

    /// The automaton of `pattern` (this one's), compiled now if this is the first call.
    fn get(&self, pattern: &str) -> Option<&meta::Regex> {
        self.cell.get_or_init(|| compile_ascii(pattern)).as_ref()
    }
}

/// Group names by index of a parsed pattern (index 0, the whole match, has none), as its
/// automaton's group info gives them.
fn hir_names(hir: &regex_syntax::hir::Hir) -> Vec<Option<Box<str>>> {
    fn walk(h: &regex_syntax::hir::Hir, names: &mut [Option<Box<str>>]) {
        use regex_syntax::hir::HirKind;
        match h.kind() {
            HirKind::Capture(c) => {
                if let (Some(n), Some(slot)) = (&c.name, names.get_mut(c.index as usize)) {
                    *slot = Some(n.clone());
                }
                walk(&c.sub, names);
            }
            HirKind::Repetition(r) => walk(&r.sub, names),
            HirKind::Concat(subs) | HirKind::Alternation(subs) => {
                subs.iter().for_each(|s| walk(s, names));
            }
            _ => {}
        }
    }
    let mut names = vec![None; hir.properties().explicit_captures_len() + 1];
    walk(hir, &mut names);
    names
}

/// Source of [`Regex`] ids.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The Unicode form of a linear pattern. When an ASCII form exists it serves every ASCII
/// subject, so this one is compiled on the first non-ASCII subject only (it is the larger
/// automaton by far: Unicode `\w`, `\S`, `.`).
#[derive(Debug)]
struct UnicodeRe {
    pattern: String,
    cell: OnceLock<Result<regex::Regex, String>>,
}

impl UnicodeRe {
    /// Compiled now (`eager`, e.g. when there is no ASCII form) or on first use.
    fn new(pattern: String, eager: bool) -> Result<UnicodeRe, String> {
        let re = UnicodeRe {
            pattern,
            cell: OnceLock::new(),
        };
        if eager {
            re.get().map_err(Clone::clone)?;
        }
        Ok(re)
    }

    fn get(&self) -> Result<&regex::Regex, &String> {
        self.cell
            .get_or_init(|| compile_linear(&self.pattern).map_err(|e| e.to_string()))
            .as_ref()
    }

    fn as_str(&self) -> &str {
        &self.pattern
    }
}

#[derive(Debug)]
enum Exec {
    Linear(UnicodeRe),
    /// A linear rewrite of a pattern with conditionals or literal look-aheads: its groups map
    /// to the original ones, its look-aheads are checked after the search, and a search whose
    /// checks fail is run again by the backtracker (compiled on first need).
    Checked {
        re: UnicodeRe,
        groups: Vec<Option<usize>>,
        checks: Vec<Check>,
        fancy: String,
        exact: OnceLock<Option<fancy_regex::Regex>>,
        /// A linear pattern exact where `re`'s checks fail (asked before the backtracker).
        exact_linear: Option<Box<ExactLinear>>,
    },
    Fancy {
        prefilter: regex::Regex,
        exact: Box<fancy_regex::Regex>,
    },
}

/// The exact linear form of a checked pattern ([`crate::rewrite::Linearized::exact`]),
/// compiled for ASCII subjects on the first search whose checks fail.
#[derive(Debug)]
struct ExactLinear {
    pattern: String,
    /// For each group of `pattern` (index 1…), the original group it stands for.
    groups: Vec<Option<usize>>,
    re: OnceLock<Option<meta::Regex>>,
}

/// Reusable capture slots for one [`Regex`] (see [`Regex::captures`]).
#[derive(Debug, Clone)]
pub struct Captures {
    /// The [`Regex`] these were made for (0: none).
    owner: u64,
    locs: Option<regex::CaptureLocations>,
    ascii: Option<AsciiSlots>,
    spans: Vec<Option<(usize, usize)>>,
    /// Caches of the regex's branch engines ([`Regex::captures_branch`]), made on use.
    branches: Vec<Option<BranchSlots>>,
    /// The resolver's state ([`Regex::captures_at`]), made on use.
    resolve: Option<ResolveCache>,
}

/// Slots and search cache of the ASCII automaton. The cache belongs to these slots (one
/// per regex per thread), not to a pool shared by threads: a pool keeps a cache per
/// stack it shards into, so threads started per batch warmed several copies of every
/// lazy DFA.
#[derive(Debug, Clone)]
struct AsciiSlots {
    /// Whether searches use `cache` (else the regex's own pool: one-off searches).
    own: bool,
    /// Made on the first search that needs it: most searches now start from a set's span
    /// ([`Regex::captures_at`]), and a meta cache holds every engine's buffers (~tens of
    /// KiB per regex and thread).
    cache: Option<meta::Cache>,
    /// Cache of the regex's own [`BoundedBacktracker`] (made on first use).
    bt: Option<backtrack::Cache>,
    slots: Vec<Option<NonMaxUsize>>,
}

impl AsciiSlots {
    fn new(re: &meta::Regex, own_cache: bool) -> AsciiSlots {
        AsciiSlots::with_len(re.group_info().slot_len(), own_cache)
    }

    /// Slots for an automaton with `slot_len` slots.
    fn with_len(slot_len: usize, own_cache: bool) -> AsciiSlots {
        AsciiSlots {
            own: own_cache,
            cache: None,
            bt: None,
            slots: vec![None; slot_len],
        }
    }

    /// The cache for `re` (made now if these slots own one), `None` for the pool.
    fn cache(&mut self, re: &meta::Regex) -> Option<&mut meta::Cache> {
        if self.own && self.cache.is_none() {
            self.cache = Some(re.create_cache());
        }
        self.cache.as_mut()
    }

    /// Searches `hay`; on a match, group `i`'s span is [`AsciiSlots::get`]`(i)`. A match of
    /// [`long::MIN_SPAN`] bytes or more has its groups resolved by [`long::captures`] with
    /// the NFA `long_nfa` gives (`re`'s).
    fn search<'n>(
        &mut self,
        re: &meta::Regex,
        hay: &[u8],
        long_nfa: impl FnOnce() -> Option<&'n NFA>,
    ) -> bool {
        let input = Input::new(hay);
        if hay.len() >= long::MIN_SPAN {
            // The DFA alone first (the meta engine's own first step): where the match is.
            let found = match self.cache(re) {
                Some(c) => re.search_with(c, &input),
                None => re.search(&input),
            };
            let Some(m) = found else {
                return false;
            };
            if m.len() >= long::MIN_SPAN {
                if let Some(nfa) = long_nfa() {
                    self.slots.iter_mut().for_each(|s| *s = None);
                    if long::captures(nfa, hay, m.range(), &mut self.slots) {
                        return true;
                    }
                }
            }
        }
        let mut slots = std::mem::take(&mut self.slots);
        let found = match self.cache(re) {
            Some(c) => re.search_slots_with(c, &input, &mut slots),
            None => re.search_slots(&input, &mut slots),
        };
        self.slots = slots;
        found.is_some()
    }

    /// Searches `hay` anchored on `start..end` with the capture engine `bt` alone. `None`
    /// when it cannot (the span is too long for its visited set).
    fn search_span(
        &mut self,
        bt: &BoundedBacktracker,
        hay: &[u8],
        start: usize,
        end: usize,
    ) -> Option<bool> {
        let input = Input::new(hay)
            .range(start..end)
            .anchored(regex_automata::Anchored::Yes);
        let cache = self.bt.get_or_insert_with(|| bt.create_cache());
        bt.try_search_slots(cache, &input, &mut self.slots)
            .ok()
            .map(|m| m.is_some())
    }

    fn get(&self, i: usize) -> Option<(usize, usize)> {
        let s = self.slots.get(i * 2).copied().flatten()?;
        let e = self.slots.get(i * 2 + 1).copied().flatten()?;
        Some((s.get(), e.get()))
    }
}

impl Captures {
    /// Slots for a [`crate::head::ContentHead`]'s automaton `re`, reporting `groups` groups.
    pub(crate) fn for_head(re: &meta::Regex, groups: usize) -> Captures {
        Captures {
            owner: 0,
            locs: None,
            ascii: Some(AsciiSlots::new(re, true)),
            spans: vec![None; groups],
            branches: Vec::new(),
            resolve: None,
        }
    }

    /// Searches `hay` with the head automaton `re` these slots were made for (`long_nfa`
    /// gives its NFA for a long match); on a match, its groups' spans are set (the rest
    /// cleared) and the match's span returned.
    pub(crate) fn search_head<'n>(
        &mut self,
        re: &meta::Regex,
        hay: &[u8],
        long_nfa: impl FnOnce() -> Option<&'n NFA>,
    ) -> Option<(usize, usize)> {
        self.spans.iter_mut().for_each(|s| *s = None);
        let slots = self.ascii.as_mut()?;
        if !slots.search(re, hay, long_nfa) {
            return None;
        }
        let n = re.group_info().group_len(regex_automata::PatternID::ZERO);
        for (i, s) in self.spans.iter_mut().enumerate().take(n) {
            *s = slots.get(i);
        }
        slots.get(0)
    }

    /// Sets group `i`'s span.
    pub(crate) fn set_span(&mut self, i: usize, span: Option<(usize, usize)>) {
        if let Some(s) = self.spans.get_mut(i) {
            *s = span;
        }
    }

    /// The span of group `i` (0 = whole match) of the last successful search.
    pub fn get(&self, i: usize) -> Option<(usize, usize)> {
        self.spans.get(i).copied().flatten()
    }

    /// Number of groups, including group 0.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Always false: group 0 exists.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

fn compile_linear(p: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(p)
        .size_limit(64 << 20)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

/// [`compile_linear`] without Unicode, for ASCII subjects: what `regex::bytes::Regex`
/// builds (leftmost-first, no UTF-8 mode), as a `meta::Regex` so callers hold the caches.
pub(crate) fn compile_ascii(p: &str) -> Option<meta::Regex> {
    if !p.is_ascii() {
        return None;
    }
    meta::Builder::new()
        .configure(ascii_config().match_kind(regex_automata::MatchKind::LeftmostFirst))
        .syntax(ascii_syntax())
        .build(p)
        .ok()
}

/// [`compile_ascii`] for a set of patterns: which of them match somewhere (as
/// `regex::bytes::RegexSet`).
pub(crate) fn compile_ascii_set<'p>(
    pats: impl IntoIterator<Item = &'p str>,
) -> Option<meta::Regex> {
    let pats: Vec<&str> = pats.into_iter().collect();
    if !pats.iter().all(|p| p.is_ascii()) {
        return None;
    }
    meta::Builder::new()
        .configure(
            ascii_config()
                .match_kind(regex_automata::MatchKind::All)
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
        )
        .syntax(ascii_syntax())
        .build_many(&pats)
        .ok()
}

/// The failregexes as one leftmost-first set ([`compile_ascii_first`]): a forward lazy DFA
/// only (every pattern starts at the subject's start, so no reverse pass is needed).
#[derive(Debug)]
pub(crate) struct FirstSet {
    dfa: regex_automata::hybrid::dfa::DFA,
    /// For each pattern of the set: the failregex and, for a split one, the branch.
    map: Vec<(usize, Option<usize>)>,
}

/// A [`FirstSet`]'s search cache (one per thread).
pub(crate) type FirstCache = regex_automata::hybrid::dfa::Cache;

impl FirstSet {
    /// A search cache (one per thread).
    pub(crate) fn create_cache(&self) -> FirstCache {
        self.dfa.create_cache()
    }

    /// The first failregex matching `hay` (ASCII), its branch and the match's span:
    /// `Some(None)` when none matches, `None` when the DFA gave up.
    #[allow(clippy::type_complexity)]
    pub(crate) fn first(
        &self,
        cache: &mut FirstCache,
        hay: &[u8],
    ) -> Option<Option<(usize, Option<usize>, usize, usize)>> {
        let input = Input::new(hay).anchored(regex_automata::Anchored::Yes);
        let Some(m) = self.dfa.try_search_fwd(cache, &input).ok()? else {
            return Some(None);
        };
        let (i, k) = self.map.get(m.pattern().as_usize()).copied()?;
        Some(Some((i, k, 0, m.offset())))
    }
}

/// [`compile_ascii`] for regexes that all match only at the subject's start: one
/// leftmost-first search then reports the first regex (in order) that matches, with its
/// preferred match's span, as a search of that regex alone would. A rewritten regex that
/// ends in an alternation enters as one pattern per branch ([`crate::flat`]), so the search
/// also tells the branch. `None` when a regex is not anchored at the start (the leftmost
/// match would then not be the first regex's).
pub(crate) fn compile_ascii_first<'r>(
    regexes: impl IntoIterator<Item = &'r Regex>,
) -> Option<FirstSet> {
    let mut hirs: Vec<std::borrow::Cow<'r, regex_syntax::hir::Hir>> = Vec::new();
    let mut map = Vec::new();
    for (i, re) in regexes.into_iter().enumerate() {
        let p = re.accept_pattern();
        let hir = match &re.parsed {
            Some(h) => std::borrow::Cow::Borrowed(h),
            None => std::borrow::Cow::Owned(parse_ascii(p).filter(|_| p.is_ascii())?),
        };
        if !hir
            .properties()
            .look_set_prefix()
            .contains(regex_syntax::hir::Look::Start)
        {
            return None;
        }
        match re.branches() {
            Some(bs) => {
                for (k, b) in bs.into_iter().enumerate() {
                    hirs.push(std::borrow::Cow::Owned(b.hir));
                    map.push((i, Some(k)));
                }
            }
            None => {
                hirs.push(hir);
                map.push((i, None));
            }
        }
    }
    if hirs.is_empty() {
        return None;
    }
    let nfa = regex_automata::nfa::thompson::Compiler::new()
        .configure(
            regex_automata::nfa::thompson::Config::new()
                .utf8(false)
                .nfa_size_limit(Some(64 << 20))
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
        )
        .build_many_from_hir(&hirs)
        .ok()?;
    let dfa = regex_automata::hybrid::dfa::DFA::builder()
        .configure(
            regex_automata::hybrid::dfa::DFA::config()
                .match_kind(regex_automata::MatchKind::LeftmostFirst)
                .cache_capacity(DFA_SIZE_LIMIT),
        )
        .build_from_nfa(nfa)
        .ok()?;
    Some(FirstSet { dfa, map })
}

/// `p` parsed as the ASCII automata read it.
pub(crate) fn parse_ascii(p: &str) -> Option<regex_syntax::hir::Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(p)
        .ok()
}

pub(crate) fn ascii_config() -> meta::Config {
    meta::Config::new()
        .nfa_size_limit(Some(64 << 20))
        .hybrid_cache_capacity(DFA_SIZE_LIMIT)
        .utf8_empty(false)
}

pub(crate) fn ascii_syntax() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
}

fn compile_fancy(p: &str, limit: usize) -> Result<fancy_regex::Regex, fancy_regex::Error> {
    fancy_regex::RegexBuilder::new(p)
        .backtrack_limit(limit)
        .delegate_size_limit(64 << 20)
        .delegate_dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

impl Regex {
    /// Compiles a Python pattern (as `re.compile(pattern, flags)` would) with the default
    /// backtracking limit.
    pub fn new(pattern: &str, flags: PyFlags) -> Result<Regex, Error> {
        Regex::with_backtrack_limit(pattern, flags, DEFAULT_BACKTRACK_LIMIT)
    }

    /// Compiles a Python pattern with an explicit limit for the backtracking fallback.
    pub fn with_backtrack_limit(
        pattern: &str,
        flags: PyFlags,
        backtrack_limit: usize,
    ) -> Result<Regex, Error> {
        let mut re = Regex::keeping_parse(pattern, flags, backtrack_limit)?;
        re.drop_parsed();
        Ok(re)
    }

    /// [`Regex::with_backtrack_limit`], keeping the pattern's parse ([`Regex::parsed`]) until
    /// [`Regex::drop_parsed`].
    pub(crate) fn keeping_parse(
        pattern: &str,
        flags: PyFlags,
        backtrack_limit: usize,
    ) -> Result<Regex, Error> {
        let Translated {
            linear,
            fancy,
            relaxed,
            single_line_dollar,
        } = translate(pattern, flags)?;
        let ctx =
            |e: String| Error::new(ErrorKind::Compile(e)).with_context(format!("'{pattern}'"));
        let mut checked_names = None;
        let mut parsed = None;
        let (exec, strict) = match linear {
            Some(lin) => {
                parsed = parse_ascii(&lin).filter(|_| lin.is_ascii());
                let re = UnicodeRe::new(lin, parsed.is_none()).map_err(ctx)?;
                let strict = single_line_dollar.then(|| (fancy, OnceLock::new()));
                (Exec::Linear(re), strict)
            }
            None => match linearize(&fancy).and_then(|l| {
                let a = parse_ascii(&l.pattern).filter(|_| l.pattern.is_ascii());
                let re = UnicodeRe::new(l.pattern.clone(), a.is_none()).ok()?;
                Some((l, re, a))
            }) {
                Some((l, re, a)) => {
                    let Linearized {
                        groups,
                        checks,
                        names,
                        exact: exact_linear,
                        ..
                    } = l;
                    parsed = a;
                    let strict = single_line_dollar.then(|| (fancy.clone(), OnceLock::new()));
                    checked_names = Some(names);
                    (
                        Exec::Checked {
                            re,
                            groups,
                            checks,
                            fancy,
                            exact: OnceLock::new(),
                            exact_linear: exact_linear.map(|(pattern, groups)| {
                                Box::new(ExactLinear {
                                    pattern,
                                    groups,
                                    re: OnceLock::new(),
                                })
                            }),
                        },
                        strict,
                    )
                }
                None => {
                    let exact =
                        compile_fancy(&fancy, backtrack_limit).map_err(|e| ctx(e.to_string()))?;
                    let prefilter = compile_linear(&relaxed).map_err(|e| ctx(e.to_string()))?;
                    (
                        Exec::Fancy {
                            prefilter,
                            exact: Box::new(exact),
                        },
                        None,
                    )
                }
            },
        };
        let names = match (&exec, checked_names, &parsed) {
            (Exec::Checked { .. }, Some(n), _) => n,
            (Exec::Linear(_) | Exec::Checked { .. }, _, Some(h)) => hir_names(h),
            (Exec::Linear(re) | Exec::Checked { re, .. }, _, None) => match re.get() {
                Ok(re) => re.capture_names().map(|n| n.map(Into::into)).collect(),
                Err(e) => return Err(ctx(e.clone())),
            },
            (Exec::Fancy { exact, .. }, _, _) => {
                exact.capture_names().map(|n| n.map(Into::into)).collect()
            }
        };
        Ok(Regex {
            python: pattern.to_owned(),
            exec,
            strict,
            names,
            relaxed,
            ascii: parsed.as_ref().map(LazyAscii::new),
            parsed,
            long: LongNfa::default(),
            spans: OnceLock::new(),
            resolver: OnceLock::new(),
            branch_engines: OnceLock::new(),
            backtrack_limit,
            limit_hits: AtomicU64::new(0),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The Python pattern this was compiled from.
    pub fn as_python(&self) -> &str {
        &self.python
    }

    /// True when the pattern is compiled as it is (no rewrite checked after the search, no
    /// backtracker), so its [`Regex::accept_pattern`] is exact.
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self.exec, Exec::Linear(_))
    }

    /// The ASCII automaton (compiled on first use), `None` without one.
    fn ascii(&self) -> Option<&meta::Regex> {
        self.ascii.as_ref()?.get(self.accept_pattern())
    }

    /// [`Regex::ascii`] for an ASCII `hay` only (no compilation for another).
    fn ascii_for(&self, hay: &str) -> Option<&meta::Regex> {
        if hay.is_ascii() {
            self.ascii()
        } else {
            None
        }
    }

    /// The parse kept from construction for the automata a filter builds from several
    /// regexes ([`compile_ascii_first`], heads).
    pub(crate) fn parsed(&self) -> Option<&regex_syntax::hir::Hir> {
        self.parsed.as_ref()
    }

    /// Drops the parse kept from construction (its memory, once the filter is built).
    pub(crate) fn drop_parsed(&mut self) {
        self.parsed = None;
    }

    /// True when every search runs in linear time (no backtracking fallback).
    pub fn is_linear(&self) -> bool {
        matches!(self.exec, Exec::Linear(_) | Exec::Checked { .. })
    }

    /// A `regex`-crate pattern that matches at least every subject this regex matches
    /// (the exact pattern when linear). Suitable for a `RegexSet` accept test.
    pub fn accept_pattern(&self) -> &str {
        match &self.exec {
            Exec::Linear(re) | Exec::Checked { re, .. } => re.as_str(),
            Exec::Fancy { .. } => &self.relaxed,
        }
    }

    /// Group names by index (index 0, the whole match, has none).
    pub fn group_names(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_deref().map(|n| (i, n)))
    }

    /// The index of a named group.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.as_deref() == Some(name))
    }

    /// Number of groups, including group 0.
    pub fn groups_len(&self) -> usize {
        self.names.len()
    }

    /// This regex's identity (distinct for every compiled regex of the process).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// How many searches hit the backtracking limit so far.
    pub fn limit_hits(&self) -> u64 {
        self.limit_hits.load(Ordering::Relaxed)
    }

    /// Fresh capture slots for this regex.
    pub fn new_captures(&self) -> Captures {
        Captures {
            owner: self.id,
            // Made on the first non-ASCII subject (with the Unicode automaton).
            locs: None,
            ascii: self
                .ascii
                .as_ref()
                .map(|a| AsciiSlots::with_len(a.slot_len, true)),
            spans: vec![None; self.names.len()],
            branches: Vec::new(),
            resolve: None,
        }
    }

    /// The ASCII automaton's NFA, for long matches.
    fn long_nfa(&self) -> Option<&NFA> {
        self.long
            .get(|| long::nfa_of_pattern(self.accept_pattern()))
    }

    /// The capture engine of the ASCII automaton alone (compiled on first use), with the
    /// same groups and slots as [`Regex::ascii`]'s.
    fn span_engine(&self) -> Option<&BoundedBacktracker> {
        let a = self.ascii.as_ref()?;
        let pattern = match &self.exec {
            Exec::Linear(re) | Exec::Checked { re, .. } => re.as_str(),
            Exec::Fancy { .. } => return None,
        };
        self.spans
            .get_or_init(|| {
                let bt = BoundedBacktracker::builder()
                    .syntax(ascii_syntax())
                    .thompson(
                        regex_automata::nfa::thompson::Config::new()
                            .utf8(false)
                            .nfa_size_limit(Some(64 << 20)),
                    )
                    .build(pattern)
                    .ok()?;
                (bt.get_nfa().group_info().slot_len() == a.slot_len).then_some(bt)
            })
            .as_ref()
    }

    /// [`Regex::captures`] on an ASCII `hay` where the caller knows that this regex's
    /// linear automaton ([`Regex::accept_pattern`]) matches `start..end` (its preferred,
    /// leftmost-first match, e.g. from a set searched with the same semantics): the capture
    /// engine then runs on that span alone, anchored, without finding it again.
    pub(crate) fn captures_at(
        &self,
        hay: &str,
        start: usize,
        end: usize,
        caps: &mut Captures,
    ) -> Result<bool, Error> {
        let fast = hay.is_ascii() && self.strict_engine(hay).is_none();
        if !fast {
            return self.captures(hay, caps);
        }
        if caps.owner != self.id {
            *caps = self.new_captures();
        }
        if let Some(r) = self.resolver() {
            let c = caps.resolve.get_or_insert_with(|| r.create_cache());
            if r.resolve(c, hay.as_bytes(), start, end) {
                return self.resolved(hay, caps);
            }
            resolve::count_fallback();
        }
        let Some(bt) = self.span_engine() else {
            return self.captures(hay, caps);
        };
        let Some(slots) = caps.ascii.as_mut() else {
            return self.captures(hay, caps);
        };
        match slots.search_span(bt, hay.as_bytes(), start, end) {
            Some(true) => {}
            // Not the span's match after all, or too long: the full search decides.
            Some(false) | None => return self.captures(hay, caps),
        }
        caps.spans.iter_mut().for_each(|s| *s = None);
        let Captures {
            ascii: Some(l),
            spans,
            ..
        } = caps
        else {
            return self.captures(hay, caps);
        };
        let passed = match &self.exec {
            Exec::Linear(_) => {
                for (i, s) in spans.iter_mut().enumerate() {
                    *s = l.get(i);
                }
                true
            }
            Exec::Checked { groups, checks, .. } => {
                checked_spans(spans, groups, checks, hay.as_bytes(), |i| l.get(i))
            }
            Exec::Fancy { .. } => false,
        };
        if passed {
            Ok(true)
        } else {
            self.after_failed_check(hay, caps)
        }
    }

    /// The resolver of this regex's ASCII automaton (compiled on first use).
    fn resolver(&self) -> Option<&Resolver> {
        self.resolver
            .get_or_init(|| {
                let groups = self.ascii.as_ref()?.slot_len / 2;
                let pattern = match &self.exec {
                    Exec::Linear(re) | Exec::Checked { re, .. } => re.as_str(),
                    Exec::Fancy { .. } => return None,
                };
                let r = Resolver::new(&parse_ascii(pattern)?)?;
                (r.groups_len() == groups).then_some(r)
            })
            .as_ref()
    }

    /// Fills `caps`' spans from its resolver's answer, as [`Regex::captures_at`] does from
    /// the backtracker's.
    fn resolved(&self, hay: &str, caps: &mut Captures) -> Result<bool, Error> {
        let Captures {
            spans,
            resolve: Some(c),
            ..
        } = caps
        else {
            return self.captures(hay, caps);
        };
        spans.iter_mut().for_each(|s| *s = None);
        let passed = match &self.exec {
            Exec::Linear(_) => {
                for (i, s) in spans.iter_mut().enumerate() {
                    *s = c.get(i);
                }
                true
            }
            Exec::Checked { groups, checks, .. } => {
                checked_spans(spans, groups, checks, hay.as_bytes(), |i| c.get(i))
            }
            Exec::Fancy { .. } => false,
        };
        if passed {
            Ok(true)
        } else {
            self.after_failed_check(hay, caps)
        }
    }

    /// Test hook for the differential test of the resolver: on an ASCII `hay` this regex's
    /// linear automaton matches, the resolver's group spans against the backtracker's, for
    /// the whole pattern and for each branch of [`Regex::branches`] that matches `hay`.
    /// Returns how many searches the resolver answered and how many it handed back;
    /// `Err` describes the first disagreement.
    #[doc(hidden)]
    pub fn resolver_diff(&self, hay: &str) -> Result<(usize, usize), String> {
        let (mut answered, mut declined) = (0, 0);
        let Some(a) = self
            .ascii
            .as_ref()
            .filter(|_| hay.is_ascii())
            .and_then(|a| a.get(self.accept_pattern()))
        else {
            return Ok((0, 0));
        };
        let bytes = hay.as_bytes();
        if let (Some(r), Some(bt), Some(m)) = (
            self.resolver(),
            self.span_engine(),
            a.search(&Input::new(bytes)),
        ) {
            let mut c = r.create_cache();
            if r.resolve(&mut c, bytes, m.start(), m.end()) {
                answered += 1;
                let mut cache = bt.create_cache();
                let mut slots = vec![None; bt.get_nfa().group_info().slot_len()];
                let input = Input::new(bytes)
                    .range(m.range())
                    .anchored(regex_automata::Anchored::Yes);
                if let Ok(Some(_)) = bt.try_search_slots(&mut cache, &input, &mut slots) {
                    let want = spans_of(&slots);
                    let got: Vec<_> = (0..want.len()).map(|i| c.get(i)).collect();
                    if want != got {
                        return Err(format!(
                            "whole pattern: resolver {got:?}, backtracker {want:?}"
                        ));
                    }
                }
            } else {
                declined += 1;
            }
        }
        if let Some(engines) = self
            .branches()
            .and_then(|bs| bs.iter().map(BranchEngine::new).collect::<Option<Vec<_>>>())
        {
            for (k, eng) in engines.iter().enumerate() {
                match eng.diff(bytes) {
                    Ok(Some(true)) => answered += 1,
                    Ok(Some(false)) => declined += 1,
                    Ok(None) => {}
                    Err(e) => return Err(format!("branch {k}: {e}")),
                }
            }
        }
        Ok((answered, declined))
    }

    /// A rewritten regex's preferred linear match failed a look-ahead check: the whole
    /// linear search would find that match again, so the backtracker decides at once.
    /// The exact linear pattern answers when there is one (ASCII subjects), else the
    /// backtracker.
    fn after_failed_check(&self, hay: &str, caps: &mut Captures) -> Result<bool, Error> {
        let Exec::Checked {
            fancy,
            exact,
            exact_linear,
            ..
        } = &self.exec
        else {
            return self.captures(hay, caps);
        };
        caps.spans.iter_mut().for_each(|s| *s = None);
        let linear = exact_linear.as_ref().filter(|_| hay.is_ascii());
        if let Some((x, re)) = linear.and_then(|x| {
            x.re.get_or_init(|| compile_ascii(&x.pattern))
                .as_ref()
                .map(|re| (x, re))
        }) {
            let mut slots = vec![None; re.group_info().slot_len()];
            if re
                .search_slots(&Input::new(hay.as_bytes()), &mut slots)
                .is_none()
            {
                return Ok(false);
            }
            let slot = |i: usize| {
                let s = slots.get(i * 2).copied().flatten()?;
                let e = slots.get(i * 2 + 1).copied().flatten()?;
                Some((s.get(), e.get()))
            };
            return Ok(checked_spans(
                &mut caps.spans,
                &x.groups,
                &[],
                hay.as_bytes(),
                slot,
            ));
        }
        let cell = exact.get_or_init(|| compile_fancy(fancy, self.backtrack_limit).ok());
        match cell.as_ref() {
            Some(ex) => self.fancy_captures(ex, hay, caps),
            None => Err(Error::new(ErrorKind::Compile(format!("'{}'", self.python)))),
        }
    }

    /// The linear pattern of a rewritten (checked) regex split at its final alternation
    /// ([`crate::flat`]); `None` for other regexes or when it does not split.
    pub(crate) fn branches(&self) -> Option<Vec<flat::Branch>> {
        match &self.exec {
            Exec::Checked { re, .. } if self.ascii.is_some() => match &self.parsed {
                Some(h) => flat::branches(h),
                None => flat::branches(&parse_ascii(re.as_str())?),
            },
            _ => None,
        }
    }

    /// [`Regex::captures_at`] where the set found branch `k` of [`Regex::branches`]
    /// matching `start..end`: that branch's engine alone when its prefixes end at one
    /// place, else the whole regex.
    pub(crate) fn captures_branch(
        &self,
        hay: &str,
        k: usize,
        start: usize,
        end: usize,
        caps: &mut Captures,
    ) -> Result<bool, Error> {
        let engines = self.branch_engines.get_or_init(|| {
            self.branches()?
                .iter()
                .map(BranchEngine::new)
                .collect::<Option<Vec<_>>>()
        });
        let fast = hay.is_ascii() && self.strict_engine(hay).is_none();
        let (Some(eng), true) = (engines.as_ref().and_then(|e| e.get(k)), fast) else {
            return self.captures(hay, caps);
        };
        let Exec::Checked { groups, checks, .. } = &self.exec else {
            return self.captures(hay, caps);
        };
        if caps.owner != self.id {
            *caps = self.new_captures();
        }
        if caps.branches.len() <= k {
            caps.branches.resize(k + 1, None);
        }
        let Some(slots) = caps
            .branches
            .get_mut(k)
            .map(|b| b.get_or_insert_with(|| eng.new_slots()))
        else {
            return self.captures(hay, caps);
        };
        if eng.search(slots, hay.as_bytes(), start, end).is_none() {
            return self.captures(hay, caps);
        }
        let Captures {
            spans, branches, ..
        } = caps;
        spans.iter_mut().for_each(|s| *s = None);
        match branches.get(k).and_then(Option::as_ref) {
            Some(b) if checked_spans(spans, groups, checks, hay.as_bytes(), |i| b.get(i)) => {
                Ok(true)
            }
            Some(_) => self.after_failed_check(hay, caps),
            None => self.captures(hay, caps),
        }
    }

    fn strict_engine(&self, hay: &str) -> Option<&fancy_regex::Regex> {
        let (pat, cell) = self.strict.as_ref()?;
        let body = hay.strip_suffix('\n').unwrap_or(hay);
        memchr::memchr(b'\n', body.as_bytes())?;
        cell.get_or_init(|| compile_fancy(pat, self.backtrack_limit).ok())
            .as_ref()
    }

    /// The Unicode automaton (compiled on first need).
    fn unicode<'r>(&self, re: &'r UnicodeRe) -> Result<&'r regex::Regex, Error> {
        re.get().map_err(|e| {
            Error::new(ErrorKind::Compile(e.clone())).with_context(format!("'{}'", self.python))
        })
    }

    fn limit(&self, e: fancy_regex::Error) -> Error {
        if matches!(e, fancy_regex::Error::RuntimeError(_)) {
            self.limit_hits.fetch_add(1, Ordering::Relaxed);
            Error::new(ErrorKind::LimitHit).with_context(format!("'{}'", self.python))
        } else {
            Error::new(ErrorKind::Compile(e.to_string()))
        }
    }

    /// Like Python's `bool(re.search(hay))`. No allocation on the linear path.
    pub fn is_match(&self, hay: &str) -> Result<bool, Error> {
        if let Some(strict) = self.strict_engine(hay) {
            return strict.is_match(hay).map_err(|e| self.limit(e));
        }
        match &self.exec {
            Exec::Linear(re) => match self.ascii_for(hay) {
                Some(a) => Ok(a.is_match(hay.as_bytes())),
                None => Ok(self.unicode(re)?.is_match(hay)),
            },
            Exec::Checked { re, .. } => {
                // The wider pattern's DFA first: most subjects stop here.
                let ascii = self.ascii_for(hay);
                let wide = match ascii {
                    Some(a) => a.is_match(hay.as_bytes()),
                    None => self.unicode(re)?.is_match(hay),
                };
                if !wide {
                    return Ok(false);
                }
                // One-off slots searching with the regex's own cache pool.
                let mut caps = Captures {
                    owner: self.id,
                    locs: None,
                    ascii: ascii.map(|a| AsciiSlots::new(a, false)),
                    spans: vec![None; self.names.len()],
                    branches: Vec::new(),
                    resolve: None,
                };
                self.captures(hay, &mut caps)
            }
            Exec::Fancy { prefilter, exact } => {
                if !prefilter.is_match(hay) {
                    return Ok(false);
                }
                exact.is_match(hay).map_err(|e| self.limit(e))
            }
        }
    }

    /// Like Python's `re.search(hay)`, filling `caps` (from [`Regex::new_captures`]).
    /// Returns whether it matched.
    pub fn captures(&self, hay: &str, caps: &mut Captures) -> Result<bool, Error> {
        if caps.owner != self.id {
            // Another regex's slots: their cache would not fit this automaton.
            *caps = self.new_captures();
        }
        caps.spans.iter_mut().for_each(|s| *s = None);
        if let Some(strict) = self.strict_engine(hay) {
            return self.fancy_captures(strict, hay, caps);
        }
        match &self.exec {
            Exec::Linear(re) => {
                if let Some(a) = self.ascii_for(hay) {
                    let locs = caps.ascii.get_or_insert_with(|| AsciiSlots::new(a, true));
                    if !locs.search(a, hay.as_bytes(), || self.long_nfa()) {
                        return Ok(false);
                    }
                    for (i, s) in caps.spans.iter_mut().enumerate() {
                        *s = locs.get(i);
                    }
                    return Ok(true);
                }
                let re = self.unicode(re)?;
                let locs = caps.locs.get_or_insert_with(|| re.capture_locations());
                if re.captures_read(locs, hay).is_none() {
                    return Ok(false);
                }
                for (i, s) in caps.spans.iter_mut().enumerate() {
                    *s = locs.get(i);
                }
                Ok(true)
            }
            Exec::Checked {
                re, groups, checks, ..
            } => {
                let Captures {
                    locs,
                    ascii: ascii_slots,
                    spans,
                    ..
                } = caps;
                let bytes = hay.as_bytes();
                let passed = match self.ascii_for(hay) {
                    Some(a) => {
                        let l = ascii_slots.get_or_insert_with(|| AsciiSlots::new(a, true));
                        if !l.search(a, bytes, || self.long_nfa()) {
                            return Ok(false);
                        }
                        checked_spans(spans, groups, checks, bytes, |i| l.get(i))
                    }
                    None => {
                        let re = self.unicode(re)?;
                        let l = locs.get_or_insert_with(|| re.capture_locations());
                        if re.captures_read(l, hay).is_none() {
                            return Ok(false);
                        }
                        checked_spans(spans, groups, checks, bytes, |i| l.get(i))
                    }
                };
                if passed {
                    return Ok(true);
                }
                // The wider pattern's first match fails a look-ahead.
                self.after_failed_check(hay, caps)
            }
            Exec::Fancy { prefilter, exact } => {
                if !prefilter.is_match(hay) {
                    return Ok(false);
                }
                self.fancy_captures(exact, hay, caps)
            }
        }
    }

    fn fancy_captures(
        &self,
        re: &fancy_regex::Regex,
        hay: &str,
        caps: &mut Captures,
    ) -> Result<bool, Error> {
        let Some(c) = re.captures(hay).map_err(|e| self.limit(e))? else {
            return Ok(false);
        };
        for (i, s) in caps.spans.iter_mut().enumerate() {
            *s = c.get(i).map(|m| (m.start(), m.end()));
        }
        Ok(true)
    }
}

/// Group spans from a capture engine's slots.
pub(crate) fn spans_of(slots: &[Option<NonMaxUsize>]) -> Vec<Option<(usize, usize)>> {
    slots
        .chunks(2)
        .map(|p| match p {
            [Some(s), Some(e)] => Some((s.get(), e.get())),
            _ => None,
        })
        .collect()
}

/// Fills the original groups' spans from a rewritten pattern's when its checks hold.
fn checked_spans(
    spans: &mut [Option<(usize, usize)>],
    groups: &[Option<usize>],
    checks: &[Check],
    hay: &[u8],
    slot: impl Fn(usize) -> Option<(usize, usize)>,
) -> bool {
    if !checks.iter().all(|c| c.holds(hay, &slot)) {
        return false;
    }
    if let Some(s) = spans.first_mut() {
        *s = slot(0);
    }
    for (p, g) in groups.iter().enumerate() {
        if let (Some(g), Some(span)) = (g, slot(p + 1)) {
            if let Some(s) = spans.get_mut(*g) {
                *s = Some(span);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_patterns_use_the_regex_crate() {
        let re = Regex::new(r"^x (?P<ip>\d+)$", PyFlags::default()).unwrap();
        assert!(re.is_linear());
        let mut c = re.new_captures();
        assert!(re.captures("x 12\n", &mut c).unwrap());
        assert_eq!(c.get(0), Some((0, 4)));
        assert_eq!(c.get(1), Some((2, 4)));
        assert_eq!(re.group_index("ip"), Some(1));
    }

    #[test]
    fn names_from_the_parse_are_the_automatons() {
        let host = crate::expand_tags("<HOST>", crate::UseDns::Warn);
        let pats = [
            r"^x (?P<ip>\d+)$".to_owned(),
            r"(a)(?:(?P<b>b)|(c(?P<d>d)*))?(?P<e>e)|(f)".to_owned(),
            format!("^(?P<pre>\\S+) from {host}( port (?P<port>\\d+))?$"),
            r"no groups".to_owned(),
        ];
        for p in pats {
            let t = translate(&p, PyFlags::default()).unwrap();
            let lin = t.linear.unwrap();
            let want: Vec<Option<Box<str>>> = compile_ascii(&lin)
                .unwrap()
                .group_info()
                .pattern_names(regex_automata::PatternID::ZERO)
                .map(|n| n.map(Into::into))
                .collect();
            let hir = parse_ascii(&lin).unwrap();
            assert_eq!(hir_names(&hir), want, "{p}");
            assert_eq!(LazyAscii::new(&hir).slot_len, 2 * want.len(), "{p}");
            let re = Regex::new(&p, PyFlags::default()).unwrap();
            assert_eq!(re.names, want, "{p}");
            // Compiled on first use only, and not kept parsed.
            assert!(re.ascii.as_ref().unwrap().cell.get().is_none());
            assert!(re.parsed.is_none());
        }
    }

    #[test]
    fn fancy_patterns_are_prefiltered_and_exact() {
        let re = Regex::new(r"^a (?<!b)(?P<w>\w+)$", PyFlags::default()).unwrap();
        assert!(!re.is_linear());
        assert_eq!(re.accept_pattern(), r"^a (?P<w>\w+)(?m:$)");
        assert!(re.is_match("a bc\n").unwrap());
        assert!(!re.is_match("a\n").unwrap());
        let mut c = re.new_captures();
        assert!(re.captures("a cb\n", &mut c).unwrap());
        assert_eq!(c.get(1), Some((2, 4)));
    }

    #[test]
    fn look_aheads_and_conditionals_run_linear_and_exact() {
        let re = Regex::new(r"^a (?!b)(?P<w>\w+)$", PyFlags::default()).unwrap();
        assert!(re.is_linear());
        assert!(!re.is_match("a bc\n").unwrap());
        assert!(re.is_match("a cb\n").unwrap());
        let mut c = re.new_captures();
        assert!(re.captures("a cb\n", &mut c).unwrap());
        assert_eq!(c.get(1), Some((2, 4)));
        assert_eq!(re.group_index("w"), Some(1));
        // The wider pattern's first match fails the check; the backtracker finds the match.
        let re = Regex::new(
            r"^(?P<u>.*?) from (?P<h>\d+)(?:(?! from ).)*$",
            PyFlags::default(),
        )
        .unwrap();
        assert!(re.is_linear());
        // Slots made for another regex are replaced, not misused.
        assert!(re.captures("x from 1 y from 2\n", &mut c).unwrap());
        assert_eq!(c.get(2), Some((16, 17)));
        let mut c = re.new_captures();
        assert!(re.captures("x from 1 y from 2\n", &mut c).unwrap());
        assert_eq!(c.get(2), Some((16, 17)));
        let re = Regex::new(r"^(?P<c>c)?(?P<v>\w)(?(c)x|y)$", PyFlags::default()).unwrap();
        assert!(re.is_linear());
        let mut c = re.new_captures();
        assert!(re.captures("cax\n", &mut c).unwrap());
        assert_eq!((c.get(1), c.get(2)), (Some((0, 1)), Some((1, 2))));
        assert!(re.captures("cy\n", &mut c).unwrap());
        assert_eq!((c.get(1), c.get(2)), (None, Some((0, 1))));
        assert!(!re.is_match("cay\n").unwrap());
    }

    #[test]
    fn a_failed_check_is_answered_by_the_exact_linear_pattern() {
        let p = r"^D(?: u (?P<u>\S+|.*?))? (?P<h>\d+)(?:: (?!Too many)[^\[]+)?(?: \[p\])?\s*$";
        let re = Regex::new(p, PyFlags::default()).unwrap();
        assert!(matches!(
            &re.exec,
            Exec::Checked {
                exact_linear: Some(_),
                ..
            }
        ));
        let fancy = fancy_regex::Regex::new(p).unwrap();
        for hay in [
            "D 1: Too many x [p]\n",
            "D 1: Too man [p]\n",
            "D u a 1: Too many 2: ok [p]\n",
            "D u a 1: ok 2: Too many\n",
            "D 1: fine\n",
        ] {
            let mut c = re.new_captures();
            let got = re.captures(hay, &mut c).unwrap();
            let want = fancy.captures(hay).unwrap();
            assert_eq!(got, want.is_some(), "{hay}");
            if let Some(w) = want {
                for i in 0..w.len() {
                    assert_eq!(
                        c.get(i),
                        w.get(i).map(|m| (m.start(), m.end())),
                        "{hay} {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn single_line_dollar_on_a_multi_line_subject_is_exact() {
        let re = Regex::new("a$", PyFlags::default()).unwrap();
        assert!(re.is_match("a\n").unwrap());
        assert!(!re.is_match("a\nb\n").unwrap());
        assert!(re.is_match("b\na\n").unwrap());
        let mut c = re.new_captures();
        assert!(re.captures("b\na\n", &mut c).unwrap());
        assert_eq!(c.get(0), Some((2, 3)));
    }

    #[test]
    fn first_of_an_anchored_set_and_its_span_give_the_same_captures() {
        let pats = [
            r"^Failed (?:(?P<pk>publickey)|\S+) for (?P<u>\S+|.*?) from (?P<h>[\d.]+)(?(pk): |(?:(?! from ).)*$)",
            r"^(?P<u>.*?) from (?P<h>\d+)(?: port \d+)?\s*$",
            r"^x(?=y)(?P<y>\w)",
            r"^(?:a|b)+(?P<c>c)?",
        ];
        let res: Vec<Regex> = pats
            .iter()
            .map(|p| Regex::new(p, PyFlags::default()).unwrap())
            .collect();
        let set = compile_ascii_first(&res).unwrap();
        let mut cache = set.create_cache();
        let mut checked = 0;
        for line in [
            "Failed password for root from 1.2.3.4 port 22 ssh2",
            "Failed publickey for bob from 1.2.3.4: x",
            "Failed publickey for a from 1 b from 2.3",
            "me from 12 port 3",
            "me from 12 port 3 from 4",
            "xy",
            "xz",
            "abac",
            "zzz",
        ] {
            let hay = format!("{line}\n");
            let want = res.iter().enumerate().find_map(|(i, r)| {
                let mut c = r.new_captures();
                r.captures(&hay, &mut c).unwrap().then_some((i, c))
            });
            let got = set
                .first(&mut cache, hay.as_bytes())
                .unwrap()
                .and_then(|(i, k, s, e)| {
                    let mut c = res[i].new_captures();
                    // A superset's first candidate may not match exactly: the caller then goes on.
                    match k {
                        Some(k) => res[i].captures_branch(&hay, k, s, e, &mut c),
                        None => res[i].captures_at(&hay, s, e, &mut c),
                    }
                    .unwrap()
                    .then_some((i, c))
                });
            let spans = |c: &Captures| (0..c.len()).map(|i| c.get(i)).collect::<Vec<_>>();
            match (&want, &got) {
                (Some((wi, wc)), Some((gi, gc))) => {
                    assert_eq!((wi, spans(wc)), (gi, spans(gc)), "{line}");
                    checked += 1;
                }
                (None, _) => assert!(got.is_none(), "{line}"),
                (Some(_), None) => panic!("{line}: the set missed a match"),
            }
        }
        assert!(checked >= 6, "{checked}");
        // An unanchored pattern: the leftmost match need not be the first pattern's.
        let re = |p: &str| Regex::new(p, PyFlags::default()).unwrap();
        assert!(compile_ascii_first(&[re(r"^a"), re(r"b")]).is_none());
        assert!(compile_ascii_first(&[re(r"^a|b")]).is_none());
        // The conditional's rewrite ends in an alternation: one set pattern per branch.
        assert!(res[0].branches().is_some_and(|b| b.len() >= 2));
    }

    #[test]
    fn a_branch_alone_gives_the_whole_patterns_groups() {
        // Each rewrite ends in an alternation; the second's prefix `a*` can end at several
        // places, so its branches defer to the whole pattern.
        for p in [
            r"^F (?:(?P<pk>pk)|\S+) for (?P<inv>inv )?(?P<u>(?P<cu>\S+)|(?(inv)(?:(?! from ).)*?|[^:]+)) from (?P<h>\d+)(?(cu): |(?:(?:(?! from ).)*)$)",
            r"^a*(?P<x>x)?(?(x)y|b)",
        ] {
            let re = Regex::new(p, PyFlags::default()).unwrap();
            assert!(re.branches().is_some_and(|b| b.len() >= 2), "{p}");
            let set = compile_ascii_first([&re]).unwrap();
            let mut cache = set.create_cache();
            let mut c = re.new_captures();
            let mut found = 0;
            for line in [
                "F pw for root from 1 port 2 ssh2",
                "F pk for inv bob from 1: x",
                "F pk for bob from 1: x",
                "F x for a b from 1 from 2 z",
                "F x for a:b from 1 z",
                "F x for inv a b from 1 y",
                "aab",
                "aaxy",
                "xb",
                "b",
                "zz",
            ] {
                let hay = format!("{line}\n");
                let mut want = re.new_captures();
                let w = re.captures(&hay, &mut want).unwrap();
                let g = match set.first(&mut cache, hay.as_bytes()).unwrap() {
                    Some((0, Some(k), s, e)) => re.captures_branch(&hay, k, s, e, &mut c).unwrap(),
                    Some((0, None, s, e)) => re.captures_at(&hay, s, e, &mut c).unwrap(),
                    _ => false,
                };
                assert_eq!(w, g, "{p} {line}");
                if w {
                    found += 1;
                    let spans = |c: &Captures| (0..c.len()).map(|i| c.get(i)).collect::<Vec<_>>();
                    assert_eq!(spans(&want), spans(&c), "{p} {line}");
                }
            }
            assert!(found >= 3, "{p} {found}");
        }
    }

    #[test]
    fn limit_hit_is_reported_and_counted() {
        // Exponential for a backtracker; the prefilter accepts the subject.
        let re = Regex::with_backtrack_limit(r"^(a|a)*(?=b)c", PyFlags::default(), 1000).unwrap();
        let hay = format!("{}c", "a".repeat(40));
        let err = re.is_match(&hay).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LimitHit);
        assert_eq!(re.limit_hits(), 1);
    }
}
