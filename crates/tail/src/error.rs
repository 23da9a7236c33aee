//! The crate's error type.

use std::fmt;

/// An error from building a [`Tailer`](crate::Tailer) or parsing one of its settings.
///
/// Reading followed files never fails as a whole: a file that cannot be opened or read is
/// logged, counted in [`Stats`](crate::Stats) and retried on the next round.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<ErrorKind>);

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

/// The kinds of [`Error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `logencoding` names an encoding this crate does not decode.
    #[error("unknown logencoding {name:?}; supported: {}", Supported(supported))]
    UnknownEncoding {
        /// The name as given.
        name: String,
        /// The names that are accepted.
        supported: &'static [&'static str],
    },
    /// `backend` names something that is not a file backend.
    #[error("unknown backend {name:?} for log files; supported: auto, polling, pyinotify (inotify), gamin{hint}")]
    UnknownBackend {
        /// The name as given.
        name: String,
        /// Extra advice, empty or starting with "; ".
        hint: &'static str,
    },
    /// A `logpath` glob does not parse.
    #[error("bad logpath pattern {pattern:?}: {message}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// Why it does not parse.
        message: String,
    },
    /// A setting is out of range.
    #[error("bad setting {name}: {message}")]
    BadSetting {
        /// The setting's name.
        name: &'static str,
        /// Why the value is refused.
        message: String,
    },
    /// A `journalmatch` does not parse (each word must be `FIELD=value`, `+` between groups).
    #[error("bad journalmatch {text:?}: {message}")]
    BadJournalMatch {
        /// The journalmatch as given.
        text: String,
        /// Why it does not parse.
        message: String,
    },
    /// libsystemd's sd-journal refused an operation (opening, seeking, matching, waiting).
    #[error("journal: {what}: {source}")]
    Journal {
        /// What was being done, e.g. "open the journal files".
        what: String,
        /// The underlying error (libsystemd reports an errno).
        source: std::io::Error,
    },
    /// The operating system refused a resource the tailer needs (the wake-up event fd).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Displays a list of names separated by ", ".
struct Supported(&'static [&'static str]);

impl fmt::Display for Supported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}
