//! A reader's backlog: the lines of a round are kept (in the blocks the search threads take),
//! then matched in line order; a big
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
/// A backlog this long or longer is searched on two threads.
pub(crate) const PARALLEL_FROM: usize = 256;

/// Lines handed to the search threads at a time: small enough that the first block is
/// searched and applied quickly, big enough to keep the hand-overs rare.
const BLOCK_LINES: usize = 256;

/// Lines read and not yet matched, in order, kept in the blocks the search threads take: a
/// block is handed over as it is (swapped for an empty one), not copied.
#[derive(Default)]
pub(crate) struct Backlog {
    /// The blocks in use (the first `used`), then spare ones from earlier backlogs of the
    /// same burst.
    blocks: Vec<LineBlock>,
    used: usize,
    lines: usize,
    bytes: usize,
}

impl Backlog {
    /// Adds a line; returns whether the backlog is full (to be matched now).
    pub(crate) fn push(&mut self, line: &str) -> bool {
        let room = self
            .used
            .checked_sub(1)
            .and_then(|i| self.blocks.get(i))
            .is_some_and(|b| b.len() < BLOCK_LINES);
        if !room {
            match self.blocks.get_mut(self.used) {
                Some(spare) => spare.clear(jailor_match::ahead::BLOCK_KEEP),
                None => self.blocks.push(LineBlock::default()),
            }
            self.used += 1;
        }
        if let Some(block) = self
            .used
            .checked_sub(1)
            .and_then(|i| self.blocks.get_mut(i))
        {
            block.push(line, self.lines as u64);
        }
        self.lines += 1;
        self.bytes += line.len();
        self.lines >= MAX_LINES || self.bytes >= MAX_BYTES
    }

    /// How many lines wait.
    pub(crate) fn len(&self) -> usize {
        self.lines
    }

    /// The lines, in order.
    pub(crate) fn lines(&self) -> impl Iterator<Item = &str> + '_ {
        self.blocks
            .iter()
            .take(self.used)
            .flat_map(LineBlock::lines)
    }

    /// Hands block number `*next` over in `block` (which the caller gave empty and which takes
    /// its place), or leaves `block` empty past the last one.
    pub(crate) fn fill(&mut self, next: &mut usize, block: &mut LineBlock) {
        if *next < self.used {
            if let Some(b) = self.blocks.get_mut(*next) {
                std::mem::swap(b, block);
                *next += 1;
            }
        }
    }

    /// Empties it. While a burst goes on (the backlog was full) its blocks stay for the next
    /// backlog; otherwise one modest block is kept (an idle reader does not keep a burst's).
    pub(crate) fn clear(&mut self, burst_goes_on: bool) {
        self.used = 0;
        self.lines = 0;
        self.bytes = 0;
        if !burst_goes_on {
            self.blocks.truncate(1);
            if let Some(b) = self.blocks.first_mut() {
                b.clear(KEEP_BYTES);
            }
        }
    }
}

/// The buffer of the block an idle backlog keeps.
const KEEP_BYTES: usize = 64 * 1024;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(b: &mut Backlog, from: usize, n: usize) {
        for i in from..from + n {
            b.push(&format!("line {i}"));
        }
    }

    /// Blocks handed over hold the lines in order, 256 at a time; after a backlog (kept
    /// blocks or not) the next one holds only its own lines.
    #[test]
    fn blocks_hand_over_the_lines_in_order_and_are_reused_clean() {
        let mut b = Backlog::default();
        for (round, burst) in [(0, true), (1, true), (2, false), (3, false)] {
            let n = 600 + round * 7;
            filled(&mut b, round * 1000, n);
            assert_eq!(b.len(), n);
            let direct: Vec<String> = b.lines().map(str::to_owned).collect();
            let want: Vec<String> = (round * 1000..round * 1000 + n)
                .map(|i| format!("line {i}"))
                .collect();
            assert_eq!(direct, want);
            let mut next = 0;
            let mut got = Vec::new();
            loop {
                let mut block = LineBlock::default();
                b.fill(&mut next, &mut block);
                if block.is_empty() {
                    break;
                }
                assert!(block.len() <= BLOCK_LINES);
                for i in 0..block.len() {
                    assert_eq!(block.tag(i) as usize, got.len());
                    got.push(block.line(i).to_owned());
                }
            }
            assert_eq!(got, want);
            b.clear(burst);
            assert_eq!(b.len(), 0);
            assert_eq!(b.lines().count(), 0);
            if !burst {
                assert!(b.blocks.len() <= 1);
            }
        }
    }

    #[test]
    fn a_backlog_is_full_at_its_line_bound() {
        let mut b = Backlog::default();
        let full = (0..MAX_LINES).map(|_| b.push("x")).filter(|&f| f).count();
        assert_eq!(full, 1);
        assert_eq!(b.len(), MAX_LINES);
    }
}
