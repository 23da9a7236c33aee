//! The fleet runtime: its own thread with a single-threaded tokio runtime, so that
//! matching and banning never wait on the broker.
//!
//! - Publisher: local bans are written to the SQLite outbox by [`Fleet::publish`] (the
//!   caller never waits for the network); the thread sends them in order and deletes
//!   each one when the broker acknowledged it, reconnecting for as long as it takes.
//! - Subscriber: reads from the stored cursor (or a snapshot for a new host), applies
//!   the receiver policy, and hands each read to an [`Applier`] that commits the changed
//!   bans and the cursor in one transaction.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::Notify;

use crate::applier::{Applier, Delivery, LocalApplier};
use crate::config::FleetConfig;
use crate::engine::{Engine, Item};
use crate::error::FleetError;
use crate::event::{now_ms, Action, FleetEvent};
use crate::policy::{Policy, Verdict};
use crate::stats::{FleetStats, StatsReader, StatsSnapshot};
use crate::store::FleetStore;

/// A ban change received from another host, to run through the local jail's actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The host that banned.
    pub origin: String,
    /// The jail it banned in (applied by the jail of the same name here).
    pub jail: String,
    /// The address or network.
    pub addr: IpNet,
    /// `true` to ban until `exp_ms`, `false` to lift the fleet's ban.
    pub ban: bool,
    /// When the ban ends (ms since the epoch); `None` for permanent.
    pub exp_ms: Option<i64>,
}

/// What the daemon gives the runtime to apply received bans.
pub type Sink = Box<dyn FnMut(Received) + Send>;

/// Pause between reconnection attempts.
const RETRY: Duration = Duration::from_millis(300);
/// Most events committed in one transaction.
const BATCH: usize = 512;

struct Shared {
    cfg: FleetConfig,
    stats: Arc<FleetStats>,
    wake: Notify,
    stop: AtomicBool,
    stopped: Notify,
}

/// The handle the daemon keeps: publish, read the counters, stop.
pub struct Fleet {
    shared: Arc<Shared>,
    outbox: Mutex<FleetStore>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fleet {
    /// Opens the fleet database at `db` (outbox, received bans and cursor) and starts
    /// the fleet thread; received changes go to `sink`.
    pub fn start(cfg: FleetConfig, db: &Path, sink: Sink) -> Result<Fleet, FleetError> {
        let applier = LocalApplier::open(db, sink)?;
        Fleet::start_with(cfg, db, Box::new(applier))
    }

    /// Opens the outbox at `db` and starts the fleet thread; received events go to
    /// `applier` (the daemon's store, so bans and cursor share one transaction).
    pub fn start_with(
        cfg: FleetConfig,
        db: &Path,
        applier: Box<dyn Applier>,
    ) -> Result<Fleet, FleetError> {
        let outbox = FleetStore::open(db)?;
        let worker_store = FleetStore::open(db)?;
        let shared = Arc::new(Shared {
            cfg,
            stats: Arc::default(),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            stopped: Notify::new(),
        });
        FleetStats::add(&shared.stats.outbox, outbox.depth()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let inner = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fleet".into())
            .spawn(move || runtime.block_on(run(inner, worker_store, applier)))?;
        Ok(Fleet {
            shared,
            outbox: Mutex::new(outbox),
            thread: Some(thread),
        })
    }

    /// Queues a local ban (`exp_ms` = its end, `None` for permanent) or unban for the
    /// fleet. Only an SQLite insert: the broker may be down.
    pub fn publish(
        &self,
        jail: &str,
        addr: IpNet,
        act: Action,
        exp_ms: Option<i64>,
    ) -> Result<(), FleetError> {
        let mut ev = FleetEvent::new(&self.shared.cfg.origin, jail, addr, act, exp_ms)?;
        if let Some(key) = &self.shared.cfg.signing_key {
            ev.sign(key);
        }
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .enqueue(&ev)?;
        FleetStats::add(&self.shared.stats.outbox, 1);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared
            .stats
            .snapshot(self.shared.cfg.engine.name(), &self.shared.cfg.origin)
    }

    /// A reader of the counters, cheap to clone, that never blocks.
    pub fn stats_reader(&self) -> StatsReader {
        StatsReader {
            stats: self.shared.stats.clone(),
            engine: self.shared.cfg.engine.name(),
            origin: self.shared.cfg.origin.clone(),
        }
    }

    /// Stops the thread (what is in the outbox stays for the next start).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.stopped.notify_waiters();
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.halt();
    }
}

async fn run(shared: Arc<Shared>, store: FleetStore, applier: Box<dyn Applier>) {
    let store = Arc::new(Mutex::new(store));
    let publisher = publish_loop(shared.clone(), store);
    let subscriber = subscribe_loop(shared.clone(), applier);
    tokio::select! {
        _ = async { tokio::join!(publisher, subscriber) } => {}
        _ = wait_stop(&shared) => {}
    }
}

async fn wait_stop(shared: &Shared) {
    loop {
        let notified = shared.stopped.notified();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

fn lock(store: &Mutex<FleetStore>) -> std::sync::MutexGuard<'_, FleetStore> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

async fn publish_loop(shared: Arc<Shared>, store: Arc<Mutex<FleetStore>>) {
    let stats = &shared.stats;
    let mut engine: Option<Engine> = None;
    loop {
        let pending = lock(&store).pending(256);
        let pending = match pending {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("fleet outbox: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Ok(d) = lock(&store).depth() {
            stats.outbox.store(d, Ordering::Relaxed);
        }
        if pending.is_empty() {
            let _ = tokio::time::timeout(Duration::from_secs(1), shared.wake.notified()).await;
            continue;
        }
        let e = match engine.as_mut() {
            Some(e) => e,
            None => match Engine::connect(&shared.cfg).await {
                Ok(e) => engine.insert(e),
                Err(err) => {
                    tracing::debug!("fleet publisher: {err}");
                    stats.connected.store(false, Ordering::Relaxed);
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        };
        for (seq, ev) in pending {
            if ev.act == Action::Ban && !ev.in_force(now_ms()) {
                // Nothing to enforce any more: do not wake the fleet for it.
                let _ = lock(&store).sent(seq);
                continue;
            }
            match e.publish(&ev).await {
                Ok(()) => {
                    if let Err(err) = lock(&store).sent(seq) {
                        tracing::error!("fleet outbox: {err}");
                    }
                    FleetStats::add(&stats.published, 1);
                    stats.connected.store(true, Ordering::Relaxed);
                }
                Err(err) => {
                    tracing::debug!("fleet publish: {err}");
                    stats.connected.store(false, Ordering::Relaxed);
                    engine = None;
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}

async fn subscribe_loop(shared: Arc<Shared>, mut applier: Box<dyn Applier>) {
    let stats = &shared.stats;
    let mut policy = Policy::new(&shared.cfg);
    let engine_name = shared.cfg.engine.name();
    let mut last_purge = std::time::Instant::now();
    loop {
        let mut engine = match Engine::connect(&shared.cfg).await {
            Ok(e) => e,
            Err(err) => {
                tracing::debug!("fleet subscriber: {err}");
                stats.connected.store(false, Ordering::Relaxed);
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let cursor = match applier.cursor(engine_name, &shared.stop) {
            Ok(c) => c,
            Err(err) => {
                // Not a snapshot instead: that could lift bans the cursor still covers.
                tracing::error!("fleet cursor: {err}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let mut seen: Option<HashSet<String>> = match engine.subscribe(cursor.as_deref()).await {
            Ok(true) => Some(HashSet::new()),
            Ok(false) => None,
            Err(err) => {
                tracing::debug!("fleet subscribe: {err}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        stats.connected.store(true, Ordering::Relaxed);
        loop {
            let first = match engine.next(Duration::from_millis(500)).await {
                Ok(Some(item)) => item,
                Ok(None) => {
                    if last_purge.elapsed() > Duration::from_secs(3600) {
                        last_purge = std::time::Instant::now();
                        if let Err(err) = applier.purge(now_ms() - shared.cfg.max_age_ms) {
                            tracing::warn!("fleet purge: {err}");
                        }
                    }
                    continue;
                }
                Err(err) => {
                    tracing::debug!("fleet read: {err}");
                    stats.connected.store(false, Ordering::Relaxed);
                    break;
                }
            };
            let mut items = vec![first];
            while items.len() < BATCH {
                match engine.next(Duration::ZERO).await {
                    Ok(Some(item)) => items.push(item),
                    _ => break,
                }
            }
            let mut delivery = Delivery {
                engine: engine_name,
                ..Delivery::default()
            };
            let mut snapshot_done = false;
            for item in items {
                match item {
                    Item::Event(c, mut ev) => {
                        FleetStats::add(&stats.received, 1);
                        if !c.is_empty() {
                            delivery.cursor = Some(c);
                        }
                        match policy.check(&ev) {
                            Verdict::Accept => {
                                if let Some(s) = seen.as_mut() {
                                    s.insert(ev.key());
                                }
                                if ev.act == Action::Ban {
                                    ev.exp_ms = policy.capped_exp(ev.exp_ms, now_ms());
                                }
                                delivery.events.push(ev);
                            }
                            Verdict::Own => {}
                            v => reject(stats, v),
                        }
                    }
                    Item::Invalid(c, why) => {
                        tracing::warn!("fleet: invalid event refused: {why}");
                        FleetStats::add(&stats.invalid, 1);
                        FleetStats::add(&stats.rejected, 1);
                        if !c.is_empty() {
                            delivery.cursor = Some(c);
                        }
                    }
                    Item::SnapshotDone(c) => {
                        delivery.cursor = Some(c);
                        snapshot_done = true;
                    }
                }
            }
            if snapshot_done {
                delivery.snapshot = seen.take();
            }
            match applier.apply(delivery, &shared.stop) {
                Ok(n) => FleetStats::add(&stats.applied, n),
                Err(err) => {
                    // Nothing of it was committed: read again from the stored cursor.
                    tracing::error!("fleet apply: {err}");
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}

/// Counts one event refused by the receiver policy, under its reason.
pub(crate) fn reject(stats: &FleetStats, verdict: Verdict) {
    FleetStats::add(&stats.rejected, 1);
    let counter = match verdict {
        Verdict::UnknownOrigin => &stats.rejected_origin,
        Verdict::Allowlisted => &stats.rejected_allowlist,
        Verdict::BadSignature => &stats.rejected_signature,
        Verdict::RateLimited => &stats.rejected_ratelimit,
        _ => &stats.rejected_prefix,
    };
    FleetStats::add(counter, 1);
}
