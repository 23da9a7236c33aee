//! Searching ahead: worker threads parse the dates of whole blocks of lines speculatively
//! and run a filter's searches on them, while the calling thread takes the blocks in order
//! and applies each line (the state: date detector, multi-line ids, counters, and whatever
//! the caller does with a line). Shared by `jailor regex` ([`crate::Pipeline`]) and the
//! daemon's reader.

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};

use jailor_date::{Speculation, Speculator};

use crate::block::LineBlock;
use crate::filter::Filter;
use crate::pipeline::split;
use crate::scan::{Scan, Scratch};

/// Blocks queued per worker thread beyond the one it searches.
const BLOCKS_PER_WORKER: usize = 1;
/// Blocks the applying thread may take to search itself, beyond the usual depth, rather
/// than wait for a worker's block (keeps both sides busy when applying is cheap).
const EXTRA_LOCAL: usize = 2;
/// A block's buffer grown past this (a very long line) is shrunk back when reused.
pub const BLOCK_KEEP: usize = 1 << 20;

/// The in-order side of [`search_ahead`], on the calling thread.
pub trait InOrder {
    /// What stops the run.
    type Error;

    /// The date template the detector would try first, detached
    /// ([`jailor_date::DateDetector::speculator`]); `None` holds new blocks back until the
    /// ones in flight are applied.
    fn speculator(&self) -> Option<Speculator>;

    /// Fills an empty block with the next lines; left empty at the end of the input.
    fn fill(&mut self, block: &mut LineBlock) -> Result<(), Self::Error>;

    /// Line `i` of `block`, in order, with the date speculated for it and the searches on
    /// the line cut there (both `None` when nothing was found ahead). The line's own
    /// detection decides whether they stand; otherwise search it with `scratch`.
    fn apply(
        &mut self,
        block: &LineBlock,
        i: usize,
        spec: Option<Speculation>,
        scan: Option<&Scan>,
        scratch: &mut Scratch,
    ) -> Result<(), Self::Error>;
}

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

/// Runs `sink`'s lines through `filter` on `scratches.len()` threads: one worker per
/// scratch but the first searches whole blocks while this thread applies the blocks already
/// searched, in order, and searches blocks itself (with the first scratch) whenever it
/// would otherwise wait (taking up to two more blocks than the usual depth rather than
/// wait for a worker). At most `2 * scratches.len() + 3` blocks exist at once. An error
/// from `sink` stops the run and is returned.
pub fn search_ahead<S: InOrder>(
    filter: &Filter,
    scratches: &mut [Scratch],
    sink: &mut S,
) -> Result<(), S::Error> {
    let Some((mine, theirs)) = scratches.split_first_mut() else {
        return Ok(());
    };
    std::thread::scope(|sc| {
        let mut jobs: Vec<SyncSender<Box<Job>>> = Vec::with_capacity(theirs.len());
        let mut done: Vec<Receiver<Box<Job>>> = Vec::with_capacity(theirs.len());
        for scratch in theirs.iter_mut() {
            let (job_tx, job_rx) = sync_channel::<Box<Job>>(BLOCKS_PER_WORKER);
            let (done_tx, done_rx) = sync_channel::<Box<Job>>(BLOCKS_PER_WORKER + 1);
            let spawned = std::thread::Builder::new()
                .name("match-search".into())
                .stack_size(512 << 10)
                .spawn_scoped(sc, move || search_jobs(filter, scratch, job_rx, done_tx));
            if spawned.is_ok() {
                jobs.push(job_tx);
                done.push(done_rx);
            }
        }
        let depth = (jobs.len() + 1) * BLOCKS_PER_WORKER + 1;
        let most = depth + if jobs.is_empty() { 0 } else { EXTRA_LOCAL };
        let mut spare: Vec<Box<Job>> = Vec::new();
        let mut flight: VecDeque<InFlight> = VecDeque::with_capacity(most);
        let mut next = 0;
        let mut end = false;
        loop {
            // Keep the workers' queues full; the blocks they have no room for are left to
            // this thread. Without a template to speculate with (the start of a log) a block
            // waits until those in flight are applied.
            while !end && flight.len() < depth {
                let spec = sink.speculator();
                if spec.is_none() && !flight.is_empty() {
                    break;
                }
                let mut job = spare.pop().unwrap_or_default();
                job.block.clear(BLOCK_KEEP);
                sink.fill(&mut job.block)?;
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
            // Rather than wait for a worker, take (up to `most`) a new block to search here.
            let may_wait = end || flight.len() >= most || sink.speculator().is_none();
            let mut job = match next_searched(filter, mine, &mut flight, &done, may_wait) {
                Next::Ready(job) => job,
                Next::Busy => {
                    let mut job = spare.pop().unwrap_or_default();
                    job.block.clear(BLOCK_KEEP);
                    sink.fill(&mut job.block)?;
                    if job.block.is_empty() {
                        end = true;
                    } else {
                        job.spec = sink.speculator();
                        job.dates.clear();
                        search_job(filter, mine, &mut job);
                        flight.push_back(InFlight::Local(job, true));
                    }
                    continue;
                }
                Next::Gone => {
                    if flight.is_empty() {
                        return Ok(());
                    }
                    continue;
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
                sink.apply(block, i, date, scans.get(i), mine)?;
            }
            spare.push(job);
        }
    })
}

/// What [`next_searched`] found.
enum Next {
    /// The oldest block in flight, searched.
    Ready(Box<Job>),
    /// Its worker is still at it, and this thread has nothing of its own to search.
    Busy,
    /// Nothing is in flight, or a worker went away with its block (it catches panics, so
    /// it does not).
    Gone,
}

/// The oldest block in flight once searched, searching this thread's own blocks while a
/// worker is busy with it; when there are none, waits for the worker if `may_wait`, else
/// says so.
fn next_searched(
    filter: &Filter,
    scratch: &mut Scratch,
    flight: &mut VecDeque<InFlight>,
    done: &[Receiver<Box<Job>>],
    may_wait: bool,
) -> Next {
    loop {
        let Some(front) = flight.front() else {
            return Next::Gone;
        };
        let w = match front {
            InFlight::Worker(w) => *w,
            InFlight::Local(..) => {
                let Some(InFlight::Local(mut job, searched)) = flight.pop_front() else {
                    return Next::Gone;
                };
                if !searched {
                    search_job(filter, scratch, &mut job);
                }
                return Next::Ready(job);
            }
        };
        let Some(rx) = done.get(w) else {
            flight.pop_front();
            return Next::Gone;
        };
        match rx.try_recv() {
            Ok(job) => {
                flight.pop_front();
                return Next::Ready(job);
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                flight.pop_front();
                return Next::Gone;
            }
        }
        let own = flight.iter_mut().find_map(|f| match f {
            InFlight::Local(job, searched @ false) => Some((job, searched)),
            _ => None,
        });
        match own {
            Some((job, searched)) => {
                search_job(filter, scratch, job);
                *searched = true;
            }
            None if !may_wait => return Next::Busy,
            None => {
                let job = rx.recv().ok();
                flight.pop_front();
                return job.map_or(Next::Gone, Next::Ready);
            }
        }
    }
}

/// A worker of [`search_ahead`]: searches each block it gets and sends it back.
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
