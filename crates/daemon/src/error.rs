//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// An error that keeps the daemon from starting (later errors are logged, not returned).
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
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

/// The kinds of [`Error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration cannot be read.
    Config(jailor_config::Error),
    /// `loglevel` or `logtarget` is not usable.
    Logging(String),
    /// Another server answers on the control socket.
    SocketExists(PathBuf),
    /// A file the server must write (pidfile, socket folder) cannot be written.
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Signal handlers cannot be installed, or the process cannot go to the background.
    System(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Config(e) => write!(f, "configuration: {e}"),
            ErrorKind::Logging(m) => write!(f, "logging: {m}"),
            ErrorKind::SocketExists(p) => write!(
                f,
                "Server already running (a server answers on {})",
                p.display()
            ),
            ErrorKind::Io { what, source } => write!(f, "{what}: {source}"),
            ErrorKind::System(m) => f.write_str(m),
        }
    }
}
