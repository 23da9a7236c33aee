//! What the callback receives for each line.

use std::path::Path;

use crate::fingerprint::Fingerprint;

/// A stable number for one followed file, unique within a [`Tailer`](crate::Tailer).
///
/// A file keeps its id when it is renamed to another followed path; a new file at a path gets
/// a new id. Useful to keep per-file state (such as a multi-line buffer) without hashing paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub(crate) u32);

impl FileId {
    /// The id as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// One complete line, borrowed from the tailer's buffers for the duration of the callback.
#[derive(Debug, Clone, Copy)]
pub struct LineRef<'a> {
    pub(crate) file: FileId,
    pub(crate) path: &'a Path,
    pub(crate) fingerprint: &'a Fingerprint,
    pub(crate) bytes: &'a [u8],
    pub(crate) text: &'a str,
    pub(crate) offset: u64,
    pub(crate) truncated: bool,
}

impl<'a> LineRef<'a> {
    /// The file the line comes from.
    pub fn file(&self) -> FileId {
        self.file
    }

    /// The path the file is followed under (its current name).
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The file's identity, for storing [`offset`](Self::offset) as a position.
    pub fn fingerprint(&self) -> &'a Fingerprint {
        self.fingerprint
    }

    /// The raw bytes, without the newline and trailing carriage returns.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The line decoded with the configured [`Encoding`](crate::Encoding).
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The byte offset just after this line in the file: where reading resumes after a
    /// restart once this line is handled.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the line was longer than the maximum and was cut; the rest up to its newline
    /// is skipped.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}
