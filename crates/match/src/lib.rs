//! Log-line matching: fail2ban's tags, Python-to-Rust regex translation, the hybrid
//! linear/backtracking engine.
//!
//! - [`translate`]: Python `re` syntax → Rust patterns (exact, and a linear superset).
//! - [`Regex`]: the hybrid engine (the `regex` crate, else `fancy-regex` behind a prefilter).
#![deny(missing_docs)]

mod engine;
mod error;
pub mod translate;

pub use engine::{Captures, Regex, DEFAULT_BACKTRACK_LIMIT};
pub use error::{Error, ErrorKind};
pub use translate::PyFlags;
