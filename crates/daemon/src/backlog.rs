//! A reader's backlog: the lines of a round are kept, then matched in line order; a big
//! backlog has its dates parsed and its regexes searched ahead on two threads first.
//!
//! Only what has no state runs ahead ([`DateDetector::speculate`], [`Filter::scan`]); the
//! detector's state, the filter's counters, the time rules and the failure window are then
//! applied line by line in order on the reader's thread, with the same results as matching
//! each line as it comes. A search made on a line cut at another date than the detector
//! finds in order is dropped and the line searched again.

use jailor_date::{DateDetector, Speculation};
use jailor_match::{Filter, Scan, Scratch};

/// At most this many lines wait in a backlog (then it is matched).
const MAX_LINES: usize = 4096;
/// At most this many bytes of lines wait in a backlog.
const MAX_BYTES: usize = 4 << 20;
/// A backlog this long or longer is searched on two threads.
pub(crate) const PARALLEL_FROM: usize = 256;

/// Lines read and not yet matched, in order, in one buffer.
#[derive(Default)]
pub(crate) struct Backlog {
    text: String,
    ends: Vec<usize>,
}

impl Backlog {
    /// Adds a line; returns whether the backlog is full (to be matched now).
    pub(crate) fn push(&mut self, line: &str) -> bool {
        self.text.push_str(line);
        self.ends.push(self.text.len());
        self.ends.len() >= MAX_LINES || self.text.len() >= MAX_BYTES
    }

    /// How many lines wait.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The lines, in order.
    pub(crate) fn lines(&self) -> Vec<&str> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let line = self.text.get(start..end).unwrap_or("");
                start = end;
                line
            })
            .collect()
    }

    /// Empties it, keeping a modest buffer for the next round.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        if self.text.capacity() > MAX_BYTES {
            self.text.shrink_to(64 * 1024);
        }
    }
}

/// What was found ahead for one line: its date (when the template the detector tries
/// first parses it) and the filter's searches on the line cut at that date.
#[derive(Default)]
pub(crate) struct Ahead {
    pub(crate) spec: Option<Speculation>,
    pub(crate) scan: Option<Scan>,
}

/// Parses dates and searches `lines` on this thread and one helper, half each: the lines
/// are applied only after both halves are done (applying changes the detector and the
/// filter the helper reads), so an even split ends soonest. A part whose helper could not
/// start or failed comes back empty (its lines are matched normally).
pub(crate) fn look_ahead(
    filter: &Filter,
    detector: &DateDetector,
    scratches: &mut [Scratch; 2],
    lines: &[&str],
) -> Vec<Ahead> {
    let mid = lines.len() / 2;
    let (first, second) = lines.split_at(mid);
    let [mine, theirs] = scratches;
    let (mut out, rest) = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("match-ahead".into())
            .stack_size(crate::memory::THREAD_STACK)
            .spawn_scoped(scope, || ahead_all(filter, detector, theirs, second));
        let out = ahead_all(filter, detector, mine, first);
        let rest = helper.ok().and_then(|h| h.join().ok());
        (out, rest)
    });
    match rest {
        Some(rest) => out.extend(rest),
        None => out.extend(second.iter().map(|_| Ahead::default())),
    }
    out
}

fn ahead_all(
    filter: &Filter,
    detector: &DateDetector,
    scratch: &mut Scratch,
    lines: &[&str],
) -> Vec<Ahead> {
    jailor_match::pipeline::ahead_all(filter, detector, scratch, lines)
        .into_iter()
        .map(|(spec, scan)| Ahead { spec, scan })
        .collect()
}
