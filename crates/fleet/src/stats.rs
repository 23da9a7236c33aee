//! Counters shown by `jailor client status --fleet` and the metrics endpoint.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

/// Live counters, shared between the fleet thread and its handle.
#[derive(Debug, Default)]
pub struct FleetStats {
    pub(crate) connected: AtomicBool,
    pub(crate) outbox: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) rejected_origin: AtomicU64,
    pub(crate) rejected_allowlist: AtomicU64,
    pub(crate) rejected_prefix: AtomicU64,
    pub(crate) rejected_signature: AtomicU64,
    pub(crate) rejected_ratelimit: AtomicU64,
    pub(crate) invalid: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// `nats` or `redis`.
    pub engine: String,
    /// This host's origin name.
    pub origin: String,
    /// Whether both the publisher and the subscriber are connected.
    pub connected: bool,
    /// Events waiting in the outbox for the broker's acknowledgement.
    pub outbox: u64,
    /// Events the broker acknowledged.
    pub published: u64,
    /// Events received from other hosts.
    pub received: u64,
    /// Received events that changed a ban here.
    pub applied: u64,
    /// Received events refused by the receiver policy (sum of the five below and invalid).
    pub rejected: u64,
    /// Refused: origin not accepted.
    pub rejected_origin: u64,
    /// Refused: address in the allowlist.
    pub rejected_allowlist: u64,
    /// Refused: network too broad.
    pub rejected_prefix: u64,
    /// Refused: unsigned or badly signed by an origin this host holds a key for.
    pub rejected_signature: u64,
    /// Refused: over the origin's `ratelimit` of bans.
    pub rejected_ratelimit: u64,
    /// Refused: malformed, or not matching the subject or key it came under.
    pub invalid: u64,
}

impl FleetStats {
    /// Reads every counter.
    pub fn snapshot(&self, engine: &str, origin: &str) -> StatsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            engine: engine.to_owned(),
            origin: origin.to_owned(),
            connected: self.connected.load(Ordering::Relaxed),
            outbox: get(&self.outbox),
            published: get(&self.published),
            received: get(&self.received),
            applied: get(&self.applied),
            rejected: get(&self.rejected),
            rejected_origin: get(&self.rejected_origin),
            rejected_allowlist: get(&self.rejected_allowlist),
            rejected_prefix: get(&self.rejected_prefix),
            rejected_signature: get(&self.rejected_signature),
            rejected_ratelimit: get(&self.rejected_ratelimit),
            invalid: get(&self.invalid),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A cloneable reader of a running fleet's counters, for the control socket and the
/// metrics endpoint (they never wait for the fleet thread).
#[derive(Debug, Clone)]
pub struct StatsReader {
    pub(crate) stats: Arc<FleetStats>,
    pub(crate) engine: &'static str,
    pub(crate) origin: String,
}

impl StatsReader {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.stats.snapshot(self.engine, &self.origin)
    }
}
