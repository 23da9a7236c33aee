//! jailor's ban policy: which failures lead to a ban, for how long, and who is never banned.
//!
//! This is fail2ban's ban logic (its `FailManager`, `BanManager`, `bantime.increment` and
//! `ignoreip` rules) as plain data structures, without threads, clocks, or a database. The
//! daemon owns one of each per jail, feeds them failures and times, and carries out what they
//! decide:
//!
//! - [`FailureWindow`]: failures per id within `findtime`, with fail2ban's rate-estimate
//!   arithmetic, up to `maxretry`; bounded memory under a flood of distinct addresses.
//! - [`BanBook`]: bans in force, their ends, prolongation, and the status counters.
//! - [`Increment`]: `bantime.increment` (factor, formula, multipliers, maxtime, rndtime), and
//!   [`weigh_failure`] for repeat offenders. The earlier ban counts come from the store.
//! - [`IgnoreList`]: `ignoreip`, `ignoreself` ([`own_addresses`]) and the `ignorecommand`
//!   hook ([`IgnoreCommand`]), with [`IgnoreCache`] for `ignorecache`.
//! - [`Deadlines`]: one min-heap of every ban's end for the whole daemon.
//!
//! Times are Unix seconds (`i64`); a bantime of [`PERMANENT`] (-1) never ends.
//!
//! ```
//! use jailor_policy::{Added, BanBook, BanOutcome, BanTicket, FailureWindow, Id, WindowConfig};
//!
//! let mut failures = FailureWindow::new(WindowConfig { maxretry: 2, ..WindowConfig::default() });
//! let mut bans = BanBook::new(600);
//! let attacker = Id::parse("192.0.2.1");
//! assert!(matches!(failures.add(&attacker, 100, &["bad password"], 1), Added::Counted { retry: 1 }));
//! let Added::Ban(ticket) = failures.add(&attacker, 130, &["bad password"], 1) else { panic!() };
//! let outcome = bans.add(BanTicket::from_failures(ticket), 131);
//! assert_eq!(outcome, BanOutcome::Banned { end: 730 });
//! ```
#![deny(missing_docs)]

mod arith;
mod bans;
mod deadlines;
mod error;
mod failures;
mod id;
mod ignore;
mod ignore_cache;
mod ignore_file;
mod increment;
mod own;

pub use bans::{Ban, BanBook, BanOutcome, BanTicket, MAX_TIME, PERMANENT};
pub use deadlines::Deadlines;
pub use error::{Error, ErrorKind};
pub use failures::{
    Added, FailTicket, FailureWindow, WindowConfig, WindowStats, DEFAULT_FINDTIME,
    DEFAULT_MAXMATCHES, DEFAULT_MAXRETRY, DEFAULT_MAX_TRACKED,
};
pub use id::Id;
pub use ignore::{IgnoreCommand, IgnoreList, IgnoreReason, NoResolver, Resolver};
pub use ignore_cache::IgnoreCache;
pub use increment::{
    repeat_offender_weight, weigh_failure, Formula, Growth, Increment, IncrementOptions, PriorBans,
    RandomSource, SplitMix64,
};
pub use own::{interface_addresses, own_addresses};
