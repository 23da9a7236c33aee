//! The crate's one error type.

use std::path::PathBuf;

/// An error of the control protocol: a bad command line, a broken or refused connection, a
/// frame over the size cap, a version mismatch.
///
/// The `Display` text is what `fail2ban-client` prints for the same failure where it has one,
/// for example `Failed to access socket path: /run/fail2ban/fail2ban.sock. Is fail2ban running?`
/// or `Sorry but the command is invalid`.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
    #[source]
    source: Option<std::io::Error>,
}

/// What kind of failure an [`Error`] is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The command words do not form a command fail2ban knows; the text is fail2ban's.
    #[error("{0}")]
    InvalidCommand(String),
    /// A command's value is malformed (a count that is not a number, an unknown log level);
    /// the text is fail2ban's.
    #[error("{0}")]
    InvalidValue(String),
    /// No daemon listens on the socket: it is missing or refuses connections.
    #[error("Failed to access socket path: {}. Is fail2ban running?", .0.display())]
    NotRunning(PathBuf),
    /// The socket exists but this user may not use it (file mode or peer-credential check).
    #[error("Permission denied to socket: {}, (you must be root)", .0.display())]
    PermissionDenied(PathBuf),
    /// A live daemon already answers on the socket a server wants to bind.
    #[error("Server already running: {} answers", .0.display())]
    AlreadyRunning(PathBuf),
    /// The socket path is taken by something that is not a socket; it is left alone.
    #[error("{} exists and is not a socket", .0.display())]
    NotASocket(PathBuf),
    /// A frame announced more bytes than the cap allows.
    #[error("frame of {size} bytes exceeds the cap of {cap} bytes")]
    FrameTooLarge {
        /// The announced size.
        size: u64,
        /// The cap in force.
        cap: u64,
    },
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: this side speaks {ours}, the peer speaks {theirs}")]
    VersionMismatch {
        /// This side's version.
        ours: u32,
        /// The peer's version (0 when it sent no version at all).
        theirs: u32,
    },
    /// A frame is not the JSON this protocol expects.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The peer closed the connection before the exchange completed.
    #[error("the connection was closed by the peer")]
    Closed,
    /// No answer came within the timeout.
    #[error("Unable to contact server. Is it running? (no answer within the timeout)")]
    Timeout,
    /// Any other I/O failure; the text names the operation.
    #[error("{0}")]
    Io(String),
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// An I/O failure during `what`, keeping the OS error as the source.
    pub(crate) fn io(what: impl std::fmt::Display, source: std::io::Error) -> Error {
        let kind = match source.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionReset => ErrorKind::Closed,
            _ => ErrorKind::Io(format!("{what}: {source}")),
        };
        Error {
            kind,
            source: Some(source),
        }
    }

    /// A `InvalidCommand` error with fail2ban's text.
    pub(crate) fn invalid_command(text: impl Into<String>) -> Error {
        ErrorKind::InvalidCommand(text.into()).into()
    }

    /// A `InvalidValue` error with fail2ban's text.
    pub(crate) fn invalid_value(text: impl Into<String>) -> Error {
        ErrorKind::InvalidValue(text.into()).into()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error { kind, source: None }
    }
}
