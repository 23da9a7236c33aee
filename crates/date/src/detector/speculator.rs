//! [`Speculator`]: the detector's first template, detached, so that another thread can
//! speculate on lines while the detector itself goes on in line order.

use super::{convert_hit, DateDetector, Speculation};
use crate::fast::{Fast, FastResult};
use crate::fields::DateMatch;
use crate::memo::DateMemo;
use crate::template::Kind;
use crate::zone::Zone;

/// What [`DateDetector::speculate`] needs, copied out of a detector
/// ([`DateDetector::speculator`]): owned, with its own memo of the last conversion, so a
/// worker thread speculates without borrowing the detector. Its speculations are taken by
/// [`DateDetector::find_speculated`] only while the detector still tries the same template
/// first; otherwise the line is detected again (never a wrong answer, only a wasted one).
#[derive(Debug)]
pub struct Speculator {
    slot: usize,
    fast: Fast,
    kind: Kind,
    zone: Zone,
    now: Option<f64>,
    memo: DateMemo,
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
            memo: DateMemo::default(),
        })
    }
}

impl Speculator {
    /// [`DateDetector::speculate`] with the detector's state when this was made.
    pub fn speculate(&mut self, line: &str) -> Option<Speculation> {
        let mut m = DateMatch::default();
        if self.fast.parse(line, &mut m) != FastResult::Hit {
            return None;
        }
        let now = self
            .now
            .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond() as f64 / 1000.0);
        let hit = convert_hit(line, &m, self.kind, &self.zone, now, Some(&mut self.memo));
        Some(Speculation {
            slot: self.slot,
            start: m.start,
            hit,
        })
    }
}
