//! jailor's daemon: runs the jails of a fail2ban configuration.
//!
//! [`run`] reads the configuration (`-c DIR`), starts one pipeline per jail and keeps going
//! until SIGTERM or SIGINT; SIGHUP reloads. The way of a log line:
//!
//! ```text
//!  reader thread per jail                 keeper thread (one)            worker per jail
//!  tail → date → match → failure window ──► ban books, deadline heap, ──► actionban/unban
//!         (ignoreip/self/command)  bounded    the store (bans + positions   (bounded queue,
//!                                  channel    in one transaction)           timeouts, repair)
//! ```
//!
//! - A reader never waits for an action, the store or another jail: it only sends ban
//!   candidates and its positions to the keeper.
//! - The keeper is the only writer of the store. It commits bans together with the log
//!   positions they were read up to, and logs `Ban` only after the commit, so a `kill -9`
//!   never loses a ban that was logged. All unbans come from one deadline heap.
//! - Workers run the actions; the keeper never blocks on them (jobs a full queue cannot take
//!   wait in the keeper). A failed ban is still recorded.
//!
//! At start, every jail's actions start (`actionstart`) and its bans are restored from the
//! store and re-applied (`Restore Ban`) before its log is read; each log resumes at its
//! stored position, or (first start, `head`) at the first line younger than `findtime`.
//!
//! A jail's filter is compiled by its reader when the first line reaches it
//! (`lazy_filter`): "Jail started" does not wait for it, and a quiet jail costs almost no
//! memory. Jails keep matched lines per address only when one of their actions can show them.
//!
//! The log is fail2ban's, line for line ([`logging`]), so fail2ban's `recidive` jail works on
//! jailor's own log. A jail tracks at most [`MAX_TRACKED_OPTION`] addresses (evictions are
//! counted and logged).
#![deny(missing_docs)]

mod backlog;
mod ban_helpers;
mod ban_history;
mod control;
mod error;
mod fleet;
mod ignore_cmd;
mod jail_counters;
mod jail_prep;
mod journal_source;
mod keeper;
mod lazy_filter;
pub mod logging;
mod memory;
mod metrics;
mod native;
mod notify;
mod queue;
mod reader;
mod server;
mod settings;
mod worker;

pub use error::{Error, ErrorKind};
pub use ignore_cmd::ShellIgnore;
pub use native::JailAction;
pub use server::{run, ServerOptions, JAILOR_DB};
pub use settings::{JailSettings, MAX_TRACKED_OPTION};
