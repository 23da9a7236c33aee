//! Turning a template match into seconds since the epoch (fail2ban's `reGroupDictStrptime`,
//! `DateEpoch.getDate`, `DateTai64n.getDate`).

use crate::fields::{DateMatch, Field};
use crate::template::Kind;
use crate::zone::{self, Zone};
use jiff::civil::{date, Date, DateTime};

/// The time of one match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Converted {
    /// Seconds since the epoch.
    At(f64),
    /// The template matched without date fields (e.g. `{NONE}`): use the last date or now.
    Empty,
    /// fail2ban fails on this date (unknown zone name, 31 February, hour 25...).
    Invalid,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn num(s: &str) -> Option<i64> {
    let s = s.trim_start();
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    s.chars()
        .try_fold(0i64, |acc, c| Some(acc * 10 + i64::from(c.to_digit(10)?)))
}

fn month_of(name: &str) -> Option<i8> {
    let p = match name.get(..3) {
        Some(head) if name.is_ascii() => {
            MONTHS.iter().position(|m| head.eq_ignore_ascii_case(m))?
        }
        // Unicode case folding (`ſep`) is rare enough to allocate for.
        _ => {
            let lower = name
                .to_lowercase()
                .replace('ſ', "s")
                .replace('\u{212a}', "k");
            MONTHS.iter().position(|m| lower.starts_with(m))?
        }
    };
    i8::try_from(p + 1).ok()
}

/// Converts `m` (a match of a template of `kind` on `line`).
pub(crate) fn convert(
    line: &str,
    m: &DateMatch,
    kind: Kind,
    zone: &Zone,
    now: jiff::Timestamp,
) -> Converted {
    let text = |f| m.get(line, f);
    match kind {
        Kind::Tai64n => {
            let t = line.get(m.date.0..m.date.1).unwrap_or("");
            // fail2ban reads hex digits 2..17 of `@4000000043a0f1f4...`: the TAI label without
            // its leading `4` (the 10 s TAI offset is ignored).
            match t.get(2..17).and_then(|h| i64::from_str_radix(h, 16).ok()) {
                Some(s) => Converted::At(s as f64),
                None => Converted::Invalid,
            }
        }
        Kind::Epoch { long } => {
            let t = text(Field::Epoch)
                .or_else(|| line.get(m.date.0..m.date.1))
                .unwrap_or("");
            epoch(t, long)
        }
        Kind::Strptime => {
            if let Some(t) = text(Field::Epoch) {
                return epoch(t, true);
            }
            strptime(line, m, zone, now)
        }
    }
}

fn epoch(t: &str, long: bool) -> Converted {
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let Ok(mut v) = format!("{int}.{frac}0").parse::<f64>() else {
        return Converted::Invalid;
    };
    if long {
        if int.len() >= 16 {
            v /= 1_000_000.0;
        } else if int.len() >= 13 {
            v /= 1000.0;
        }
    }
    Converted::At(v)
}

fn strptime(line: &str, m: &DateMatch, zone: &Zone, now: jiff::Timestamp) -> Converted {
    if m.spans().next().is_none() {
        return Converted::Empty;
    }
    match strptime_fields(line, m, zone, now) {
        Some(t) => Converted::At(t as f64),
        None => Converted::Invalid,
    }
}

fn strptime_fields(line: &str, m: &DateMatch, zone: &Zone, now: jiff::Timestamp) -> Option<i64> {
    let text = |f| m.get(line, f);
    let fixed = match text(Field::Offset).or_else(|| text(Field::ZoneName)) {
        Some(z) => Some(Zone::Fixed(zone::offset_of(z)?)),
        None => None,
    };
    let zone = fixed.as_ref().unwrap_or(zone);
    let today = zone.civil(now).date();

    let year = match (text(Field::Y4), text(Field::Y2)) {
        (Some(y), _) => Some(num(y)?),
        (None, Some(y)) => Some(num(y)? + 2000),
        _ => None,
    };
    let month = match (
        text(Field::Month),
        text(Field::MonAbbr).or_else(|| text(Field::MonFull)),
    ) {
        (Some(mo), _) => Some(i8::try_from(num(mo)?).ok()?),
        (None, Some(name)) => Some(month_of(name)?),
        _ => None,
    };
    let day = text(Field::Day)
        .map(num)
        .map(|d| d.and_then(|d| i8::try_from(d).ok()));
    let day = match day {
        Some(d) => Some(d?),
        None => None,
    };
    let mut hour = match text(Field::Hour) {
        Some(h) => num(h)?,
        None => 0,
    };
    if let Some(h12) = text(Field::Hour12) {
        hour = num(h12)?;
        if let Some(p) = text(Field::AmPm) {
            let pm = p.eq_ignore_ascii_case("pm");
            hour = match (hour, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, true) => h + 12,
                (h, false) => h,
            };
        }
    }
    let minute = text(Field::Minute).map_or(Some(0), num)?;
    let second = text(Field::Second).map_or(Some(0), num)?;
    if hour > 23 || minute > 59 || second > 61 {
        return None;
    }
    let yday = text(Field::YearDay).map(num);

    // Leap seconds (60, 61) roll over as `mktime` does.
    let (leap, second) = if second > 59 {
        (second - 59, 59)
    } else {
        (0, second)
    };
    let clock = jiff::civil::time(hour as i8, minute as i8, second as i8, 0);
    let at = |d: Date| -> Option<i64> { Some(zone.epoch(DateTime::from_parts(d, clock))? + leap) };
    let build = |y: i64| -> Option<Date> {
        let y = i16::try_from(y).ok()?;
        if month.is_none() && day.is_none() {
            if let Some(j) = yday {
                let j = j?;
                return date(y, 1, 1)
                    .checked_add(jiff::Span::new().days(j - 1))
                    .ok();
            }
        }
        Date::new(y, month.unwrap_or(1), day.unwrap_or(1)).ok()
    };
    let now_s = now.as_second();
    match year {
        Some(y) => at(build(y)?),
        None if month.is_none() && day.is_none() && yday.is_none() => {
            // Time only: today, or yesterday when that would be in the future.
            let t = at(today)?;
            if t > now_s {
                at(today.yesterday().ok()?)
            } else {
                Some(t)
            }
        }
        None => {
            let y = i64::from(today.year());
            let t = at(build(y)?);
            // A date more than a day ahead belongs to last year (logs read across new year).
            match t {
                Some(t) if t > now_s + 86_400 => at(build(y - 1)?),
                other => other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(s).unwrap()
    }

    fn syslog_match(line: &str) -> DateMatch {
        // "Dec 31 23:59:59" at fixed positions.
        let mut m = DateMatch {
            start: 0,
            date: (0, 15),
            ..DateMatch::default()
        };
        m.set(Field::MonAbbr, (0, 3));
        m.set(Field::Day, (4, 6));
        m.set(Field::Hour, (7, 9));
        m.set(Field::Minute, (10, 12));
        m.set(Field::Second, (13, 15));
        assert!(line.len() >= 15);
        m
    }

    #[test]
    fn year_inference_around_new_year() {
        let utc = Zone::Fixed(0);
        // now = 2006-01-01 00:10:00 UTC: "Dec 31 23:59:59" is last year's.
        let now = ts(1136074200);
        let line = "Dec 31 23:59:59";
        assert_eq!(
            convert(line, &syslog_match(line), Kind::Strptime, &utc, now),
            Converted::At(1136073599.0)
        );
        // "Jan 01 00:05:00" is this year's.
        let line = "Jan 01 00:05:00";
        assert_eq!(
            convert(line, &syslog_match(line), Kind::Strptime, &utc, now),
            Converted::At(1136073900.0)
        );
        // Up to a day ahead still counts as this year (clock skew).
        let line = "Jan 01 23:00:00";
        assert_eq!(
            convert(line, &syslog_match(line), Kind::Strptime, &utc, now),
            Converted::At(1136156400.0)
        );
        // More than a day ahead: last year.
        let line = "Jan 03 00:00:00";
        assert_eq!(
            convert(line, &syslog_match(line), Kind::Strptime, &utc, now),
            Converted::At(1104710400.0)
        );
    }

    #[test]
    fn time_only_is_today_or_yesterday() {
        let utc = Zone::Fixed(0);
        let now = ts(1124013600); // 2005-08-14 10:00:00 UTC
        let mut m = DateMatch {
            start: 0,
            date: (0, 8),
            ..DateMatch::default()
        };
        m.set(Field::Hour, (0, 2));
        m.set(Field::Minute, (3, 5));
        m.set(Field::Second, (6, 8));
        assert_eq!(
            convert("09:00:00", &m, Kind::Strptime, &utc, now),
            Converted::At(1124010000.0)
        );
        assert_eq!(
            convert("11:00:00", &m, Kind::Strptime, &utc, now),
            Converted::At(1123930800.0)
        );
    }

    #[test]
    fn epochs() {
        let z = Zone::Fixed(0);
        let now = ts(0);
        let m = DateMatch {
            start: 0,
            date: (0, 14),
            ..DateMatch::default()
        };
        assert_eq!(
            convert("1243000000.123", &m, Kind::Epoch { long: false }, &z, now),
            Converted::At(1243000000.123)
        );
        let m = DateMatch {
            start: 0,
            date: (0, 13),
            ..DateMatch::default()
        };
        assert_eq!(
            convert("1243000000123", &m, Kind::Epoch { long: true }, &z, now),
            Converted::At(1243000000.123)
        );
        let m = DateMatch {
            start: 0,
            date: (0, 16),
            ..DateMatch::default()
        };
        assert_eq!(
            convert("1243000000123456", &m, Kind::Epoch { long: true }, &z, now),
            Converted::At(1243000000.123456)
        );
        let m = DateMatch {
            start: 0,
            date: (0, 25),
            ..DateMatch::default()
        };
        assert_eq!(
            convert("@4000000043a0f1f4aabbccdd", &m, Kind::Tai64n, &z, now),
            Converted::At(1134621172.0)
        );
    }
}
