//! [`Speculator`]: the detector's first template, detached, so that another thread can
//! speculate on lines while the detector itself goes on in line order.

use super::{convert_hit, DateDetector, DateHit, Speculation};
use crate::fast::{Fast, FastResult};
use crate::fields::DateMatch;
use crate::memo::{self, Parsed};
use crate::template::Kind;
use crate::zone::Zone;

/// What [`DateDetector::speculate`] needs, copied out of a detector
/// ([`DateDetector::speculator`]): owned (the memo of the last conversion is the worker
/// thread's own), so a worker thread speculates without borrowing the detector. Its speculations are taken by
/// [`DateDetector::find_speculated`] only while the detector still tries the same template
/// first; otherwise the line is detected again (never a wrong answer, only a wasted one).
#[derive(Debug)]
pub struct Speculator {
    slot: usize,
    fast: Fast,
    kind: Kind,
    zone: Zone,
    now: Option<f64>,
    /// The detector's name in the per-thread memo (it names the zone too).
    memo_owner: u64,
}

impl DateDetector {
    /// A detached copy of the template tried first, when it has a hand-written parser
    /// (else `None`, as [`DateDetector::can_speculate`]).
    pub fn speculator(&self) -> Option<Speculator> {
        let slot = self.slots.get(self.last?)?;
        Some(Speculator {
            slot: slot.id,
            fast: slot.template.fast?,
            kind: slot.template.kind,
            zone: self.zone.clone(),
            now: self.now,
            memo_owner: self.memo_owner,
        })
    }
}

impl Speculator {
    /// [`DateDetector::speculate`] with the detector's state when this was made.
    pub fn speculate(&mut self, line: &str) -> Option<Speculation> {
        let now = self
            .now
            .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond() as f64 / 1000.0);
        let owner = self.memo_owner;
        if let Some((start, date, time)) = memo::recall(owner, self.slot, line, now as i64) {
            let hit = DateHit {
                span: date.0..date.1,
                time,
            };
            return Some(Speculation {
                slot: self.slot,
                start,
                hit,
            });
        }
        let mut m = DateMatch::default();
        if self.fast.parse(line, &mut m) != FastResult::Hit {
            return None;
        }
        let parsed = Parsed {
            slot: self.slot,
            extent: self.fast.extent(line, &m),
        };
        let hit = convert_hit(line, &m, self.kind, &self.zone, now, owner, Some(parsed));
        Some(Speculation {
            slot: self.slot,
            start: m.start,
            hit,
        })
    }
}
