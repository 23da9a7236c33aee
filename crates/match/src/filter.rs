//! fail2ban's line processing (spec §2.2): buffer, prefregex/`<F-CONTENT>`, failregexes,
//! ignoreregexes, `<F-*>` data, multi-line ids (mlfid) and failure ids.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use crate::addr::{parse_host, parse_ip, FailureId};
use crate::engine::{
    compile_ascii_first, compile_ascii_set, Captures, FirstCache, FirstSet, Regex,
    DEFAULT_BACKTRACK_LIMIT, DFA_SIZE_LIMIT,
};
use crate::error::{Error, ErrorKind};
use crate::fields::{FieldTable, Fields, Slots, Value};
use crate::head::ContentHead;
use crate::literals::LiteralPrefilter;
use crate::tags::{expand_tags, UseDns};
use crate::translate::PyFlags;

/// Resolves a host name to addresses (only called when `usedns` is `yes` or `warn`).
pub type Resolver = Arc<dyn Fn(&str) -> Vec<IpAddr> + Send + Sync>;

/// Default cap on a line's length (bytes); longer lines are cut and counted.
pub const DEFAULT_LINE_CAP: usize = 32 * 1024;

const MLFID_CACHE_SIZE: usize = 100;
const MLFID_CACHE_TTL: f64 = 300.0;
const ID_GROUPS: [&str; 5] = ["fid", "ip4", "ip6", "dns", "mlfid"];

/// Everything a [`Filter`] is built from (the filter's options, regexes unexpanded).
#[derive(Debug, Clone)]
pub struct FilterOptions {
    /// `prefregex` (may contain `<F-CONTENT>…</F-CONTENT>`).
    pub prefregex: Option<String>,
    /// `failregex`, one regex per entry, in order.
    pub failregex: Vec<String>,
    /// `ignoreregex`, one regex per entry.
    pub ignoreregex: Vec<String>,
    /// `maxlines` (≥ 1).
    pub maxlines: usize,
    /// `usedns`.
    pub usedns: UseDns,
    /// Lines longer than this many bytes are cut (and counted in [`Stats::cut_lines`]).
    pub line_cap: usize,
    /// Try every failregex instead of stopping at the first match (fail2ban-regex, tests).
    pub check_all: bool,
    /// Step limit of the backtracking fallback engine per search.
    pub backtrack_limit: usize,
    /// Keep every counter exact (prefregex and ignoreregex hits on lines no failregex can
    /// match), as fail2ban-regex's report needs; off, such lines are rejected by a literal
    /// scan alone.
    pub exact_stats: bool,
}

impl Default for FilterOptions {
    fn default() -> FilterOptions {
        FilterOptions {
            prefregex: None,
            failregex: Vec::new(),
            ignoreregex: Vec::new(),
            maxlines: 1,
            usedns: UseDns::Warn,
            line_cap: DEFAULT_LINE_CAP,
            check_all: false,
            backtrack_limit: DEFAULT_BACKTRACK_LIMIT,
            exact_stats: false,
        }
    }
}

/// One failure found on a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What to count the failure against.
    pub id: FailureId,
    /// The address captured beside a different `<F-ID>` (fail2ban's data `ip`).
    pub ip: Option<FailureId>,
    /// The line's time (as given to [`Filter::process`]; NaN when the line had none).
    pub time: f64,
    /// Index of the failregex that matched.
    pub regex_index: usize,
    /// `<F-USER>` (or merged `<F-ALT_USER…>`).
    pub user: Option<String>,
    /// Every user seen for this multi-line id.
    pub users: Vec<String>,
    /// `<F-NOFAIL>` (or `<F-MLFGAINED>`) matched: information only, do not count it.
    pub nofail: bool,
    /// `<F-ID>`.
    pub fid: Option<String>,
    /// Every non-empty named group (prefregex and failregex) plus alt/tuple merges (shared
    /// with the multi-line-id cache: no copy per failure).
    pub fields: Arc<Fields>,
    /// The matched log lines (full lines, date included), oldest first (shared likewise).
    pub matches: Arc<Vec<String>>,
}

/// Which option of a filter a compiled regex comes from (see [`Filter::regexes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexRole {
    /// `prefregex`.
    Prefregex,
    /// One of `failregex`.
    Failregex,
    /// One of `ignoreregex`.
    Ignoreregex,
}

impl std::fmt::Display for RegexRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RegexRole::Prefregex => "prefregex",
            RegexRole::Failregex => "failregex",
            RegexRole::Ignoreregex => "ignoreregex",
        })
    }
}

/// Counters a caller can log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines processed.
    pub lines: u64,
    /// Lines cut to [`FilterOptions::line_cap`].
    pub cut_lines: u64,
    /// Searches abandoned at the backtracking limit (each one also skips that regex).
    pub limit_hits: u64,
    /// Lines dropped by an ignoreregex.
    pub ignored: u64,
    /// Lines the prefregex matched (exact only with [`FilterOptions::exact_stats`]).
    pub pref_matched: u64,
    /// Lines rejected by the literal prefilter without a regex search.
    pub prefiltered: u64,
}

/// From this many failregexes on, [`Filter::new`] compiles half of them on a helper thread.
const PARALLEL_COMPILE_MIN: usize = 8;

/// Compiles `raws` (the regexes of `role` from index `first` on), in order.
fn compile_each(
    role: &str,
    first: usize,
    raws: &[String],
    opts: &FilterOptions,
) -> Vec<Result<Compiled, Error>> {
    (raws.iter().enumerate())
        .map(|(j, raw)| Compiled::new(role, first + j, raw, opts))
        .collect()
}

#[derive(Debug)]
struct Compiled {
    re: Regex,
    caps: Captures,
}

impl Compiled {
    fn new(role: &str, index: usize, raw: &str, opts: &FilterOptions) -> Result<Compiled, Error> {
        let ctx = || format!("{role} #{index} '{raw}'");
        if raw.trim().is_empty() {
            return Err(Error::new(ErrorKind::EmptyRegex).with_context(ctx()));
        }
        let expanded = expand_tags(raw, opts.usedns);
        let flags = PyFlags {
            multiline: opts.maxlines > 1,
            ..PyFlags::default()
        };
        let re = Regex::keeping_parse(&expanded, flags, opts.backtrack_limit)
            .map_err(|e| e.with_context(ctx()))?;
        let caps = re.new_captures();
        Ok(Compiled { re, caps })
    }

    /// Captures, with a limit hit counted and treated as "no match".
    fn search(&mut self, hay: &str, stats: &mut Stats) -> bool {
        match self.re.captures(hay, &mut self.caps) {
            Ok(m) => m,
            Err(_) => {
                stats.limit_hits += 1;
                false
            }
        }
    }

    fn is_match(&self, hay: &str, stats: &mut Stats) -> bool {
        match self.re.is_match(hay) {
            Ok(m) => m,
            Err(_) => {
                stats.limit_hits += 1;
                false
            }
        }
    }
}

/// One buffered line: text before the date, the date, text after it.
#[derive(Debug, Clone)]
struct Line {
    pre: String,
    date: String,
    post: String,
}

impl Line {
    fn full(&self) -> String {
        format!("{}{}{}", self.pre, self.date, self.post)
    }
}

/// Failure data being built (fail2ban's `fail` dict).
#[derive(Debug, Clone, Default)]
struct Data {
    fields: Arc<Fields>,
    users: Option<BTreeSet<String>>,
    matches: Option<Arc<Vec<String>>>,
    nofail_matches: Option<Vec<String>>,
    pending: bool,
}

impl Data {
    fn new(fields: Fields) -> Data {
        Data {
            fields: Arc::new(fields),
            ..Data::default()
        }
    }

    fn text(&self, slot: usize) -> Option<&str> {
        self.fields.text(slot)
    }

    /// Python truthiness of a flag group (an empty capture is false).
    fn flag(&self, slot: usize) -> bool {
        self.fields.flag(slot)
    }

    /// Adds `user` (when not empty) to the users seen (copied only when new); true when
    /// more than one was seen.
    fn update_users(users: &mut Option<BTreeSet<String>>, user: Option<&str>) -> bool {
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            let users = users.get_or_insert_with(BTreeSet::new);
            if !users.contains(u) {
                users.insert(u.to_owned());
            }
        }
        users.as_ref().is_some_and(|u| u.len() > 1)
    }
}

/// A compiled fail2ban filter with its line buffer and multi-line state.
pub struct Filter {
    opts: FilterOptions,
    pref: Option<Compiled>,
    content_group: Option<usize>,
    /// The prefregex without its final content group (single-line filters).
    pref_head: Option<ContentHead>,
    fail: Vec<Compiled>,
    /// Unicode form of the set, built on the first non-ASCII line (or with no ASCII set).
    fail_set: std::sync::OnceLock<Option<regex::RegexSet>>,
    /// The ASCII set (built on first need: with [`Filter::fail_first_ascii`], a line that
    /// needs it is rare).
    fail_set_ascii: std::sync::OnceLock<Option<regex_automata::meta::Regex>>,
    /// The failregexes as one leftmost-first ASCII set, when all are anchored at the start
    /// (single-line filters without `check_all`; see [`Filter::first_candidate`]).
    fail_first_ascii: Option<FirstSet>,
    literals: Option<LiteralPrefilter>,
    ignore: Vec<Compiled>,
    /// Every field name, and where each regex's groups go.
    table: FieldTable,
    buffer: VecDeque<Line>,
    text: String,
    content: String,
    resolver: Option<Resolver>,
    state: FilterState,
    /// Boxed: taken out and put back per line, which then moves a pointer only (the
    /// search caches inside are several hundred bytes).
    scratch: Option<Box<crate::scan::Scratch>>,
    /// The last line's scan, its buffers reused by the next ([`Filter::scan_into`]).
    scan: crate::scan::Scan,
    /// Whether failures carry their matched lines ([`Filter::set_keep_matches`]).
    keep_matches: bool,
    /// The matched lines of a failure without any: shared, so none allocates its own.
    no_matches: Arc<Vec<String>>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("opts", &self.opts)
            .field("stats", &self.state.stats)
            .finish_non_exhaustive()
    }
}

impl Filter {
    /// Expands, translates and compiles every regex. Errors name the regex (role, index,
    /// text): an empty regex, bad syntax, or a failregex without a failure-id group.
    pub fn new(opts: FilterOptions) -> Result<Filter, Error> {
        if opts.maxlines == 0 {
            return Err(ErrorKind::Option("maxlines must be > 0".into()).into());
        }
        if opts.line_cap < 64 {
            return Err(ErrorKind::Option("line_cap must be ≥ 64 bytes".into()).into());
        }
        // Most failregexes compile on a helper thread meanwhile (this thread has the
        // prefregex and its head too): compiling is a `jailor regex` run's (or a jail's first
        // line's) fixed cost, and sshd has 22 of them.
        let n = opts.failregex.len();
        let split = if n >= PARALLEL_COMPILE_MIN {
            n * 2 / 5
        } else {
            n
        };
        let (pref, pref_head, results) = std::thread::scope(|s| {
            let opts = &opts;
            let helper = (split < n)
                .then(|| {
                    std::thread::Builder::new()
                        .name("compile".into())
                        .spawn_scoped(s, move || {
                            compile_each("failregex", split, &opts.failregex[split..], opts)
                        })
                        .ok()
                })
                .flatten();
            let pref = (opts.prefregex.as_ref())
                .map(|p| Compiled::new("prefregex", 0, p, opts))
                .transpose();
            let pref_head = match &pref {
                Ok(Some(p)) => match p.re.group_index("content") {
                    Some(c) if opts.maxlines == 1 && p.re.is_plain() => {
                        ContentHead::new(p.re.accept_pattern(), p.re.parsed(), c, p.re.groups_len())
                    }
                    _ => None,
                },
                _ => None,
            };
            let end = if helper.is_some() { split } else { n };
            let mut results = compile_each("failregex", 0, &opts.failregex[..end], opts);
            if let Some(h) = helper {
                match h.join() {
                    Ok(rest) => results.extend(rest),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            (pref, pref_head, results)
        });
        // Errors as a sequential compilation gives them: the prefregex's, then the
        // failregexes' in order.
        let pref = pref?;
        let pref_has_id = pref
            .as_ref()
            .is_some_and(|p| p.re.group_names().any(|(_, n)| ID_GROUPS.contains(&n)));
        let content_group = pref.as_ref().and_then(|p| p.re.group_index("content"));
        let mut fail = Vec::with_capacity(n);
        for (i, (raw, c)) in opts.failregex.iter().zip(results).enumerate() {
            let c = c?;
            if !pref_has_id && !c.re.group_names().any(|(_, n)| ID_GROUPS.contains(&n)) {
                return Err(
                    Error::new(ErrorKind::NoFailureId(c.re.as_python().to_owned()))
                        .with_context(format!("failregex #{i} '{raw}'")),
                );
            }
            fail.push(c);
        }
        let ignore = opts
            .ignoreregex
            .iter()
            .enumerate()
            .map(|(i, raw)| Compiled::new("ignoreregex", i, raw, &opts))
            .collect::<Result<Vec<_>, _>>()?;
        let fail_first_ascii = if opts.maxlines == 1 && !opts.check_all {
            compile_ascii_first(fail.iter().map(|c| &c.re))
        } else {
            None
        };
        // Multi-line buffers join lines: a literal could then span two of them. With a
        // prefregex head and the leftmost-first set, the scan never asks the literals
        // ([`Filter::scan_into`]'s `cheap_reject`): not built.
        let cheap_reject = fail_first_ascii.is_some() && pref_head.is_some();
        let literals = if opts.maxlines == 1 && !cheap_reject {
            LiteralPrefilter::new(fail.iter().map(|c| c.re.accept_pattern()))
        } else {
            None
        };
        let table = FieldTable::new(pref.as_ref().map(|p| &p.re), fail.iter().map(|c| &c.re));
        // The parses served the sets and the head: their memory goes.
        let mut pref = pref;
        let mut fail = fail;
        let mut ignore = ignore;
        (pref.iter_mut().chain(&mut fail).chain(&mut ignore)).for_each(|c| c.re.drop_parsed());
        let state = FilterState {
            ignore_hits: vec![0; ignore.len()],
            ..FilterState::default()
        };
        Ok(Filter {
            opts,
            pref,
            content_group,
            pref_head,
            fail,
            fail_set: std::sync::OnceLock::new(),
            fail_set_ascii: std::sync::OnceLock::new(),
            fail_first_ascii,
            literals,
            ignore,
            table,
            buffer: VecDeque::new(),
            text: String::new(),
            content: String::new(),
            resolver: None,
            state,
            scratch: None,
            scan: crate::scan::Scan::default(),
            keep_matches: true,
            no_matches: Arc::default(),
        })
    }

    /// Sets the function resolving `<HOST>` names when `usedns` is `yes`/`warn`. Without
    /// one, names are never resolved (and give no failure).
    pub fn set_resolver(&mut self, resolver: Resolver) {
        self.resolver = Some(resolver);
    }

    /// Whether failures carry their matched lines ([`Failure::matches`]; on by default). A
    /// caller that never reads them (`jailor regex -o ip`, a jail whose actions use no
    /// `<matches>`) turns this off: no line is then copied, and every failure's `matches`
    /// is empty. Nothing else a failure carries depends on it.
    pub fn set_keep_matches(&mut self, keep: bool) {
        self.keep_matches = keep;
    }

    /// The options this filter was built from.
    pub fn options(&self) -> &FilterOptions {
        &self.opts
    }

    /// Every compiled regex with its role and its index within that role: the prefregex,
    /// then the failregexes, then the ignoreregexes (tags expanded, translated). Lets a
    /// caller check, for example, that each one runs on the linear engine
    /// ([`Regex::is_linear`]).
    pub fn regexes(&self) -> impl Iterator<Item = (RegexRole, usize, &Regex)> + '_ {
        let pref = self.pref.iter().map(|c| (RegexRole::Prefregex, 0, &c.re));
        let fail = (self.fail.iter().enumerate()).map(|(i, c)| (RegexRole::Failregex, i, &c.re));
        let ignore =
            (self.ignore.iter().enumerate()).map(|(i, c)| (RegexRole::Ignoreregex, i, &c.re));
        pref.chain(fail).chain(ignore)
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.state.stats
    }

    /// Lines each ignoreregex dropped, by index.
    pub fn ignoreregex_hits(&self) -> &[u64] {
        &self.state.ignore_hits
    }

    /// Takes the counters and the multi-line-id cache out, for [`Filter::apply_to`] while
    /// other threads search with `&Filter` ([`Filter::scan`]); put them back with
    /// [`Filter::restore_state`]. Meanwhile [`Filter::stats`] reads zeros.
    pub fn take_state(&mut self) -> FilterState {
        std::mem::take(&mut self.state)
    }

    /// Puts back what [`Filter::take_state`] took.
    pub fn restore_state(&mut self, state: FilterState) {
        self.state = state;
    }

    /// Whether a literal scan rejects lines before any regex runs (single-line filters whose
    /// every failregex requires some literal).
    pub fn has_literal_prefilter(&self) -> bool {
        self.literals.is_some()
    }

    /// Processes one log line already split by date detection into the text before the
    /// date, the date text and the text after it (`("", "", line)` when no date was found).
    /// Returns the failures it yields (usually none); nothing is allocated for a line no
    /// failregex can match.
    pub fn process(&mut self, pre: &str, date: &str, post: &str, time: f64) -> Vec<Failure> {
        let mut st = std::mem::take(&mut self.state);
        let out = self.process_in(&mut st, pre, date, post, time);
        self.state = st;
        out
    }

    fn process_in(
        &mut self,
        st: &mut FilterState,
        pre: &str,
        date: &str,
        post: &str,
        time: f64,
    ) -> Vec<Failure> {
        if self.can_scan() {
            let mut scratch = self
                .scratch
                .take()
                .unwrap_or_else(|| Box::new(self.scratch()));
            let mut scan = std::mem::take(&mut self.scan);
            self.scan_into(&mut scratch, &mut scan, pre, date, post);
            self.scratch = Some(scratch);
            let out = self.apply_to(st, &scan, pre, date, post, time);
            self.scan = scan;
            return out;
        }
        st.stats.lines += 1;
        let (pre, date, post) = self.cap(st, pre, date, post);
        // §2.2 step 4: the regexes see the line without its date, plus a final newline.
        self.text.clear();
        self.buffer.push_back(Line {
            pre: pre.to_owned(),
            date: date.to_owned(),
            post: post.to_owned(),
        });
        while self.buffer.len() > self.opts.maxlines {
            self.buffer.pop_front();
        }
        for (i, l) in self.buffer.iter().enumerate() {
            if i > 0 {
                self.text.push('\n');
            }
            self.text.push_str(&l.pre);
            self.text.push_str(&l.post);
        }
        self.text.push('\n');
        let text = std::mem::take(&mut self.text);
        let out = self.find(st, &text, (pre, date, post), time);
        self.text = text;
        out
    }

    /// Applies what [`Filter::scan`] found on a line (in line order: multi-line ids and
    /// counters are state). `pre`, `date` and `post` are the line given to `scan`.
    pub fn apply(
        &mut self,
        scan: &crate::scan::Scan,
        pre: &str,
        date: &str,
        post: &str,
        time: f64,
    ) -> Vec<Failure> {
        let mut st = std::mem::take(&mut self.state);
        let out = self.apply_to(&mut st, scan, pre, date, post, time);
        self.state = st;
        out
    }

    /// [`Filter::apply`] with the state taken out by [`Filter::take_state`]: the filter
    /// itself stays shared, so other threads may [`Filter::scan`] meanwhile.
    pub fn apply_to(
        &self,
        st: &mut FilterState,
        scan: &crate::scan::Scan,
        pre: &str,
        date: &str,
        post: &str,
        time: f64,
    ) -> Vec<Failure> {
        st.stats.lines += 1;
        let (pre, date, post) = self.cap(st, pre, date, post);
        st.stats.limit_hits += scan.limit_hits;
        if scan.prefiltered {
            st.stats.prefiltered += 1;
        }
        if let Some(i) = scan.ignored_first {
            st.count_ignore(i);
            return Vec::new();
        }
        if scan.pref_matched {
            st.stats.pref_matched += 1;
        }
        let mut out = Vec::new();
        let (text_pre, text_post) = self.capped(pre, date, post);
        let searched = Searched {
            pre: text_pre,
            post: text_post,
            content: scan.content,
        };
        for hit in &scan.hits {
            if let Some(i) = hit.ignored {
                st.count_ignore(i);
                continue;
            }
            if !self.opts.check_all && self.forget_quietly(st, scan, hit, &searched, time) {
                break;
            }
            let data = Data::new(self.hit_fields(scan, hit, &searched));
            // Copied only when kept (not for a forgotten no-failure line), and no list
            // allocated for the one line.
            let lines = std::iter::once_with(|| concat3(pre, date, post))
                .take(usize::from(self.keep_matches));
            self.failure(st, hit.index, data, lines, time, &mut out);
            if !self.opts.check_all {
                break;
            }
        }
        out
    }

    /// A no-failure hit that makes its multi-line id forgotten (`<F-NOFAIL>` and
    /// `<F-MLFFORGET>`, no `<F-MLFGAINED>`) yields nothing and leaves only the id's removal
    /// from the cache, unless the cached entry was pending or the hit brings a second user
    /// (then [`Filter::failure`] decides). Such hits (most of sshd's closing lines) are
    /// recognised here from the spans alone, without building their fields: true when the
    /// hit was handled so.
    fn forget_quietly(
        &self,
        st: &mut FilterState,
        scan: &crate::scan::Scan,
        hit: &crate::scan::Hit,
        src: &Searched<'_>,
        time: f64,
    ) -> bool {
        let Some(Some(q)) = self.table.quiet.get(hit.index) else {
            return false;
        };
        let spans = scan.spans.get(hit.groups..).unwrap_or(&[]);
        let pref = |i: usize| {
            if !scan.pref_matched {
                return None;
            }
            let (a, b) = scan.spans.get(i).copied().flatten()?;
            Some(src.text(a, b))
        };
        let fail = |i: usize| {
            let (a, b) = spans.get(i).copied().flatten()?;
            Some(src.hay(a, b))
        };
        let truthy = |v: Option<Cow<'_, str>>| v.is_some_and(|t| !t.is_empty());
        if !truthy(q.forget.text(pref, fail))
            || !truthy(q.nofail.text(pref, fail))
            || truthy(q.gained.text(pref, fail))
        {
            return false;
        }
        let Some(id) = q.mlfid.text(pref, fail) else {
            return false;
        };
        if let Some(c) = st.mlfid.get(&*id) {
            // A live entry: its pending failure or a second user makes a failure.
            if time - c.time <= MLFID_CACHE_TTL {
                if c.data.pending {
                    return false;
                }
                let users = c.data.users.as_ref();
                if users.is_some_and(|u| u.len() > 1) {
                    return false;
                }
                if let Some(one) = users.and_then(|u| u.first()) {
                    match q.user.text(pref, fail) {
                        Some(u) if !u.is_empty() && *u != **one => return false,
                        _ => {}
                    }
                }
            }
            st.mlfid.remove(&*id);
        }
        true
    }

    /// A scanned hit's fields: the prefregex's groups (but its content), then the
    /// failregex's merged in ([`crate::fields::GroupPlan::merge`]).
    fn hit_fields(
        &self,
        scan: &crate::scan::Scan,
        hit: &crate::scan::Hit,
        src: &Searched<'_>,
    ) -> Fields {
        let mut fields = self.table.fields();
        if scan.pref_matched {
            self.table.pref.put(&mut fields, |i| {
                let (a, b) = scan.spans.get(i).copied().flatten()?;
                Some(src.text(a, b).into_owned())
            });
        }
        if let Some(plan) = self.table.fail.get(hit.index) {
            let spans = scan.spans.get(hit.groups..).unwrap_or(&[]);
            plan.merge(&mut fields, |i| {
                let (a, b) = spans.get(i).copied().flatten()?;
                Some(src.hay(a, b).into_owned())
            });
        }
        fields
    }

    pub(crate) fn pref_regex(&self) -> Option<&Regex> {
        self.pref.as_ref().map(|c| &c.re)
    }

    pub(crate) fn fail_regexes(&self) -> impl ExactSizeIterator<Item = &Regex> + '_ {
        self.fail.iter().map(|c| &c.re)
    }

    pub(crate) fn ignore_regexes(&self) -> impl Iterator<Item = &Regex> + '_ {
        self.ignore.iter().map(|c| &c.re)
    }

    pub(crate) fn literal_prefilter(&self) -> Option<&LiteralPrefilter> {
        self.literals.as_ref()
    }

    /// A search cache for the ASCII failregex set (one per thread, see [`Filter::candidates`]).
    pub(crate) fn set_cache(&self) -> Option<regex_automata::meta::Cache> {
        self.ascii_set().map(|s| s.create_cache())
    }

    /// One lazy DFA over every failregex (exact or relaxed), rejecting most ASCII lines at
    /// once (compiled on first need).
    fn ascii_set(&self) -> Option<&regex_automata::meta::Regex> {
        self.fail_set_ascii
            .get_or_init(|| compile_ascii_set(self.fail.iter().map(|c| c.re.accept_pattern())))
            .as_ref()
    }

    /// A search cache for the leftmost-first failregex set (one per thread).
    pub(crate) fn first_cache(&self) -> Option<FirstCache> {
        self.fail_first_ascii.as_ref().map(|s| s.create_cache())
    }

    /// The first failregex that may match an ASCII `hay`, its branch (see
    /// [`Regex::captures_branch`]) and the span of its preferred match: `Some(None)` when
    /// none can, `None` when the set cannot tell (no such set, a non-ASCII subject).
    #[allow(clippy::type_complexity)]
    pub(crate) fn first_candidate(
        &self,
        hay: &str,
        cache: &mut FirstCache,
    ) -> Option<Option<(usize, Option<usize>, usize, usize)>> {
        let set = self.fail_first_ascii.as_ref()?;
        if !hay.is_ascii() {
            return None;
        }
        set.first(cache, hay.as_bytes())
    }

    /// Indexes of the failregexes that may match `hay` (all of them without a set), in
    /// order. `cache` is the caller's from [`Filter::set_cache`] (else the set's pool).
    pub(crate) fn candidates(
        &self,
        hay: &str,
        cache: Option<&mut regex_automata::meta::Cache>,
    ) -> Vec<usize> {
        let ascii = if hay.is_ascii() {
            self.ascii_set()
        } else {
            None
        };
        if let Some(set) = ascii {
            let input = regex_automata::Input::new(hay.as_bytes());
            let mut found = regex_automata::PatternSet::new(set.pattern_len());
            match cache {
                Some(c) => set.which_overlapping_matches_with(c, &input, &mut found),
                None => set.which_overlapping_matches(&input, &mut found),
            }
            return found.iter().map(|p| p.as_usize()).collect();
        }
        match self.unicode_set() {
            Some(set) => set.matches(hay).into_iter().collect(),
            None => (0..self.fail.len()).collect(),
        }
    }

    /// The failregex set with Unicode classes (built on first need: ASCII lines, the usual
    /// case, use the far smaller ASCII set).
    fn unicode_set(&self) -> Option<&regex::RegexSet> {
        self.fail_set
            .get_or_init(|| {
                regex::RegexSetBuilder::new(self.fail.iter().map(|c| c.re.accept_pattern()))
                    .size_limit(64 << 20)
                    .dfa_size_limit(DFA_SIZE_LIMIT)
                    .build()
                    .ok()
            })
            .as_ref()
    }

    pub(crate) fn pref_head(&self) -> Option<&ContentHead> {
        self.pref_head.as_ref()
    }

    pub(crate) fn content_index(&self) -> Option<usize> {
        self.content_group
    }

    /// `pre` and `post` cut as [`Filter::cap`] cuts them (the date's share included).
    pub(crate) fn capped<'l>(&self, pre: &'l str, date: &str, post: &'l str) -> (&'l str, &'l str) {
        let cap = self.opts.line_cap;
        if pre.len() + date.len() + post.len() <= cap {
            return (pre, post);
        }
        let cut = |s: &'l str, room: usize| -> &'l str {
            let mut end = room.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            &s[..end]
        };
        let pre = cut(pre, cap);
        let mut date_len = (cap - pre.len()).min(date.len());
        while !date.is_char_boundary(date_len) {
            date_len -= 1;
        }
        (pre, cut(post, cap - pre.len() - date_len))
    }

    /// Cuts an over-long line (the text after the date first).
    fn cap<'l>(
        &self,
        st: &mut FilterState,
        pre: &'l str,
        date: &'l str,
        post: &'l str,
    ) -> (&'l str, &'l str, &'l str) {
        let cap = self.opts.line_cap;
        let total = pre.len() + date.len() + post.len();
        if total <= cap {
            return (pre, date, post);
        }
        st.stats.cut_lines += 1;
        let cut = |s: &'l str, room: usize| -> &'l str {
            let mut end = room.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            &s[..end]
        };
        let pre = cut(pre, cap);
        let date = cut(date, cap - pre.len());
        let post = cut(post, cap - pre.len() - date.len());
        (pre, date, post)
    }

    fn any_ignore(&self, st: &mut FilterState, hay: &str) -> bool {
        let stats = &mut st.stats;
        match self.ignore.iter().position(|c| c.is_match(hay, stats)) {
            Some(i) => {
                if let Some(h) = st.ignore_hits.get_mut(i) {
                    *h += 1;
                }
                true
            }
            None => false,
        }
    }

    /// §2.2 step 5: with few ignoreregexes compared to failregexes they are tried first.
    pub(crate) fn ignore_first(&self) -> bool {
        !self.ignore.is_empty() && (self.ignore.len() as isize) < self.fail.len() as isize - 2
    }

    fn find(
        &mut self,
        st: &mut FilterState,
        text: &str,
        cur: (&str, &str, &str),
        time: f64,
    ) -> Vec<Failure> {
        // §2.2 step 5: few ignoreregexes compared to failregexes are tried first.
        if self.ignore_first() && self.any_ignore(st, text) {
            st.stats.ignored += 1;
            return Vec::new();
        }
        // Step 6: prefregex.
        let mut pre_groups = self.table.fields();
        let mut pref_span = None;
        let use_content = if let Some(p) = self.pref.as_mut() {
            if !p.search(text, &mut st.stats) {
                return Vec::new();
            }
            st.stats.pref_matched += 1;
            pref_span = p.caps.get(0);
            let caps = &p.caps;
            self.table.pref.put(&mut pre_groups, |i| {
                let (s, e) = caps.get(i)?;
                text.get(s..e).map(str::to_owned)
            });
            match self.content_group.and_then(|i| p.caps.get(i)) {
                Some((s, e)) => {
                    self.content.clear();
                    self.content.push_str(&text[s..e]);
                    self.content.push('\n');
                    true
                }
                None => false,
            }
        } else {
            false
        };
        let content = std::mem::take(&mut self.content);
        let hay: &str = if use_content { &content } else { text };
        let out = self.failregexes(st, hay, text, use_content, pref_span, pre_groups, cur, time);
        self.content = content;
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn failregexes(
        &mut self,
        st: &mut FilterState,
        hay: &str,
        text: &str,
        use_content: bool,
        pref_span: Option<(usize, usize)>,
        pre_groups: Fields,
        cur: (&str, &str, &str),
        time: f64,
    ) -> Vec<Failure> {
        let candidates = self.candidates(hay, None);
        if candidates.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let multi = self.opts.maxlines > 1;
        for idx in candidates {
            if !self.fail[idx].search(hay, &mut st.stats) {
                continue;
            }
            let c = &self.fail[idx];
            // Which buffered lines the match covers (skipped lines excluded).
            let (matched, unmatched) = if multi {
                let span = if use_content {
                    pref_span
                } else {
                    c.caps.get(0)
                };
                let skips: Vec<(usize, usize)> = if use_content {
                    Vec::new()
                } else {
                    c.re.group_names()
                        .filter(|(_, n)| n.starts_with("skiplines"))
                        .filter_map(|(i, _)| c.caps.get(i))
                        .collect()
                };
                self.split_lines(text, span.unwrap_or((0, 0)), &skips)
            } else {
                (vec![0], Vec::new())
            };
            let lines: Vec<String> = if !self.keep_matches {
                Vec::new()
            } else if multi {
                matched
                    .iter()
                    .filter_map(|&i| self.buffer.get(i))
                    .map(Line::full)
                    .collect()
            } else {
                vec![concat3(cur.0, cur.1, cur.2)]
            };
            // Step 7: ignoreregexes on the matched lines.
            if !self.ignore.is_empty() {
                let hit = if multi {
                    let mut t = String::new();
                    for &i in &matched {
                        if let Some(l) = self.buffer.get(i) {
                            t.push_str(&l.pre);
                            t.push_str(&l.post);
                            t.push('\n');
                        }
                    }
                    self.any_ignore(st, &t)
                } else {
                    self.any_ignore(st, text)
                };
                if hit {
                    st.stats.ignored += 1;
                    if multi {
                        self.keep_lines(&unmatched);
                    }
                    continue;
                }
            }
            if multi {
                self.keep_lines(&unmatched);
            }
            let c = &self.fail[idx];
            let mut fields = pre_groups.clone();
            if let Some(plan) = self.table.fail.get(idx) {
                plan.merge(&mut fields, |i| {
                    let (s, e) = c.caps.get(i)?;
                    hay.get(s..e).map(str::to_owned)
                });
            }
            let data = Data::new(fields);
            self.failure(st, idx, data, lines, time, &mut out);
            if !self.opts.check_all {
                break;
            }
        }
        out
    }

    /// Indexes of buffered lines touched by `span` (minus fully skipped ones), and the rest.
    fn split_lines(
        &self,
        text: &str,
        span: (usize, usize),
        skips: &[(usize, usize)],
    ) -> (Vec<usize>, Vec<usize>) {
        let (mut matched, mut rest) = (Vec::new(), Vec::new());
        let mut off = 0;
        for (i, l) in self.buffer.iter().enumerate() {
            let len = l.pre.len() + l.post.len();
            let (ls, le) = (off, off + len + 1);
            off = le;
            let skipped = skips.iter().any(|&(s, e)| s <= ls && le <= e && s < e);
            let touched = ls < span.1.max(span.0 + 1) && span.0 < le;
            if touched && !skipped && ls < text.len() {
                matched.push(i);
            } else {
                rest.push(i);
            }
        }
        (matched, rest)
    }

    fn keep_lines(&mut self, keep: &[usize]) {
        let old = std::mem::take(&mut self.buffer);
        self.buffer = old
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep.contains(i))
            .map(|(_, l)| l)
            .collect();
    }

    /// Steps 8–9: multi-line merge, failure id, DNS. The failures go to `out`.
    #[allow(clippy::too_many_arguments)]
    fn failure<L: IntoIterator<Item = String, IntoIter: ExactSizeIterator>>(
        &self,
        st: &mut FilterState,
        idx: usize,
        mut data: Data,
        lines: L,
        time: f64,
        out: &mut Vec<Failure>,
    ) {
        let s = &self.table.slots;
        // The multi-line id, as the cache's key (the cached entry's own key when there is one).
        let mut key = None;
        let mut keep_cached = false;
        if let Some(id) = data.text(s.mlfid) {
            let (k, prev) = st.take_mlfid(id, time);
            let (merged, cached) = merge_mlfid(s, data, prev, lines);
            data = merged;
            keep_cached = cached;
            if data.flag(s.nofail) && !self.opts.check_all {
                st.store_mlfid(k, data, keep_cached, time);
                return;
            }
            key = Some(k);
        } else {
            let lines = lines.into_iter();
            if lines.len() > 0 {
                Arc::make_mut(data.matches.get_or_insert_with(Default::default)).extend(lines);
            }
        }
        let fid = data.text(s.fid);
        let ip = data.text(s.ip4).or(data.text(s.ip6));
        let one;
        let many;
        let ids: &[FailureId] = if let Some(ip) = ip {
            one = [parse_host(ip, data.text(s.cidr))];
            &one
        } else if let Some(name) = data.text(s.dns) {
            many = self.dns(name);
            &many
        } else if let Some(f) = fid {
            one = [FailureId::Raw(f.to_owned())];
            &one
        } else {
            if let Some(k) = key {
                // A failure before its id is known: counted when the id appears.
                data.pending = true;
                st.store_mlfid(k, data, keep_cached, time);
            }
            return;
        };
        let users: Vec<String> = data.users.iter().flatten().cloned().collect();
        let mut user = data.text(s.user).map(str::to_owned);
        let nofail = data.flag(s.nofail);
        let mut fid = fid.map(str::to_owned);
        // The data goes to the multi-line cache, or else into the last failure (no copy).
        let cache = key.filter(|_| keep_cached);
        let (fields, matches) = if cache.is_some() {
            (
                Arc::clone(&data.fields),
                (data.matches.clone()).unwrap_or_else(|| Arc::clone(&self.no_matches)),
            )
        } else {
            (
                std::mem::take(&mut data.fields),
                (data.matches.take()).unwrap_or_else(|| Arc::clone(&self.no_matches)),
            )
        };
        let last = ids.len().saturating_sub(1);
        out.reserve(ids.len());
        let mut parts = Some((fields, matches, users));
        for (k, ip) in ids.iter().enumerate() {
            let (id, ip) = match &fid {
                Some(f) if !matches!(ip, FailureId::Raw(r) if r == f) => {
                    let id = match parse_ip(f) {
                        Some(a) => FailureId::Addr(a),
                        None => FailureId::Raw(f.clone()),
                    };
                    (id, Some(ip.clone()))
                }
                _ => (ip.clone(), None),
            };
            let (fields, matches, users) = match (k == last, &parts) {
                (false, Some((f, m, u))) => (f.clone(), m.clone(), u.clone()),
                _ => parts.take().unwrap_or_default(),
            };
            // The last failure takes the texts themselves (no copy for the usual one id).
            let (user, fid) = if k == last {
                (user.take(), fid.take())
            } else {
                (user.clone(), fid.clone())
            };
            out.push(Failure {
                id,
                ip,
                time,
                regex_index: idx,
                user,
                users,
                nofail,
                fid,
                fields,
                matches,
            });
        }
        if let Some(k) = cache {
            st.store_mlfid(k, data, true, time);
        }
    }

    fn dns(&self, name: &str) -> Vec<FailureId> {
        if let Some(ip) = parse_ip(name) {
            return vec![FailureId::Addr(ip)];
        }
        match self.opts.usedns {
            UseDns::Raw => vec![FailureId::Raw(name.to_owned())],
            UseDns::No => Vec::new(),
            UseDns::Yes | UseDns::Warn => match &self.resolver {
                Some(r) => r(name).into_iter().map(FailureId::Addr).collect(),
                None => Vec::new(),
            },
        }
    }
}

/// What applying lines changes: the counters and the multi-line-id cache (see
/// [`Filter::take_state`]).
#[derive(Debug, Default)]
pub struct FilterState {
    stats: Stats,
    ignore_hits: Vec<u64>,
    /// Bounded (100 entries), so a fast hash is safe with ids an attacker chooses.
    mlfid: HashMap<String, Cached, foldhash::fast::RandomState>,
    /// Entries stored so far (the insertion order of the cache's entries).
    stored: u64,
}

/// A multi-line id's cached data, with the line time and the order it was stored in.
#[derive(Debug)]
struct Cached {
    time: f64,
    seq: u64,
    data: Data,
}

impl FilterState {
    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn count_ignore(&mut self, i: usize) {
        if let Some(h) = self.ignore_hits.get_mut(i) {
            *h += 1;
        }
        self.stats.ignored += 1;
    }

    /// Takes the entry of multi-line id `id` out of the cache: its key (or a new one) and
    /// its data unless older than the cache's time to live.
    fn take_mlfid(&mut self, id: &str, time: f64) -> (String, Option<Data>) {
        match self.mlfid.remove_entry(id) {
            Some((k, c)) => (k, (time - c.time <= MLFID_CACHE_TTL).then_some(c.data)),
            None => (id.to_owned(), None),
        }
    }

    /// Caches `data` under `id` when `cached`; `id` was taken out by
    /// [`FilterState::take_mlfid`], so it is not in the cache.
    fn store_mlfid(&mut self, id: String, data: Data, cached: bool, time: f64) {
        if !cached {
            return;
        }
        // Full: the oldest entry goes (the first stored among equal times, as fail2ban's
        // cache drops in insertion order; never the hash map's arbitrary order).
        if self.mlfid.len() >= MLFID_CACHE_SIZE {
            if let Some(old) = self
                .mlfid
                .iter()
                .min_by(|a, b| a.1.time.total_cmp(&b.1.time).then(a.1.seq.cmp(&b.1.seq)))
                .map(|(k, _)| k.clone())
            {
                self.mlfid.remove(&old);
            }
        }
        self.stored += 1;
        let seq = self.stored;
        self.mlfid.insert(id, Cached { time, seq, data });
    }
}

/// fail2ban's `_mergeFailure`: a line's data `fail` merged with the cached data `prev` of
/// its multi-line id. Returns the merged data and whether it stays cached.
fn merge_mlfid<L: IntoIterator<Item = String, IntoIter: ExactSizeIterator>>(
    s: &Slots,
    mut fail: Data,
    prev: Option<Data>,
    lines: L,
) -> (Data, bool) {
    let lines = lines.into_iter();
    const NOFAIL: u8 = 1;
    const FORGET: u8 = 2;
    const PREV_NOFAIL: u8 = 4;
    const GAINED: u8 = 8;
    let mut flags = 0u8;
    if fail.flag(s.mlfgained) {
        flags |= GAINED | NOFAIL;
        if !fail.flag(s.nofail) {
            if let Some(v) = fail.fields.slot(s.mlfgained).cloned() {
                Arc::make_mut(&mut fail.fields).set(s.nofail, v);
            }
        }
    } else if fail.flag(s.nofail) {
        flags |= NOFAIL;
    }
    // A present value other than an empty text (fail2ban tests `is not None`-like).
    let set = |v: Option<Value>| v.is_some_and(|v| v.as_text() != Some(""));
    if set(take_field(&mut fail.fields, s.mlfforget)) {
        flags |= FORGET;
    }
    let (mut fail, keep, many_users) = match prev {
        Some(mut prev) => {
            let many = Data::update_users(&mut prev.users, fail.text(s.user));
            if set(take_field(&mut prev.fields, s.nofail)) {
                flags |= PREV_NOFAIL;
            }
            if set(take_field(&mut prev.fields, s.mlfgained)) {
                flags |= PREV_NOFAIL;
            }
            if flags & GAINED != 0 {
                prev.pending = false;
            }
            if flags & PREV_NOFAIL == 0 && !prev.pending {
                prev.matches = None;
            }
            Arc::make_mut(&mut prev.fields).overlay(Arc::unwrap_or_clone(fail.fields));
            (prev, flags & FORGET == 0, many)
        }
        None => {
            let keep = flags & FORGET == 0;
            let many = if keep {
                Data::update_users(&mut fail.users, fail.fields.text(s.user))
            } else {
                false
            };
            (fail, keep, many)
        }
    };
    if std::mem::take(&mut fail.pending) || many_users {
        take_field(&mut fail.fields, s.nofail);
        take_field(&mut fail.fields, s.mlfgained);
        flags &= !(GAINED | NOFAIL);
    }
    if flags & NOFAIL == 0 {
        let mut m = fail.nofail_matches.take().unwrap_or_default();
        let earlier = fail.matches.take();
        let new = if flags & GAINED == 0 { lines.len() } else { 0 };
        m.reserve_exact(earlier.as_ref().map_or(0, |e| e.len()) + new);
        match earlier.map(Arc::try_unwrap) {
            Some(Ok(e)) => m.extend(e),
            Some(Err(shared)) => m.extend(shared.iter().cloned()),
            None => {}
        }
        if flags & GAINED == 0 {
            m.extend(lines);
        }
        // No lines is the same as none kept (no allocation for it).
        fail.matches = (!m.is_empty()).then(|| Arc::new(m));
    } else if flags & (NOFAIL | FORGET) == NOFAIL {
        fail.nofail_matches
            .get_or_insert_with(Vec::new)
            .extend(lines);
    }
    (fail, keep)
}

/// Empties slot `i` of shared `fields`, copying them only when the slot holds a value and
/// they are shared.
fn take_field(fields: &mut Arc<Fields>, i: usize) -> Option<Value> {
    fields.slot(i)?;
    Arc::make_mut(fields).take(i)
}

/// The text a [`crate::scan::Scan`] searched, rebuilt from the line's parts (capped as
/// the scan capped them): `pre + post + "\n"`, and the failregexes' haystack (the content
/// span of it plus `"\n"`, or the same text).
struct Searched<'a> {
    pre: &'a str,
    post: &'a str,
    content: Option<(usize, usize)>,
}

impl<'a> Searched<'a> {
    /// `text[a..b]`, borrowed unless it straddles the cut date or takes the final `\n`.
    fn text(&self, a: usize, b: usize) -> Cow<'a, str> {
        let p = self.pre.len();
        let end = p + self.post.len();
        if b <= p {
            return Cow::Borrowed(self.pre.get(a..b).unwrap_or(""));
        }
        if a >= p && b <= end {
            return Cow::Borrowed(self.post.get(a - p..b - p).unwrap_or(""));
        }
        let mut s = String::with_capacity(b.saturating_sub(a));
        s.push_str(self.pre.get(a.min(p)..p).unwrap_or(""));
        s.push_str(self.post.get(a.max(p) - p..b.min(end) - p).unwrap_or(""));
        if b > end {
            s.push('\n');
        }
        Cow::Owned(s)
    }

    /// `haystack[a..b]` of the failregexes.
    fn hay(&self, a: usize, b: usize) -> Cow<'a, str> {
        let Some((cs, ce)) = self.content else {
            return self.text(a, b);
        };
        let len = ce - cs;
        if b <= len {
            return self.text(cs + a, cs + b);
        }
        // The span takes the `\n` put after the content.
        let mut s = self.text(cs + a.min(len), ce).into_owned();
        s.push('\n');
        Cow::Owned(s)
    }
}

/// `a + b + c` in one allocation (no formatting machinery: once per failure).
fn concat3(a: &str, b: &str, c: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len() + c.len());
    s.push_str(a);
    s.push_str(b);
    s.push_str(c);
    s
}
