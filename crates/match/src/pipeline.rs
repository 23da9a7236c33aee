//! A raw log line's way through: date detection, the date cut out, then the [`Filter`]
//! (fail2ban's `Filter.processLine`, spec §2.2 steps 1–2). The daemon and `jailor regex`
//! share it.

use std::ops::Range;

use jailor_date::{DateDetector, DateHit, HitTime, Speculation, Speculator};

use crate::ahead::InOrder;
use crate::block::LineBlock;
use crate::filter::{Failure, Filter, FilterState};
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
    times: Times,
    scratches: Vec<Scratch>,
}

/// fail2ban's time rules for a line: the last date seen, "now", in operation or not.
#[derive(Debug, Default)]
struct Times {
    last_date: Option<f64>,
    now: Option<f64>,
    in_operation: bool,
}

impl Times {
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
}

impl Pipeline {
    /// Joins a filter and the date detector built from its `datepattern`.
    pub fn new(filter: Filter, detector: DateDetector) -> Pipeline {
        Pipeline {
            detector,
            filter,
            times: Times::default(),
            scratches: Vec::new(),
        }
    }

    /// Fixes "now" (epoch seconds) for the detector's year inference and for lines without
    /// a date; `None` reads the clock.
    pub fn set_now(&mut self, now: Option<f64>) {
        self.times.now = now;
        self.detector.set_now(now);
    }

    /// In operation (the tail of a log reached), a line without any date gets "now" rather
    /// than being skipped, as in fail2ban's server.
    pub fn set_in_operation(&mut self, yes: bool) {
        self.times.in_operation = yes;
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

    /// Date detection and fail2ban's fallbacks: the date's span and the line's time.
    fn date_of(&mut self, line: &str) -> (Option<Range<usize>>, Option<f64>) {
        let hit = self.detector.find(line);
        self.times.date_from(hit)
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
            Some(scan) => self.filter.apply(&scan, pre, date, post, t),
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
        if threads <= 1 || !self.filter.can_scan() {
            for (i, l) in lines.iter().enumerate() {
                out(i, self.process_line(l));
            }
            return;
        }
        let per = lines.len().div_ceil(threads).clamp(1, 1024);
        let mut chunks = lines.chunks(per);
        let mut first = 0u64;
        let fill = |b: &mut LineBlock| -> Result<(), ()> {
            for (k, l) in chunks.next().into_iter().flatten().enumerate() {
                b.push(l, first + k as u64);
            }
            first += b.len() as u64;
            Ok(())
        };
        let _ = self.process_blocks(threads, fill, |b, i, p| {
            out(b.tag(i) as usize, p);
            Ok(())
        });
    }

    /// Processes a stream of line blocks with the same results as [`Pipeline::process_line`]
    /// on each line in turn, on `threads` threads: `threads - 1` workers parse dates
    /// (speculatively) and search whole blocks while this thread applies the blocks already
    /// searched, in order (date detector state, multi-line ids, counters), hands each line's
    /// result to `out`, and searches blocks itself whenever it would otherwise wait
    /// ([`crate::ahead::search_ahead`]).
    ///
    /// `fill` gets an empty block to fill with the next lines (left empty at the end of the
    /// input); at most `threads * 2 + 3` blocks exist at once, reused. An error from `fill`
    /// or `out` stops the run and is returned.
    pub fn process_blocks<E>(
        &mut self,
        threads: usize,
        mut fill: impl FnMut(&mut LineBlock) -> Result<(), E>,
        mut out: impl FnMut(&LineBlock, usize, Processed) -> Result<(), E>,
    ) -> Result<(), E> {
        if threads <= 1 || !self.filter.can_scan() {
            let mut block = LineBlock::default();
            loop {
                block.clear(crate::ahead::BLOCK_KEEP);
                fill(&mut block)?;
                if block.is_empty() {
                    return Ok(());
                }
                for i in 0..block.len() {
                    let p = self.process_line(block.line(i));
                    out(&block, i, p)?;
                }
            }
        }
        while self.scratches.len() < threads {
            self.scratches.push(self.filter.scratch());
        }
        let mut state = self.filter.take_state();
        let Pipeline {
            detector,
            filter,
            times,
            scratches,
        } = self;
        let filter: &Filter = filter;
        let mut sink = Apply {
            detector,
            filter,
            times,
            state: &mut state,
            fill,
            out,
        };
        let result = crate::ahead::search_ahead(filter, &mut scratches[..threads], &mut sink);
        self.filter.restore_state(state);
        result
    }

    /// Processes a journal entry: no date detection, the entry's own time (fail2ban passes
    /// `('', isodate + ' ', message)`).
    pub fn process_journal(&mut self, message: &str, time: f64) -> Vec<Failure> {
        self.times.last_date = Some(time);
        self.filter.process("", "", message, time)
    }
}

/// `line` cut around the date span (`("", "", line)` without one, or with a span that does
/// not fit the line).
pub(crate) fn split<'l>(line: &'l str, span: Option<&Range<usize>>) -> (&'l str, &'l str, &'l str) {
    match span {
        Some(r) => match (line.get(..r.start), line.get(r.clone()), line.get(r.end..)) {
            (Some(pre), Some(date), Some(post)) => (pre, date, post),
            _ => ("", "", line),
        },
        None => ("", "", line),
    }
}

/// The in-order pass of [`Pipeline::process_blocks`]: the pipeline's parts this thread
/// changes, beside the filter the workers share, and the caller's input and output.
struct Apply<'a, F, O> {
    detector: &'a mut DateDetector,
    filter: &'a Filter,
    times: &'a mut Times,
    state: &'a mut FilterState,
    fill: F,
    out: O,
}

impl<E, F, O> InOrder for Apply<'_, F, O>
where
    F: FnMut(&mut LineBlock) -> Result<(), E>,
    O: FnMut(&LineBlock, usize, Processed) -> Result<(), E>,
{
    type Error = E;

    fn speculator(&self) -> Option<Speculator> {
        self.detector.speculator()
    }

    fn fill(&mut self, block: &mut LineBlock) -> Result<(), E> {
        (self.fill)(block)
    }

    fn apply(
        &mut self,
        block: &LineBlock,
        i: usize,
        spec: Option<Speculation>,
        scan: Option<&Scan>,
        scratch: &mut Scratch,
    ) -> Result<(), E> {
        let line = block.line(i);
        let hit = self.detector.find_speculated(line, spec.as_ref());
        // The searches stand when they ran on the line cut where the date really is.
        let same_cut = spec.as_ref().map(|s| &s.hit().span) == hit.as_ref().map(|h| &h.span);
        let (span, time) = self.times.date_from(hit);
        let (pre, date, post) = split(line, span.as_ref());
        let own;
        let scan = match scan.filter(|_| same_cut && spec.is_some()) {
            Some(scan) => scan,
            None => {
                own = self.filter.scan(scratch, pre, date, post);
                &own
            }
        };
        let before = self.state.stats().ignored;
        let t = time.unwrap_or(f64::NAN);
        let failures = self.filter.apply_to(self.state, scan, pre, date, post, t);
        let p = Processed {
            time,
            date: span,
            failures,
            ignored: self.state.stats().ignored > before,
        };
        (self.out)(block, i, p)
    }
}
