//! Log-line matching: fail2ban's tags, Python-to-Rust regex translation, the hybrid
//! linear/backtracking engine.
//!
//! - [`translate`]: Python `re` syntax → Rust patterns (exact, and a linear superset).
//! - [`Regex`]: the hybrid engine (the `regex` crate, else `fancy-regex` behind a prefilter).
//! - [`tags`]: fail2ban's `<HOST>`/`<F-*>` expansion; [`addr`]: captured hosts → ids.
//! - [`Filter`]: fail2ban's line processing (prefregex, failregex, ignoreregex, multi-line).
//! - [`Pipeline`]: a raw line through date detection and a [`Filter`].
//! - [`lint`]: flags filter regexes an attacker could steer (unanchored, address after a wildcard...).
#![deny(missing_docs)]

pub mod addr;
pub mod ahead;
mod block;
mod engine;
mod error;
mod fields;
mod filter;
mod flat;
mod head;
mod host_scan;
pub mod lint;
mod literals;
mod long;
mod memo;
pub mod pipeline;
mod resolve;
mod rewrite;
mod scan;
pub mod tags;
pub mod translate;
mod walk;

pub use addr::{parse_host, parse_ip, FailureId};
pub use block::LineBlock;
pub use engine::{Captures, Regex, DEFAULT_BACKTRACK_LIMIT};
pub use error::{Error, ErrorKind};
pub use fields::{Fields, Value};
pub use filter::{
    Failure, Filter, FilterOptions, FilterState, RegexRole, Resolver, Stats, DEFAULT_LINE_CAP,
};
pub use pipeline::{Pipeline, Processed};
#[doc(hidden)]
pub use resolve::fallbacks as resolver_fallbacks;
pub use scan::{Scan, Scratch};
pub use tags::{expand_tags, UseDns};
pub use translate::PyFlags;
