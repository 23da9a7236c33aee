//! Time zones: offsets written in log lines (`%z`, `%Z`), `logtimezone`, and the default zone.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Where zone files are (`TZ=Europe/Zurich`, the target of `/etc/localtime`).
const ZONEINFO: &str = "/usr/share/zoneinfo";
/// How long the local zone is used before `TZ` and `/etc/localtime` are read again.
const LOCAL_ZONE_TTL: Duration = Duration::from_secs(300);

static LOCAL_ZONE: RwLock<Option<(TimeZone, Instant)>> = RwLock::new(None);

/// The process's local zone: `TZ` (a zone name, a file, or a POSIX rule string) else
/// `/etc/localtime`; UTC when neither can be read. Read again every five minutes.
///
/// Unlike `jiff::tz::TimeZone::system`, this reads only the one zone file: jiff looks the
/// name up in its zone database, which lists all of `/usr/share/zoneinfo` on first use (a
/// few hundred directory reads, a noticeable part of the daemon's start).
pub fn local_zone() -> TimeZone {
    if let Ok(cached) = LOCAL_ZONE.read() {
        if let Some((tz, at)) = cached.as_ref() {
            if at.elapsed() < LOCAL_ZONE_TTL {
                return tz.clone();
            }
        }
    }
    let tz = read_local_zone().unwrap_or_else(|| TimeZone::try_system().unwrap_or(TimeZone::UTC));
    if let Ok(mut cached) = LOCAL_ZONE.write() {
        *cached = Some((tz.clone(), Instant::now()));
    }
    tz
}

/// The zone `TZ` or `/etc/localtime` names, read without jiff's zone database; `None` to
/// leave an unusual setting to jiff.
fn read_local_zone() -> Option<TimeZone> {
    let tz = std::env::var_os("TZ");
    zone_of_tz(
        tz.as_deref(),
        Path::new("/etc/localtime"),
        Path::new(ZONEINFO),
    )
}

/// The zone of a `TZ` value (`None`: not set, so `localtime`) with zone files in `zoneinfo`.
fn zone_of_tz(tz: Option<&OsStr>, localtime: &Path, zoneinfo: &Path) -> Option<TimeZone> {
    let Some(tz) = tz else {
        let data = std::fs::read(localtime).ok()?;
        let link = std::fs::read_link(localtime).ok();
        let name = link
            .as_deref()
            .and_then(Path::to_str)
            .and_then(zone_name_in)
            .unwrap_or("localtime");
        return TimeZone::tzif(name, &data).ok();
    };
    let tz = tz.to_str()?;
    if tz.is_empty() {
        return Some(TimeZone::UTC);
    }
    let name = tz.strip_prefix(':').unwrap_or(tz);
    // A zone file's name or path (the format of `/etc/localtime`), else a POSIX rule.
    let file = if name.starts_with('/') {
        Path::new(name).to_path_buf()
    } else if name.split('/').any(|part| part == ".." || part.is_empty()) {
        return TimeZone::posix(name).ok();
    } else {
        zoneinfo.join(name)
    };
    match std::fs::read(&file) {
        Ok(data) => TimeZone::tzif(zone_name_in(name).unwrap_or(name), &data).ok(),
        Err(_) => TimeZone::posix(name).ok(),
    }
}

/// `Europe/Zurich` of `/usr/share/zoneinfo/Europe/Zurich`.
fn zone_name_in(path: &str) -> Option<&str> {
    const DIR: &str = "zoneinfo/";
    path.rfind(DIR).map(|i| &path[i + DIR.len()..])
}

/// The zone a date without its own offset is read in.
#[derive(Debug, Clone)]
pub enum Zone {
    /// A fixed offset east of UTC, in seconds (fail2ban's `logtimezone = UTC+0200`, `CET`, ...).
    Fixed(i32),
    /// A zone with rules: the process default (`TZ`, `/etc/localtime`), an IANA name or a POSIX
    /// TZ string such as `CET-01CEST-02,M3.5.0,M10.5.0`.
    Rules(TimeZone),
}

impl Zone {
    /// The process default zone: `TZ` (IANA name or POSIX string) else `/etc/localtime`, as
    /// Python's `time.mktime` would use; UTC when none can be read.
    pub fn local() -> Zone {
        Zone::Rules(local_zone())
    }

    /// Parses a `logtimezone` value.
    ///
    /// fail2ban's forms are an optional abbreviation and an optional `[+-]hh[:]mm` offset:
    /// `UTC`, `UTC+0200`, `GMT-0100`, `CET`, `+05:30`. As an extension, an IANA name
    /// (`Europe/Zurich`) or a POSIX TZ string is also accepted and keeps its DST rules.
    pub fn parse(value: &str) -> Result<Zone, Error> {
        let v = value.trim();
        if let Some(off) = offset_of(v) {
            return Ok(Zone::Fixed(off));
        }
        if let Ok(tz) = TimeZone::get(v) {
            return Ok(Zone::Rules(tz));
        }
        if let Ok(tz) = TimeZone::posix(v) {
            return Ok(Zone::Rules(tz));
        }
        Err(ErrorKind::BadZone {
            zone: value.to_string(),
        }
        .into())
    }

    /// The civil date and time at `ts` in this zone.
    pub(crate) fn civil(&self, ts: jiff::Timestamp) -> DateTime {
        match self {
            Zone::Fixed(off) => {
                let off = jiff::tz::Offset::from_seconds(*off).unwrap_or(jiff::tz::Offset::UTC);
                off.to_datetime(ts)
            }
            Zone::Rules(tz) => tz.to_datetime(ts),
        }
    }

    /// Seconds since the epoch of a civil time in this zone (`mktime`: a time in a DST gap
    /// moves forward, an ambiguous time takes the earlier instant).
    pub(crate) fn epoch(&self, dt: DateTime) -> Option<i64> {
        match self {
            Zone::Fixed(off) => Some(utc_seconds(dt) - i64::from(*off)),
            Zone::Rules(tz) => tz
                .to_ambiguous_timestamp(dt)
                .compatible()
                .ok()
                .map(|t| t.as_second()),
        }
    }
}

/// Seconds since the epoch of `dt` read as UTC.
pub(crate) fn utc_seconds(dt: DateTime) -> i64 {
    let days = i64::from(
        dt.date()
            .since(jiff::civil::date(1970, 1, 1))
            .map_or(0, |s| s.get_days()),
    );
    days * 86_400
        + i64::from(dt.hour()) * 3600
        + i64::from(dt.minute()) * 60
        + i64::from(dt.second())
}

/// Fixed offsets of zone abbreviations, in minutes east of UTC (no DST switching: `CEST` is
/// always +2). Includes the military single letters (`A`..`Z` without `J`).
const ABBREVIATIONS: &[(&str, i32)] = &[
    ("UTC", 0),
    ("UT", 0),
    ("GMT", 0),
    ("Z", 0),
    ("WET", 0),
    ("WEST", 60),
    ("BST", 60),
    ("CET", 60),
    ("CEST", 120),
    ("MET", 60),
    ("MEST", 120),
    ("EET", 120),
    ("EEST", 180),
    ("MSK", 180),
    ("MSD", 240),
    ("IST", 330),
    ("PKT", 300),
    ("ICT", 420),
    ("WIB", 420),
    ("HKT", 480),
    ("SGT", 480),
    ("AWST", 480),
    ("CST", -360),
    ("CDT", -300),
    ("EST", -300),
    ("EDT", -240),
    ("MST", -420),
    ("MDT", -360),
    ("PST", -480),
    ("PDT", -420),
    ("AKST", -540),
    ("AKDT", -480),
    ("HST", -600),
    ("AST", -240),
    ("ADT", -180),
    ("NST", -210),
    ("NDT", -150),
    ("JST", 540),
    ("KST", 540),
    ("ACST", 570),
    ("ACDT", 630),
    ("AEST", 600),
    ("AEDT", 660),
    ("NZST", 720),
    ("NZDT", 780),
    ("A", 60),
    ("B", 120),
    ("C", 180),
    ("D", 240),
    ("E", 300),
    ("F", 360),
    ("G", 420),
    ("H", 480),
    ("I", 540),
    ("K", 600),
    ("L", 660),
    ("M", 720),
    ("N", -60),
    ("O", -120),
    ("P", -180),
    ("Q", -240),
    ("R", -300),
    ("S", -360),
    ("T", -420),
    ("U", -480),
    ("V", -540),
    ("W", -600),
    ("X", -660),
    ("Y", -720),
];

/// fail2ban's `zone2offset`: `Z`/`UTC`/`GMT`, an abbreviation, `[+-]hh`, `[+-]hhmm`,
/// `[+-]hh:mm`, or an abbreviation followed by such an offset. Seconds east of UTC; `None`
/// for an unknown abbreviation or malformed text (fail2ban raises an error there).
pub(crate) fn offset_of(text: &str) -> Option<i32> {
    let split = text.find(['+', '-']).unwrap_or(text.len());
    let (abbr, num) = text.split_at(split);
    let mut minutes = 0;
    if !abbr.is_empty() {
        let up = abbr.to_ascii_uppercase();
        minutes = ABBREVIATIONS.iter().find(|(a, _)| *a == up)?.1;
    }
    if !num.is_empty() {
        let sign = if num.starts_with('-') { -1 } else { 1 };
        let digits: String = num[1..].chars().filter(|&c| c != ':').collect();
        if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let h: i32 = digits[..2].parse().ok()?;
        let m: i32 = digits
            .get(2..)
            .filter(|s| !s.is_empty())
            .map_or(Some(0), |s| s.parse().ok())?;
        minutes += sign * (h * 60 + m);
    }
    if abbr.is_empty() && num.is_empty() {
        return None;
    }
    Some(minutes * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets of `tz` at a winter and a summer instant.
    fn offsets(tz: &TimeZone) -> (i32, i32) {
        let at = |s: i64| {
            tz.to_offset(jiff::Timestamp::from_second(s).unwrap())
                .seconds()
        };
        (at(1_700_000_000), at(1_720_000_000))
    }

    #[test]
    fn tz_values_read_as_the_c_library_does() {
        let info = Path::new(ZONEINFO);
        let localtime = Path::new("/nonexistent/localtime");
        let zone = |v: &str| zone_of_tz(Some(OsStr::new(v)), localtime, info);
        assert_eq!(offsets(&zone("").unwrap()), (0, 0));
        let rule = zone("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert_eq!(offsets(&rule), (3600, 7200));
        assert_eq!(offsets(&zone("UTC-05:30").unwrap()), (19800, 19800));
        if info.join("Europe/Zurich").exists() {
            let named = zone("Europe/Zurich").unwrap();
            assert_eq!(named.iana_name(), Some("Europe/Zurich"));
            assert_eq!(offsets(&named), (3600, 7200));
            assert_eq!(offsets(&zone(":Europe/Zurich").unwrap()), (3600, 7200));
            let path = zone("/usr/share/zoneinfo/America/New_York").unwrap();
            assert_eq!(path.iana_name(), Some("America/New_York"));
            assert_eq!(offsets(&path), (-18000, -14400));
        }
        // Not a zone file and not a rule: left to jiff.
        assert!(zone("../../etc/passwd").is_none());
        // No TZ and no localtime file: left to jiff too.
        assert!(zone_of_tz(None, localtime, info).is_none());
    }

    #[test]
    fn localtime_is_read_with_its_name() {
        let info = Path::new(ZONEINFO);
        let zurich = info.join("Europe/Zurich");
        if !zurich.exists() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("jailor-zone-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("localtime");
        std::os::unix::fs::symlink(&zurich, &link).unwrap();
        let tz = zone_of_tz(None, &link, info).unwrap();
        assert_eq!(tz.iana_name(), Some("Europe/Zurich"));
        assert_eq!(offsets(&tz), (3600, 7200));
        let copy = dir.join("copy");
        std::fs::copy(&zurich, &copy).unwrap();
        let copied = zone_of_tz(None, &copy, info);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(offsets(&copied.unwrap()), (3600, 7200));
    }

    #[test]
    fn the_local_zone_agrees_with_jiff() {
        let ours = local_zone();
        let jiffs = TimeZone::try_system().unwrap_or(TimeZone::UTC);
        assert_eq!(offsets(&ours), offsets(&jiffs));
    }

    #[test]
    fn offsets_in_lines() {
        assert_eq!(offset_of("Z"), Some(0));
        assert_eq!(offset_of("UTC"), Some(0));
        assert_eq!(offset_of("+0130"), Some(5400));
        assert_eq!(offset_of("-05:00"), Some(-18000));
        assert_eq!(offset_of("+01"), Some(3600));
        assert_eq!(offset_of("CEST"), Some(7200));
        assert_eq!(offset_of("pdt"), Some(-25200));
        assert_eq!(offset_of("N"), Some(-3600));
        assert_eq!(offset_of("UTC+0200"), Some(7200));
        assert_eq!(offset_of("XYZ"), None);
        assert_eq!(offset_of("+1"), None);
    }

    #[test]
    fn logtimezone_values() {
        assert!(matches!(Zone::parse("UTC").unwrap(), Zone::Fixed(0)));
        assert!(matches!(
            Zone::parse("GMT-0100").unwrap(),
            Zone::Fixed(-3600)
        ));
        assert!(matches!(
            Zone::parse("Europe/Zurich").unwrap(),
            Zone::Rules(_)
        ));
        assert!(matches!(
            Zone::parse("CET-01CEST-02,M3.5.0,M10.5.0").unwrap(),
            Zone::Rules(_)
        ));
        assert!(Zone::parse("Nowhere/Else").is_err());
    }

    #[test]
    fn posix_zone_switches_dst() {
        let z = Zone::parse("CET-01CEST-02,M3.5.0,M10.5.0").unwrap();
        let winter = jiff::civil::datetime(2005, 1, 23, 21, 59, 59, 0);
        let summer = jiff::civil::datetime(2005, 8, 14, 12, 0, 0, 0);
        assert_eq!(z.epoch(winter), Some(1106513999));
        assert_eq!(z.epoch(summer), Some(1124013600));
    }
}
