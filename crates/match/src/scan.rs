//! The stateless half of single-line processing: everything a line's regexes say, computed
//! with shared `&Filter` and per-thread [`Scratch`], so that several threads can search while
//! one applies the results (multi-line ids, failure ids) in line order.

use std::collections::BTreeMap;

use crate::engine::Captures;
use crate::filter::{merge_groups, Filter, Value};

/// Per-thread search buffers for [`Filter::scan`].
#[derive(Debug, Default)]
pub struct Scratch {
    text: String,
    content: String,
    pref: Option<Captures>,
    head: Option<Captures>,
    fail: Vec<Captures>,
    set: Option<regex_automata::meta::Cache>,
    first: Option<regex_automata::meta::Cache>,
}

/// What one line's regexes found ([`Filter::scan`]); feed it to [`Filter::apply`].
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Rejected by the literal prefilter.
    pub(crate) prefiltered: bool,
    /// The prefregex matched.
    pub(crate) pref_matched: bool,
    /// Index of the ignoreregex that dropped the line before any failregex ran.
    pub(crate) ignored_first: Option<usize>,
    /// Matching failregexes in order: index, the failure data, and the ignoreregex that
    /// dropped this match (if one did).
    pub(crate) hits: Vec<(usize, BTreeMap<String, Value>, Option<usize>)>,
    /// Searches stopped at the backtracking limit.
    pub(crate) limit_hits: u64,
}

impl Scan {
    /// Whether the line can yield a failure (some failregex matched).
    pub fn has_hits(&self) -> bool {
        !self.hits.is_empty()
    }
}

impl Filter {
    /// Fresh search buffers for [`Filter::scan`] (one per thread).
    pub fn scratch(&self) -> Scratch {
        Scratch {
            text: String::new(),
            content: String::new(),
            pref: self.pref_regex().map(|r| r.new_captures()),
            head: self.pref_head().map(|h| h.new_captures()),
            fail: self.fail_regexes().map(|r| r.new_captures()).collect(),
            set: self.set_cache(),
            first: self.first_cache(),
        }
    }

    /// Whether [`Filter::scan`]/[`Filter::apply`] may be used (single-line filters only; a
    /// multi-line buffer is state).
    pub fn can_scan(&self) -> bool {
        self.options().maxlines == 1
    }

    /// Runs a single-line filter's regexes on a line split by date detection, without
    /// touching any state. Only for filters where [`Filter::can_scan`] holds.
    pub fn scan(&self, s: &mut Scratch, pre: &str, date: &str, post: &str) -> Scan {
        let mut out = Scan::default();
        if s.fail.len() != self.fail_regexes().len() {
            *s = self.scratch();
        }
        let (pre, post) = self.capped(pre, date, post);
        s.text.clear();
        s.text.push_str(pre);
        s.text.push_str(post);
        if let Some(lit) = self.literal_prefilter() {
            if !lit.may_match(&s.text) {
                out.prefiltered = true;
                if self.options().exact_stats {
                    s.text.push('\n');
                    self.rejected_scan(&s.text, &mut out);
                }
                return out;
            }
        }
        s.text.push('\n');
        let text = s.text.as_str();
        if self.ignore_first() {
            if let Some(i) = self.first_ignore(text, &mut out.limit_hits) {
                out.ignored_first = Some(i);
                return out;
            }
        }
        let mut pre_groups: BTreeMap<String, Value> = BTreeMap::new();
        let mut use_content = false;
        if let Some(p) = self.pref_regex() {
            // The head alone when it can tell (the usual case), else the whole prefregex.
            let head = match (self.pref_head(), s.head.as_mut()) {
                (Some(h), Some(c)) => h.captures(text, c).map(|found| (found, &*c)),
                _ => None,
            };
            let (found, caps) = match head {
                Some((found, c)) => (Ok(found), c),
                None => {
                    let caps = s.pref.get_or_insert_with(|| p.new_captures());
                    (p.captures(text, caps), &*caps)
                }
            };
            match found {
                Ok(true) => {}
                Ok(false) => return out,
                Err(_) => {
                    out.limit_hits += 1;
                    return out;
                }
            }
            out.pref_matched = true;
            for (i, name) in p.group_names() {
                if let Some((a, b)) = caps.get(i) {
                    if name != "content" {
                        pre_groups.insert(name.to_owned(), Value::Text(text[a..b].to_owned()));
                    }
                }
            }
            if let Some((a, b)) = self.content_index().and_then(|i| caps.get(i)) {
                s.content.clear();
                s.content.push_str(&text[a..b]);
                s.content.push('\n');
                use_content = true;
            }
        }
        let hay: &str = if use_content { &s.content } else { text };
        // The first failregex that may match, and its match's span, from one search; the
        // rest of the set only when that one gives no final hit.
        let mut after = 0;
        if let Some(first) = s.first.as_mut() {
            match self.first_candidate(hay, first) {
                Some(None) => return out,
                Some(Some((idx, start, end))) => {
                    if let Some(re) = self.fail_regexes().nth(idx) {
                        let found = re.captures_at(hay, start, end, &mut s.fail[idx]);
                        if self.hit(&mut out, idx, found, text, hay, &pre_groups, &s.fail[idx]) {
                            return out;
                        }
                    }
                    after = idx + 1;
                }
                None => {}
            }
        }
        let candidates = self.candidates(hay, s.set.as_mut());
        for idx in candidates.into_iter().filter(|i| *i >= after) {
            let Some(re) = self.fail_regexes().nth(idx) else {
                continue;
            };
            let found = re.captures(hay, &mut s.fail[idx]);
            if self.hit(&mut out, idx, found, text, hay, &pre_groups, &s.fail[idx]) {
                break;
            }
        }
        out
    }

    /// Records failregex `idx`'s search result on the line; true when it is the line's
    /// final hit (matched, not ignored, and the filter stops at the first).
    #[allow(clippy::too_many_arguments)]
    fn hit(
        &self,
        out: &mut Scan,
        idx: usize,
        found: Result<bool, crate::Error>,
        text: &str,
        hay: &str,
        pre_groups: &BTreeMap<String, Value>,
        caps: &Captures,
    ) -> bool {
        match found {
            Ok(true) => {}
            Ok(false) => return false,
            Err(_) => {
                out.limit_hits += 1;
                return false;
            }
        }
        let Some(re) = self.fail_regexes().nth(idx) else {
            return false;
        };
        // Step 7: ignoreregexes on the matched line.
        let ignored = self.first_ignore(text, &mut out.limit_hits);
        let mut fields = pre_groups.clone();
        if ignored.is_none() {
            merge_groups(&mut fields, re, caps, hay);
        }
        out.hits.push((idx, fields, ignored));
        ignored.is_none() && !self.options().check_all
    }

    /// The counters a full search would have updated on a prefiltered line.
    fn rejected_scan(&self, text: &str, out: &mut Scan) {
        if self.ignore_first() {
            if let Some(i) = self.first_ignore(text, &mut out.limit_hits) {
                out.ignored_first = Some(i);
                return;
            }
        }
        if let Some(p) = self.pref_regex() {
            match p.is_match(text) {
                Ok(m) => out.pref_matched = m,
                Err(_) => out.limit_hits += 1,
            }
        }
    }

    fn first_ignore(&self, text: &str, limit_hits: &mut u64) -> Option<usize> {
        self.ignore_regexes().position(|r| match r.is_match(text) {
            Ok(m) => m,
            Err(_) => {
                *limit_hits += 1;
                false
            }
        })
    }
}
