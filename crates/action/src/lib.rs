//! jailor's action runner: fail2ban's `action.d` definitions, run as they are, safely.
//!
//! An [`ActionSpec`] is an action as fail2ban's client sends it to the server: a name and
//! its `(property, value)` pairs. [`Action::new`] substitutes the static tags of its commands
//! (recursively, per address family) and
//! checks its flags; the [`Action`] then runs the lifecycle fail2ban runs:
//!
//! - [`Action::start`] at jail start (or nothing, when `actionstart` runs on demand at the
//!   first ban of each family);
//! - [`Action::ban`], [`Action::unban`], [`Action::reban`], [`Action::prolong`] per ticket;
//! - [`Action::flush`] then [`Action::stop`] at jail stop; [`Action::check`],
//!   [`Action::reload`].
//!
//! A failed command is followed by `actioncheck`; when that fails too, `actionrepair` (or
//! `actionstop` + `actionstart`) restores the environment and the command is retried once.
//! The result says what happened ([`Outcome`], [`ErrorKind`]); the caller records a ban
//! whatever it is.
//!
//! jailor's own actions live in [`native`]: the nftables action `jailor-nftables`
//! ([`native::nft`]) and mail over SMTP ([`native::mail`]).
//!
//! # Safety
//!
//! Commands run as with `/bin/sh -c <script>`: by default in a fresh subshell of a persistent
//! `/bin/sh` co-process (a fork instead of a shell's start; see
//! [`RunnerOptions::coprocess`]), each command alone in its co-process's process group, or
//! with `-c` in its own group; killed (SIGTERM, then SIGKILL to the whole group) at the
//! action's `timeout` (default 60 s). Dynamic values
//! are typed: a [`Ticket`]'s [`Address`] is validated when parsed and is the only text of a
//! ban written into a script, with numbers and the family. Everything that comes from a log
//! (matched lines, `<F-*>` groups, raw ids) or from DNS reaches the script only as an
//! environment variable (`f2bV_…`) expanded in quotes, so `$(…)`, backticks, `;` or quotes in
//! log text are never executed.
//!
//! # Concurrency
//!
//! An [`ActionRunner`] is shared by all actions and bounds the number of action processes
//! running at once. Calls on one [`Action`] are serialised; different actions run in
//! parallel up to that bound.
//!
//! # Example
//!
//! ```
//! use jailor_action::{Action, ActionRunner, ActionSpec, BanContext, JailInfo, Ticket};
//!
//! let dir = std::env::temp_dir().join(format!("jailor-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let file = dir.join("bans");
//! let spec = ActionSpec::new("list", [
//!     ("actionban", "echo <ip> >> <file>"),
//!     ("file", file.to_str().unwrap()),
//! ]);
//! let runner = ActionRunner::default();
//! let action = Action::new(&spec, &runner).unwrap();
//! action.start().unwrap();
//! let jail = JailInfo::new("sshd");
//! let ticket = Ticket::new("192.0.2.7".parse().unwrap(), 1_700_000_000.0);
//! action.ban(&ticket, &BanContext::new(&jail)).unwrap();
//! assert_eq!(std::fs::read_to_string(&file).unwrap(), "192.0.2.7\n");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![deny(missing_docs)]

mod action;
mod address;
mod coshell;
mod dynamic;
mod error;
mod exec;
mod family;
mod hostnames;
mod kind;
pub mod native;
mod plain_builtin;
mod runner;
mod shell_context;
mod substitute;
mod tags;
mod ticket;
mod time_value;

pub use action::{Action, ActionSpec, Outcome, Recovery, Skip};
pub use address::Address;
pub use error::{Error, ErrorKind, Failure, Repair};
pub use exec::{RunOutput, RunStatus};
pub use family::Family;
pub use hostnames::HostNames;
pub use kind::CommandKind;
pub use runner::{ActionRunner, RunnerOptions};
pub use ticket::{BanContext, BanHistory, JailInfo, Resolver, Ticket};
