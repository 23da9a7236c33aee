//! Where the store lives and how it writes.

use std::path::PathBuf;
use std::time::Duration;

/// fail2ban's `dbfile` setting: a path, `:memory:`, or `None` for no store at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbFile {
    /// `dbfile = None` (any letter case): nothing is stored; see [`Store::disabled`](crate::Store::disabled).
    Disabled,
    /// `dbfile = :memory:`: a private database that lives as long as the store.
    Memory,
    /// A database file.
    Path(PathBuf),
}

impl DbFile {
    /// Reads a `dbfile` value as fail2ban writes it (surrounding blanks ignored).
    pub fn parse(value: &str) -> DbFile {
        let value = value.trim();
        if value.eq_ignore_ascii_case("none") {
            DbFile::Disabled
        } else if value == ":memory:" {
            DbFile::Memory
        } else {
            DbFile::Path(PathBuf::from(value))
        }
    }
}

/// How hard a commit waits for the disk (SQLite's `synchronous` in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`, the default. A committed transaction has reached the operating
    /// system before `commit` returns, so it survives the daemon being killed at any moment
    /// (`kill -9`, a panic, the OOM killer). A power loss or kernel crash may roll back the
    /// last transactions, never half of one: bans and log positions go back together, and the
    /// lines that led to the lost bans are read again and ban again. That is why jailor does
    /// not pay an `fsync` per batch by default.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is also flushed to the disk (one `fsync` of the WAL
    /// per commit), so it survives a power loss too.
    Full,
}

/// Settings of an open store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// fail2ban's `dbmaxmatches`: how many matched lines a ban keeps (the newest). 0 keeps none.
    pub max_matches: usize,
    /// How long a statement waits for another connection's lock before failing with
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy).
    pub busy_timeout: Duration,
    /// When a commit counts as done.
    pub durability: Durability,
}

impl StoreOptions {
    /// fail2ban's default `dbmaxmatches`.
    pub const DEFAULT_MAX_MATCHES: usize = 10;
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            max_matches: StoreOptions::DEFAULT_MAX_MATCHES,
            busy_timeout: Duration::from_secs(5),
            durability: Durability::Normal,
        }
    }
}
