//! The server log in fail2ban's format (spec §12), so tools reading fail2ban's log (the
//! `recidive` jail first of all) read jailor's unchanged.
//!
//! A line is `2024-05-01 10:00:00,123 fail2ban.actions        [4242]: NOTICE  [sshd] Ban
//! 192.0.2.1`: local time with milliseconds, the logger name padded to 24, the process id,
//! the level padded to 7, the message. Each line is written with one `write` call, so a line
//! that reached the log reached the kernel, except on a thread that holds its lines
//! ([`HeldLines`]: a reader matching a burst): those are written together, in order, at
//! the reader's next flush (before the bans they lead to are sent on, and at least every
//! few milliseconds).
//!
//! The library crates log through `tracing`; [`install`] routes their events here too.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::error::{Error, ErrorKind};

/// A log level: fail2ban's numbers (Python's, plus NOTICE 25, MSG 18, TRACEDEBUG 7,
/// HEAVYDEBUG 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(pub u32);

impl Level {
    /// `CRITICAL` (50).
    pub const CRITICAL: Level = Level(50);
    /// `ERROR` (40).
    pub const ERROR: Level = Level(40);
    /// `WARNING` (30).
    pub const WARNING: Level = Level(30);
    /// `NOTICE` (25): bans and unbans.
    pub const NOTICE: Level = Level(25);
    /// `INFO` (20): found failures.
    pub const INFO: Level = Level(20);
    /// `DEBUG` (10).
    pub const DEBUG: Level = Level(10);

    /// Parses a `loglevel` value: a name (any case) or a number.
    pub fn parse(text: &str) -> Option<Level> {
        let t = text.trim();
        if let Ok(n) = t.parse::<u32>() {
            return Some(Level(n));
        }
        Some(match t.to_ascii_uppercase().as_str() {
            "CRITICAL" | "FATAL" => Level::CRITICAL,
            "ERROR" => Level::ERROR,
            "WARNING" | "WARN" => Level::WARNING,
            "NOTICE" => Level::NOTICE,
            "INFO" => Level::INFO,
            "MSG" => Level(18),
            "DEBUG" => Level::DEBUG,
            "TRACEDEBUG" | "TRACE" => Level(7),
            "HEAVYDEBUG" | "HEAVY" => Level(5),
            _ => return None,
        })
    }

    /// The name fail2ban prints.
    pub fn name(self) -> String {
        self.label().into_owned()
    }

    /// [`Level::name`], without allocating for fail2ban's named levels.
    fn label(self) -> Cow<'static, str> {
        Cow::Borrowed(match self.0 {
            50 => "CRITICAL",
            40 => "ERROR",
            30 => "WARNING",
            25 => "NOTICE",
            20 => "INFO",
            18 => "MSG",
            10 => "DEBUG",
            7 => "TRACE",
            5 => "HEAVY",
            n => return Cow::Owned(format!("#{n:02}-Lev.")),
        })
    }

    /// The syslog severity.
    fn severity(self) -> u32 {
        match self.0 {
            50.. => 2,
            40..=49 => 3,
            30..=39 => 4,
            25..=29 => 5,
            11..=24 => 6,
            _ => 7,
        }
    }
}

/// Where the log goes (`logtarget`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `STDOUT`.
    Stdout,
    /// `STDERR`.
    Stderr,
    /// `SYSLOG` and `SYSTEMD-JOURNAL` (journald reads the syslog socket): `/dev/log`.
    Syslog,
    /// A file, appended to.
    File(PathBuf),
}

impl Target {
    /// Parses a `logtarget` value.
    pub fn parse(text: &str) -> Target {
        let t = text.trim();
        match t.to_ascii_uppercase().as_str() {
            "STDOUT" | "SYSOUT" => Target::Stdout,
            "STDERR" => Target::Stderr,
            "SYSLOG" | "SYSTEMD-JOURNAL" => Target::Syslog,
            _ => Target::File(PathBuf::from(t)),
        }
    }
}

enum Sink {
    Stdout,
    Stderr,
    Syslog(UnixDatagram),
    File(File),
}

static LEVEL: AtomicU32 = AtomicU32::new(20);
/// The process id, read at [`configure`] (after `-b` forked): a log line does not ask the
/// kernel for it each time. 0 before.
static PID: AtomicU32 = AtomicU32::new(0);
static SINK: Mutex<Option<Sink>> = Mutex::new(None);
/// `syslogsocket` when it names a path (`None`: `auto`, which is `/dev/log`).
static SYSLOG_SOCKET: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Sets `syslogsocket` (`auto` or a path) for the next [`configure`] of a `SYSLOG` target.
pub fn set_syslog_socket(value: &str) {
    let path = match value.trim() {
        "" | "auto" => None,
        p => Some(PathBuf::from(p)),
    };
    *SYSLOG_SOCKET.lock().unwrap_or_else(|p| p.into_inner()) = path;
}

fn syslog_socket() -> PathBuf {
    SYSLOG_SOCKET
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| PathBuf::from("/dev/log"))
}

/// Sets the level and opens the target (re-opening a file, as fail2ban's `flushlogs` does).
pub fn configure(level: Level, target: &Target) -> Result<(), Error> {
    let sink = match target {
        Target::Stdout => Sink::Stdout,
        Target::Stderr => Sink::Stderr,
        Target::Syslog => match UnixDatagram::unbound().and_then(|s| {
            s.connect(syslog_socket())?;
            Ok(s)
        }) {
            Ok(s) => Sink::Syslog(s),
            Err(_) => Sink::Stderr, // no syslog daemon here: stderr rather than nothing
        },
        Target::File(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    Error::from(ErrorKind::Logging(format!(
                        "cannot open log file {}: {e}",
                        path.display()
                    )))
                })?;
            Sink::File(file)
        }
    };
    LEVEL.store(level.0, Ordering::Relaxed);
    PID.store(std::process::id(), Ordering::Relaxed);
    *SINK.lock().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    Ok(())
}

/// Whether a message at `level` is written.
pub fn enabled(level: Level) -> bool {
    level.0 >= LEVEL.load(Ordering::Relaxed)
}

/// Writes one message from logger `name` (`fail2ban.actions`...) at `level`.
pub fn log(level: Level, name: &str, message: fmt::Arguments<'_>) {
    log_with(level, name, |line| {
        // Writing into a String cannot fail.
        let _ = line.write_fmt(message);
    });
}

/// Writes one message that `message` appends to the line (after the header): for frequent
/// lines put together without `fmt` (a `Found` line).
pub(crate) fn log_with(level: Level, name: &str, message: impl Fn(&mut String)) {
    if !enabled(level) {
        return;
    }
    let pid = match PID.load(Ordering::Relaxed) {
        0 => std::process::id(),
        pid => pid,
    };
    // Each thread formats into its own buffer, kept between lines.
    thread_local! {
        static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    }
    LINE.with(|buf| {
        let mut own = String::new();
        let mut borrowed = buf.try_borrow_mut();
        let line = match borrowed.as_deref_mut() {
            Ok(b) => b,
            Err(_) => &mut own, // a log call while formatting a message's argument
        };
        line.clear();
        let mut guard = SINK.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        match guard.as_ref() {
            Some(Sink::Syslog(_)) => {
                let _ = write!(
                    line,
                    "<{}>{name}[{pid}]: {} ",
                    3 * 8 + level.severity(),
                    level.label()
                );
                message(line);
            }
            _ => {
                push_header(line, jiff::Timestamp::now(), name, pid, level);
                message(line);
                line.push('\n');
            }
        }
        // A syslog message is a datagram of its own; other lines may wait in this thread's
        // held lines.
        let held = !matches!(guard.as_ref(), Some(Sink::Syslog(_)))
            && HELD.with(|h| match h.try_borrow_mut() {
                Ok(mut h) if h.on => {
                    h.text.extend_from_slice(line.as_bytes());
                    if h.text.len() >= HELD_MAX {
                        write_to(guard.as_mut(), &h.text);
                        h.text.clear();
                    }
                    true
                }
                _ => false,
            });
        if !held {
            write_to(guard.as_mut(), line.as_bytes());
        }
        // A rare huge message does not keep its buffer.
        if line.capacity() > 64 * 1024 {
            *line = String::new();
        }
    });
}

/// Writes `bytes` (whole lines) to the sink. A log that cannot be written must not stop the
/// daemon: errors are dropped.
fn write_to(sink: Option<&mut Sink>, bytes: &[u8]) {
    let _ = match sink {
        Some(Sink::Stdout) | None => std::io::stdout().lock().write_all(bytes),
        Some(Sink::Stderr) => std::io::stderr().lock().write_all(bytes),
        Some(Sink::File(f)) => f.write_all(bytes),
        Some(Sink::Syslog(s)) => s.send(bytes).map(|_| ()),
    };
}

/// Held lines past this many bytes are written at once.
const HELD_MAX: usize = 64 * 1024;

/// A thread's held log lines (see [`HeldLines`]).
struct Held {
    on: bool,
    text: Vec<u8>,
}

thread_local! {
    static HELD: RefCell<Held> = const { RefCell::new(Held { on: false, text: Vec::new() }) };
}

/// While alive, the log lines of this thread (but syslog's) are kept in memory and written
/// together by [`flush_held`], or once 64 KiB wait: a burst of `Found` lines costs a few
/// `write` calls instead of one each. Dropping it writes what is held and ends the holding.
/// The holder flushes before anything that must follow its lines in the log (a ban sent to
/// the keeper) and every few milliseconds.
pub(crate) struct HeldLines(());

impl HeldLines {
    /// Starts holding this thread's lines.
    pub(crate) fn start() -> HeldLines {
        HELD.with(|h| {
            if let Ok(mut h) = h.try_borrow_mut() {
                h.on = true;
            }
        });
        HeldLines(())
    }
}

impl Drop for HeldLines {
    fn drop(&mut self) {
        flush_held();
        HELD.with(|h| {
            if let Ok(mut h) = h.try_borrow_mut() {
                h.on = false;
                // A burst's buffer is not kept by an idle thread.
                if h.text.capacity() > 4096 {
                    h.text = Vec::new();
                }
            }
        });
    }
}

/// Writes this thread's held lines, in order (nothing when none are held).
pub(crate) fn flush_held() {
    HELD.with(|h| {
        let Ok(mut h) = h.try_borrow_mut() else {
            return;
        };
        if h.text.is_empty() {
            return;
        }
        let mut guard = SINK.lock().unwrap_or_else(|p| p.into_inner());
        // Lines held while the target was a file and written after it became syslog go
        // out as one datagram each.
        match guard.as_mut() {
            Some(Sink::Syslog(s)) => {
                for l in h.text.split_inclusive(|&b| b == b'\n') {
                    let _ = s.send(l);
                }
            }
            other => write_to(other, &h.text),
        }
        h.text.clear();
    });
}

/// Appends what precedes the message in a log line: `format!("{} {name:<24}[{pid}]: {:<7} ",
/// Asctime(now), level)`, put together by hand (the `fmt` machinery cost more than the rest
/// of a `Found` line).
fn push_header(line: &mut String, now: jiff::Timestamp, name: &str, pid: u32, level: Level) {
    let pad = |line: &mut String, text: &str, width: usize| {
        line.push_str(text);
        for _ in text.chars().count()..width {
            line.push(' ');
        }
    };
    match local_stamp(now.as_second()) {
        Some(b) => line.push_str(std::str::from_utf8(&b).unwrap_or_default()),
        None => {
            let _ = write!(line, "{}", now.as_second());
        }
    }
    let ms = now.subsec_millisecond().clamp(0, 999) as u32;
    line.push(',');
    for d in [ms / 100, ms / 10 % 10, ms % 10] {
        line.push(char::from(b'0' + d as u8));
    }
    line.push(' ');
    pad(line, name, 24);
    line.push('[');
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut v = pid;
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    line.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
    line.push_str("]: ");
    pad(line, &level.label(), 7);
    line.push(' ');
}

/// A time as fail2ban's `asctime`: local `YYYY-mm-dd HH:MM:SS,mmm` (what
/// [`push_header`] writes first).
#[cfg(test)]
struct Asctime(jiff::Timestamp);

#[cfg(test)]
impl fmt::Display for Asctime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.subsec_millisecond();
        write!(f, "{},{ms:03}", LocalTime(self.0.as_second()))
    }
}

/// Appends [`LocalTime`]`(secs)` to `line`, without `fmt` (but out of its years).
pub(crate) fn push_local_time(line: &mut String, secs: i64) {
    match local_stamp(secs) {
        Some(b) => line.push_str(std::str::from_utf8(&b).unwrap_or_default()),
        None => {
            let _ = write!(line, "{secs}");
        }
    }
}

/// A Unix time as fail2ban prints it in `Found` lines: local `YYYY-mm-dd HH:MM:SS`.
pub fn local_time(secs: i64) -> String {
    LocalTime(secs).to_string()
}

/// [`local_time`] as a `Display` value, formatted without allocating.
#[derive(Debug, Clone, Copy)]
pub struct LocalTime(pub i64);

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match local_stamp(self.0) {
            // The stamp is ASCII digits and separators.
            Some(b) => f.write_str(std::str::from_utf8(&b).unwrap_or_default()),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The last two seconds formatted on this thread (a log line mostly shows the current
/// second and a failure's, and bursts of lines share both).
#[derive(Clone, Copy)]
struct Stamps {
    recent: [(i64, [u8; 19]); 2],
    /// The entry to replace next.
    next: usize,
}

/// `YYYY-mm-dd HH:MM:SS` of Unix second `secs` in the local zone (`None` out of the years
/// 0 to 9999). A second formatted just before is taken from this thread's [`Stamps`]: the
/// zone (read again at most every few seconds, see [`jailor_date::local_zone`]) and the
/// calendar are costly next to a log line.
fn local_stamp(secs: i64) -> Option<[u8; 19]> {
    thread_local! {
        static STAMPS: Cell<Stamps> = const {
            Cell::new(Stamps { recent: [(i64::MIN, [0; 19]); 2], next: 0 })
        };
    }
    let mut st = STAMPS.get();
    if let Some((_, b)) = st.recent.iter().find(|(s, _)| *s == secs) {
        return Some(*b);
    }
    let ts = jiff::Timestamp::from_second(secs).ok()?;
    let dt = jailor_date::local_zone().to_datetime(ts);
    if !(0..=9999).contains(&dt.year()) {
        return None;
    }
    let mut b = [0u8; 19];
    let mut put = |at: usize, v: i32, width: usize| {
        let mut v = v;
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, i32::from(dt.year()), 4);
    put(5, i32::from(dt.month()), 2);
    put(8, i32::from(dt.day()), 2);
    put(11, i32::from(dt.hour()), 2);
    put(14, i32::from(dt.minute()), 2);
    put(17, i32::from(dt.second()), 2);
    for (i, c) in [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')] {
        b[i] = c;
    }
    st.recent[st.next] = (secs, b);
    st.next ^= 1;
    STAMPS.set(st);
    Some(b)
}

/// Logs through [`log`] with `format!` syntax: `logf!(NOTICE, "fail2ban.actions", "...")`.
#[macro_export]
#[doc(hidden)]
macro_rules! logf {
    ($level:ident, $name:expr, $($arg:tt)*) => {
        if $crate::logging::enabled($crate::logging::Level::$level) {
            $crate::logging::log($crate::logging::Level::$level, $name, format_args!($($arg)*))
        }
    };
}

/// Routes the `tracing` events of the library crates (tailing, actions) into the log, under
/// the logger name `fail2ban.filter`. Call once; later calls do nothing.
pub fn install_tracing() {
    let _ = tracing::subscriber::set_global_default(Bridge);
}

struct Bridge;

fn level_of(l: &tracing::Level) -> Level {
    match *l {
        tracing::Level::ERROR => Level::ERROR,
        tracing::Level::WARN => Level::WARNING,
        tracing::Level::INFO => Level::INFO,
        tracing::Level::DEBUG => Level::DEBUG,
        tracing::Level::TRACE => Level(7),
    }
}

/// Collects an event's message and fields as `message (k=v, ...)`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push_str(", ");
            }
            self.fields.push_str(&format!("{}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.record_debug(field, &value);
        }
    }
}

impl tracing::Subscriber for Bridge {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        enabled(level_of(metadata.level()))
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = Text::default();
        event.record(&mut text);
        let level = level_of(event.metadata().level());
        if text.fields.is_empty() {
            log(level, "fail2ban.filter", format_args!("{}", text.message));
        } else {
            log(
                level,
                "fail2ban.filter",
                format_args!("{} ({})", text.message, text.fields),
            );
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_by_name_and_number() {
        assert_eq!(Level::parse("notice"), Some(Level::NOTICE));
        assert_eq!(Level::parse("HEAVYDEBUG"), Some(Level(5)));
        assert_eq!(Level::parse("17"), Some(Level(17)));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level(17).name(), "#17-Lev.");
        assert_eq!(Level::NOTICE.name(), "NOTICE");
    }

    #[test]
    fn targets_parse_like_fail2ban() {
        assert_eq!(Target::parse("stdout"), Target::Stdout);
        assert_eq!(Target::parse("SYSTEMD-JOURNAL"), Target::Syslog);
        assert_eq!(
            Target::parse("/var/log/x.log"),
            Target::File("/var/log/x.log".into())
        );
    }

    #[test]
    fn the_header_is_what_format_gives() {
        let t = jiff::Timestamp::from_second(1_000_000_000).unwrap();
        for (ms, name, level) in [
            (7, "fail2ban.filter", Level::INFO),
            (0, "fail2ban.actions", Level::NOTICE),
            (999, "a-logger-name-longer-than-24", Level(17)),
            (120, "fail2ban.é", Level::CRITICAL),
        ] {
            let now = t
                .checked_add(jiff::SignedDuration::from_millis(ms))
                .unwrap();
            for pid in [0, 7, 4242, u32::MAX] {
                let mut got = String::new();
                push_header(&mut got, now, name, pid, level);
                let want = format!("{} {name:<24}[{pid}]: {:<7} ", Asctime(now), level.name());
                assert_eq!(got, want);
            }
        }
    }

    /// Lines of a thread that holds them reach the log only at a flush (or when the hold
    /// ends), all of them and in order; other lines go out at once. The test's lines carry
    /// a marker: other tests of this binary may log to the same global sink meanwhile.
    #[test]
    fn held_lines_are_written_at_the_flush_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        configure(Level::INFO, &Target::File(path.clone())).unwrap();
        let marked = || -> Vec<String> {
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter_map(|l| l.split_once("held-marker ").map(|(_, n)| n.to_owned()))
                .collect()
        };
        let held = HeldLines::start();
        for n in 1..=3 {
            log(
                Level::INFO,
                "fail2ban.filter",
                format_args!("held-marker {n}"),
            );
        }
        assert!(marked().is_empty(), "{:?}", marked());
        // Another thread's line is not held.
        std::thread::spawn(|| {
            log(
                Level::INFO,
                "fail2ban.filter",
                format_args!("held-marker x"),
            )
        })
        .join()
        .unwrap();
        assert_eq!(marked(), ["x"]);
        flush_held();
        assert_eq!(marked(), ["x", "1", "2", "3"]);
        log(
            Level::INFO,
            "fail2ban.filter",
            format_args!("held-marker 4"),
        );
        assert_eq!(marked().len(), 4);
        drop(held);
        log(
            Level::INFO,
            "fail2ban.filter",
            format_args!("held-marker 5"),
        );
        assert_eq!(marked(), ["x", "1", "2", "3", "4", "5"]);
        // The header is the usual one.
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text.lines().find(|l| l.ends_with("held-marker 2")).unwrap();
        assert!(line.contains(" fail2ban.filter         ["), "{line}");
        assert!(line.contains("]: INFO    held-marker 2"), "{line}");
        configure(Level::INFO, &Target::Stderr).unwrap();
    }

    #[test]
    fn asctime_has_milliseconds() {
        let t = Asctime(jiff::Timestamp::now()).to_string();
        assert_eq!(t.len(), 23, "{t}");
        assert_eq!(&t[19..20], ",");
    }

    #[test]
    fn local_times_are_jiffs_strftime_in_the_local_zone() {
        let tz = jailor_date::local_zone();
        let want = |s: i64| {
            jiff::Timestamp::from_second(s)
                .unwrap()
                .to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        // Around new year, a leap day and a DST change in most zones; twice each, and
        // alternating, as the per-thread memo serves them.
        let secs = [
            0,
            951_782_399,
            951_782_400,
            1_711_846_800,
            1_711_850_400,
            1_735_689_599,
        ];
        for round in 0..2 {
            for &s in &secs {
                assert_eq!(local_time(s), want(s), "round {round}: {s}");
                assert_eq!(local_time(s + 1), want(s + 1), "round {round}: {s} + 1");
            }
        }
        let t = jiff::Timestamp::from_second(1_000_000_000).unwrap();
        let ms = t.checked_add(jiff::SignedDuration::from_millis(7)).unwrap();
        assert_eq!(
            Asctime(ms).to_string(),
            format!("{},007", want(1_000_000_000))
        );
        // Beyond year 9999 (jiff's range ends there): the number itself.
        assert_eq!(local_time(i64::MAX), i64::MAX.to_string());
    }
}
