//! Where received events are applied: the receiving side's state (the latest event per
//! (origin, jail, address) and the engine's cursor) and the bans it causes, committed
//! together.
//!
//! The daemon implements [`Applier`] over its own store, so that the cursor, the fleet
//! records and the jail bans are one SQLite transaction; [`LocalApplier`] keeps them in
//! the fleet's own file and hands the changes to a callback (for tools and tests).

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::error::FleetError;
use crate::event::{now_ms, Action, FleetEvent};
use crate::runtime::{Received, Sink};
use crate::store::FleetStore;

/// What one read of the subscription brings, to apply in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// The engine's name (`nats`, `redis`): the cursor is stored under it.
    pub engine: &'static str,
    /// The events the receiver policy accepted, in order (bantime already capped).
    pub events: Vec<FleetEvent>,
    /// Where the subscription stands after these events, when it moved.
    pub cursor: Option<String>,
    /// After a snapshot completed: the keys ([`FleetEvent::key`]) it held. Fleet bans
    /// recorded here under any other key are gone from the fleet and must be lifted.
    pub snapshot: Option<HashSet<String>>,
}

/// The receiving side's state and the bans it causes.
pub trait Applier: Send {
    /// The cursor stored for `engine`, if any (`stopping` as for [`Applier::apply`]).
    fn cursor(&mut self, engine: &str, stopping: &AtomicBool)
        -> Result<Option<String>, FleetError>;

    /// Applies `delivery`: each event newer than the one recorded for its key (by
    /// timestamp, then id) changes that key and is handed on as a ban or unban; the
    /// records, the cursor and those bans are committed in one transaction. Answers how
    /// many events changed a key. `stopping` turns true when the fleet is stopping: an
    /// implementation that waits for another thread gives up then.
    fn apply(&mut self, delivery: Delivery, stopping: &AtomicBool) -> Result<u64, FleetError>;

    /// Forgets records of bans that ended before `before_ms` (they only guard against
    /// stale replays).
    fn purge(&mut self, before_ms: i64) -> Result<(), FleetError>;
}

/// The ban or unban that one changed event means here.
pub fn received(ev: &FleetEvent, now_ms: i64) -> Received {
    Received {
        origin: ev.origin.clone(),
        jail: ev.jail.clone(),
        addr: ev.addr,
        ban: ev.in_force(now_ms),
        exp_ms: ev.exp_ms,
    }
}

/// An [`Applier`] over the fleet's own SQLite file, handing changes to a callback.
pub struct LocalApplier {
    store: FleetStore,
    sink: Sink,
}

impl LocalApplier {
    /// Opens (and creates) the fleet file at `path`; changes go to `sink`.
    pub fn open(path: &Path, sink: Sink) -> Result<Self, FleetError> {
        Ok(LocalApplier {
            store: FleetStore::open(path)?,
            sink,
        })
    }

    /// Hands one changed ban to the sink: a ban still in force with its end; an unban (or
    /// a ban already over) unless another origin still bans the same jail and address.
    fn deliver(&mut self, ev: &FleetEvent, now: i64) {
        let r = received(ev, now);
        if !r.ban && self.store.banned_elsewhere(ev, now).unwrap_or(false) {
            return;
        }
        (self.sink)(r);
    }
}

impl Applier for LocalApplier {
    fn cursor(&mut self, engine: &str, _: &AtomicBool) -> Result<Option<String>, FleetError> {
        self.store.cursor(engine)
    }

    fn apply(&mut self, delivery: Delivery, _: &AtomicBool) -> Result<u64, FleetError> {
        let changed = self.store.apply(
            delivery.engine,
            &delivery.events,
            delivery.cursor.as_deref(),
        )?;
        let now = now_ms();
        for ev in &changed {
            self.deliver(ev, now);
        }
        if let Some(seen) = delivery.snapshot {
            for mut ev in self.store.retain(&seen)? {
                ev.act = Action::Unban;
                self.deliver(&ev, now);
            }
        }
        Ok(changed.len() as u64)
    }

    fn purge(&mut self, before_ms: i64) -> Result<(), FleetError> {
        self.store.purge(before_ms)
    }
}
