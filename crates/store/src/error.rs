//! The crate's one error type.

use std::fmt;

/// An error from the store: what failed, on which database, and why.
///
/// The `Display` text names the database (its path, or `:memory:`) and the operation, for
/// example `cannot open /var/lib/jailor/state.sqlite3: the file is not a SQLite database`.
/// The underlying SQLite or JSON error, when there is one, is the [`source`].
///
/// [`source`]: std::error::Error::source
#[derive(Debug, thiserror::Error)]
#[error("cannot {operation} {database}: {kind}")]
pub struct Error {
    operation: &'static str,
    database: String,
    kind: ErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What kind of failure an [`Error`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file exists but is not a SQLite database (SQLite's `SQLITE_NOTADB`).
    NotADatabase,
    /// The database file is damaged (SQLite's `SQLITE_CORRUPT`, or a failed integrity check).
    Corrupt,
    /// The file is a SQLite database written by another program. `fail2ban` is true when it
    /// is fail2ban's own database, which jailor does not write into.
    ForeignDatabase {
        /// The database holds fail2ban's `fail2banDb` table.
        fail2ban: bool,
    },
    /// The schema is newer than this build knows: a newer jailor wrote it.
    NewerSchema {
        /// The schema version found in the file (`PRAGMA user_version`).
        found: i64,
        /// The newest version this build can read.
        supported: i64,
    },
    /// The database stayed locked by another connection past the busy timeout.
    Busy,
    /// The file could not be opened or written: permissions, a missing folder, a read-only
    /// file system, a full disk, or an I/O error.
    Access,
    /// A value could not be stored or a stored value could not be read back (a number out of
    /// range, invalid JSON in a ban's data).
    InvalidValue(String),
    /// Any other SQLite failure.
    Sqlite,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotADatabase => f.write_str("the file is not a SQLite database"),
            ErrorKind::Corrupt => f.write_str("the database file is corrupt"),
            ErrorKind::ForeignDatabase { fail2ban: true } => f.write_str(
                "this is fail2ban's database; give jailor its own dbfile (fail2ban's can be imported)",
            ),
            ErrorKind::ForeignDatabase { fail2ban: false } => {
                f.write_str("the file is a SQLite database of another program")
            }
            ErrorKind::NewerSchema { found, supported } => write!(
                f,
                "schema version {found} is newer than this jailor supports ({supported})"
            ),
            ErrorKind::Busy => f.write_str("the database is locked by another process"),
            ErrorKind::Access => f.write_str("the file cannot be accessed"),
            ErrorKind::InvalidValue(what) => write!(f, "invalid value: {what}"),
            ErrorKind::Sqlite => f.write_str("SQLite failed"),
        }
    }
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The operation that failed, for example `"open"` or `"commit a batch to"`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The database the operation ran on: its path, or `:memory:`.
    pub fn database(&self) -> &str {
        &self.database
    }

    pub(crate) fn new(operation: &'static str, database: &str, kind: ErrorKind) -> Error {
        Error {
            operation,
            database: database.to_owned(),
            kind,
            source: None,
        }
    }

    /// Wraps a SQLite error, sorting it into a kind by its result code.
    pub(crate) fn sqlite(operation: &'static str, database: &str, err: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode as C;
        let kind = match err.sqlite_error_code() {
            Some(C::NotADatabase) => ErrorKind::NotADatabase,
            Some(C::DatabaseCorrupt) => ErrorKind::Corrupt,
            Some(C::DatabaseBusy | C::DatabaseLocked) => ErrorKind::Busy,
            Some(
                C::CannotOpen
                | C::PermissionDenied
                | C::ReadOnly
                | C::SystemIoFailure
                | C::DiskFull
                | C::NoLargeFileSupport,
            ) => ErrorKind::Access,
            _ => match &err {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
                | rusqlite::Error::InvalidColumnType(..) => {
                    ErrorKind::InvalidValue("a stored column has an unexpected value".into())
                }
                _ => ErrorKind::Sqlite,
            },
        };
        Error {
            source: Some(Box::new(err)),
            ..Error::new(operation, database, kind)
        }
    }

    /// Attaches a text as the source, for failures that SQLite reports as rows, not errors.
    pub(crate) fn with_detail(mut self, detail: String) -> Error {
        self.source = Some(Box::new(Detail(detail)));
        self
    }

    /// An invalid value, with the error that detected it.
    pub(crate) fn invalid(
        operation: &'static str,
        database: &str,
        what: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error {
            source: Some(Box::new(source)),
            ..Error::new(operation, database, ErrorKind::InvalidValue(what))
        }
    }
}

/// A failure's details given as text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Detail(String);
