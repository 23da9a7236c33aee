//! A jail's counters and live settings, shared between its threads and the control side.
//!
//! The reader, the keeper and the action worker each own their state; the control socket
//! (`status JAIL`, `stats`) and the metrics endpoint only read these atomics, so they never
//! wait for a thread that is busy with a flood. Settings that fail2ban changes in a running
//! jail (`set JAIL findtime|bantime|maxretry|...`) reach the reader the same way: the control
//! side posts new settings here and the reader takes them before it counts its next failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use jailor_action::ActionRunner;

use jailor_policy::Id;

use crate::settings::JailSettings;

/// One jail's counters (since the jail started) and its pending settings.
#[derive(Debug, Default)]
pub(crate) struct JailCounters {
    /// Log lines (or journal entries) read.
    pub lines: AtomicU64,
    /// Lines in which the filter found at least one failure.
    pub matched: AtomicU64,
    /// Lines not matched: no date before the logs were caught up, a date that cannot be
    /// converted, or older than findtime at start.
    pub dropped: AtomicU64,
    /// Lines cut at the length limit.
    pub cut: AtomicU64,
    /// Searches the backtracking engine abandoned at its limit.
    pub regex_limit_hits: AtomicU64,
    /// Failures counted ("Total failed").
    pub failed_total: AtomicU64,
    /// Addresses with failures, not banned yet ("Currently failed").
    pub failed_current: AtomicU64,
    /// Bans ("Total banned"; restored bans included, as fail2ban counts them).
    pub banned_total: AtomicU64,
    /// Addresses banned now ("Currently banned").
    pub banned_current: AtomicU64,
    /// Unbans (expired or asked for).
    pub unbans: AtomicU64,
    /// Action commands that failed.
    pub action_errors: AtomicU64,
    /// Addresses dropped at the tracked-address cap (`maxtrackedaddresses`).
    pub evicted: AtomicU64,
    /// Messages from the reader that found the keeper's queue full (the reader waited).
    pub keeper_queue_full: AtomicU64,
    /// Action jobs that found the worker's queue full (kept in the keeper's backlog).
    pub action_queue_full: AtomicU64,
    /// Action jobs in the keeper's backlog now.
    pub action_backlog: AtomicU64,
    /// Times the keeper's backlog reached its bound (`maxactionbacklog`) and held the
    /// reader back.
    pub action_backlog_full: AtomicU64,
    /// Set by the keeper while the backlog is at its bound, cleared when it has drained to
    /// half: the reader waits before its next ban candidate (see [`JailCounters::hold`]).
    held_back: AtomicBool,
    /// `set JAIL idle on`: the reader counts no failure.
    pub idle: AtomicBool,
    /// Failures counted by hand (`set JAIL attempt IP [LINE...]`), for the reader.
    attempts: Mutex<Vec<(Id, Vec<String>)>>,
    /// New settings for the reader, posted by the control side.
    pending: Mutex<Option<Arc<JailSettings>>>,
    /// Set when `pending` holds settings: one relaxed load per failure when nothing changed.
    changed: AtomicBool,
}

impl JailCounters {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets `counter` to `n`.
    pub(crate) fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }

    /// The value of `counter`.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Holds the reader back (`true`) or lets it go on; answers whether that changed.
    pub(crate) fn hold(&self, on: bool) -> bool {
        self.held_back.swap(on, Ordering::AcqRel) != on
    }

    /// Waits while the keeper holds the reader back (its backlog of action jobs is at its
    /// bound). The keeper always lets go: as the actions work the backlog off, when the jail
    /// stops and when the keeper ends.
    pub(crate) fn wait_while_held_back(&self) {
        while self.held_back.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Posts new settings for the reader (the newest wins).
    pub(crate) fn post_settings(&self, settings: Arc<JailSettings>) {
        let mut slot = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(settings);
        self.changed.store(true, Ordering::Release);
    }

    /// Takes the settings posted since the last call, if any.
    pub(crate) fn take_settings(&self) -> Option<Arc<JailSettings>> {
        if !self.changed.load(Ordering::Acquire) {
            return None;
        }
        let mut slot = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        self.changed.store(false, Ordering::Release);
        slot.take()
    }
}

impl JailCounters {
    /// Whether the jail is idle.
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Relaxed)
    }

    /// Queues a failure counted by hand; the reader counts it in its next round.
    pub(crate) fn post_attempt(&self, id: Id, lines: Vec<String>) {
        let mut q = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a client cannot grow the queue without limit between two rounds.
        if q.len() < MAX_QUEUED_ATTEMPTS {
            q.push((id, lines));
        }
    }

    /// Takes the failures counted by hand since the last call.
    pub(crate) fn take_attempts(&self) -> Vec<(Id, Vec<String>)> {
        std::mem::take(&mut *self.attempts.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The most hand-counted failures waiting for a reader's round.
const MAX_QUEUED_ATTEMPTS: usize = 10_000;

/// Every running jail's counters, by name, and the fleet's, for the metrics endpoint and
/// the control socket.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    jails: Mutex<Vec<(String, Arc<JailCounters>)>>,
    fleet: Mutex<Option<jailor_fleet::StatsReader>>,
    /// The shared action runner, for its process bound's counters.
    runner: OnceLock<ActionRunner>,
}

impl Registry {
    /// Adds (or replaces) a jail's counters.
    pub(crate) fn insert(&self, jail: &str, stats: Arc<JailCounters>) {
        let mut jails = self.jails.lock().unwrap_or_else(|p| p.into_inner());
        jails.retain(|(n, _)| n != jail);
        jails.push((jail.to_owned(), stats));
        jails.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// Forgets a stopped jail.
    pub(crate) fn remove(&self, jail: &str) {
        let mut jails = self.jails.lock().unwrap_or_else(|p| p.into_inner());
        jails.retain(|(n, _)| n != jail);
    }

    /// Records the fleet's counters once it started.
    pub(crate) fn set_fleet(&self, reader: jailor_fleet::StatsReader) {
        *self.fleet.lock().unwrap_or_else(|p| p.into_inner()) = Some(reader);
    }

    /// The fleet's counters now, when a `[Fleet]` engine runs.
    pub(crate) fn fleet(&self) -> Option<jailor_fleet::StatsSnapshot> {
        let slot = self.fleet.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().map(jailor_fleet::StatsReader::snapshot)
    }

    /// Sets the action runner whose process bound the metrics report (once).
    pub(crate) fn set_runner(&self, runner: ActionRunner) {
        let _ = self.runner.set(runner);
    }

    /// The action runner, once set.
    pub(crate) fn runner(&self) -> Option<&ActionRunner> {
        self.runner.get()
    }

    /// The running jails' counters, sorted by name.
    pub(crate) fn snapshot(&self) -> Vec<(String, Arc<JailCounters>)> {
        self.jails.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_replaces_and_forgets_jails() {
        let r = Registry::default();
        let a = Arc::<JailCounters>::default();
        JailCounters::add(&a.lines, 3);
        r.insert("b", Arc::<JailCounters>::default());
        r.insert("a", a);
        r.insert("a", Arc::<JailCounters>::default());
        let names: Vec<String> = r.snapshot().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(JailCounters::get(&r.snapshot()[0].1.lines), 0);
        r.remove("a");
        assert_eq!(r.snapshot().len(), 1);
    }
}
