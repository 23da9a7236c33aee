//! What the store keeps of the fleet's received bans: one record per (origin, jail,
//! address), and the engine's cursor, committed in the same transaction as the jail bans
//! they caused, so a crash never separates "received" from "applied".

/// The latest event this host applied for one (origin, jail, address) of the fleet.
///
/// Later events win by `(ts_ms, id)`; the record stays after the ban ends, so a stale
/// replay of an older event changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetRecord {
    /// The host that published the event.
    pub origin: String,
    /// The jail it names.
    pub jail: String,
    /// The address or network, canonical (`192.0.2.7/32`, `2001:db8::/64`).
    pub addr: String,
    /// When the origin decided, in ms since the epoch.
    pub ts_ms: i64,
    /// The event's unique id (breaks ties of `ts_ms`).
    pub id: String,
    /// Whether the event banned (`false`: an unban).
    pub banned: bool,
    /// When the ban ends, in ms since the epoch; `None` for permanent.
    pub exp_ms: Option<i64>,
}

impl FleetRecord {
    /// Whether this record is a ban in force at `now_ms`.
    pub fn in_force(&self, now_ms: i64) -> bool {
        self.banned && self.exp_ms.is_none_or(|e| e > now_ms)
    }

    /// Whether an event stamped `(ts_ms, id)` is newer than this record.
    pub fn older_than(&self, ts_ms: i64, id: &str) -> bool {
        (self.ts_ms, self.id.as_str()) < (ts_ms, id)
    }
}

/// Where a fleet engine's subscriber stands (its stream sequence or entry ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetCursor {
    /// `nats` or `redis`.
    pub engine: String,
    /// The engine's cursor, opaque here.
    pub cursor: String,
}
