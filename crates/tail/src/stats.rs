//! Counters a daemon can show in `status` and logs.

/// What a [`Tailer`](crate::Tailer) has done since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lines handed to the callback.
    pub lines: u64,
    /// Bytes read from files.
    pub bytes: u64,
    /// Lines longer than the maximum, delivered cut.
    pub truncated_lines: u64,
    /// Lines in which undecodable bytes were replaced by U+FFFD.
    pub replaced_lines: u64,
    /// Files that started to be followed.
    pub files_added: u64,
    /// Files that stopped being followed (gone from every followed path and drained).
    pub files_removed: u64,
    /// Files rewritten in place (copytruncate seen after the file regrew, or a first line that
    /// changed), read again from the start.
    pub rotations: u64,
    /// Files that became shorter than what was read, read again from the start.
    pub truncations: u64,
    /// Stored positions refused because the file's fingerprint changed.
    pub positions_refused: u64,
    /// Failed opens, stats and reads (each is retried on a later round).
    pub io_errors: u64,
}
