//! Following log files the way fail2ban's `polling` and `pyinotify` backends do, robustly
//! and cheaply.
//!
//! A [`Tailer`] follows a set of `logpath` patterns (paths or globs, each `head` or `tail`)
//! and hands every complete line to a callback as a [`LineRef`], borrowed from a large
//! reusable buffer. Files are identified by device, inode and first line ([`Fingerprint`]);
//! rotation by rename, copytruncate, truncation, deletion and re-creation are followed
//! without losing or repeating a line. [`Position`]s let a daemon resume after a restart.
//!
//! Polling is the truth; inotify only wakes the tailer early ([`Backend`]).
//!
//! ```no_run
//! use jailor_tail::{Backend, StartAt, Tailer};
//!
//! let mut tailer = Tailer::builder()
//!     .path("/var/log/auth.log", StartAt::Tail)
//!     .backend(Backend::Auto)
//!     .build()?;
//! let stop = tailer.stop_handle();
//! # stop.stop();
//! tailer.run(|line| println!("{}: {}", line.path().display(), line.text()), |_| {});
//! # Ok::<(), jailor_tail::Error>(())
//! ```
#![deny(missing_docs)]

mod backend;
mod encoding;
mod error;
mod fingerprint;
mod follow;
mod journal;
mod line;
mod seek;
mod stats;
mod tailer;
mod wake;

pub use backend::Backend;
pub use encoding::Encoding;
pub use error::{Error, ErrorKind};
pub use fingerprint::{FileKey, Fingerprint, HEAD_CAP};
pub use journal::{
    Identity, JournalEntry, JournalEvent, JournalMatch, JournalOptions, JournalReader,
    JournalStart, JournalStats, SkippedFile, JOURNAL_CURRENT_USER, JOURNAL_LOCAL_ONLY,
    JOURNAL_RUNTIME_ONLY, JOURNAL_SYSTEM,
};
pub use line::{FileId, LineRef};
pub use seek::Recency;
pub use stats::Stats;
pub use tailer::{Position, StartAt, Tailer, TailerBuilder, DEFAULT_MAX_LINE};
pub use wake::StopHandle;
