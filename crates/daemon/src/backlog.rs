//! A reader's backlog: the lines of a round are kept, then matched in line order; a big
//! backlog is handed in blocks to a helper thread that parses dates and searches ahead
//! while the reader applies the blocks already searched
//! ([`jailor_match::ahead::search_ahead`]).
//!
//! Only what has no state runs ahead ([`jailor_date::Speculator`], [`Filter::scan`]); the
//! detector's state, the filter's counters, the time rules and the failure window are
//! applied line by line in order on the reader's thread, with the same results as matching
//! each line as it comes. A search made on a line cut at another date than the detector
//! finds in order is dropped and the line searched again.

use jailor_date::Speculation;
use jailor_match::{Filter, FilterState, LineBlock, Scan, Scratch};

/// At most this many lines wait in a backlog (then it is matched). A backlog's search ahead
/// starts a helper thread and fills and drains its pipeline: a burst is matched in few
/// backlogs.
const MAX_LINES: usize = 16384;
/// At most this many bytes of lines wait in a backlog.
const MAX_BYTES: usize = 4 << 20;
/// The buffer a backlog keeps between rounds.
const KEEP_BYTES: usize = 64 * 1024;
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

    /// Empties it, keeping a modest buffer for the next round (a burst's is given back: an
    /// idle reader does not keep it).
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        if self.text.capacity() > KEEP_BYTES {
            self.text.shrink_to(KEEP_BYTES);
        }
        if self.ends.capacity() > KEEP_BYTES / 64 {
            self.ends.shrink_to(KEEP_BYTES / 64);
        }
    }
}

/// Lines handed to the search threads at a time: small enough that the first block is
/// searched and applied quickly, big enough to keep the hand-overs rare.
const BLOCK_LINES: usize = 256;

impl Backlog {
    /// Copies the lines from `*next` on into `block`, up to a block's worth.
    pub(crate) fn fill(&self, next: &mut usize, block: &mut LineBlock) {
        let mut start = match *next {
            0 => 0,
            n => self.ends.get(n - 1).copied().unwrap_or(self.text.len()),
        };
        for &end in self.ends.iter().skip(*next).take(BLOCK_LINES) {
            block.push(self.text.get(start..end).unwrap_or(""), *next as u64);
            *next += 1;
            start = end;
        }
    }
}

/// The searches of a big backlog ahead, handed to the reader line by line in order.
pub(crate) struct AheadLine<'a> {
    /// The date found speculatively.
    pub(crate) spec: Option<Speculation>,
    /// The searches on the line cut at that date.
    pub(crate) scan: Option<&'a Scan>,
    /// The shared filter and the state taken out of it, to apply the line with.
    pub(crate) filter: &'a Filter,
    pub(crate) state: &'a mut FilterState,
    /// For a line whose searches do not stand.
    pub(crate) scratch: &'a mut Scratch,
}
