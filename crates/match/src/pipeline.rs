//! A raw log line's way through: date detection, the date cut out, then the [`Filter`]
//! (fail2ban's `Filter.processLine`, spec §2.2 steps 1–2). The daemon and `jailor regex`
//! share it.

use std::ops::Range;

use jailor_date::{DateDetector, HitTime};

use crate::filter::{Failure, Filter};

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
}

/// Date detection plus a filter, with fail2ban's "last date" memory.
#[derive(Debug)]
pub struct Pipeline {
    detector: DateDetector,
    filter: Filter,
    last_date: Option<f64>,
    now: Option<f64>,
    in_operation: bool,
}

impl Pipeline {
    /// Joins a filter and the date detector built from its `datepattern`.
    pub fn new(filter: Filter, detector: DateDetector) -> Pipeline {
        Pipeline {
            detector,
            filter,
            last_date: None,
            now: None,
            in_operation: false,
        }
    }

    /// Fixes "now" (epoch seconds) for the detector's year inference and for lines without
    /// a date; `None` reads the clock.
    pub fn set_now(&mut self, now: Option<f64>) {
        self.now = now;
        self.detector.set_now(now);
    }

    /// In operation (the tail of a log reached), a line without any date gets "now" rather
    /// than being skipped, as in fail2ban's server.
    pub fn set_in_operation(&mut self, yes: bool) {
        self.in_operation = yes;
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

    /// Processes one raw line (without its line ending).
    pub fn process_line(&mut self, line: &str) -> Processed {
        let hit = self.detector.find(line);
        let (span, time) = match &hit {
            Some(h) => match h.time {
                HitTime::At(t) => {
                    self.last_date = Some(t);
                    (Some(h.span.clone()), Some(t))
                }
                HitTime::Empty => (Some(h.span.clone()), self.fallback_time()),
                // fail2ban logs "failed to parse timeText" and goes on without a date.
                HitTime::Invalid => (Some(h.span.clone()), self.fallback_time()),
            },
            None => (None, self.fallback_time()),
        };
        let t = time.unwrap_or(f64::NAN);
        let failures = match &span {
            Some(r) if r.end <= line.len() && r.start <= r.end => {
                match (line.get(..r.start), line.get(r.clone()), line.get(r.end..)) {
                    (Some(pre), Some(date), Some(post)) => self.filter.process(pre, date, post, t),
                    _ => self.filter.process("", "", line, t),
                }
            }
            _ => self.filter.process("", "", line, t),
        };
        Processed {
            time,
            date: span,
            failures,
        }
    }

    /// Processes a journal entry: no date detection, the entry's own time (fail2ban passes
    /// `('', isodate + ' ', message)`).
    pub fn process_journal(&mut self, message: &str, time: f64) -> Vec<Failure> {
        self.last_date = Some(time);
        self.filter.process("", "", message, time)
    }
}
