//! The last date conversion, kept per thread: consecutive log lines mostly carry the same
//! date text (the same second), and the conversion (fields, zone, year inference) is the
//! costly part of a hit. When a hand-written parser found the date, the line's first bytes
//! it read are kept too: a next line that starts with the same bytes has the same date
//! without parsing it again.
//!
//! One memo per thread, not per detector: the threads that speculate on a detector's lines
//! (each on its own part of a block) would otherwise overwrite each other's entry at every
//! line, and it needs no lock. Each entry names the detector (and its zone) it was made for.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::detector::HitTime;
use crate::fields::{DateMatch, Span, NFIELDS};
use crate::template::Kind;

/// A fresh owner id for this module's functions: a detector takes a new one whenever
/// something its conversions depend on, other than the key's parts, changes (its zone).
pub(crate) fn new_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    static MEMO: RefCell<Option<Entry>> = const { RefCell::new(None) };
}

/// A hand-written parser's hit: the template (its slot id in the detector) and how many of
/// the line's first bytes the parser read ([`crate::fast::Fast::extent`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed {
    pub(crate) slot: usize,
    pub(crate) extent: usize,
}

/// One conversion and everything its result depends on: the detector, the template kind,
/// "now" (whole seconds), the matched text and where the date and each field lie in it.
/// A line whose date starts elsewhere (a prefix of another length) agrees when everything
/// lies as far from the date's start.
#[derive(Debug)]
struct Entry {
    owner: u64,
    kind: Kind,
    now: i64,
    /// The match: its start, the date and the fields.
    start: usize,
    date: Span,
    fields: [[usize; 2]; NFIELDS],
    /// From the first span's start to the last span's end: the text every field reads.
    lo: usize,
    hi: usize,
    text: String,
    time: HitTime,
    /// When a hand-written parser found the match: its template and the bytes it read (the
    /// whole line when shorter than its extent: `whole`).
    parsed: Option<usize>,
    prefix: Vec<u8>,
    whole: bool,
}

impl Entry {
    /// Whether this entry's conversion is the one of `m` on `line`.
    fn is(&self, owner: u64, line: &str, m: &DateMatch, kind: Kind, now: i64) -> bool {
        if self.owner != owner || self.kind != kind || self.now != now {
            return false;
        }
        // `d`: how far this date lies from the entry's (wrapping: it may be before).
        let d = m.date.0.wrapping_sub(self.date.0);
        let same_shape = if d == 0 {
            // The common case (dates at the same place): one comparison of plain integers.
            m.date.1 == self.date.1 && m.fields == self.fields
        } else {
            m.date.1.wrapping_sub(d) == self.date.1
                && m.fields.iter().zip(&self.fields).all(|(a, b)| {
                    if b[0] == usize::MAX {
                        a[0] == usize::MAX
                    } else {
                        a[0].wrapping_sub(d) == b[0] && a[1].wrapping_sub(d) == b[1]
                    }
                })
        };
        same_shape && line.get(self.lo.wrapping_add(d)..self.hi.wrapping_add(d)) == Some(&self.text)
    }

    /// Rewrites this entry's conversion key for `m` on `line` (reusing the text's buffer);
    /// false when a span does not fit the line.
    fn set(&mut self, owner: u64, line: &str, m: &DateMatch, kind: Kind, now: i64) -> bool {
        let (mut lo, mut hi) = m.date;
        for f in m.spans() {
            lo = lo.min(f.0);
            hi = hi.max(f.1);
        }
        let Some(text) = line.get(lo..hi) else {
            return false;
        };
        self.text.clear();
        self.text.push_str(text);
        self.owner = owner;
        self.kind = kind;
        self.now = now;
        self.start = m.start;
        self.date = m.date;
        self.fields = m.fields;
        self.lo = lo;
        self.hi = hi;
        true
    }

    /// Keeps the first bytes of `line` a parser read (or forgets them: `None`).
    fn set_parsed(&mut self, line: &str, parsed: Option<Parsed>) {
        self.parsed = parsed.map(|p| p.slot);
        self.prefix.clear();
        if let Some(p) = parsed {
            let b = line.as_bytes();
            self.whole = b.len() < p.extent;
            self.prefix.extend_from_slice(&b[..p.extent.min(b.len())]);
        }
    }
}

/// The time of `m` (a match of a template of `kind` on `line`, for the detector `owner` at
/// `now`): this thread's last conversion when it is the same, else `convert()`'s, which is
/// then remembered (with `parsed`, the bytes a hand-written parser read to find `m`).
pub(crate) fn convert_once(
    owner: u64,
    line: &str,
    m: &DateMatch,
    kind: Kind,
    now: i64,
    parsed: Option<Parsed>,
    convert: impl FnOnce() -> HitTime,
) -> HitTime {
    MEMO.with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else {
            return convert();
        };
        if let Some(e) = c.as_mut().filter(|e| e.is(owner, line, m, kind, now)) {
            // Keyed at this line from now on, with the bytes its parser read (the text is
            // the same, the spans may lie elsewhere).
            if parsed.is_some() && e.set(owner, line, m, kind, now) {
                e.set_parsed(line, parsed);
            }
            return e.time;
        }
        let time = convert();
        let e = c.get_or_insert_with(|| Entry {
            owner: 0,
            kind,
            now,
            start: 0,
            date: (0, 0),
            fields: [[0; 2]; NFIELDS],
            lo: 0,
            hi: 0,
            text: String::new(),
            time,
            parsed: None,
            prefix: Vec::new(),
            whole: false,
        });
        if e.set(owner, line, m, kind, now) {
            e.time = time;
            e.set_parsed(line, parsed);
        } else {
            *c = None;
        }
        time
    })
}

/// The date the hand-written parser of template `slot` would find in `line`, and its time
/// (for the detector `owner` at `now`), when `line` starts with the bytes that parser read
/// in this thread's last remembered line: the match's start, the date and its time.
pub(crate) fn recall(
    owner: u64,
    slot: usize,
    line: &str,
    now: i64,
) -> Option<(usize, Span, HitTime)> {
    MEMO.with(|c| {
        let c = c.try_borrow().ok()?;
        let e = c.as_ref()?;
        let b = line.as_bytes();
        let k = e.prefix.len();
        let fits = if e.whole { b.len() == k } else { b.len() >= k };
        (e.parsed == Some(slot)
            && e.owner == owner
            && e.now == now
            && fits
            && b.get(..k) == Some(e.prefix.as_slice()))
        .then_some((e.start, e.date, e.time))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Field;

    /// Remembers `time` for `m` (as a conversion that was not parsed by hand).
    fn put(o: u64, line: &str, m: &DateMatch, kind: Kind, now: i64, time: HitTime) {
        convert_once(o, line, m, kind, now, None, || time);
    }

    /// The remembered time of `m`, without remembering anything.
    fn get(o: u64, line: &str, m: &DateMatch, kind: Kind, now: i64) -> Option<HitTime> {
        MEMO.with(|c| {
            let c = c.borrow();
            let e = c.as_ref()?;
            e.is(o, line, m, kind, now).then_some(e.time)
        })
    }

    fn syslog(at: usize) -> DateMatch {
        let mut m = DateMatch {
            start: at,
            date: (at, at + 15),
            ..DateMatch::default()
        };
        m.set(Field::MonAbbr, (at, at + 3));
        m.set(Field::Day, (at + 4, at + 6));
        m.set(Field::Second, (at + 13, at + 15));
        m
    }

    #[test]
    fn same_text_and_shape_hits_anything_else_misses() {
        let o = new_owner();
        let t = HitTime::At(5.0);
        put(o, "Jan 01 00:00:01 a", &syslog(0), Kind::Strptime, 9, t);
        assert_eq!(
            get(o, "Jan 01 00:00:01 b", &syslog(0), Kind::Strptime, 9),
            Some(t)
        );
        // The same date after a longer prefix.
        assert_eq!(
            get(o, "[x] Jan 01 00:00:01", &syslog(4), Kind::Strptime, 9),
            Some(t)
        );
        // Another second, another now, another kind, another owner (zone), another shape.
        assert_eq!(
            get(o, "Jan 01 00:00:02 a", &syslog(0), Kind::Strptime, 9),
            None
        );
        assert_eq!(
            get(o, "Jan 01 00:00:01 a", &syslog(0), Kind::Strptime, 10),
            None
        );
        let epoch = Kind::Epoch { long: false };
        assert_eq!(get(o, "Jan 01 00:00:01 a", &syslog(0), epoch, 9), None);
        assert_eq!(
            get(
                new_owner(),
                "Jan 01 00:00:01",
                &syslog(0),
                Kind::Strptime,
                9
            ),
            None
        );
        let mut m = syslog(0);
        m.set(Field::Hour, (7, 9));
        assert_eq!(get(o, "Jan 01 00:00:01 a", &m, Kind::Strptime, 9), None);
        // A span past the line's end never matches.
        assert_eq!(get(o, "Jan 01", &syslog(0), Kind::Strptime, 9), None);
    }

    #[test]
    fn a_field_before_the_date_is_part_of_the_key() {
        let o = new_owner();
        let mut m = syslog(3);
        m.set(Field::Y4, (0, 2));
        put(
            o,
            "20 Jan 01 00:00:01",
            &m,
            Kind::Strptime,
            1,
            HitTime::Empty,
        );
        assert_eq!(
            get(o, "20 Jan 01 00:00:01", &m, Kind::Strptime, 1),
            Some(HitTime::Empty)
        );
        assert_eq!(get(o, "21 Jan 01 00:00:01", &m, Kind::Strptime, 1), None);
    }

    #[test]
    fn each_thread_has_its_own() {
        let o = new_owner();
        put(
            o,
            "Jan 01 00:00:01",
            &syslog(0),
            Kind::Strptime,
            1,
            HitTime::Invalid,
        );
        let other =
            std::thread::spawn(move || get(o, "Jan 01 00:00:01", &syslog(0), Kind::Strptime, 1));
        assert_eq!(other.join().unwrap(), None);
        assert_eq!(
            get(o, "Jan 01 00:00:01", &syslog(0), Kind::Strptime, 1),
            Some(HitTime::Invalid)
        );
    }

    #[test]
    fn a_parsed_lines_first_bytes_give_its_date_again() {
        let o = new_owner();
        let t = HitTime::At(7.0);
        let parsed = Some(Parsed {
            slot: 3,
            extent: 21,
        });
        let line = "Jan 01 00:00:01 host a";
        let got = convert_once(o, line, &syslog(0), Kind::Strptime, 9, parsed, || t);
        assert_eq!(got, t);
        let want = Some((0, (0, 15), t));
        assert_eq!(recall(o, 3, "Jan 01 00:00:01 host b x", 9), want);
        assert_eq!(recall(o, 3, "Jan 01 00:00:01 host ", 9), want);
        // A byte the parser read differs, the line ends before those bytes, another
        // template, detector or now.
        assert_eq!(recall(o, 3, "Jan 01 00:00:01 hosT a", 9), None);
        assert_eq!(recall(o, 3, "Jan 01 00:00:01 host", 9), None);
        assert_eq!(recall(o, 4, line, 9), None);
        assert_eq!(recall(new_owner(), 3, line, 9), None);
        assert_eq!(recall(o, 3, line, 10), None);
        // A line shorter than the extent is kept whole: only that very line is recalled.
        let short = "Jan 01 00:00:01 ho";
        convert_once(o, short, &syslog(0), Kind::Strptime, 9, parsed, || t);
        assert_eq!(recall(o, 3, short, 9), want);
        assert_eq!(recall(o, 3, "Jan 01 00:00:01 host", 9), None);
        // The same conversion found at another place, parsed: recalled there.
        let shifted = "[] Jan 01 00:00:01 host a";
        let p = Some(Parsed {
            slot: 3,
            extent: 24,
        });
        let unused = || HitTime::Invalid;
        assert_eq!(
            convert_once(o, shifted, &syslog(3), Kind::Strptime, 9, p, unused),
            t
        );
        assert_eq!(recall(o, 3, shifted, 9), Some((3, (3, 18), t)));
        assert_eq!(recall(o, 3, line, 9), None);
        // A conversion not parsed by hand keeps nothing to recall.
        put(o, "Jan 01 00:00:05", &syslog(0), Kind::Strptime, 9, t);
        assert_eq!(recall(o, 3, shifted, 9), None);
    }
}
