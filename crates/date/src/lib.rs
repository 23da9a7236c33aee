//! Date detection in log lines: fail2ban's templates, datepattern, year inference and time zones.
#![deny(missing_docs)]

mod convert;
mod defaults;
mod describe;
mod detector;
mod directive;
mod engine;
mod error;
mod fast;
mod fields;
mod memo;
mod name;
mod template;
mod zone;

#[cfg(test)]
mod reference_tests;

pub use describe::{describe_pattern, PatternName};
pub use detector::{DateDetector, DateHit, HitTime, Speculation, Speculator};
pub use error::{Error, ErrorKind};
pub use zone::{local_zone, Zone};
