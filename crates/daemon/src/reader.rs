//! A jail's reader: tail → date → match → failure window, on its own thread, so matching
//! never waits for an action, the store, or another jail.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::mpsc::TrySendError;

use crate::queue::Sender as SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jailor_date::{DateDetector, HitTime, Zone};
use jailor_match::ahead::{search_ahead, InOrder};
use jailor_match::{Failure, FailureId, LineBlock, Scan, Scratch, Value};
use jailor_policy::{
    own_addresses, weigh_failure, Added, FailureWindow, Id, IgnoreList, IgnoreReason, NoResolver,
    PriorBans, WindowConfig,
};
use jailor_store::{Scope, Store};
use jailor_tail::{FileKey, Fingerprint, LineRef, Position, Tailer};

use crate::backlog::{AheadLine, Backlog, PARALLEL_FROM};
use crate::ignore_cmd::ShellIgnore;
use crate::jail_counters::JailCounters;
use crate::keeper::{ban_id, Candidate, ToKeeper};
use crate::lazy_filter::{self, LazyFilter};
use crate::logf;
use crate::notify::StartGate;
use crate::settings::JailSettings;

/// A date this far from now in a line read in operation is taken as now (fail2ban).
const LATENCY_LIMIT: f64 = 60.0;
/// Window cleanup runs at most this often (seconds).
const CLEANUP_EVERY: i64 = 5;
/// A cleanup that drops at least this many ids returns the freed memory to the system.
const RELEASE_AFTER_DROPPING: usize = 10_000;

fn now_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A jail's line processing state.
pub(crate) struct Reader {
    name: Arc<str>,
    settings: Arc<JailSettings>,
    detector: DateDetector,
    filter: LazyFilter,
    window: FailureWindow,
    ignore: IgnoreList,
    ignore_cmd: Option<ShellIgnore>,
    store: Arc<Mutex<Store>>,
    to_keeper: SyncSender<ToKeeper>,
    /// The last date seen, and when (fail2ban reuses it for 60 s for lines without one).
    last_date: Option<(f64, f64)>,
    /// All files were read to their end once: dates far from now are taken as now.
    in_operation: bool,
    last_positions: Vec<Position>,
    last_cleanup: i64,
    latency_warned_day: i64,
    truncated_warned: bool,
    evicted_logged: u64,
    /// The counters `status`, `stats` and the metrics endpoint read (and new settings).
    stats: Arc<JailCounters>,
    /// Lines read since the last time `stats.lines` was brought up to date.
    unpublished_lines: u64,
    /// Lines of this round not matched yet.
    backlog: Backlog,
    /// Search buffers for the two threads that match a backlog ahead.
    scratches: Option<[Scratch; 2]>,
    /// Ban candidates found since the last flush, sent to the keeper by [`Reader::flush_out`]
    /// right after the log lines that led to them.
    outbox: Vec<Candidate>,
    /// When [`Reader::flush_out`] last ran (Unix seconds).
    last_flush: f64,
    /// The last candidates sent said more would follow (see [`Candidate::more`]): the
    /// burst's end must be told to the keeper even when it brings no candidate.
    more_sent: bool,
    /// The time lines of a backlog are matched at, read once per [`CLOCK_LINES`] lines.
    clock: f64,
    /// Lines left before `clock` is read again (0: read it for the next line).
    clock_lines: u32,
}

/// A backlog's lines take their "now" from one clock reading per this many lines: reading
/// the clock for each cost more than the rest of a non-matching line's handling outside
/// matching, and the times it decides on (findtime, the 60 s latency rule) are in seconds.
const CLOCK_LINES: u32 = 32;

/// While a backlog is matched, its log lines and ban candidates wait at most this long
/// (seconds) before they are written and sent (besides after every block of lines).
const FLUSH_EVERY: f64 = 0.005;

/// Lines between two updates of the shared line counter (and at the end of every round).
const PUBLISH_LINES_EVERY: u64 = 4096;

fn zone_of(settings: &JailSettings) -> Result<Option<Zone>, String> {
    settings
        .logtimezone
        .as_deref()
        .map(|z| Zone::parse(z).map_err(|e| format!("logtimezone: {e}")))
        .transpose()
}

fn detector(settings: &JailSettings) -> Result<DateDetector, String> {
    let mut d = DateDetector::new(settings.datepattern.as_deref())
        .map_err(|e| format!("datepattern: {e}"))?;
    if let Some(z) = zone_of(settings)? {
        d.set_zone(z);
    }
    Ok(d)
}

/// The failure window's settings. Matched lines are kept (up to `maxmatches`) only when an
/// action of the jail can show them: a flood of addresses that never get banned would
/// otherwise hold a log line each in memory for nothing.
fn window_config(settings: &JailSettings) -> WindowConfig {
    let keep_matches = settings.actions.iter().any(|a| a.uses_matches());
    WindowConfig {
        findtime: settings.findtime,
        maxretry: settings.maxretry,
        maxmatches: if keep_matches { settings.maxmatches } else { 0 },
        max_tracked: settings.max_tracked,
    }
}

/// What a reader needs from its settings alone, checked before the jail starts: its
/// filter's regexes translate (they are compiled by the reader thread on the first line,
/// see `lazy_filter`), and its date detector.
pub(crate) fn prepare(settings: &JailSettings) -> Result<DateDetector, String> {
    lazy_filter::precheck(&settings.filter)?;
    detector(settings)
}

/// Builds the reader and its tailer (the files found now are the ones "at start"), with the
/// date detector [`prepare`] gave.
pub(crate) fn build(
    settings: Arc<JailSettings>,
    det: DateDetector,
    store: Arc<Mutex<Store>>,
    to_keeper: SyncSender<ToKeeper>,
    stats: Arc<JailCounters>,
) -> Result<(Box<Reader>, Tailer), String> {
    let name: Arc<str> = Arc::from(settings.name.as_str());
    let filter = LazyFilter::new(settings.filter.clone());
    // The seek's own detector (the seek runs inside the tailer, which cannot borrow the
    // reader's) is built on the first seek: most starts have none (a stored position, an
    // empty or new file), and each detector cost ~75 k instructions and its memory.
    let seek_settings = settings.clone();
    let mut seek_det: Option<DateDetector> = None;
    let mut ignore = IgnoreList::parse(&settings.ignoreip, &NoResolver);
    if settings.ignoreself {
        ignore.set_own_addresses(own_addresses(&NoResolver));
    }
    let stored = store
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .positions(&settings.name)
        .unwrap_or_else(|e| {
            logf!(
                ERROR,
                "fail2ban.database",
                "[{name}] cannot read log positions: {e}"
            );
            Vec::new()
        });
    let positions = stored.into_iter().map(|p| Position {
        path: p.path,
        fingerprint: Fingerprint {
            key: p
                .fingerprint
                .dev_inode
                .map(|(dev, ino)| FileKey { dev, ino }),
            first_line_md5: <[u8; 16]>::try_from(p.fingerprint.first_line_hash.as_slice()).ok(),
        },
        offset: p.offset,
    });
    // fail2ban's seekToTime: at start, skip the part of a log older than findtime.
    let threshold = now_f64() - settings.findtime as f64;
    let mut builder = Tailer::builder()
        .max_line_len(settings.max_line)
        .backend(settings.backend)
        .encoding(settings.encoding)
        .positions(positions)
        .head_seek(move |bytes| {
            if seek_det.is_none() {
                // Built once already for the reader from the same settings: cannot fail.
                seek_det = detector(&seek_settings).ok();
            }
            let text = String::from_utf8_lossy(bytes);
            seek_det
                .as_mut()?
                .find(&text)
                .and_then(|h| h.epoch())
                .map(|t| t >= threshold)
        });
    for (pattern, start) in &settings.logpaths {
        builder = builder.path(pattern.clone(), *start);
    }
    let tailer = builder.build().map_err(|e| e.to_string())?;
    if tailer.paths().is_empty() && settings.journal.is_none() {
        logf!(
            WARNING,
            "fail2ban.filter",
            "[{name}] no log file found yet for {:?}; waiting for it",
            settings.logpaths.iter().map(|l| &l.0).collect::<Vec<_>>()
        );
    }
    let window = FailureWindow::new(window_config(&settings));
    // Where reading starts is what the store has (or, for a file it has no record of, the
    // start of the file or the seek): nothing to write until reading moves. So a jail's
    // start commits nothing, and the other jails' starts do not wait for that commit.
    let last_positions = tailer.positions();
    let ignore_cmd = settings.ignorecommand.as_deref().map(|c| {
        ShellIgnore::new(c, Duration::from_secs(30)).with_cache(settings.ignorecache.as_ref())
    });
    // Boxed: the reader is large (its scratch buffers and window inline) and is moved into
    // its thread; on the stack each move would touch that thread's stack pages for good.
    Ok((
        Box::new(Reader {
            name,
            settings,
            detector: det,
            filter,
            window,
            ignore,
            ignore_cmd,
            store,
            to_keeper,
            last_date: None,
            in_operation: false,
            last_positions,
            last_cleanup: 0,
            latency_warned_day: -1,
            truncated_warned: false,
            evicted_logged: 0,
            stats,
            unpublished_lines: 0,
            backlog: Backlog::default(),
            scratches: None,
            outbox: Vec::new(),
            more_sent: false,
            last_flush: 0.0,
            clock: 0.0,
            clock_lines: 0,
        }),
        tailer,
    ))
}

/// How often a reader gives back the stack pages below its round loop (see
/// [`crate::memory::release_unused_stack`]).
const STACK_RELEASE_EVERY: std::time::Duration = std::time::Duration::from_millis(900);

impl Reader {
    /// Waits until the jail's actions started and its bans were restored, then reads until
    /// the tailer is stopped.
    pub(crate) fn run(self: Box<Self>, mut tailer: Tailer, gate: StartGate) {
        if !gate.wait() {
            return;
        }
        logf!(NOTICE, "fail2ban.jail", "Jail '{}' started", self.name);
        gate.started();
        let me = RefCell::new(self);
        let mut stack_released = std::time::Instant::now();
        tailer.run(
            |line| me.borrow_mut().line(line),
            |t| {
                me.borrow_mut().after_round(t);
                // A round touches ~24 KiB of stack below this frame that an idle reader
                // would otherwise keep resident between rounds (10 jails: 0.24 MB); at most
                // once a second, so a busy reader does not fault them in again each round.
                if stack_released.elapsed() >= STACK_RELEASE_EVERY {
                    stack_released = std::time::Instant::now();
                    crate::memory::release_unused_stack();
                }
            },
        );
        me.borrow_mut().after_round(&tailer);
    }

    fn line(&mut self, line: &LineRef<'_>) {
        self.count_line();
        if line.is_truncated() {
            JailCounters::add(&self.stats.cut, 1);
        }
        if line.is_truncated() && !self.truncated_warned {
            self.truncated_warned = true;
            logf!(
                WARNING,
                "fail2ban.filter",
                "[{}] a line in {} is longer than the limit and was cut",
                self.name,
                line.path().display()
            );
        }
        if self.backlog.push(line.text()) {
            self.match_backlog(true);
        }
    }

    /// Matches the lines read so far, in order; a long backlog has its dates and searches
    /// done ahead on a helper thread while this one applies (see [`crate::backlog`]).
    /// `burst_goes_on`: the backlog was full (its blocks are kept for the next one).
    fn match_backlog(&mut self, burst_goes_on: bool) {
        if self.backlog.len() == 0 {
            return;
        }
        let mut backlog = std::mem::take(&mut self.backlog);
        self.clock_lines = 0;
        // The backlog's log lines are written together, at each flush (see `flush_out`).
        let held = crate::logging::HeldLines::start();
        let parallel = backlog.len() >= PARALLEL_FROM
            && self.filter.get(&self.name).is_some_and(|f| f.can_scan());
        let taken = if parallel {
            self.filter.take_compiled()
        } else {
            None
        };
        match taken {
            Some(mut filter) => {
                let mut state = filter.take_state();
                let mut scratches = self
                    .scratches
                    .take()
                    .unwrap_or_else(|| [filter.scratch(), filter.scratch()]);
                let mut sink = BacklogSink {
                    reader: self,
                    backlog: &mut backlog,
                    next: 0,
                    filter: &filter,
                    state: &mut state,
                };
                let _ = search_ahead(&filter, &mut scratches, &mut sink);
                self.scratches = Some(scratches);
                filter.restore_state(state);
                self.filter.put_back(filter);
            }
            None => {
                for line in backlog.lines() {
                    self.process(line, None);
                }
            }
        }
        self.flush_out(now_f64(), burst_goes_on);
        drop(held);
        backlog.clear(burst_goes_on);
        self.backlog = backlog;
    }

    /// Matches one line, with its date and searches found ahead when `ahead` says so.
    fn process(&mut self, text: &str, ahead: Option<AheadLine<'_>>) {
        let now = self.line_clock();
        if now - self.last_flush >= FLUSH_EVERY {
            // Within a backlog: its end flushes again.
            self.flush_out(now, true);
        }
        let recent_last = self
            .last_date
            .filter(|(_, seen)| now - seen < 60.0)
            .map(|(t, _)| t);
        let (hit, ahead) = match ahead {
            Some(mut ahead) => {
                let hit = self.detector.find_speculated(text, ahead.spec.as_ref());
                // The searches stand when they ran on the line cut where the date really is.
                let same_cut =
                    ahead.spec.as_ref().map(|s| &s.hit().span) == hit.as_ref().map(|h| &h.span);
                if !same_cut || ahead.spec.is_none() {
                    ahead.scan = None;
                }
                (hit, Some(ahead))
            }
            None => (self.detector.find(text), None),
        };
        let (span, mut time) = match hit {
            Some(hit) => match hit.time {
                HitTime::At(t) => {
                    self.last_date = Some((t, now));
                    (hit.span, t)
                }
                HitTime::Empty => (hit.span, recent_last.unwrap_or(now)),
                HitTime::Invalid => {
                    logf!(
                        ERROR,
                        "fail2ban.filter",
                        "[{}] cannot convert the date in line {:?}",
                        self.name,
                        text.chars().take(200).collect::<String>()
                    );
                    JailCounters::add(&self.stats.dropped, 1);
                    return;
                }
            },
            None => {
                let t = match recent_last {
                    Some(t) => t,
                    None if self.in_operation => now,
                    None => {
                        JailCounters::add(&self.stats.dropped, 1);
                        return;
                    }
                };
                (0..0, t)
            }
        };
        if self.in_operation {
            if (time - now).abs() > LATENCY_LIMIT {
                let day = (now / 86_400.0) as i64;
                if day != self.latency_warned_day {
                    self.latency_warned_day = day;
                    logf!(
                        WARNING,
                        "fail2ban.filter",
                        "[{}] Simulate NOW in operation since found time has too large deviation {} ~ {} +/- {}; This looks like a latency/timezone problem",
                        self.name,
                        time as i64,
                        now as i64,
                        LATENCY_LIMIT
                    );
                }
                time = now;
            }
        } else if time < now - self.settings.findtime as f64 {
            JailCounters::add(&self.stats.dropped, 1);
            return;
        }
        let (pre, date, post) = match (
            text.get(..span.start),
            text.get(span.clone()),
            text.get(span.end..),
        ) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => ("", "", text),
        };
        let failures = match ahead {
            Some(a) => {
                let own;
                let scan = match a.scan {
                    Some(scan) => scan,
                    None => {
                        own = a.filter.scan(a.scratch, pre, date, post);
                        &own
                    }
                };
                a.filter.apply_to(a.state, scan, pre, date, post, time)
            }
            None => match self.filter.get(&self.name) {
                Some(filter) => filter.process(pre, date, post, time),
                None => return,
            },
        };
        if failures.iter().any(|f| !f.nofail) {
            JailCounters::add(&self.stats.matched, 1);
        }
        for f in failures {
            if !f.nofail {
                self.failure(f, now);
            }
        }
    }

    /// "Now" for the next line of a backlog (see [`CLOCK_LINES`]).
    fn line_clock(&mut self) -> f64 {
        if self.clock_lines == 0 {
            self.clock = now_f64();
            self.clock_lines = CLOCK_LINES;
        }
        self.clock_lines -= 1;
        self.clock
    }

    /// Counts one line read, publishing the count now and then.
    fn count_line(&mut self) {
        self.unpublished_lines += 1;
        if self.unpublished_lines >= PUBLISH_LINES_EVERY {
            self.publish_lines();
        }
    }

    fn publish_lines(&mut self) {
        JailCounters::add(&self.stats.lines, self.unpublished_lines);
        self.unpublished_lines = 0;
    }

    /// Takes settings changed through the control socket (`set JAIL findtime ...`): the
    /// failure window and the ignore list follow them; tracked failures are kept.
    fn apply_new_settings(&mut self) {
        let Some(new) = self.stats.take_settings() else {
            return;
        };
        self.window.set_config(window_config(&new));
        if new.ignoreip != self.settings.ignoreip || new.ignoreself != self.settings.ignoreself {
            let mut ignore = IgnoreList::parse(&new.ignoreip, &NoResolver);
            if new.ignoreself {
                ignore.set_own_addresses(own_addresses(&NoResolver));
            }
            self.ignore = ignore;
        }
        if new.ignorecommand != self.settings.ignorecommand
            || new.ignorecache != self.settings.ignorecache
        {
            self.ignore_cmd = new.ignorecommand.as_deref().map(|c| {
                ShellIgnore::new(c, Duration::from_secs(30)).with_cache(new.ignorecache.as_ref())
            });
        }
        self.settings = new;
        JailCounters::set(&self.stats.failed_current, self.window.len() as u64);
    }

    /// Counts the failures given by hand (`set JAIL attempt`) as failures found now.
    fn process_attempts(&mut self) {
        for (id, lines) in self.stats.take_attempts() {
            let now = now_f64();
            let id = match id {
                Id::Ip(ip) => FailureId::Addr(ip),
                Id::Net(n) => FailureId::Net(n),
                other => FailureId::Raw(other.to_string()),
            };
            let f = Failure {
                id,
                ip: None,
                time: now,
                regex_index: 0,
                user: None,
                users: Vec::new(),
                nofail: false,
                fid: None,
                fields: Default::default(),
                matches: lines.into(),
            };
            self.failure(f, now);
        }
        self.flush_out(now_f64(), false);
    }

    /// Writes the log lines held so far, then sends the ban candidates they led to (so a
    /// `Found` line precedes its `Ban` in the log), waiting while the keeper holds the jail
    /// back. `more`: this reader is inside a burst and flushes again soon (the keeper may
    /// wait a little for those candidates, to commit them together).
    fn flush_out(&mut self, now: f64, more: bool) {
        self.last_flush = now;
        crate::logging::flush_held();
        if self.outbox.is_empty() {
            if !more && self.more_sent {
                self.more_sent = false;
                self.send_to_keeper(ToKeeper::BurstEnd);
            }
            return;
        }
        let mut outbox = std::mem::take(&mut self.outbox);
        for mut candidate in outbox.drain(..) {
            candidate.more = more;
            // The keeper's backlog for the jail's actions is bounded: wait here while it is
            // full (back-pressure; no candidate is dropped).
            self.stats.wait_while_held_back();
            self.send_to_keeper(ToKeeper::Candidate(Box::new(candidate)));
        }
        self.more_sent = more;
        self.outbox = outbox;
    }

    fn failure(&mut self, f: Failure, now: f64) {
        self.apply_new_settings();
        if self.stats.is_idle() {
            return;
        }
        let id = match &f.id {
            FailureId::Addr(ip) => Id::ip(*ip),
            FailureId::Net(n) => Id::Net(*n),
            FailureId::Raw(r) => Id::parse(r),
        };
        let name = &*self.name;
        let cmd = self
            .ignore_cmd
            .as_mut()
            .map(|c| c as &mut dyn jailor_policy::IgnoreCommand);
        if let Some(reason) = self.ignore.check_with(&id, cmd) {
            let by = match reason {
                IgnoreReason::OwnAddress => "ignoreself rule",
                IgnoreReason::Name(_) => "dns",
                IgnoreReason::Command => "command",
                _ => "ip",
            };
            logf!(INFO, "fail2ban.filter", "[{name}] Ignore {id} by {by}");
            return;
        }
        let time = f.time.min(now) as i64;
        if (time as f64) < now - self.settings.findtime as f64 {
            return;
        }
        crate::logging::log_with(crate::logging::Level::INFO, "fail2ban.filter", |line| {
            found_message(line, name, &id, time);
        });
        let weight = match &self.settings.increment {
            None => 1,
            Some(inc) => {
                let scope = if inc.overalljails {
                    Scope::AllJails
                } else {
                    Scope::Jail(name)
                };
                let stats = self
                    .store
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .ban_stats(&ban_id(&id), scope)
                    .ok()
                    .flatten();
                let prior = stats.map(|s| PriorBans {
                    ban_count: s.ban_count,
                    last_ban: s.last_ban,
                });
                match weigh_failure(time, prior, self.settings.maxretry) {
                    Some(w) => w,
                    None => return,
                }
            }
        };
        let matches: Vec<&str> = f.matches.iter().map(String::as_str).collect();
        let added = self.window.add(&id, time, &matches, weight);
        JailCounters::add(&self.stats.failed_total, 1);
        JailCounters::set(&self.stats.failed_current, self.window.len() as u64);
        if let Added::Ban(ticket) = added {
            let data: BTreeMap<String, String> = f
                .fields
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::Text(t) => Some((k.to_owned(), t.clone())),
                    Value::Tuple(_) => None,
                })
                .collect();
            let candidate = Candidate {
                jail: self.name.clone(),
                ticket,
                fid: f.fid.clone(),
                data,
                more: false,
            };
            self.outbox.push(candidate);
        }
    }

    /// Sends to the keeper, waiting while its bounded queue is full; a full queue is counted.
    fn send_to_keeper(&self, msg: ToKeeper) {
        match self.to_keeper.try_send(msg) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(msg)) => {
                JailCounters::add(&self.stats.keeper_queue_full, 1);
                let _ = self.to_keeper.send(msg);
            }
        }
    }

    fn after_round(&mut self, tailer: &Tailer) {
        // Before the positions move past them.
        self.match_backlog(false);
        self.publish_lines();
        JailCounters::set(&self.stats.evicted, self.window.stats().evicted);
        self.apply_new_settings();
        self.process_attempts();
        JailCounters::set(&self.stats.regex_limit_hits, self.filter.stats().limit_hits);
        let positions = tailer.positions();
        if !self.in_operation {
            let at_end = positions
                .iter()
                .all(|p| std::fs::metadata(&p.path).map_or(true, |m| p.offset >= m.len()));
            if at_end {
                self.in_operation = true;
            }
        }
        if positions != self.last_positions {
            self.last_positions.clone_from(&positions);
            self.send_to_keeper(ToKeeper::Positions {
                jail: self.name.clone(),
                positions,
            });
        }
        let now = now_f64() as i64;
        if now - self.last_cleanup >= CLEANUP_EVERY {
            self.last_cleanup = now;
            // After a flood, the dropped ids' memory goes back to the system.
            if self.window.cleanup(now) >= RELEASE_AFTER_DROPPING {
                crate::memory::release_free_memory();
            }
            JailCounters::set(&self.stats.failed_current, self.window.len() as u64);
            let evicted = self.window.stats().evicted;
            if evicted > self.evicted_logged {
                logf!(
                    WARNING,
                    "fail2ban.filter",
                    "[{}] tracking at most {} addresses: {} evicted so far ({})",
                    self.name,
                    self.settings.max_tracked,
                    evicted,
                    crate::settings::MAX_TRACKED_OPTION
                );
                self.evicted_logged = evicted;
            }
        }
    }
}

/// Appends a `Found` line's message, `[{jail}] Found {id} - {LocalTime(time)}`, by hand
/// (one per failure: through `fmt` it cost more than the rest of the line).
fn found_message(line: &mut String, jail: &str, id: &Id, time: i64) {
    line.push('[');
    line.push_str(jail);
    line.push_str("] Found ");
    id.push_to(line);
    line.push_str(" - ");
    crate::logging::push_local_time(line, time);
}

/// What [`crate::journal_source`] needs to drive a reader from the journal: lines whose
/// time is known (no date detection) and the round's housekeeping.
impl Reader {
    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn findtime(&self) -> i64 {
        self.settings.findtime
    }

    pub(crate) fn to_keeper(&self) -> &SyncSender<ToKeeper> {
        &self.to_keeper
    }

    /// The journal cursor stored for this jail, if any.
    pub(crate) fn stored_journal_cursor(&self) -> Option<String> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        store
            .journal_cursor(&self.settings.name)
            .unwrap_or_else(|e| {
                logf!(
                    ERROR,
                    "fail2ban.database",
                    "[{}] cannot read the journal cursor: {e}",
                    self.name
                );
                None
            })
    }

    /// Matches a journal line at its entry's time, as fail2ban's systemd backend does.
    pub(crate) fn journal_line(&mut self, line: &str, time: f64) {
        self.count_line();
        let now = now_f64();
        let time = if self.in_operation {
            if (time - now).abs() > LATENCY_LIMIT {
                now
            } else {
                time
            }
        } else if time < now - self.settings.findtime as f64 {
            return;
        } else {
            time
        };
        let Some(filter) = self.filter.get(&self.name) else {
            return;
        };
        let failures = filter.process("", "", line, time);
        if failures.iter().any(|f| !f.nofail) {
            JailCounters::add(&self.stats.matched, 1);
        }
        for f in failures {
            if !f.nofail {
                self.failure(f, now);
            }
        }
        self.flush_out(now, false);
    }

    /// After a round of journal entries: in operation once the journal's end was reached,
    /// and the failure window's periodic cleanup.
    pub(crate) fn journal_round(&mut self, caught_up: bool) {
        self.in_operation |= caught_up;
        self.publish_lines();
        self.apply_new_settings();
        self.process_attempts();
        JailCounters::set(&self.stats.regex_limit_hits, self.filter.stats().limit_hits);
        let now = now_f64() as i64;
        if now - self.last_cleanup >= CLEANUP_EVERY {
            self.last_cleanup = now;
            self.window.cleanup(now);
            JailCounters::set(&self.stats.failed_current, self.window.len() as u64);
        }
    }
}

/// The reader's side of [`search_ahead`] for one backlog: its lines in blocks, each line
/// applied as [`Reader::process`] does, with the filter taken out and shared meanwhile.
struct BacklogSink<'a> {
    reader: &'a mut Reader,
    backlog: &'a mut Backlog,
    next: usize,
    filter: &'a jailor_match::Filter,
    state: &'a mut jailor_match::FilterState,
}

impl InOrder for BacklogSink<'_> {
    type Error = std::convert::Infallible;

    fn speculator(&self) -> Option<jailor_date::Speculator> {
        self.reader.detector.speculator()
    }

    fn fill(&mut self, block: &mut LineBlock) -> Result<(), Self::Error> {
        self.backlog.fill(&mut self.next, block);
        Ok(())
    }

    fn apply(
        &mut self,
        block: &LineBlock,
        i: usize,
        spec: Option<jailor_date::Speculation>,
        scan: Option<&Scan>,
        scratch: &mut Scratch,
    ) -> Result<(), Self::Error> {
        let ahead = AheadLine {
            spec,
            scan,
            filter: self.filter,
            state: self.state,
            scratch,
        };
        self.reader.process(block.line(i), Some(ahead));
        if i + 1 == block.len() {
            let now = self.reader.clock;
            // The backlog's end flushes again, and tells whether the burst goes on.
            self.reader.flush_out(now, true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_messages_are_what_format_gives() {
        let ids = [
            Id::parse("192.0.2.7"),
            Id::parse("2001:db8::1"),
            Id::parse("::ffff:198.51.100.1"),
            Id::parse("10.0.0.0/8"),
            Id::parse("user@example.com"),
        ];
        for id in &ids {
            for time in [0, 1_700_000_000, 1_711_846_800, i64::MAX] {
                let mut got = String::from("header ");
                found_message(&mut got, "sshd", id, time);
                let want = format!(
                    "header [sshd] Found {id} - {}",
                    crate::logging::LocalTime(time)
                );
                assert_eq!(got, want);
            }
        }
    }
}
