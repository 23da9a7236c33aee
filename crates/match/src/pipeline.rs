//! A raw log line's way through: date detection, the date cut out, then the [`Filter`]
//! (fail2ban's `Filter.processLine`, spec §2.2 steps 1–2). The daemon and `jailor regex`
//! share it.

use std::ops::Range;

use jailor_date::{DateDetector, DateHit, HitTime, Speculation};

use crate::filter::{Failure, Filter};
use crate::scan::{Scan, Scratch};

/// How old the last date may be to stand in for a line without one (seconds).
const LAST_DATE_MAX_AGE: f64 = 60.0;

/// What became of one line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Processed {
    /// The line's time: its own date, else a recent last date (or "now" in operation);
    /// `None` when there is none (the filter still ran, its failures carry a NaN time, as
    /// fail2ban's carry `None`).
    pub time: Option<f64>,
    /// Byte range of the date text in the line, when a template matched.
    pub date: Option<Range<usize>>,
    /// The failures the line completed.
    pub failures: Vec<Failure>,
    /// An ignoreregex dropped (a match on) the line.
    pub ignored: bool,
}

/// Date detection plus a filter, with fail2ban's "last date" memory.
#[derive(Debug)]
pub struct Pipeline {
    detector: DateDetector,
    filter: Filter,
    last_date: Option<f64>,
    now: Option<f64>,
    in_operation: bool,
    scratches: Vec<Scratch>,
}

impl Pipeline {
    /// Joins a filter and the date detector built from its `datepattern`.
    pub fn new(filter: Filter, detector: DateDetector) -> Pipeline {
        Pipeline {
            detector,
            filter,
            last_date: None,
            now: None,
            in_operation: false,
            scratches: Vec::new(),
        }
    }

    /// Fixes "now" (epoch seconds) for the detector's year inference and for lines without
    /// a date; `None` reads the clock.
    pub fn set_now(&mut self, now: Option<f64>) {
        self.now = now;
        self.detector.set_now(now);
    }

    /// In operation (the tail of a log reached), a line without any date gets "now" rather
    /// than being skipped, as in fail2ban's server.
    pub fn set_in_operation(&mut self, yes: bool) {
        self.in_operation = yes;
    }

    /// The filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The filter, e.g. to set a resolver.
    pub fn filter_mut(&mut self) -> &mut Filter {
        &mut self.filter
    }

    /// The date detector.
    pub fn detector(&self) -> &DateDetector {
        &self.detector
    }

    fn now(&self) -> f64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        })
    }

    /// The last date when it is recent enough to stand in for a missing one, else "now" in
    /// operation, else nothing (fail2ban-regex prints such a failure's time as `None`).
    fn fallback_time(&self) -> Option<f64> {
        let now = self.now();
        match self.last_date {
            Some(t) if t > now - LAST_DATE_MAX_AGE => Some(t),
            _ if self.in_operation => Some(now),
            _ => None,
        }
    }

    /// Date detection and fail2ban's fallbacks: the date's span and the line's time.
    fn date_of(&mut self, line: &str) -> (Option<Range<usize>>, Option<f64>) {
        let hit = self.detector.find(line);
        self.date_from(hit)
    }

    /// fail2ban's fallbacks for a line whose date detection gave `hit`.
    fn date_from(&mut self, hit: Option<DateHit>) -> (Option<Range<usize>>, Option<f64>) {
        match hit {
            Some(h) => match h.time {
                HitTime::At(t) => {
                    self.last_date = Some(t);
                    (Some(h.span), Some(t))
                }
                HitTime::Empty => (Some(h.span), self.fallback_time()),
                // fail2ban logs "failed to parse timeText" and goes on without a date.
                HitTime::Invalid => (Some(h.span), self.fallback_time()),
            },
            None => (None, self.fallback_time()),
        }
    }

    /// Processes one raw line (without its line ending).
    pub fn process_line(&mut self, line: &str) -> Processed {
        let (span, time) = self.date_of(line);
        self.filter_line(line, span, time, None)
    }

    /// The filter's part of [`Pipeline::process_line`], with the line's regex searches
    /// already done when `scan` is given.
    fn filter_line(
        &mut self,
        line: &str,
        span: Option<Range<usize>>,
        time: Option<f64>,
        scan: Option<Scan>,
    ) -> Processed {
        let (pre, date, post) = split(line, span.as_ref());
        let before = self.filter.stats().ignored;
        let t = time.unwrap_or(f64::NAN);
        let failures = match scan {
            Some(scan) => self.filter.apply(scan, pre, date, post, t),
            None => self.filter.process(pre, date, post, t),
        };
        Processed {
            time,
            date: span,
            failures,
            ignored: self.filter.stats().ignored > before,
        }
    }

    /// Processes many raw lines with the same results as [`Pipeline::process_line`] on each
    /// in turn. The date parsing (speculatively, see [`DateDetector::speculate`]) and the
    /// regex searches are spread over `threads` threads; the detector's state, multi-line
    /// ids and counters are updated in line order. `out` gets each line's index and result,
    /// in order.
    pub fn process_lines(
        &mut self,
        lines: &[&str],
        threads: usize,
        mut out: impl FnMut(usize, Processed),
    ) {
        let mut first = 0;
        if threads > 1 && self.filter.can_scan() {
            // Until some template matched, a worker has nothing to speculate with.
            while first < lines.len() && !self.detector.can_speculate() {
                out(first, self.process_line(lines[first]));
                first += 1;
            }
        }
        let rest = &lines[first..];
        if threads <= 1 || !self.filter.can_scan() || rest.len() < 2 * threads {
            for (i, l) in rest.iter().enumerate() {
                out(first + i, self.process_line(l));
            }
            return;
        }
        while self.scratches.len() < threads {
            self.scratches.push(self.filter.scratch());
        }
        let per = rest.len().div_ceil(threads);
        let (filter, detector) = (&self.filter, &self.detector);
        let parts: Vec<Option<Vec<Ahead>>> = std::thread::scope(|sc| {
            let mut parts = rest.chunks(per).zip(self.scratches.iter_mut());
            let first = parts.next();
            let handles: Vec<_> = parts
                .map(|(ls, scratch)| sc.spawn(move || ahead_all(filter, detector, scratch, ls)))
                .collect();
            let mut all = Vec::with_capacity(threads);
            if let Some((ls, scratch)) = first {
                all.push(Some(ahead_all(filter, detector, scratch, ls)));
            }
            // A worker cannot panic on input; if one did, its lines are processed below.
            all.extend(handles.into_iter().map(|h| h.join().ok()));
            all
        });
        for (k, part) in parts.into_iter().enumerate() {
            let base = k * per;
            let end = (base + per).min(rest.len());
            let mut part = part.map(Vec::into_iter);
            for (i, line) in rest.iter().enumerate().take(end).skip(base) {
                let (spec, scan) = part.as_mut().and_then(Iterator::next).unwrap_or_default();
                let hit = self.detector.find_speculated(line, spec.as_ref());
                // The searches stand when they ran on the line cut where the date really is.
                let same_cut =
                    spec.as_ref().map(|s| &s.hit().span) == hit.as_ref().map(|h| &h.span);
                let (span, time) = self.date_from(hit);
                let scan = scan.filter(|_| same_cut);
                out(first + i, self.filter_line(line, span, time, scan));
            }
        }
    }

    /// Processes a journal entry: no date detection, the entry's own time (fail2ban passes
    /// `('', isodate + ' ', message)`).
    pub fn process_journal(&mut self, message: &str, time: f64) -> Vec<Failure> {
        self.last_date = Some(time);
        self.filter.process("", "", message, time)
    }
}

/// `line` cut around the date span (`("", "", line)` without one, or with a span that does
/// not fit the line).
fn split<'l>(line: &'l str, span: Option<&Range<usize>>) -> (&'l str, &'l str, &'l str) {
    match span {
        Some(r) => match (line.get(..r.start), line.get(r.clone()), line.get(r.end..)) {
            (Some(pre), Some(date), Some(post)) => (pre, date, post),
            _ => ("", "", line),
        },
        None => ("", "", line),
    }
}

/// A line's date found speculatively and its searches on the line cut there (both `None`
/// when the speculation found nothing).
pub type Ahead = (Option<Speculation>, Option<Scan>);

/// Parses each line's date speculatively and runs `filter`'s searches on the line cut at
/// that date, without changing `filter` or `detector`: the part of matching that can run on
/// any thread, ahead of the in-order pass ([`DateDetector::find_speculated`],
/// [`Filter::apply`]). Shared by `jailor regex` and the daemon's reader.
pub fn ahead_all(
    filter: &Filter,
    detector: &DateDetector,
    scratch: &mut Scratch,
    lines: &[&str],
) -> Vec<Ahead> {
    lines
        .iter()
        .map(|l| {
            let Some(spec) = detector.speculate(l) else {
                return (None, None);
            };
            let (pre, date, post) = split(l, Some(&spec.hit().span));
            let scan = filter.scan(scratch, pre, date, post);
            (Some(spec), Some(scan))
        })
        .collect()
}
