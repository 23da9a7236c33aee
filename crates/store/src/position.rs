//! Where each log was read up to.

use std::path::PathBuf;

/// What identifies a log file across renames and rotations.
///
/// The store does not compute it (that is `jailor-tail`'s job); it keeps it beside the offset,
/// so that a stored offset is only reused for the same file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The file's device and inode numbers (`st_dev`, `st_ino`), when known: a position carried
    /// over from fail2ban's database has only the first line's digest.
    pub dev_inode: Option<(u64, u64)>,
    /// A digest of the first line, newline included; empty while the first line is incomplete.
    pub first_line_hash: Vec<u8>,
}

/// How far a jail has read a log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPosition {
    /// The jail reading the file.
    pub jail: String,
    /// The path the jail reads (as configured or expanded from its glob). Any bytes are kept.
    pub path: PathBuf,
    /// The identity of the file the offset belongs to.
    pub fingerprint: Fingerprint,
    /// The byte offset after the last line processed.
    pub offset: u64,
}

/// How far a jail has read the systemd journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalCursor {
    /// The jail reading the journal.
    pub jail: String,
    /// The journal's cursor of the last entry processed (`__CURSOR`).
    pub cursor: String,
}
