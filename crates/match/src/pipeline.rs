//! A raw log line's way through: date detection, the date cut out, then the [`Filter`]
//! (fail2ban's `Filter.processLine`, spec §2.2 steps 1–2). The daemon and `jailor regex`
//! share it.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};

use jailor_date::{DateDetector, DateHit, HitTime, Speculation, Speculator};

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

/// Blocks searched ahead per worker thread in [`Pipeline::process_blocks`] (beyond the
/// one being applied): enough to keep a worker busy while the applying thread catches up.
const BLOCKS_PER_WORKER: usize = 1;
/// A block's buffer grown past this (a very long line) is shrunk back when reused.
const BLOCK_KEEP: usize = 1 << 20;

/// A block on its way: its lines, the date template to speculate with, what was found
/// (each line's date, and its searches when a date was found; the scans are reused).
#[derive(Default)]
struct Job {
    block: LineBlock,
    spec: Option<Speculator>,
    dates: Vec<Option<Speculation>>,
    scans: Vec<Scan>,
}

/// Where a block in flight is: searched by a worker, or left to the applying thread.
enum InFlight {
    Worker(usize),
    /// Searched already or not.
    Local(Box<Job>, bool),
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
                let (span, time) = self.times.date_from(hit);
                let scan = scan.filter(|_| same_cut);
                out(first + i, self.filter_line(line, span, time, scan));
            }
        }
    }

    /// Processes a stream of line blocks with the same results as [`Pipeline::process_line`]
    /// on each line in turn, on `threads` threads: `threads - 1` workers parse dates
    /// (speculatively) and search whole blocks while this thread applies the blocks already
    /// searched, in order (date detector state, multi-line ids, counters), hands each line's
    /// result to `out`, and searches blocks itself whenever it would otherwise wait.
    ///
    /// `fill` gets an empty block to fill with the next lines (left empty at the end of the
    /// input); at most `threads * 2 + 1` blocks exist at once, reused. An error from `fill`
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
                block.clear(BLOCK_KEEP);
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
        let (mine, theirs) = scratches.split_at_mut(1);
        let result = std::thread::scope(|sc| {
            let mut jobs: Vec<SyncSender<Box<Job>>> = Vec::with_capacity(threads);
            let mut done: Vec<Receiver<Box<Job>>> = Vec::with_capacity(threads);
            for scratch in theirs.iter_mut().take(threads - 1) {
                let (job_tx, job_rx) = sync_channel::<Box<Job>>(BLOCKS_PER_WORKER);
                let (done_tx, done_rx) = sync_channel::<Box<Job>>(BLOCKS_PER_WORKER + 1);
                let spawned = std::thread::Builder::new()
                    .name("match-search".into())
                    .spawn_scoped(sc, move || search_jobs(filter, scratch, job_rx, done_tx));
                if spawned.is_ok() {
                    jobs.push(job_tx);
                    done.push(done_rx);
                }
            }
            let mut ctx = Apply {
                detector,
                filter,
                times,
                state: &mut state,
                scratch: &mut mine[0],
            };
            let depth = (jobs.len() + 1) * BLOCKS_PER_WORKER + 1;
            let mut spare: Vec<Box<Job>> = Vec::new();
            let mut flight: VecDeque<InFlight> = VecDeque::with_capacity(depth);
            let mut next = 0;
            let mut end = false;
            loop {
                // Keep the workers' queues full; the blocks they have no room for are left
                // to this thread. Without a template to speculate with (the start of a log)
                // a block waits until those in flight are applied.
                while !end && flight.len() < depth {
                    let spec = ctx.detector.speculator();
                    if spec.is_none() && !flight.is_empty() {
                        break;
                    }
                    let mut job = spare.pop().unwrap_or_default();
                    job.block.clear(BLOCK_KEEP);
                    fill(&mut job.block)?;
                    if job.block.is_empty() {
                        end = true;
                        break;
                    }
                    job.spec = spec;
                    job.dates.clear();
                    let to = next % jobs.len().max(1);
                    next += 1;
                    let sent = match (&job.spec, jobs.get(to)) {
                        (Some(_), Some(tx)) => tx.try_send(job).map_err(|e| match e {
                            TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
                        }),
                        _ => Err(job),
                    };
                    flight.push_back(match sent {
                        Ok(()) => InFlight::Worker(to),
                        Err(job) => InFlight::Local(job, false),
                    });
                }
                // The oldest block, once searched; meanwhile this thread searches its own.
                let mut job = loop {
                    let w = match flight.front_mut() {
                        None => return Ok(()),
                        Some(InFlight::Worker(w)) => *w,
                        Some(InFlight::Local(..)) => match flight.pop_front() {
                            Some(InFlight::Local(mut job, searched)) => {
                                if !searched {
                                    search_job(filter, ctx.scratch, &mut job);
                                }
                                break job;
                            }
                            _ => continue,
                        },
                    };
                    let Some(rx) = done.get(w) else {
                        flight.pop_front();
                        continue;
                    };
                    match rx.try_recv() {
                        Ok(job) => {
                            flight.pop_front();
                            break job;
                        }
                        Err(TryRecvError::Empty) => {}
                        // A worker catches panics and always sends its block back.
                        Err(TryRecvError::Disconnected) => {
                            flight.pop_front();
                            continue;
                        }
                    }
                    let own = flight.iter_mut().find_map(|f| match f {
                        InFlight::Local(job, searched @ false) => Some((job, searched)),
                        _ => None,
                    });
                    match own {
                        Some((job, searched)) => {
                            search_job(filter, ctx.scratch, job);
                            *searched = true;
                        }
                        None => {
                            if let Ok(job) = rx.recv() {
                                flight.pop_front();
                                break job;
                            }
                        }
                    }
                };
                let Job {
                    block,
                    dates,
                    scans,
                    ..
                } = &mut *job;
                for i in 0..block.len() {
                    let date = dates.get_mut(i).and_then(Option::take);
                    let p = ctx.apply_line(block.line(i), date, scans.get(i));
                    out(block, i, p)?;
                }
                spare.push(job);
            }
        });
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

/// The in-order pass of [`Pipeline::process_blocks`]: the pipeline's parts this thread
/// changes, beside the filter the workers share.
struct Apply<'a> {
    detector: &'a mut DateDetector,
    filter: &'a Filter,
    times: &'a mut Times,
    state: &'a mut FilterState,
    scratch: &'a mut Scratch,
}

impl Apply<'_> {
    /// One line in order, with the date a worker found for it and its searches on the line
    /// cut there (`scan` stands only with a date).
    fn apply_line(
        &mut self,
        line: &str,
        spec: Option<Speculation>,
        scan: Option<&Scan>,
    ) -> Processed {
        let hit = self.detector.find_speculated(line, spec.as_ref());
        // The searches stand when they ran on the line cut where the date really is.
        let same_cut = spec.as_ref().map(|s| &s.hit().span) == hit.as_ref().map(|h| &h.span);
        let (span, time) = self.times.date_from(hit);
        let (pre, date, post) = split(line, span.as_ref());
        let own;
        let scan = match scan.filter(|_| same_cut && spec.is_some()) {
            Some(scan) => scan,
            None => {
                own = self.filter.scan(self.scratch, pre, date, post);
                &own
            }
        };
        let before = self.state.stats().ignored;
        let t = time.unwrap_or(f64::NAN);
        let failures = self.filter.apply_to(self.state, scan, pre, date, post, t);
        Processed {
            time,
            date: span,
            failures,
            ignored: self.state.stats().ignored > before,
        }
    }
}

/// A worker of [`Pipeline::process_blocks`]: searches each block it gets and sends it
/// back (with nothing found if the search panicked: the lines are then matched in order).
fn search_jobs(
    filter: &Filter,
    scratch: &mut Scratch,
    jobs: Receiver<Box<Job>>,
    done: SyncSender<Box<Job>>,
) {
    for mut job in jobs {
        search_job(filter, scratch, &mut job);
        if done.send(job).is_err() {
            return;
        }
    }
}

/// Parses the dates of a block's lines with its speculator and searches each line cut at
/// its date. A panic leaves the block with nothing found (its lines are then matched in
/// order) and the scratch renewed.
fn search_job(filter: &Filter, scratch: &mut Scratch, job: &mut Job) {
    let searched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Job {
            block,
            spec,
            dates,
            scans,
        } = job;
        dates.clear();
        let Some(spec) = spec.as_mut() else {
            return;
        };
        for (i, line) in block.lines().enumerate() {
            if scans.len() <= i {
                scans.push(Scan::default());
            }
            let found = spec.speculate(line);
            if let (Some(f), Some(scan)) = (&found, scans.get_mut(i)) {
                let (pre, date, post) = split(line, Some(&f.hit().span));
                filter.scan_into(scratch, scan, pre, date, post);
            }
            dates.push(found);
        }
    }));
    if searched.is_err() {
        job.dates.clear();
        *scratch = filter.scratch();
    }
}
