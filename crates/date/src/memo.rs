//! The last date conversion, kept: consecutive log lines mostly carry the same date text
//! (the same second), and the conversion (fields, zone, year inference) is the costly part
//! of a hit.

use crate::detector::HitTime;
use crate::fields::{DateMatch, Span, NFIELDS};
use crate::template::Kind;

/// One conversion and everything its result depends on: the template kind, "now" (whole
/// seconds), the matched text and where the date and each field lie in it.
#[derive(Debug, Default)]
pub(crate) struct DateMemo {
    key: Option<Key>,
    time: Option<HitTime>,
}

#[derive(Debug, PartialEq)]
struct Key {
    kind: Kind,
    now: i64,
    date: Span,
    fields: [Option<Span>; NFIELDS],
    text: String,
}

impl Key {
    /// The key of match `m` on `line`: spans relative to the first one, and the text they
    /// cover (written into `text`). `None` when a span does not fit the line.
    fn of(line: &str, m: &DateMatch, kind: Kind, now: i64, mut text: String) -> Option<Key> {
        let spans = || std::iter::once(m.date).chain(m.fields.iter().flatten().copied());
        let lo = spans().map(|s| s.0).min()?;
        let hi = spans().map(|s| s.1).max()?;
        let rel = |s: Span| (s.0 - lo, s.1 - lo);
        text.clear();
        text.push_str(line.get(lo..hi)?);
        let mut fields = [None; NFIELDS];
        for (f, s) in fields.iter_mut().zip(m.fields.iter()) {
            *f = s.map(rel);
        }
        Some(Key {
            kind,
            now,
            date: rel(m.date),
            fields,
            text,
        })
    }

    /// Whether this key is the one of `m` on `line` (without building it).
    fn is(&self, line: &str, m: &DateMatch, kind: Kind, now: i64) -> bool {
        if self.kind != kind || self.now != now {
            return false;
        }
        let spans = || std::iter::once(m.date).chain(m.fields.iter().flatten().copied());
        let (Some(lo), Some(hi)) = (spans().map(|s| s.0).min(), spans().map(|s| s.1).max()) else {
            return false;
        };
        let rel = |s: Span| (s.0 - lo, s.1 - lo);
        line.get(lo..hi) == Some(self.text.as_str())
            && self.date == rel(m.date)
            && self
                .fields
                .iter()
                .zip(m.fields.iter())
                .all(|(a, b)| *a == b.map(rel))
    }
}

impl DateMemo {
    /// The remembered time of `m` on `line`, if it is the last conversion's.
    pub(crate) fn get(&self, line: &str, m: &DateMatch, kind: Kind, now: i64) -> Option<HitTime> {
        match &self.key {
            Some(k) if k.is(line, m, kind, now) => self.time,
            _ => None,
        }
    }

    /// Remembers `time` as the conversion of `m` on `line` (reusing the text's buffer).
    pub(crate) fn put(&mut self, line: &str, m: &DateMatch, kind: Kind, now: i64, time: HitTime) {
        let buf = self.key.take().map(|k| k.text).unwrap_or_default();
        match Key::of(line, m, kind, now, buf) {
            Some(key) => {
                self.key = Some(key);
                self.time = Some(time);
            }
            None => *self = DateMemo::default(),
        }
    }

    /// Forgets the conversion (the zone changed).
    pub(crate) fn clear(&mut self) {
        *self = DateMemo::default();
    }
}
