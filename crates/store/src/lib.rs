//! jailor's state in SQLite: bans, ban counts, log positions, schema migrations.
//!
//! A [`Store`] keeps what the daemon must not forget across a restart or a crash:
//!
//! - **bans**: one record per jail and id ([`Ban`]), with its start, length, ban count,
//!   failures and matched lines; the bans in force come back at start
//!   ([`Store::bans_to_restore`]), and the ban counts feed `bantime.increment`
//!   ([`Store::ban_stats`]);
//! - **a ban history** for fail2ban's `<ipmatches>`-style tags ([`Store::merged_bans`]);
//! - **log positions** per jail and path, with the file's fingerprint ([`LogPosition`]), and
//!   **journal cursors** per jail;
//! - **the fleet's received bans** ([`FleetRecord`]) and its engine's cursor, committed
//!   with the jail bans they cause.
//!
//! Every write goes through a [`Batch`] committed in one transaction, so the bans decided from
//! some log lines and the position after those lines are stored together or not at all.
//!
//! The database is SQLite (bundled) in WAL mode with `synchronous=NORMAL` by default: a batch
//! whose [`Store::commit`] returned survives `kill -9` at any later moment; see [`Durability`]
//! for why, and for the power-loss-proof choice. The schema is jailor's own (not fail2ban's)
//! and is versioned with `PRAGMA user_version`; upgrades run at open.
//!
//! `dbfile = None` gives [`Store::disabled`], a store that keeps nothing, so callers hold a
//! `Store` in every case rather than an `Option<Store>`.
//!
//! Times are Unix seconds (`i64`); a bantime of [`PERMANENT`] (-1) never ends.
#![deny(missing_docs)]

mod ban;
mod batch;
mod create;
mod error;
mod fail2ban_import;
mod fleet;
mod options;
mod position;
mod schema;
mod store;

pub use ban::{Ban, BanData, BanId, BanStats, MergedBans, PERMANENT};
pub use batch::{Batch, Unban};
pub use error::{Error, ErrorKind};
pub use fail2ban_import::{
    plan_import, Fail2banDb, ImportDecision, ImportPlan, PlannedBan, UNKNOWN_BANTIME,
};
pub use fleet::{FleetCursor, FleetRecord};
pub use options::{DbFile, Durability, StoreOptions};
pub use position::{Fingerprint, JournalCursor, LogPosition};
pub use store::{Purged, Scope, Store};
