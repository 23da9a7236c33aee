//! The systemd journal as a log source (fail2ban's `backend = systemd`).
//!
//! A [`JournalReader`] opens the journal through libsystemd's sd-journal (the machine's,
//! a `journalpath` folder or `journalfiles`), keeps the entries `journalmatch` selects
//! ([`JournalMatch`]) and hands each on as a [`JournalEntry`]: the line fail2ban builds for
//! `logtype = journal` plus the entry's own time, so no date is parsed. Its cursor lets a
//! daemon resume exactly where it stopped.
//!
//! libsystemd is loaded when a journal is first opened (`sd_journal.rs`), not linked: the
//! daemon's start does not pay for it unless a jail reads the journal.
//!
//! sd-journal rather than a pure-Rust reader: it is the reference implementation of the
//! format (compact mode, compression, hash tables, rotation, dirty files), and fail2ban reads
//! through it too; the pure-Rust readers on crates.io are young and read only part of the
//! format. Parsing `journalctl` output would cost a process and a text round trip per entry.

mod format;
mod matches;
mod options;
mod probe;
mod reader;
mod sd_journal;

pub use format::Identity;
pub use matches::JournalMatch;
pub use options::{
    JournalOptions, JournalStart, JOURNAL_CURRENT_USER, JOURNAL_LOCAL_ONLY, JOURNAL_RUNTIME_ONLY,
    JOURNAL_SYSTEM,
};
pub use reader::{JournalEntry, JournalEvent, JournalReader, JournalStats, SkippedFile};
