//! The keeper: the one thread that decides bans and unbans for every jail.
//!
//! It owns the ban books, the one deadline heap of all unbans, and is the only writer of the
//! store. Readers send it ban candidates and log positions through a bounded channel; it
//! gathers what arrives into one batch, commits it (bans and positions in one transaction),
//! and only then logs `Ban` and hands the bans to the action workers. So a `Ban` line in the
//! log always has its record in the store, whenever the process is killed.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};

use crate::queue::{self, Receiver, Sender as SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jailor_action::{Address, Ticket};
use jailor_policy::{
    Ban, BanBook, BanOutcome, BanTicket, Deadlines, FailTicket, Id, SplitMix64, PERMANENT,
};
use jailor_store::{BanData, BanId, Batch, LogPosition, Scope, Store};

use crate::jail_counters::JailCounters;
use crate::logf;
use crate::settings::JailSettings;
use crate::worker::{Counters, Job};

/// What readers and the server tell the keeper.
pub(crate) enum ToKeeper {
    /// An id reached `maxretry`.
    Candidate(Box<Candidate>),
    /// A reader's burst ended without a candidate after its last ones, which said more
    /// would follow: commit now.
    BurstEnd,
    /// Where a jail's reader stands in its files.
    Positions {
        jail: Arc<str>,
        positions: Vec<jailor_tail::Position>,
    },
    /// The cursor of the last journal entry a jail's reader processed.
    JournalCursor { jail: Arc<str>, cursor: String },
    /// A jail starts: restore its bans through its worker, then answer through the worker.
    Register {
        settings: Arc<JailSettings>,
        stats: Arc<JailCounters>,
        worker: SyncSender<Job>,
        ready: mpsc::Sender<()>,
    },
    /// A jail stops (its reader has stopped): commit, forget its bans, stop its worker.
    Unregister {
        jail: String,
        done: mpsc::Sender<()>,
    },
    /// A control-socket request, run on the keeper's thread (see `control`).
    Control(Box<dyn FnOnce(&mut Keeper) + Send>),
    /// Commit and end.
    Shutdown,
}

/// A ban candidate: the failures of one id with the data the filter captured.
pub(crate) struct Candidate {
    pub jail: Arc<str>,
    pub ticket: FailTicket,
    pub fid: Option<String>,
    pub data: BTreeMap<String, String>,
    /// The reader is inside a burst and sends more candidates within milliseconds: the
    /// keeper may wait for them (up to [`GATHER_FOR`]) to commit them in one transaction.
    pub more: bool,
}

pub(crate) struct JailState {
    pub(crate) settings: Arc<JailSettings>,
    /// The counters shared with the control side (bans, unbans).
    pub(crate) stats: Arc<JailCounters>,
    pub(crate) book: BanBook,
    worker: SyncSender<Job>,
    /// Jobs the worker's queue had no room for, sent as room frees up. Bounded by
    /// `settings.max_backlog` through back-pressure: at the bound the jail's reader waits
    /// before its next candidate (the candidates already queued to the keeper still come in,
    /// so it may pass the bound by up to the keeper's queue; no job is dropped).
    backlog: VecDeque<Job>,
    /// Bans of the batch being gathered, dispatched only after its commit. They count
    /// towards the backlog's bound as they come in: a batch holds up to [`BATCH_MAX`]
    /// messages, and holding the reader back only at dispatch would let the backlog pass
    /// its bound by a whole batch on top of the keeper's queue.
    pending: usize,
    /// `<F-*>` data and fid of bans in force, for the action tickets.
    pub(crate) extra: HashMap<Id, (Option<String>, BTreeMap<String, String>)>,
}

/// A ban committed in this batch, to announce after the commit.
struct NewBan {
    jail: String,
    id: Id,
    increased: Option<(u32, i64)>,
}

/// How often old records are purged (fail2ban: hourly).
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// The most messages gathered into one batch.
const BATCH_MAX: usize = 4096;
/// How long a batch whose last candidate said more would follow waits for them, from its
/// first message. A burst's bans were ~200 commits of a few bans each; SQLite's cost per
/// commit (~42 k instructions and a few system calls) is as much as a ban's.
const GATHER_FOR: Duration = Duration::from_millis(5);
/// The most messages taken while waiting so.
const GATHER_MAX: usize = 256;

/// Starts the keeper thread.
pub(crate) fn spawn(
    store: Arc<Mutex<Store>>,
    purge_age: i64,
) -> std::io::Result<(SyncSender<ToKeeper>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = queue::bounded(8192);
    let handle = std::thread::Builder::new()
        .name("keeper".into())
        .stack_size(crate::memory::SMALL_STACK)
        .spawn(move || {
            let mut k = Keeper::new(store, purge_age);
            k.run(rx);
        })?;
    Ok((tx, handle))
}

pub(crate) struct Keeper {
    pub(crate) store: Arc<Mutex<Store>>,
    pub(crate) jails: HashMap<String, JailState>,
    pub(crate) deadlines: Deadlines<(String, Id)>,
    pub(crate) batch: Batch,
    announce: Vec<NewBan>,
    rng: SplitMix64,
    /// The last candidate said its reader sends more soon (see [`Candidate::more`]).
    more: bool,
    purge_age: i64,
    last_purge: Instant,
    /// Fleet-wide bans, when `[Fleet]` sets an engine (see `fleet`).
    pub(crate) fleet: Option<Arc<crate::fleet::FleetLink>>,
    /// Bans in force that came from the fleet: not published again, and the only ones a
    /// fleet unban may lift.
    pub(crate) from_fleet: HashSet<(String, Id)>,
}

impl Keeper {
    /// A keeper of `store` with no jails yet, purging bans older than `purge_age` seconds.
    fn new(store: Arc<Mutex<Store>>, purge_age: i64) -> Keeper {
        Keeper {
            store,
            jails: HashMap::new(),
            deadlines: Deadlines::new(),
            batch: Batch::new(),
            announce: Vec::new(),
            rng: SplitMix64::from_entropy(),
            more: false,
            purge_age,
            last_purge: Instant::now(),
            fleet: None,
            from_fleet: HashSet::new(),
        }
    }

    /// Changes `dbpurgeage` (seconds) for the next purge.
    pub(crate) fn set_purge_age(&mut self, age: i64) {
        self.purge_age = age;
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The store's id for a policy id.
pub(crate) fn ban_id(id: &Id) -> BanId {
    match id {
        Id::Ip(ip) => BanId::Ip(*ip),
        other => BanId::Raw(other.to_string()),
    }
}

fn policy_id(id: &BanId) -> Id {
    match id {
        BanId::Ip(ip) => Id::ip(*ip),
        BanId::Raw(r) => Id::parse(r),
    }
}

pub(crate) fn address(id: &Id) -> Option<Address> {
    match id {
        Id::Ip(ip) => Some(Address::host(*ip)),
        Id::Net(n) => Address::network(n.addr(), n.prefix_len()).ok(),
        Id::Raw(_) => None,
    }
}

/// fail2ban's `seconds2str`: `1w 2d 3h 4m 5s` without zero parts.
fn duration_text(mut s: i64) -> String {
    if s < 0 {
        return "permanent".into();
    }
    let mut out = Vec::new();
    for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s >= n {
            out.push(format!("{}{unit}", s / n));
            s %= n;
        }
    }
    if s > 0 || out.is_empty() {
        out.push(format!("{s}s"));
    }
    out.join(" ")
}

impl Keeper {
    fn run(&mut self, rx: Receiver<ToKeeper>) {
        loop {
            let wait = self.wait_time();
            let first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(ToKeeper::Shutdown),
            };
            let gather_until = Instant::now() + GATHER_FOR;
            let mut shutdown = false;
            let mut next = first;
            let mut n = 0;
            while let Some(msg) = next.take() {
                if self.handle(msg) {
                    shutdown = true;
                    break;
                }
                n += 1;
                if n >= BATCH_MAX {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if !shutdown && n < BATCH_MAX {
                shutdown = self.gather_more(&rx, gather_until);
            }
            self.commit();
            self.unban_due();
            self.pump_backlogs();
            self.publish();
            if self.last_purge.elapsed() >= PURGE_EVERY {
                self.last_purge = Instant::now();
                let result = lock(&self.store).purge(now(), self.purge_age);
                if let Err(e) = result {
                    logf!(ERROR, "fail2ban.database", "Purge failed: {e}");
                }
            }
            if shutdown {
                // A reader still held back must not wait for a keeper that is gone.
                for st in self.jails.values() {
                    st.stats.hold(false);
                }
                return;
            }
        }
    }

    /// While the batch holds changes and the last candidate said more would follow, takes
    /// messages until `until`, [`GATHER_MAX`] of them, or one that says the burst ended.
    /// The bans still are logged only after their commit. Answers whether to stop.
    fn gather_more(&mut self, rx: &Receiver<ToKeeper>, until: Instant) -> bool {
        let mut taken = 0;
        while self.more && !self.batch.is_empty() && taken < GATHER_MAX {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let msg = match rx.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => ToKeeper::Shutdown,
            };
            if self.handle(msg) {
                return true;
            }
            taken += 1;
        }
        false
    }

    /// Brings every jail's shared ban counters up to date.
    fn publish(&self) {
        for st in self.jails.values() {
            JailCounters::set(&st.stats.banned_current, st.book.len() as u64);
            JailCounters::set(&st.stats.banned_total, st.book.total());
        }
    }

    fn wait_time(&mut self) -> Duration {
        if self.jails.values().any(|j| !j.backlog.is_empty()) {
            return Duration::from_millis(20);
        }
        let max = Duration::from_secs(1);
        match self.deadlines.next_deadline() {
            Some(at) => {
                let ms = (at - now()).max(0) as u64 * 1000;
                // Deadlines are whole seconds: wake at the start of the second.
                let sub = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_millis() as u64);
                Duration::from_millis(ms.saturating_sub(sub)).min(max)
            }
            None => max,
        }
    }

    /// Handles one message; `true` to stop.
    fn handle(&mut self, msg: ToKeeper) -> bool {
        // Only a reader's candidates may delay the commit; anything else is answered now.
        self.more = match &msg {
            ToKeeper::Candidate(c) => c.more,
            ToKeeper::Positions { .. } | ToKeeper::JournalCursor { .. } => self.more,
            _ => false,
        };
        match msg {
            ToKeeper::Candidate(c) => self.candidate(*c),
            ToKeeper::BurstEnd => {}
            ToKeeper::Positions { jail, positions } => {
                for p in positions {
                    self.batch.position(LogPosition {
                        jail: jail.to_string(),
                        path: p.path,
                        fingerprint: jailor_store::Fingerprint {
                            dev_inode: p.fingerprint.key.map(|k| (k.dev, k.ino)),
                            first_line_hash: p
                                .fingerprint
                                .first_line_md5
                                .map(|m| m.to_vec())
                                .unwrap_or_default(),
                        },
                        offset: p.offset,
                    });
                }
            }
            ToKeeper::JournalCursor { jail, cursor } => {
                self.batch.journal_cursor(jailor_store::JournalCursor {
                    jail: jail.to_string(),
                    cursor,
                });
            }
            ToKeeper::Register {
                settings,
                stats,
                worker,
                ready,
            } => self.register(settings, stats, worker, ready),
            ToKeeper::Unregister { jail, done } => self.unregister(&jail, done),
            ToKeeper::Control(call) => call(self),
            ToKeeper::Shutdown => return true,
        }
        false
    }

    fn register(
        &mut self,
        settings: Arc<JailSettings>,
        stats: Arc<JailCounters>,
        worker: SyncSender<Job>,
        ready: mpsc::Sender<()>,
    ) {
        let name = settings.name.clone();
        let mut st = JailState {
            book: BanBook::new(settings.bantime),
            settings,
            stats,
            worker,
            backlog: VecDeque::new(),
            pending: 0,
            extra: HashMap::new(),
        };
        let now = now();
        let stored = match lock(&self.store).bans_to_restore(&name, now) {
            Ok(b) => b,
            Err(e) => {
                logf!(
                    ERROR,
                    "fail2ban.database",
                    "[{name}] cannot read bans to restore: {e}"
                );
                Vec::new()
            }
        };
        // fail2ban caps a restored ban at the longest ban the jail gives now.
        let cap = match &st.settings.increment {
            Some(inc) => inc.maxtime,
            None => Some(st.settings.bantime),
        }
        .filter(|c| *c != PERMANENT);
        for b in stored {
            let id = policy_id(&b.id);
            let mut bantime = b.bantime;
            if let Some(c) = cap {
                if bantime == PERMANENT || bantime > c {
                    bantime = c;
                }
            }
            let mut matches = b.data.matches;
            let keep = st.settings.maxmatches;
            if matches.len() > keep {
                matches.drain(..matches.len() - keep);
            }
            let ticket = BanTicket {
                id: id.clone(),
                time: b.time_of_ban,
                bantime: Some(bantime),
                ban_count: b.ban_count,
                failures: b.failures,
                matches,
            };
            let fleet = b.data.fields.contains_key(crate::fleet::ORIGIN_FIELD);
            if let BanOutcome::Banned { .. } = st.book.add(ticket, now) {
                logf!(NOTICE, "fail2ban.actions", "[{name}] Restore Ban {id}");
                if fleet {
                    self.from_fleet.insert((name.clone(), id.clone()));
                }
                st.extra.insert(id.clone(), (None, b.data.fields));
                schedule(&mut self.deadlines, &name, &st, &id);
                if let Some(job) = ban_job(&st, &id, true) {
                    dispatch(&mut st, job);
                }
            }
        }
        dispatch(&mut st, Job::Ready(ready));
        self.jails.insert(name, st);
    }

    fn unregister(&mut self, jail: &str, done: mpsc::Sender<()>) {
        self.commit();
        let Some(mut st) = self.jails.remove(jail) else {
            let _ = done.send(());
            return;
        };
        st.stats.hold(false);
        JailCounters::set(&st.stats.action_backlog, 0);
        for b in st.book.list() {
            self.deadlines
                .cancel(&(jail.to_owned(), b.ticket.id.clone()));
        }
        st.backlog.push_back(Job::Stop(done));
        // The worker may be slow (a hanging action): deliver from a helper thread so the
        // keeper goes on for the other jails.
        let JailState {
            worker, backlog, ..
        } = st;
        let spawned = std::thread::Builder::new()
            .name(format!("stop-{jail}"))
            .stack_size(crate::memory::SMALL_STACK)
            .spawn(move || {
                for job in backlog {
                    if worker.send(job).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            logf!(
                ERROR,
                "fail2ban.server",
                "[{jail}] cannot stop its actions: {e}"
            );
        }
    }

    pub(crate) fn candidate(&mut self, c: Candidate) {
        let Some(st) = self.jails.get_mut(&*c.jail) else {
            return;
        };
        let name = c.jail.to_string();
        let id = c.ticket.id.clone();
        let now = now();
        let scope = match &st.settings.increment {
            Some(inc) if inc.overalljails => Scope::AllJails,
            _ => Scope::Jail(&name),
        };
        // Without bantime.increment the prior bans only number a new ban: a standing one
        // (a repeated candidate, frequent in a burst) is decided without asking the store.
        let standing = st.settings.increment.is_none() && st.book.get(&id).is_some();
        let stats = if standing {
            Ok(None)
        } else {
            lock(&self.store).ban_stats(&ban_id(&id), scope)
        };
        let prior = match stats {
            Ok(s) => s.map_or(0, |s| s.ban_count),
            Err(e) => {
                logf!(
                    ERROR,
                    "fail2ban.database",
                    "[{name}] cannot read ban counts: {e}"
                );
                0
            }
        };
        let mut ticket = BanTicket::from_failures(c.ticket);
        ticket.ban_count = u32::try_from(prior + 1).unwrap_or(u32::MAX);
        let mut increased = None;
        if let Some(inc) = &st.settings.increment {
            let base = st.book.bantime();
            let t = inc.ban_time(base, prior, &mut self.rng);
            if t != base {
                ticket.bantime = Some(t);
                increased = Some((ticket.ban_count, t));
            }
        }
        match st.book.add(ticket, now) {
            BanOutcome::Banned { .. } => {
                let Some(ban) = st.book.get(&id) else {
                    return;
                };
                let t = &ban.ticket;
                self.batch.ban(jailor_store::Ban {
                    jail: name.clone(),
                    id: ban_id(&id),
                    time_of_ban: t.time,
                    bantime: ban.bantime(),
                    ban_count: t.ban_count,
                    failures: t.failures,
                    data: BanData {
                        matches: t.matches.clone(),
                        fields: c.data.clone(),
                    },
                });
                st.extra.insert(id.clone(), (c.fid, c.data));
                st.pending += 1;
                if st.backlog.len() + st.pending >= st.settings.max_backlog {
                    hold_reader(st);
                }
                self.announce.push(NewBan {
                    jail: name,
                    id,
                    increased,
                });
            }
            BanOutcome::AlreadyBanned {
                prolonged_to,
                banned_since,
            } => {
                let age = now - banned_since;
                if age < 3 {
                    logf!(DEBUG, "fail2ban.actions", "[{name}] {id} already banned");
                } else if age < 60 {
                    logf!(NOTICE, "fail2ban.actions", "[{name}] {id} already banned");
                } else {
                    logf!(WARNING, "fail2ban.actions", "[{name}] {id} already banned");
                }
                if prolonged_to.is_some() {
                    schedule(&mut self.deadlines, &name, st, &id);
                }
            }
            BanOutcome::Expired => {
                logf!(
                    INFO,
                    "fail2ban.actions",
                    "[{name}] Ignore {id}, expired bantime"
                );
            }
        }
    }

    /// Commits the batch; then announces its bans and hands them to the workers.
    /// Answers whether the batch was stored.
    pub(crate) fn commit(&mut self) -> bool {
        let mut stored = true;
        if !self.batch.is_empty() {
            let result = lock(&self.store).commit(&self.batch);
            if let Err(e) = result {
                stored = false;
                // Security first: the bans still happen; only their record is lost.
                logf!(
                    ERROR,
                    "fail2ban.database",
                    "Cannot record bans and positions: {e}"
                );
            }
            self.batch.clear();
        }
        for st in self.jails.values_mut() {
            st.pending = 0;
        }
        let announce = std::mem::take(&mut self.announce);
        // The batch's lines go out in one write (they were one each, a burst's bans in
        // hundreds), still after the commit; the workers get the bans after that write, so
        // a `Ban` line still comes before its action runs.
        let held = (!announce.is_empty()).then(crate::logging::HeldLines::start);
        let mut jobs = Vec::new();
        for nb in announce {
            let Some(st) = self.jails.get(&nb.jail) else {
                continue;
            };
            logf!(NOTICE, "fail2ban.actions", "[{}] Ban {}", nb.jail, nb.id);
            if let Some((count, bantime)) = nb.increased {
                let end = st.book.get(&nb.id).map_or(0, Ban::end);
                logf!(
                    NOTICE,
                    "fail2ban.observer",
                    "[{}] Increase Ban {} ({count} # {} -> {})",
                    nb.jail,
                    nb.id,
                    duration_text(bantime),
                    crate::logging::local_time(end)
                );
            }
            schedule(&mut self.deadlines, &nb.jail, st, &nb.id);
            match ban_job(st, &nb.id, false) {
                Some(job) => jobs.push((nb.jail.clone(), job)),
                None => logf!(
                    WARNING,
                    "fail2ban.actions",
                    "[{}] {} is not an address: the actions cannot ban it",
                    nb.jail,
                    nb.id
                ),
            }
            crate::fleet::published(self, &nb.jail, &nb.id);
        }
        drop(held);
        for (jail, job) in jobs {
            if let Some(st) = self.jails.get_mut(&jail) {
                dispatch(st, job);
            }
        }
        stored
    }

    /// Announces (after the commit) a ban added to `jail`'s book by another path.
    pub(crate) fn announce_ban(&mut self, jail: String, id: Id) {
        self.announce.push(NewBan {
            jail,
            id,
            increased: None,
        });
    }

    fn unban_due(&mut self) {
        let now = now();
        for ((jail, id), _) in self.deadlines.pop_due(now) {
            let Some(mut st) = self.jails.remove(&jail) else {
                continue;
            };
            match st.book.unban_if_timed_out(&id, now) {
                Some(ban) => {
                    self.from_fleet.remove(&(jail.clone(), id.clone()));
                    logf!(NOTICE, "fail2ban.actions", "[{jail}] Unban {id}");
                    JailCounters::add(&st.stats.unbans, 1);
                    let extra = st.extra.remove(&id);
                    if let Some(mut ticket) = action_ticket(&ban, extra.as_ref(), false) {
                        ticket.restored = false;
                        let c = counters(&st);
                        dispatch(&mut st, Job::Unban(Box::new(ticket), c));
                    }
                }
                None => schedule(&mut self.deadlines, &jail, &st, &id),
            }
            self.jails.insert(jail, st);
        }
    }

    fn pump_backlogs(&mut self) {
        // Every jail, even with an empty backlog: a hold taken while a batch gathered
        // (`pending`) is let go here when its jobs all found room in the worker's queue.
        for st in self.jails.values_mut() {
            while let Some(job) = st.backlog.pop_front() {
                match st.worker.try_send(job) {
                    Ok(()) => {}
                    Err(TrySendError::Full(job)) => {
                        st.backlog.push_front(job);
                        break;
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        st.backlog.clear();
                        break;
                    }
                }
            }
            JailCounters::set(&st.stats.action_backlog, st.backlog.len() as u64);
            if st.backlog.len() <= st.settings.max_backlog / 2 && st.stats.hold(false) {
                logf!(
                    NOTICE,
                    "fail2ban.actions",
                    "[{}] the actions' backlog drained to {}: reading goes on",
                    st.settings.name,
                    st.backlog.len()
                );
            }
        }
    }
}

fn schedule(deadlines: &mut Deadlines<(String, Id)>, jail: &str, st: &JailState, id: &Id) {
    if let Some(due) = st.book.get(id).and_then(Ban::unban_due) {
        deadlines.set((jail.to_owned(), id.clone()), due);
    }
}

pub(crate) fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn counters(st: &JailState) -> Counters {
    Counters {
        banned: st.book.len() as u64,
        banned_total: st.book.total(),
    }
}

fn ban_job(st: &JailState, id: &Id, restored: bool) -> Option<Job> {
    let ban = st.book.get(id)?;
    let ticket = action_ticket(ban, st.extra.get(id), restored)?;
    Some(Job::Ban(Box::new(ticket), counters(st)))
}

pub(crate) fn action_ticket(
    ban: &Ban,
    extra: Option<&(Option<String>, BTreeMap<String, String>)>,
    restored: bool,
) -> Option<Ticket> {
    let address = address(&ban.ticket.id)?;
    let mut t = Ticket::new(address, ban.ticket.time as f64);
    t.bantime = ban.bantime();
    t.bancount = ban.ticket.ban_count;
    t.failures = ban.ticket.failures;
    t.matches = ban.ticket.matches.clone();
    t.restored = restored;
    if let Some((fid, data)) = extra {
        t.fid = fid.clone();
        t.data = data.clone();
    }
    Some(t)
}

/// Queues a job for the worker without ever blocking the keeper. A job that finds the
/// worker's queue full waits in the backlog; a backlog at its bound holds the jail's reader
/// back until the worker has taken half of it.
pub(crate) fn dispatch(st: &mut JailState, job: Job) {
    let job = if st.backlog.is_empty() {
        match st.worker.try_send(job) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(job)) => job,
        }
    } else {
        job
    };
    JailCounters::add(&st.stats.action_queue_full, 1);
    st.backlog.push_back(job);
    JailCounters::set(&st.stats.action_backlog, st.backlog.len() as u64);
    if st.backlog.len() >= st.settings.max_backlog {
        hold_reader(st);
    }
}

/// Holds the jail's reader back (counted and logged once per hold) until
/// [`Keeper::pump_backlogs`] lets go.
fn hold_reader(st: &JailState) {
    if st.stats.hold(true) {
        JailCounters::add(&st.stats.action_backlog_full, 1);
        logf!(
            WARNING,
            "fail2ban.actions",
            "[{}] {} action jobs wait for the jail's actions: reading waits until half are done ({} = {})",
            st.settings.name,
            st.backlog.len() + st.pending,
            crate::settings::MAX_BACKLOG_OPTION,
            st.settings.max_backlog
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_fail2ban() {
        assert_eq!(duration_text(600), "10m");
        assert_eq!(duration_text(3_661), "1h 1m 1s");
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(-1), "permanent");
    }

    fn keeper() -> Keeper {
        Keeper::new(Arc::new(Mutex::new(Store::open_in_memory().unwrap())), 0)
    }

    fn cursor(text: &str) -> ToKeeper {
        ToKeeper::JournalCursor {
            jail: "j".into(),
            cursor: text.into(),
        }
    }

    #[test]
    fn a_burst_is_gathered_until_its_reader_says_it_ended() {
        let mut k = keeper();
        let (tx, rx) = queue::bounded(16);
        // Nothing said more would follow: the batch is committed without waiting.
        k.handle(cursor("a"));
        tx.send(cursor("b")).unwrap();
        let t0 = Instant::now();
        assert!(!k.gather_more(&rx, t0 + Duration::from_secs(10)));
        assert_eq!(k.batch.len(), 1);
        assert!(rx.try_recv().is_ok());
        // A candidate said more would follow: what comes next joins the batch, up to the
        // reader's end of burst, long before the time limit.
        k.more = true;
        let burst = tx.clone();
        let sender = std::thread::spawn(move || {
            let tx = burst;
            std::thread::sleep(Duration::from_millis(20));
            tx.send(cursor("c")).unwrap();
            tx.send(ToKeeper::BurstEnd).unwrap();
            tx.send(cursor("d")).unwrap();
        });
        assert!(!k.gather_more(&rx, Instant::now() + Duration::from_secs(10)));
        sender.join().unwrap();
        assert_eq!(k.batch.len(), 2);
        assert!(!k.more);
        assert!(
            rx.try_recv().is_ok(),
            "the message after the burst's end waits"
        );
        // Without the end, the wait stops at the limit.
        k.more = true;
        let t0 = Instant::now();
        assert!(!k.gather_more(&rx, t0 + Duration::from_millis(30)));
        assert!(t0.elapsed() >= Duration::from_millis(30));
        // A reader gone (the queue closed) ends the keeper.
        drop(tx);
        k.more = true;
        assert!(k.gather_more(&rx, Instant::now() + Duration::from_secs(10)));
    }

    #[test]
    fn ids_round_trip_through_the_store() {
        for text in ["192.0.2.1", "2001:db8::1", "10.0.0.0/8", "user@host"] {
            let id = Id::parse(text);
            assert_eq!(policy_id(&ban_id(&id)), id, "{text}");
        }
    }
}
