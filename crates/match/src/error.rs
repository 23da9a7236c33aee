//! The crate's error type.

use std::fmt;

/// An error from building or running a matcher.
///
/// The [`ErrorKind`] says what went wrong; [`Error::context`] names the regex involved
/// (its role, index and text) when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    context: Option<String>,
}

/// What went wrong.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// An empty failregex/ignoreregex/prefregex (fail2ban: "Cannot add empty regex").
    #[error("Cannot add empty regex")]
    EmptyRegex,
    /// A failregex that captures no failure id (fail2ban's own message).
    #[error("No failure-id group in '{0}'")]
    NoFailureId(String),
    /// Python regex syntax this crate does not translate (or that Python rejects).
    #[error("cannot translate regex at offset {offset}: {reason}")]
    Syntax {
        /// Byte offset in the Python pattern.
        offset: usize,
        /// Why.
        reason: String,
    },
    /// The translated pattern was refused by the Rust engine.
    #[error("cannot compile regex: {0}")]
    Compile(String),
    /// The backtracking engine gave up on a line (its limit was hit). The line was
    /// neither matched nor rejected; callers should log and count it.
    #[error("backtracking limit hit")]
    LimitHit,
    /// An invalid `usedns` value.
    #[error("invalid usedns value '{0}' (expected yes, warn, no or raw)")]
    UseDns(String),
    /// An invalid filter option.
    #[error("invalid option: {0}")]
    Option(String),
}

impl Error {
    /// Creates an error of the given kind without context.
    pub fn new(kind: ErrorKind) -> Error {
        Error {
            kind,
            context: None,
        }
    }

    /// Attaches a description of the regex concerned, e.g. `failregex #2 '^foo <HOST>'`.
    pub fn with_context(mut self, context: impl Into<String>) -> Error {
        self.context = Some(context.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The regex concerned, if known.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.context {
            Some(c) => write!(f, "{c}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for Error {}
