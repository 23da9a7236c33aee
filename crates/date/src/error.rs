//! The crate's error type.

/// An error building a [`DateDetector`](crate::DateDetector) or setting one of its options.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A `datepattern` used a `%` directive fail2ban does not know.
    #[error("unknown date directive `{directive}` in date pattern `{pattern}`")]
    UnknownDirective {
        /// The directive, e.g. `%Q`.
        directive: String,
        /// The whole pattern line.
        pattern: String,
    },
    /// Neither the `regex` crate nor the backtracking fallback could compile a template.
    #[error("date pattern `{pattern}` does not compile: {message}")]
    BadRegex {
        /// The whole pattern line.
        pattern: String,
        /// The engines' complaint.
        message: String,
    },
    /// The same pattern was given twice in one `datepattern`.
    #[error("duplicate date pattern `{pattern}`")]
    Duplicate {
        /// The repeated pattern line.
        pattern: String,
    },
    /// `datepattern` held no pattern at all.
    #[error("empty datepattern")]
    Empty,
    /// A `logtimezone` (or other zone) value is not understood.
    #[error("unknown time zone `{zone}`")]
    BadZone {
        /// The value given.
        zone: String,
    },
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error { kind }
    }
}
