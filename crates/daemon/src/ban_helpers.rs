//! The threads that run a batch's bans beside the jail's action worker.
//!
//! A burst of bans reaches the worker as batches of a few bans each; every ban runs each
//! action's `actionban`, several at a time. Starting helper threads for each batch (as a
//! scoped spawn did) cost a thread's creation and end per helper and batch (197 threads for
//! the 650 bans of the 100k-line append), and each new thread takes glibc's arena lock to set
//! up and to tear down its cache, which the reader waits on. These helpers are started on
//! the first batch that needs them and stay while bans keep coming; one that finds no work
//! for [`IDLE`] ends, so an idle daemon keeps no extra thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use jailor_action::{Action, BanContext, JailInfo, Outcome, Ticket};

use crate::ban_history::StoreHistory;
use crate::worker::Counters;

/// A helper with no batch for this long ends.
const IDLE: Duration = Duration::from_secs(2);

/// Each action's result of one ticket's ban, by the action's index.
pub(crate) type BanResults = Vec<(usize, Result<Outcome, jailor_action::Error>)>;

/// Runs `actionban` of every action for one ticket; returns each action's result.
pub(crate) fn run_bans(
    jail: &str,
    actions: &[Arc<Action>],
    history: &StoreHistory,
    ticket: &Ticket,
    counters: Counters,
) -> BanResults {
    let mut info = JailInfo::new(jail);
    info.banned = counters.banned;
    info.banned_total = counters.banned_total;
    let ctx = BanContext::new(&info).with_history(history);
    actions
        .iter()
        .enumerate()
        .filter(|(_, a)| !(ticket.restored && a.norestored()))
        .map(|(i, a)| (i, a.ban(ticket, &ctx)))
        .collect()
}

/// One ban of a batch: its ticket until the batch is over, then its results.
struct Item {
    ticket: Option<(Ticket, Counters)>,
    results: Option<BanResults>,
}

/// A batch shared by the worker and the helpers: each thread takes the next ban not taken.
struct Batch {
    jail: String,
    actions: Vec<Arc<Action>>,
    history: Arc<StoreHistory>,
    items: Vec<Mutex<Item>>,
    next: AtomicUsize,
    /// Bans not finished yet; the worker waits for 0.
    left: Mutex<usize>,
    finished: Condvar,
}

impl Batch {
    /// Runs bans until none is left to take. A helper that comes late takes none.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = self.items.get(i) else {
                return;
            };
            // Counted as done even if the ban panics, so the worker never waits forever.
            let _done = Done(self);
            let mut item = relock(item.lock());
            if let Some((ticket, counters)) = &item.ticket {
                let results = run_bans(&self.jail, &self.actions, &self.history, ticket, *counters);
                item.results = Some(results);
            }
        }
    }
}

/// Counts one ban of a batch as finished when dropped.
struct Done<'a>(&'a Batch);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        let mut left = relock(self.0.left.lock());
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.0.finished.notify_all();
        }
    }
}

/// Counts a helper as ended when dropped (also when it panics).
struct Alive<'a>(&'a AtomicUsize);

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn relock<'a, T>(r: std::sync::LockResult<MutexGuard<'a, T>>) -> MutexGuard<'a, T> {
    r.unwrap_or_else(|p| p.into_inner())
}

/// The helper threads of one jail's worker.
pub(crate) struct BanHelpers {
    jail: String,
    tasks: mpsc::Sender<Arc<Batch>>,
    queue: Arc<Mutex<mpsc::Receiver<Arc<Batch>>>>,
    /// Helpers running now.
    alive: Arc<AtomicUsize>,
}

impl BanHelpers {
    /// No helper yet: they start with the first batch of more than one ban.
    pub(crate) fn new(jail: &str) -> BanHelpers {
        let (tasks, queue) = mpsc::channel();
        BanHelpers {
            jail: jail.to_owned(),
            tasks,
            queue: Arc::new(Mutex::new(queue)),
            alive: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs the bans of `batch` on this thread and up to `helpers` others; returns each
    /// ticket with its results, in order, once all are done.
    pub(crate) fn run(
        &self,
        actions: Vec<Arc<Action>>,
        history: Arc<StoreHistory>,
        batch: Vec<(Ticket, Counters)>,
        helpers: usize,
    ) -> Vec<(Ticket, Counters, BanResults)> {
        let n = batch.len();
        let shared = Arc::new(Batch {
            jail: self.jail.clone(),
            actions,
            history,
            items: batch
                .into_iter()
                .map(|t| {
                    Mutex::new(Item {
                        ticket: Some(t),
                        results: None,
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            left: Mutex::new(n),
            finished: Condvar::new(),
        });
        let helpers = helpers.min(n.saturating_sub(1));
        self.ensure(helpers);
        for _ in 0..helpers {
            // The receiver lives as long as `self`: this cannot fail.
            let _ = self.tasks.send(Arc::clone(&shared));
        }
        shared.work();
        // Bans a helper took may still run.
        let mut left = relock(shared.left.lock());
        while *left > 0 {
            left = relock(shared.finished.wait(left));
        }
        drop(left);
        shared
            .items
            .iter()
            .filter_map(|item| {
                let mut item = relock(item.lock());
                let (ticket, counters) = item.ticket.take()?;
                Some((ticket, counters, item.results.take().unwrap_or_default()))
            })
            .collect()
    }

    /// Starts helpers until `want` run (fewer if a thread cannot be started: the worker's
    /// own thread still runs every ban).
    fn ensure(&self, want: usize) {
        while self.alive.load(Ordering::Acquire) < want {
            self.alive.fetch_add(1, Ordering::AcqRel);
            let queue = Arc::clone(&self.queue);
            let alive = Arc::clone(&self.alive);
            let spawned = std::thread::Builder::new()
                .name(format!("bans-{}", self.jail))
                .stack_size(crate::memory::SMALL_STACK)
                .spawn(move || helper(&queue, &alive));
            if spawned.is_err() {
                self.alive.fetch_sub(1, Ordering::AcqRel);
                return;
            }
        }
    }
}

/// A helper's life: batches until none comes for [`IDLE`] or the worker is gone.
fn helper(queue: &Mutex<mpsc::Receiver<Arc<Batch>>>, alive: &AtomicUsize) {
    let _alive = Alive(alive);
    loop {
        let next = relock(queue.lock()).recv_timeout(IDLE);
        match next {
            Ok(batch) => batch.work(),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jailor_action::{ActionRunner, ActionSpec, Address};
    use jailor_store::Store;
    use std::time::Instant;

    fn history() -> Arc<StoreHistory> {
        let store = Store::open_in_memory().unwrap();
        Arc::new(StoreHistory::new(Arc::new(Mutex::new(store))))
    }

    fn tickets(from: u8, n: u8) -> Vec<(Ticket, Counters)> {
        (from..from + n)
            .map(|i| {
                let ip = std::net::IpAddr::from([192, 0, 2, i]);
                (Ticket::new(Address::host(ip), 0.0), Counters::default())
            })
            .collect()
    }

    /// Every ban of each batch runs its action once, the results come back in the batch's
    /// order, the helpers serve batch after batch, and they end once idle.
    #[test]
    fn batches_run_every_ban_once_in_order_and_idle_helpers_end() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let spec = ActionSpec::new(
            "file",
            [(
                "actionban",
                format!("sleep 0.01; echo \"ban <ip>\" >> {}", target.display()),
            )],
        );
        let action = Arc::new(Action::new(&spec, &ActionRunner::default()).unwrap());
        let helpers = BanHelpers::new("test");
        let mut all = Vec::new();
        for round in 0..3u8 {
            let batch = tickets(round * 10 + 1, 7);
            let want: Vec<String> = batch.iter().map(|(t, _)| t.address.to_string()).collect();
            let done = helpers.run(vec![Arc::clone(&action)], history(), batch, 3);
            let got: Vec<String> = done.iter().map(|(t, _, _)| t.address.to_string()).collect();
            assert_eq!(got, want);
            for (_, _, results) in &done {
                assert_eq!(results.len(), 1);
                assert!(results[0].1.is_ok(), "{:?}", results[0].1);
            }
            all.extend(want);
            assert!(helpers.alive.load(Ordering::Acquire) <= 3);
        }
        let mut written: Vec<String> = std::fs::read_to_string(&target)
            .unwrap()
            .lines()
            .map(|l| l.trim_start_matches("ban ").to_owned())
            .collect();
        written.sort();
        all.sort();
        assert_eq!(written, all);
        // Idle helpers end (generous: a loaded machine).
        let deadline = Instant::now() + IDLE * 3 + Duration::from_secs(30);
        while helpers.alive.load(Ordering::Acquire) > 0 {
            assert!(Instant::now() < deadline, "idle helpers did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
        // And a later batch still runs (new helpers, or this thread alone).
        let done = helpers.run(vec![action], history(), tickets(100, 3), 3);
        assert_eq!(done.len(), 3);
        assert!(done.iter().all(|(_, _, r)| r.len() == 1 && r[0].1.is_ok()));
    }
}
