//! The stateless half of single-line processing: everything a line's regexes say, computed
//! with shared `&Filter` and per-thread [`Scratch`], so that several threads can search while
//! one applies the results (multi-line ids, failure ids) in line order.

use crate::engine::{Captures, Regex};
use crate::filter::Filter;
use crate::memo::{Lookup, Memo};

/// The search buffers [`Filter::search_fail`] uses (borrowed from a [`Scratch`] whose
/// text is the haystack).
struct FailSearch<'s> {
    set: &'s mut Option<regex_automata::meta::Cache>,
    fail: &'s mut Vec<Captures>,
}

/// Per-thread search buffers for [`Filter::scan`].
#[derive(Debug, Default)]
pub struct Scratch {
    text: String,
    content: String,
    pref: Option<Captures>,
    head: Option<crate::head::HeadScratch>,
    fail: Vec<Captures>,
    set: Option<regex_automata::meta::Cache>,
    first: Option<crate::engine::FirstCache>,
    /// Failregex results of recent contents.
    memo: Memo,
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
    /// Matching failregexes in order.
    pub(crate) hits: Vec<Hit>,
    /// Group spans in the searched text (the line without its date, plus `\n`): the
    /// prefregex's groups by index (when it matched), then each hit's failregex groups.
    pub(crate) spans: Vec<Option<(usize, usize)>>,
    /// The failregexes ran on this span of the text (the prefregex's `<F-CONTENT>`) plus a
    /// `\n`, rather than on the text itself.
    pub(crate) content: Option<(usize, usize)>,
    /// Searches stopped at the backtracking limit.
    pub(crate) limit_hits: u64,
}

/// One failregex match of a [`Scan`].
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// Index of the failregex.
    pub(crate) index: usize,
    /// The ignoreregex that dropped this match, if one did.
    pub(crate) ignored: Option<usize>,
    /// Where its groups start in [`Scan::spans`] (relative to the haystack it ran on).
    pub(crate) groups: usize,
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
            head: self.pref_head().map(|h| h.new_scratch()),
            fail: self.fail_regexes().map(|r| r.new_captures()).collect(),
            // Made when first needed: with the leftmost-first set, rarely.
            set: None,
            first: self.first_cache(),
            memo: Memo::default(),
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
        self.scan_into(s, &mut out, pre, date, post);
        out
    }

    /// [`Filter::scan`] into `out`, reusing its buffers.
    pub fn scan_into(&self, s: &mut Scratch, out: &mut Scan, pre: &str, date: &str, post: &str) {
        out.prefiltered = false;
        out.pref_matched = false;
        out.ignored_first = None;
        out.hits.clear();
        out.spans.clear();
        out.content = None;
        out.limit_hits = 0;
        if s.fail.len() != self.fail_regexes().len() {
            *s = self.scratch();
        }
        let (pre, post) = self.capped(pre, date, post);
        s.text.clear();
        s.text.push_str(pre);
        s.text.push_str(post);
        // With a prefregex head and the anchored failregex set, a line that cannot match is
        // rejected by two short anchored DFA searches: a scan of the whole line for the
        // literals would cost more on the lines that pass it.
        let cheap_reject = s.first.is_some() && self.pref_head().is_some();
        if let Some(lit) = self.literal_prefilter().filter(|_| !cheap_reject) {
            if !lit.may_match(&s.text) {
                out.prefiltered = true;
                if self.options().exact_stats {
                    s.text.push('\n');
                    self.rejected_scan(&s.text, out);
                }
                return;
            }
        }
        s.text.push('\n');
        let text = s.text.as_str();
        if self.ignore_first() {
            if let Some(i) = self.first_ignore(text, &mut out.limit_hits) {
                out.ignored_first = Some(i);
                return;
            }
        }
        if let Some(p) = self.pref_regex() {
            // The head alone when it can tell (the usual case), else the whole prefregex.
            let head = match (self.pref_head(), s.head.as_mut()) {
                (Some(h), Some(c)) => h.captures(text, c).map(|found| (found, &c.caps)),
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
                Ok(false) => return,
                Err(_) => {
                    out.limit_hits += 1;
                    return;
                }
            }
            out.pref_matched = true;
            out.spans.extend((0..p.groups_len()).map(|i| caps.get(i)));
            out.content = self.content_index().and_then(|i| caps.get(i));
        }
        // The content plus the line's final newline: the rest of the text when the content
        // runs to the line's end (the usual `.+$`), else a copy.
        let hay: &str = match out.content {
            Some((a, b)) if b + 1 == text.len() => &text[a..],
            Some((a, b)) => {
                s.content.clear();
                s.content.push_str(&text[a..b]);
                s.content.push('\n');
                &s.content
            }
            None => text,
        };
        // The first failregex that may match, from the leftmost-first set: a content none
        // can match (most lines of other services) is done here, before the memo's hash.
        let first = match s.first.as_mut() {
            Some(f) => self.first_candidate(hay, f),
            None => None,
        };
        if let Some(None) = first {
            return;
        }
        // The failregexes' result is a function of `hay` alone (no ignoreregex in between):
        // a repeated content gets it from the memo.
        let owner = self
            .memo_owner()
            .filter(|_| hay.len() <= crate::memo::MAX_KEY);
        let mut missing = None;
        if let Some(owner) = owner {
            match s.memo.lookup(owner, hay.as_bytes()) {
                Lookup::Found(entry) => {
                    for (index, spans) in entry.hits() {
                        let groups = out.spans.len();
                        out.spans.extend(spans);
                        out.hits.push(Hit {
                            index,
                            ignored: None,
                            groups,
                        });
                    }
                    return;
                }
                Lookup::Missing(hash) => missing = Some(hash),
            }
        }
        let pref_len = out.spans.len();
        let searched = FailSearch {
            set: &mut s.set,
            fail: &mut s.fail,
        };
        self.search_fail(searched, first, out, hay, text);
        // Only results that took a capture search are kept: a content no failregex matches
        // is rejected by the set alone, about as fast as a lookup, and would take the slot
        // of a costly one.
        if let (Some(hash), 0, false) = (missing, out.limit_hits, out.hits.is_empty()) {
            let hits = out.hits.iter().map(|h| (h.index, h.groups - pref_len));
            s.memo
                .insert(hash, hay.as_bytes(), hits, &out.spans[pref_len..]);
        }
    }

    /// The filter's identity for [`Scratch`]'s memo, when its failregex search may be
    /// memoised (no ignoreregex: they read the whole line, not the content).
    fn memo_owner(&self) -> Option<u64> {
        if self.ignore_regexes().next().is_some() {
            return None;
        }
        self.fail_regexes().next().map(Regex::id)
    }

    /// The failregexes on `hay` (the content, or the whole `text`), in order, into `out`.
    /// `first`: the leftmost-first set's answer on `hay` ([`Filter::first_candidate`];
    /// `None` when it cannot tell or there is no such set).
    #[allow(clippy::type_complexity)]
    fn search_fail(
        &self,
        s: FailSearch<'_>,
        first: Option<Option<(usize, Option<usize>, usize, usize)>>,
        out: &mut Scan,
        hay: &str,
        text: &str,
    ) {
        // The first failregex that may match, and its match's span, from one search; the
        // rest of the set only when that one gives no final hit.
        let mut after = 0;
        {
            match first {
                Some(None) => return,
                Some(Some((idx, branch, start, end))) => {
                    if let (Some(re), Some(caps)) =
                        (self.fail_regexes().nth(idx), s.fail.get_mut(idx))
                    {
                        let found = match branch {
                            Some(k) => re.captures_branch(hay, k, start, end, caps),
                            None => re.captures_at(hay, start, end, caps),
                        };
                        if self.hit(out, idx, found, text, caps) {
                            return;
                        }
                    }
                    after = idx + 1;
                }
                None => {}
            }
        }
        if s.set.is_none() {
            *s.set = self.set_cache();
        }
        let candidates = self.candidates(hay, s.set.as_mut());
        for idx in candidates.into_iter().filter(|i| *i >= after) {
            let (Some(re), Some(caps)) = (self.fail_regexes().nth(idx), s.fail.get_mut(idx)) else {
                continue;
            };
            let found = re.captures(hay, caps);
            if self.hit(out, idx, found, text, caps) {
                break;
            }
        }
    }

    /// Records failregex `idx`'s search result on the line; true when it is the line's
    /// final hit (matched, not ignored, and the filter stops at the first).
    fn hit(
        &self,
        out: &mut Scan,
        idx: usize,
        found: Result<bool, crate::Error>,
        text: &str,
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
        let groups = out.spans.len();
        if ignored.is_none() {
            out.spans.extend((0..re.groups_len()).map(|i| caps.get(i)));
        }
        out.hits.push(Hit {
            index: idx,
            ignored,
            groups,
        });
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

#[cfg(test)]
mod tests {
    use crate::{Filter, FilterOptions};

    /// Per hit: the failregex and its groups' spans.
    type Hits = Vec<(usize, Vec<Option<(usize, usize)>>)>;

    fn spans(s: &super::Scan) -> Hits {
        s.hits
            .iter()
            .enumerate()
            .map(|(n, h)| {
                let end = s.hits.get(n + 1).map_or(s.spans.len(), |x| x.groups);
                (h.index, s.spans[h.groups..end].to_vec())
            })
            .collect()
    }

    #[test]
    fn a_repeated_content_gets_the_same_result_from_the_memo() {
        let opts = FilterOptions {
            prefregex: Some(r"^\S+\[\d+\]: <F-CONTENT>.+</F-CONTENT>$".into()),
            failregex: vec![
                r"^Bad (?P<how>\w+) from <HOST>(?: port \d+)?$".into(),
                r"^User <F-USER>\S+</F-USER> from <HOST>$".into(),
            ],
            ..FilterOptions::default()
        };
        let f = Filter::new(opts).unwrap();
        let mut s = f.scratch();
        let lines = [
            ("d[1]: Bad key from 1.2.3.4 port 5", Some(0)),
            ("longer[22]: Bad key from 1.2.3.4 port 5", Some(0)),
            ("d[1]: User bob from ::1", Some(1)),
            ("xx[333]: User bob from ::1", Some(1)),
            ("d[1]: User bob from ?", None),
            ("d[2]: User bob from ?", None),
        ];
        let mut first = Vec::new();
        for (line, want) in lines {
            let scan = f.scan(&mut s, "", "", line);
            assert_eq!(scan.hits.first().map(|h| h.index), want, "{line}");
            first.push(spans(&scan));
        }
        // The second line of each matching pair came from the memo, with the first one's
        // spans (relative to the content); a fresh scratch searches them again alike. A
        // content no failregex matches is not kept, nor even looked up: the leftmost-first
        // set rejects it first (4 lookups for 6 lines).
        assert_eq!(s.memo.counts(), (4, 2));
        let mut fresh = f.scratch();
        for (i, (line, _)) in lines.iter().enumerate() {
            let scan = f.scan(&mut fresh, "", "", line);
            assert_eq!(spans(&scan), first[i], "{line}");
            if i % 2 == 1 {
                assert_eq!(first[i], first[i - 1], "{line}");
            }
        }
        // With an ignoreregex (it reads the whole line) nothing is memoised.
        let opts = FilterOptions {
            prefregex: Some(r"^\S+\[\d+\]: <F-CONTENT>.+</F-CONTENT>$".into()),
            failregex: vec![r"^Bad (?P<how>\w+) from <HOST>$".into()],
            ignoreregex: vec![r"^skip".into()],
            ..FilterOptions::default()
        };
        let f = Filter::new(opts).unwrap();
        let mut s = f.scratch();
        let a = f.scan(&mut s, "", "", "d[1]: Bad key from 1.2.3.4");
        let b = f.scan(&mut s, "", "", "skip[1]: Bad key from 1.2.3.4");
        assert!(a.hits[0].ignored.is_none());
        assert!(b.hits[0].ignored.is_some());
        assert_eq!(s.memo.counts(), (0, 0));
    }
}
