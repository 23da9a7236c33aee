//! [`DateDetector`]: finds the date in a line the way fail2ban's `DateDetector.matchTime` does.

use crate::convert::{self, Converted};
use crate::defaults;
use crate::directive::Decades;
use crate::error::{Error, ErrorKind};
use crate::fast::FastResult;
use crate::fields::DateMatch;
use crate::memo::{self, Parsed};
use crate::template::Template;
use crate::zone::Zone;
use std::ops::Range;

/// A template unused for this long may be overtaken by any other (seconds).
const STALE_AFTER: f64 = 300.0;

/// The time a [`DateHit`] stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HitTime {
    /// Seconds since the epoch. Whole seconds for strptime templates (fail2ban ignores `%f`);
    /// `EPOCH`/`LEPOCH` keep their fraction.
    At(f64),
    /// The template matched an empty date (`{NONE}`, or a pattern such as `^I\(()`): fail2ban
    /// uses the last date when it is less than 60 s old, else now.
    Empty,
    /// The date text is there but fail2ban cannot convert it (an unknown zone abbreviation,
    /// 31 February, hour 24...); fail2ban logs an error and skips the line.
    Invalid,
}

/// The date found in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct DateHit {
    /// Byte range of the date text (the template's group 1), which fail2ban cuts out of the
    /// line before the failregexes run. Empty for [`HitTime::Empty`].
    pub span: Range<usize>,
    /// What the date means.
    pub time: HitTime,
}

impl DateHit {
    /// The epoch seconds, when the line carries a convertible date.
    pub fn epoch(&self) -> Option<f64> {
        match self.time {
            HitTime::At(t) => Some(t),
            HitTime::Empty | HitTime::Invalid => None,
        }
    }
}

/// One template with fail2ban's usage statistics.
#[derive(Debug)]
struct Slot {
    /// Stable identity (the index at creation; slots move as they hit).
    id: usize,
    template: Template,
    hits: u64,
    last_used: f64,
    /// Start of the last match (fail2ban's "distance").
    distance: usize,
}

impl Slot {
    fn weight(&self) -> f64 {
        self.hits as f64 * self.template.weight / (self.distance.max(1) as f64)
    }
}

/// A date found ahead of time, without touching the detector's state, by
/// [`DateDetector::speculate`] (in a worker thread, say); [`DateDetector::find_speculated`]
/// later takes it when the detector, in line order, would have found the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Speculation {
    slot: usize,
    start: usize,
    hit: DateHit,
}

impl Speculation {
    /// The date the speculation found.
    pub fn hit(&self) -> &DateHit {
        &self.hit
    }
}

/// Finds dates in log lines with a `datepattern` (or fail2ban's default templates).
///
/// The detector keeps fail2ban's state: the template that matched last is tried first, and
/// templates that hit often move forward. Use one detector per log (per filter), as fail2ban
/// does.
///
/// ```
/// use jailor_date::{DateDetector, HitTime, Zone};
///
/// let mut dd = DateDetector::new(None).unwrap();
/// dd.set_zone(Zone::parse("UTC").unwrap());
/// dd.set_now(Some(1_124_013_600.0)); // 2005-08-14 10:00:00 UTC
/// let line = "Aug 14 11:58:59 host sshd[1]: Failed password";
/// let hit = dd.find(line).unwrap();
/// assert_eq!(&line[hit.span.clone()], "Aug 14 11:58:59");
/// assert_eq!(hit.time, HitTime::At(1_124_020_739.0));
/// ```
#[derive(Debug)]
pub struct DateDetector {
    slots: Vec<Slot>,
    /// Slot tried first (the last one that matched).
    last: Option<usize>,
    /// Distance of the last match of any template.
    last_distance: usize,
    zone: Zone,
    now: Option<f64>,
    scratch: DateMatch,
    /// Names this detector and its zone in the per-thread memo of the last conversion.
    memo_owner: u64,
}

impl DateDetector {
    /// A detector for a filter's `datepattern` (`None`: fail2ban's 31 default templates).
    ///
    /// `datepattern` holds one pattern per line: strptime patterns with fail2ban's extensions
    /// (`%ExY`, `{^LN-BEG}`, `{UNB}`, `**`, `^`/`$`), `{DATE}` inside a larger regex (one template
    /// per default), `EPOCH`/`LEPOCH`/`TAI64N` (optionally `^` or `{^LN-BEG}` anchored),
    /// `{EPOCH}`/`{LEPOCH}` inside a regex, `{^LN-BEG}` alone (the 17 line-anchored defaults),
    /// `{DEFAULT}` (all defaults) and `{NONE}` (every line has an empty date: [`HitTime::Empty`]).
    /// `%%` is not unescaped here: pass the value after config interpolation.
    pub fn new(datepattern: Option<&str>) -> Result<DateDetector, Error> {
        let decades = Decades::for_year(
            jiff::tz::Offset::UTC
                .to_datetime(jiff::Timestamp::now())
                .year()
                .into(),
        );
        let mut slots: Vec<Slot> = Vec::new();
        // `from_set`: one of a set of templates (a duplicate is skipped, not an error);
        // `builtin`: one of fail2ban's defaults, compiled only when a line needs it.
        let mut add =
            |pattern: &str, weight: f64, from_set: bool, builtin: bool| -> Result<(), Error> {
                if slots.iter().any(|s| &*s.template.pattern == pattern) {
                    if from_set {
                        return Ok(());
                    }
                    return Err(ErrorKind::Duplicate {
                        pattern: pattern.to_string(),
                    }
                    .into());
                }
                let template = Template::shared(pattern, weight, decades, builtin)?;
                slots.push(Slot {
                    id: slots.len(),
                    template,
                    hits: 0,
                    last_used: 0.0,
                    distance: 0,
                });
                Ok(())
            };
        match datepattern {
            None => {
                for (p, w) in defaults::cache() {
                    add(p, *w, true, true)?;
                }
            }
            Some(text) => {
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    match line {
                        "{^LN-BEG}" => {
                            for (p, w) in defaults::line_begin() {
                                add(p, *w, true, true)?;
                            }
                        }
                        "{DEFAULT}" => {
                            for (p, w) in defaults::cache() {
                                add(p, *w, true, true)?;
                            }
                        }
                        "{NONE}" => add("{UNB}^", 1.0, false, false)?,
                        p if p.contains("{DATE}") => {
                            // The line's own text is checked with the first substitute; the
                            // others (fail2ban's default templates) are compiled on first use,
                            // as the defaults are: ~30 regexes per such line at start otherwise.
                            for (i, sub) in defaults::date_substitutes().enumerate() {
                                add(&p.replace("{DATE}", sub), 1.0, true, i > 0)?;
                            }
                        }
                        p => add(p, 1.0, false, false)?,
                    }
                }
            }
        }
        if slots.is_empty() {
            return Err(ErrorKind::Empty.into());
        }
        Ok(DateDetector {
            slots,
            last: None,
            last_distance: 0,
            zone: Zone::local(),
            now: None,
            scratch: DateMatch::default(),
            memo_owner: memo::new_owner(),
        })
    }

    /// Sets the zone of dates that carry no offset (`logtimezone`; default: [`Zone::local`]).
    pub fn set_zone(&mut self, zone: Zone) {
        self.zone = zone;
        // Conversions remembered with the old zone no longer apply.
        self.memo_owner = memo::new_owner();
    }

    /// Fixes "now" (epoch seconds) for year inference and template aging; `None` (the
    /// default) reads the clock at every line.
    pub fn set_now(&mut self, now: Option<f64>) {
        self.now = now;
    }

    /// The number of templates.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no templates (never true for a built detector).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The template patterns in their current order (it changes as templates hit).
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| &*s.template.pattern)
    }

    /// fail2ban-regex's name of each template that matched so far, with its number of hits
    /// (in the current template order).
    pub fn hits(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.hits > 0)
            .map(|s| (crate::name::template_name(&s.template.pattern), s.hits))
    }

    /// The regexes of the templates (Python syntax, as fail2ban compiles them), in order.
    pub fn regexes(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| &*s.template.regex)
    }

    fn now_secs(&self) -> f64 {
        self.now
            .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond() as f64 / 1000.0)
    }

    /// Runs slot `i` on `line` into `self.scratch`: `None` when it does not match, else
    /// whether its hand-written parser found the match (rather than its regex).
    fn try_slot(&mut self, i: usize, line: &str) -> Option<bool> {
        let DateDetector { slots, scratch, .. } = self;
        let t = &mut slots[i].template;
        if let Some(fast) = t.fast {
            match fast.parse(line, scratch) {
                FastResult::Hit => return Some(true),
                FastResult::Miss => return None,
                FastResult::Unsure => {}
            }
        }
        t.matcher.search(line, scratch).then_some(false)
    }

    /// Finds the date in `line` (without its line ending) and updates the template order.
    ///
    /// `None`: no template matches; fail2ban then keeps the whole line and uses the last date
    /// (if under 60 s old) or now.
    pub fn find(&mut self, line: &str) -> Option<DateHit> {
        let now = self.now_secs();
        if let Some((i, start, hit)) = self.recall(line, now) {
            // What the template tried first would find again (and be taken: line-anchored).
            self.scratch.start = start;
            self.record(i, now);
            return Some(hit);
        }
        let (i, fast) = self.match_time(line)?;
        let slot = &self.slots[i];
        let kind = slot.template.kind;
        let parsed = slot.template.fast.filter(|_| fast).map(|f| Parsed {
            slot: slot.id,
            extent: f.extent(line, &self.scratch),
        });
        self.record(i, now);
        Some(self.hit(line, &self.scratch, kind, now, parsed))
    }

    /// The date the template tried first finds in `line` by its hand-written parser, when
    /// `line` starts with the bytes that parser read in the last line it parsed (on this
    /// thread): that slot's index, the match's start and the date.
    fn recall(&self, line: &str, now: f64) -> Option<(usize, usize, DateHit)> {
        let i = self.last?;
        let slot = self.slots.get(i)?;
        slot.template.fast?;
        let (start, date, time) = memo::recall(self.memo_owner, slot.id, line, now as i64)?;
        let hit = DateHit {
            span: date.0..date.1,
            time,
        };
        Some((i, start, hit))
    }

    /// Whether [`DateDetector::speculate`] can find anything: a template matched last and it
    /// has a hand-written parser.
    pub fn can_speculate(&self) -> bool {
        self.last
            .and_then(|i| self.slots.get(i))
            .is_some_and(|s| s.template.fast.is_some())
    }

    /// Tries the template [`DateDetector::find`] would try first on `line`, with its
    /// hand-written parser only and without changing any state: several threads may
    /// speculate at once. `None` when that parser does not say "match" (the line then needs
    /// [`DateDetector::find`]).
    pub fn speculate(&self, line: &str) -> Option<Speculation> {
        let now = self.now_secs();
        if let Some((i, start, hit)) = self.recall(line, now) {
            let slot = self.slots[i].id;
            return Some(Speculation { slot, start, hit });
        }
        let i = self.last?;
        let slot = self.slots.get(i)?;
        let fast = slot.template.fast?;
        let mut m = DateMatch::default();
        if fast.parse(line, &mut m) != FastResult::Hit {
            return None;
        }
        let parsed = Parsed {
            slot: slot.id,
            extent: fast.extent(line, &m),
        };
        let hit = self.hit(line, &m, slot.template.kind, now, Some(parsed));
        Some(Speculation {
            slot: slot.id,
            start: m.start,
            hit,
        })
    }

    /// [`DateDetector::find`], taking `spec` (from [`DateDetector::speculate`] on the same
    /// line) when `find` would have returned it: the template it used is still the one tried
    /// first and would be accepted there. Same answers and same state changes as `find`.
    pub fn find_speculated(&mut self, line: &str, spec: Option<&Speculation>) -> Option<DateHit> {
        if let (Some(s), Some(i)) = (spec, self.last) {
            let slot = &self.slots[i];
            if slot.id == s.slot && (slot.template.line_begin || s.start == slot.distance) {
                let now = self.now_secs();
                self.scratch.start = s.start;
                self.record(i, now);
                return Some(s.hit.clone());
            }
        }
        self.find(line)
    }

    /// The hit for match `m` of a template of `kind` on `line` (`parsed`: found by that
    /// template's hand-written parser).
    fn hit(
        &self,
        line: &str,
        m: &DateMatch,
        kind: crate::template::Kind,
        now: f64,
        parsed: Option<Parsed>,
    ) -> DateHit {
        convert_hit(line, m, kind, &self.zone, now, self.memo_owner, parsed)
    }

    /// fail2ban's `matchTime`: the index of the winning slot, its match in `self.scratch`,
    /// and whether the slot's hand-written parser found it.
    fn match_time(&mut self, line: &str) -> Option<(usize, bool)> {
        if let Some(i) = self.last {
            if let Some(fast) = self.try_slot(i, line) {
                let slot = &self.slots[i];
                // A line-anchored template is trusted; an unanchored one only when it matched
                // where it did last time (elsewhere another template may match further left).
                if slot.template.line_begin || self.scratch.start == slot.distance {
                    return Some((i, fast));
                }
            }
        }
        let n = self.slots.len();
        let mut best: Option<(usize, DateMatch, bool)> = None;
        for i in 0..n {
            let Some(fast) = self.try_slot(i, line) else {
                continue;
            };
            let d = self.scratch.start;
            let slot = &self.slots[i];
            let stop = i + 1 == n
                || slot.template.line_begin
                || (d == 0 && slot.hits > 0 && self.slots.get(i + 1).is_some_and(|s| s.hits == 0))
                || !(d > slot.distance || d > self.last_distance);
            if best.as_ref().is_none_or(|(_, b, _)| d < b.start) {
                best = Some((i, self.scratch.clone(), fast));
            }
            if stop {
                break;
            }
        }
        let (i, m, fast) = best?;
        self.scratch = m;
        Some((i, fast))
    }

    /// Counts the hit of slot `i` and moves it forward as fail2ban does.
    fn record(&mut self, i: usize, now: f64) {
        let d = self.scratch.start;
        let slot = &mut self.slots[i];
        slot.hits += 1;
        slot.last_used = now;
        slot.distance = d;
        self.last_distance = d;
        let mut to = i;
        if i > 0 {
            let w = self.slots[i].weight();
            let first_unused = self.slots[..i].iter().position(|s| s.hits == 0);
            let target = first_unused.unwrap_or(i / 2);
            let t = &self.slots[target];
            if target < i && (w > t.weight() || now - t.last_used > STALE_AFTER) {
                to = target;
            } else if w > self.slots[i - 1].weight() {
                to = i - 1;
            }
        }
        if to != i {
            let s = self.slots.remove(i);
            self.slots.insert(to, s);
        }
        self.last = Some(to);
    }
}

/// The hit for match `m` of a template of `kind` on `line` (`now`: epoch seconds), through
/// this thread's memo of the last conversion (for the detector `owner`; `parsed`: found by
/// a hand-written parser).
fn convert_hit(
    line: &str,
    m: &DateMatch,
    kind: crate::template::Kind,
    zone: &Zone,
    now: f64,
    owner: u64,
    parsed: Option<Parsed>,
) -> DateHit {
    let secs = now as i64;
    let time = memo::convert_once(owner, line, m, kind, secs, parsed, || {
        let ts = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let time = match convert::convert(line, m, kind, zone, ts) {
            Converted::At(t) => HitTime::At(t),
            Converted::Empty => HitTime::Empty,
            Converted::Invalid => HitTime::Invalid,
        };
        if m.date.0 == m.date.1 && time != HitTime::Invalid {
            HitTime::Empty
        } else {
            time
        }
    });
    DateHit {
        span: m.date.0..m.date.1,
        time,
    }
}

mod speculator;

pub use speculator::Speculator;

#[cfg(test)]
mod tests;
