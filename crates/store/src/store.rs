//! The store: an open SQLite database, or nothing at all.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::batch::Change;
use crate::error::Error;
use crate::{
    schema, Ban, BanData, BanId, BanStats, Batch, DbFile, Durability, Fingerprint, FleetRecord,
    LogPosition, MergedBans, StoreOptions, Unban, PERMANENT,
};

/// jailor's persistent state: bans, ban counts, log positions and journal cursors.
///
/// A store is either a SQLite database (a file in WAL mode, or `:memory:`) or, for
/// `dbfile = None`, [disabled](Store::disabled): then every commit succeeds and stores nothing,
/// and every query finds nothing, so the daemon never branches on whether it has a database.
/// (As in fail2ban, `bantime.increment` then finds no earlier bans.)
///
/// Writes take `&mut self` and go through [`Store::commit`]: one transaction per [`Batch`],
/// done when `commit` returns. A store is `Send` but not `Sync`; give it to one thread.
#[derive(Debug)]
pub struct Store {
    inner: Option<Db>,
    /// A new database file a helper thread is creating (see [`Store::open_in_background`]).
    creating: Option<Creating>,
}

/// The helper thread creating a new database file, and the file's name.
#[derive(Debug)]
struct Creating {
    name: String,
    thread: std::thread::JoinHandle<Result<Store, Error>>,
}

/// An open database.
#[derive(Debug)]
struct Db {
    conn: Connection,
    /// The path or `:memory:`, for error messages.
    name: String,
    max_matches: usize,
}

/// Which jails [`Store::ban_stats`] sums over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One jail (`bantime.overalljails = false`).
    Jail(&'a str),
    /// Every jail (`bantime.overalljails = true`).
    AllJails,
}

/// How many records a [`Store::purge`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Ban records (with their ban counts) deleted.
    pub bans: u64,
    /// Entries of the ban history deleted.
    pub history: u64,
}

const BAN_COLUMNS: &str = "jail, target, time_of_ban, bantime, ban_count, failures, data";

impl Store {
    /// Opens (creating it if needed) the database file at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Error> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens (creating it if needed) the database file at `path`.
    ///
    /// The file must be empty, missing, or a jailor database; any other SQLite database
    /// (fail2ban's among them) is refused with [`crate::ErrorKind::ForeignDatabase`] before anything is
    /// written to it, a damaged one with [`crate::ErrorKind::Corrupt`], and any other file with
    /// [`crate::ErrorKind::NotADatabase`]. Pending schema upgrades run in one transaction.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store, Error> {
        let path = path.as_ref();
        let name = path.display().to_string();
        // A new file is built aside and flushed once (see `create`); a failure there leaves
        // the creation to SQLite below, slower but just as safe.
        let _ = crate::create::create_if_missing(path);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::sqlite("open", &name, e))?;
        Db::setup(conn, name, options, true).map(Store::from_db)
    }

    /// Like [`Store::open_with`], but a file that does not exist yet is created by a helper
    /// thread, so the caller goes on at once (creating a file costs a flush to the disk).
    ///
    /// Until the file is ready the store answers every query as the new, empty database it
    /// will be (no bans, no positions), which is exact since nothing else writes to it. The
    /// first write (commit, purge) waits for the file; an error creating it is returned
    /// there, once, and the store then keeps nothing, as [`Store::disabled`].
    pub fn open_in_background(
        path: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<Store, Error> {
        let path = path.as_ref();
        if path.exists() {
            return Store::open_with(path, options);
        }
        let owned = path.to_path_buf();
        let opts = options.clone();
        let spawned = std::thread::Builder::new()
            .name("store-create".into())
            .stack_size(256 * 1024)
            .spawn(move || Store::open_with(&owned, opts));
        match spawned {
            Ok(thread) => Ok(Store {
                inner: None,
                creating: Some(Creating {
                    name: path.display().to_string(),
                    thread,
                }),
            }),
            Err(_) => Store::open_with(path, options),
        }
    }

    /// Waits for a file being created in the background (nothing to do otherwise).
    fn settle(&mut self) -> Result<(), Error> {
        let Some(c) = self.creating.take() else {
            return Ok(());
        };
        match c.thread.join() {
            Ok(Ok(mut store)) => {
                self.inner = store.inner.take();
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::new("create", &c.name, crate::ErrorKind::Access)
                .with_detail("the thread creating it failed".to_owned())),
        }
    }

    /// Opens a private in-memory database (`dbfile = :memory:`) with default options.
    pub fn open_in_memory() -> Result<Store, Error> {
        Store::open_in_memory_with(StoreOptions::default())
    }

    /// Opens a private in-memory database (`dbfile = :memory:`), gone when the store drops.
    pub fn open_in_memory_with(options: StoreOptions) -> Result<Store, Error> {
        let name = ":memory:".to_owned();
        let conn = Connection::open_in_memory().map_err(|e| Error::sqlite("open", &name, e))?;
        Db::setup(conn, name, options, false).map(Store::from_db)
    }

    /// The store of `dbfile = None`: stores nothing and finds nothing.
    pub fn disabled() -> Store {
        Store {
            inner: None,
            creating: None,
        }
    }

    /// Opens what a `dbfile` setting names: a file, `:memory:`, or no store.
    pub fn from_dbfile(dbfile: &DbFile, options: StoreOptions) -> Result<Store, Error> {
        match dbfile {
            DbFile::Disabled => Ok(Store::disabled()),
            DbFile::Memory => Store::open_in_memory_with(options),
            DbFile::Path(path) => Store::open_with(path, options),
        }
    }

    fn from_db(db: Db) -> Store {
        Store {
            inner: Some(db),
            creating: None,
        }
    }

    /// Whether this store keeps anything (false for [`Store::disabled`]).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some() || self.creating.is_some()
    }

    /// The database's path, `:memory:`, or `None` when disabled.
    pub fn database(&self) -> Option<&str> {
        match &self.creating {
            Some(c) => Some(c.name.as_str()),
            None => self.inner.as_ref().map(|db| db.name.as_str()),
        }
    }

    /// Changes `dbmaxmatches` for bans committed from now on.
    pub fn set_max_matches(&mut self, max_matches: usize) {
        // A file that cannot be created keeps nothing: no matches to cap either.
        let _ = self.settle();
        if let Some(db) = &mut self.inner {
            db.max_matches = max_matches;
        }
    }

    /// Applies every change of `batch` in one transaction.
    ///
    /// When this returns `Ok`, the changes are committed: they survive the process being
    /// killed at any later moment (and, under [`Durability::Full`], a power loss). When it
    /// returns `Err`, none of them is applied.
    pub fn commit(&mut self, batch: &Batch) -> Result<(), Error> {
        if !batch.is_empty() {
            self.settle()?;
        }
        match &mut self.inner {
            Some(db) if !batch.is_empty() => db.commit(batch),
            _ => Ok(()),
        }
    }

    /// Records one ban in its own transaction. Prefer batching bans with positions.
    pub fn add_ban(&mut self, ban: Ban) -> Result<(), Error> {
        let mut batch = Batch::new();
        batch.ban(ban);
        self.commit(&batch)
    }

    /// Deletes ban records in their own transaction.
    pub fn remove_bans(&mut self, unban: Unban) -> Result<(), Error> {
        let mut batch = Batch::new();
        batch.unban(unban);
        self.commit(&batch)
    }

    /// The stored ban of `id` in `jail`, current or not.
    pub fn ban(&self, jail: &str, id: &BanId) -> Result<Option<Ban>, Error> {
        let Some(db) = &self.inner else {
            return Ok(None);
        };
        let sql = format!("SELECT {BAN_COLUMNS} FROM bans WHERE jail = ?1 AND target = ?2");
        let mut bans = db.query_bans("read a ban from", &sql, params![jail, id.to_string()])?;
        Ok(bans.pop())
    }

    /// The bans of all jails in force at `now` (permanent ones included), by jail and id.
    pub fn current_bans(&self, now: i64) -> Result<Vec<Ban>, Error> {
        let Some(db) = &self.inner else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {BAN_COLUMNS} FROM bans
             WHERE bantime = {PERMANENT} OR time_of_ban + bantime > ?1
             ORDER BY jail, target"
        );
        db.query_bans("list the current bans in", &sql, params![now])
    }

    /// The bans of `jail` to restore when it starts at `now`: those still in force, by id.
    ///
    /// They are returned as stored. The jail applies fail2ban's rules on top: a bantime above
    /// its current maximum (`bantime`, or `bantime.maxtime` under increment) is capped, and
    /// matches are cut to its `maxmatches`.
    pub fn bans_to_restore(&self, jail: &str, now: i64) -> Result<Vec<Ban>, Error> {
        let Some(db) = &self.inner else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {BAN_COLUMNS} FROM bans
             WHERE jail = ?1 AND (bantime = {PERMANENT} OR time_of_ban + bantime > ?2)
             ORDER BY target"
        );
        db.query_bans("list the bans to restore from", &sql, params![jail, now])
    }

    /// How often `id` was banned (its stored ban counts summed over `scope`), and when last;
    /// `None` when there is no record of it.
    pub fn ban_stats(&self, id: &BanId, scope: Scope<'_>) -> Result<Option<BanStats>, Error> {
        let Some(db) = &self.inner else {
            return Ok(None);
        };
        let op = "count the bans in";
        let select = "SELECT count(*), sum(ban_count), max(time_of_ban), sum(bantime) FROM bans";
        let target = id.to_string();
        let row = |r: &rusqlite::Row<'_>| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        };
        // Asked for every ban candidate: the statements stay prepared (SQLite's parser was
        // most of the keeper's time in a burst of bans).
        let (records, count, last, total) = match scope {
            Scope::Jail(jail) => db
                .conn
                .prepare_cached(&format!("{select} WHERE target = ?1 AND jail = ?2"))
                .and_then(|mut st| st.query_row(params![target, jail], row)),
            Scope::AllJails => db
                .conn
                .prepare_cached(&format!("{select} WHERE target = ?1"))
                .and_then(|mut st| st.query_row(params![target], row)),
        }
        .map_err(|e| db.err(op, e))?;
        if records == 0 {
            return Ok(None);
        }
        let ban_count = u64::try_from(count.unwrap_or(0))
            .map_err(|e| db.invalid(op, "a negative ban count".into(), e))?;
        Ok(Some(BanStats {
            ban_count,
            last_ban: last.unwrap_or(0),
            total_bantime: total.unwrap_or(0),
        }))
    }

    /// The matches and failures of `id` over its recorded bans, in `jail` or in every jail.
    ///
    /// Matches come from the newest ban first (each ban's lines in their order) and stop at
    /// `dbmaxmatches`; failures are summed over all of them.
    pub fn merged_bans(&self, id: &BanId, jail: Option<&str>) -> Result<MergedBans, Error> {
        let Some(db) = &self.inner else {
            return Ok(MergedBans::default());
        };
        let op = "merge the bans in";
        let mut stmt = db
            .conn
            .prepare_cached(
                "SELECT failures, data FROM ban_events
                 WHERE target = ?1 AND (?2 IS NULL OR jail = ?2)
                 ORDER BY time_of_ban DESC, rowid DESC",
            )
            .map_err(|e| db.err(op, e))?;
        let rows = stmt
            .query_map(params![id.to_string(), jail], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| db.err(op, e))?;
        let mut merged = MergedBans::default();
        for row in rows {
            let (failures, data) = row.map_err(|e| db.err(op, e))?;
            merged.failures = merged.failures.saturating_add(failures.max(0) as u64);
            let room = db.max_matches.saturating_sub(merged.matches.len());
            if room > 0 {
                let data = db.decode_data(op, &data)?;
                merged.matches.extend(data.matches.into_iter().take(room));
            }
        }
        Ok(merged)
    }

    /// The stored position of `jail` in `path`.
    pub fn position(&self, jail: &str, path: &Path) -> Result<Option<LogPosition>, Error> {
        let Some(db) = &self.inner else {
            return Ok(None);
        };
        let mut found = db.query_positions(
            "read a log position from",
            "SELECT jail, path, dev, inode, first_line_hash, offset FROM log_positions
             WHERE jail = ?1 AND path = ?2",
            params![jail, path.as_os_str().as_bytes()],
        )?;
        Ok(found.pop())
    }

    /// Every stored position of `jail`, by path.
    pub fn positions(&self, jail: &str) -> Result<Vec<LogPosition>, Error> {
        let Some(db) = &self.inner else {
            return Ok(Vec::new());
        };
        db.query_positions(
            "list the log positions in",
            "SELECT jail, path, dev, inode, first_line_hash, offset FROM log_positions
             WHERE jail = ?1 ORDER BY path",
            params![jail],
        )
    }

    /// The stored journal cursor of `jail`.
    pub fn journal_cursor(&self, jail: &str) -> Result<Option<String>, Error> {
        let Some(db) = &self.inner else {
            return Ok(None);
        };
        db.conn
            .query_row(
                "SELECT cursor FROM journal_cursors WHERE jail = ?1",
                params![jail],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db.err("read a journal cursor from", e))
    }

    /// The stored cursor of the fleet engine `engine`.
    pub fn fleet_cursor(&self, engine: &str) -> Result<Option<String>, Error> {
        let Some(db) = &self.inner else {
            return Ok(None);
        };
        db.conn
            .query_row(
                "SELECT cursor FROM fleet_cursors WHERE engine = ?1",
                params![engine],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db.err("read the fleet cursor from", e))
    }

    /// The fleet records of `jail` and `addr`, one per origin; every record when both are
    /// `None` (to compare with a snapshot of the fleet).
    pub fn fleet_records(&self, target: Option<(&str, &str)>) -> Result<Vec<FleetRecord>, Error> {
        let Some(db) = &self.inner else {
            return Ok(Vec::new());
        };
        let op = "read fleet bans from";
        let cols = "SELECT origin, jail, addr, ts_ms, id, banned, exp_ms FROM fleet_bans";
        let row = |r: &rusqlite::Row<'_>| {
            Ok(FleetRecord {
                origin: r.get(0)?,
                jail: r.get(1)?,
                addr: r.get(2)?,
                ts_ms: r.get(3)?,
                id: r.get(4)?,
                banned: r.get(5)?,
                exp_ms: r.get(6)?,
            })
        };
        let rows = match target {
            Some((jail, addr)) => {
                let sql = format!("{cols} WHERE jail = ?1 AND addr = ?2");
                let mut stmt = db.conn.prepare_cached(&sql).map_err(|e| db.err(op, e))?;
                let rows = stmt
                    .query_map(params![jail, addr], row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
                rows
            }
            None => {
                let mut stmt = db.conn.prepare_cached(cols).map_err(|e| db.err(op, e))?;
                let rows = stmt
                    .query_map([], row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
                rows
            }
        };
        rows.map_err(|e| db.err(op, e))
    }

    /// Deletes what is older than `age` seconds at `now` (fail2ban's `dbpurgeage`, run hourly).
    ///
    /// As in fail2ban: history entries go when their ban started before `now - age`; a ban
    /// record (and with it the id's ban count) goes when it also is not permanent and
    /// `time_of_ban + 3 × bantime` is before `now - age`, so long bans keep counting for a
    /// while after they end.
    pub fn purge(&mut self, now: i64, age: i64) -> Result<Purged, Error> {
        self.settle()?;
        let Some(db) = &mut self.inner else {
            return Ok(Purged::default());
        };
        let op = "purge old entries from";
        let cutoff = now.saturating_sub(age);
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Error::sqlite(op, &db.name, e))?;
        let run = |sql: &str| {
            tx.execute(sql, params![cutoff])
                .map(|n| n as u64)
                .map_err(|e| Error::sqlite(op, &db.name, e))
        };
        let history = run("DELETE FROM ban_events WHERE time_of_ban < ?1")?;
        // Fleet records of bans over before the cutoff only guard against stale replays.
        run("DELETE FROM fleet_bans WHERE exp_ms IS NOT NULL AND exp_ms < ?1 * 1000")?;
        let bans = run(&format!(
            "DELETE FROM bans WHERE time_of_ban < ?1 AND bantime != {PERMANENT}
             AND time_of_ban + 3 * bantime < ?1"
        ))?;
        tx.commit().map_err(|e| Error::sqlite(op, &db.name, e))?;
        Ok(Purged { bans, history })
    }

    /// Runs SQLite's `quick_check` over the whole file; damage is [`crate::ErrorKind::Corrupt`].
    pub fn check_integrity(&self) -> Result<(), Error> {
        match &self.inner {
            Some(db) => schema::check_integrity(&db.conn, &db.name),
            None => Ok(()),
        }
    }
}

impl Drop for Store {
    /// A file still being created is finished first: it is complete once the store is gone.
    fn drop(&mut self) {
        let _ = self.settle();
    }
}

/// Turns off the connection's lookaside allocator: its 48 KB, all written when the
/// connection opens, stayed in the idle daemon's resident set; the store's few statements
/// are prepared once and cached, so its speed-up for small allocations is not missed.
/// Only possible before the connection allocated anything from it (right after the open);
/// otherwise (never seen) the lookaside is simply kept.
fn without_lookaside(conn: &Connection) {
    // SAFETY: `handle` is the live connection's own pointer, used only for this call on the
    // thread that owns the connection; SQLITE_DBCONFIG_LOOKASIDE takes (buffer, slot size,
    // slot count), and a null buffer with 0 slots frees the lookaside memory.
    unsafe {
        rusqlite::ffi::sqlite3_db_config(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBCONFIG_LOOKASIDE,
            std::ptr::null_mut::<std::ffi::c_void>(),
            0 as std::ffi::c_int,
            0 as std::ffi::c_int,
        );
    }
}

impl Db {
    fn setup(
        mut conn: Connection,
        name: String,
        options: StoreOptions,
        file: bool,
    ) -> Result<Db, Error> {
        let op = "open";
        without_lookaside(&conn);
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| Error::sqlite(op, &name, e))?;
        // Before anything writes (even the journal mode), make sure the file is ours.
        schema::check_identity(&conn, &name)?;
        if file {
            schema::check_integrity(&conn, &name)?;
            // WAL: readers never block the writer, and a commit is one append to the log.
            // If the file system cannot do WAL, SQLite keeps a rollback journal, which is
            // just as safe, only slower.
            let _mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(|e| Error::sqlite(op, &name, e))?;
            let synchronous = match options.durability {
                Durability::Normal => "NORMAL",
                Durability::Full => "FULL",
            };
            conn.pragma_update(None, "synchronous", synchronous)
                .map_err(|e| Error::sqlite(op, &name, e))?;
        }
        schema::migrate_to(&mut conn, &name, schema::LATEST)?;
        Ok(Db {
            conn,
            name,
            max_matches: options.max_matches,
        })
    }

    fn err(&self, op: &'static str, e: rusqlite::Error) -> Error {
        Error::sqlite(op, &self.name, e)
    }

    fn invalid(
        &self,
        op: &'static str,
        what: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::invalid(op, &self.name, what, source)
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), Error> {
        let op = "commit a batch to";
        let name = self.name.as_str();
        let err = |e| Error::sqlite(op, name, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        for change in &batch.changes {
            match change {
                Change::Ban(ban) => {
                    let target = ban.id.to_string();
                    let data = encode_data(&ban.data, self.max_matches)
                        .map_err(|e| Error::invalid(op, name, "a ban's data".into(), e))?;
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO bans
                         (jail, target, time_of_ban, bantime, ban_count, failures, data)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            ban.jail,
                            target,
                            ban.time_of_ban,
                            ban.bantime,
                            ban.ban_count,
                            ban.failures,
                            data
                        ])
                    })
                    .map_err(err)?;
                    tx.prepare_cached(
                        "INSERT INTO ban_events (jail, target, time_of_ban, bantime, failures, data)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            ban.jail,
                            target,
                            ban.time_of_ban,
                            ban.bantime,
                            ban.failures,
                            data
                        ])
                    })
                    .map_err(err)?;
                }
                Change::Unban(unban) => {
                    let (filter, args): (&str, Vec<String>) = match unban {
                        Unban::One { jail, id } => (
                            "jail = ?1 AND target = ?2",
                            vec![jail.clone(), id.to_string()],
                        ),
                        Unban::Everywhere(id) => ("target = ?1", vec![id.to_string()]),
                        Unban::Jail(jail) => ("jail = ?1", vec![jail.clone()]),
                        Unban::All => ("1", Vec::new()),
                    };
                    for table in ["bans", "ban_events"] {
                        tx.prepare_cached(&format!("DELETE FROM {table} WHERE {filter}"))
                            .and_then(|mut s| s.execute(rusqlite::params_from_iter(&args)))
                            .map_err(err)?;
                    }
                }
                Change::Position(pos) => {
                    let offset = i64::try_from(pos.offset).map_err(|e| {
                        Error::invalid(op, name, format!("log offset {}", pos.offset), e)
                    })?;
                    // dev and inode are stored bit for bit in SQLite's signed integers.
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO log_positions
                         (jail, path, dev, inode, first_line_hash, offset)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            pos.jail,
                            pos.path.as_os_str().as_bytes(),
                            pos.fingerprint.dev_inode.map(|(dev, _)| dev as i64),
                            pos.fingerprint.dev_inode.map(|(_, inode)| inode as i64),
                            pos.fingerprint.first_line_hash,
                            offset
                        ])
                    })
                    .map_err(err)?;
                }
                Change::Cursor(cursor) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO journal_cursors (jail, cursor) VALUES (?1, ?2)",
                    )
                    .and_then(|mut s| s.execute(params![cursor.jail, cursor.cursor]))
                    .map_err(err)?;
                }
                Change::FleetRecord(r) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO fleet_bans
                         (origin, jail, addr, ts_ms, id, banned, exp_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            r.origin, r.jail, r.addr, r.ts_ms, r.id, r.banned, r.exp_ms
                        ])
                    })
                    .map_err(err)?;
                }
                Change::FleetForget { origin, jail, addr } => {
                    tx.prepare_cached(
                        "DELETE FROM fleet_bans WHERE origin = ?1 AND jail = ?2 AND addr = ?3",
                    )
                    .and_then(|mut s| s.execute(params![origin, jail, addr]))
                    .map_err(err)?;
                }
                Change::FleetCursor(c) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO fleet_cursors (engine, cursor) VALUES (?1, ?2)",
                    )
                    .and_then(|mut s| s.execute(params![c.engine, c.cursor]))
                    .map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)
    }

    fn query_bans(
        &self,
        op: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Ban>, Error> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params, |r| {
                Ok(RawBan {
                    jail: r.get(0)?,
                    target: r.get(1)?,
                    time_of_ban: r.get(2)?,
                    bantime: r.get(3)?,
                    ban_count: r.get(4)?,
                    failures: r.get(5)?,
                    data: r.get(6)?,
                })
            })
            .map_err(|e| self.err(op, e))?;
        let mut bans = Vec::new();
        for raw in rows {
            let raw = raw.map_err(|e| self.err(op, e))?;
            bans.push(Ban {
                id: BanId::parse(&raw.target),
                time_of_ban: raw.time_of_ban,
                bantime: raw.bantime,
                ban_count: u32::try_from(raw.ban_count).map_err(|e| {
                    self.invalid(
                        op,
                        format!("ban count {} of {}", raw.ban_count, raw.target),
                        e,
                    )
                })?,
                failures: u32::try_from(raw.failures).map_err(|e| {
                    self.invalid(
                        op,
                        format!("failures {} of {}", raw.failures, raw.target),
                        e,
                    )
                })?,
                data: self.decode_data(op, &raw.data)?,
                jail: raw.jail,
            });
        }
        Ok(bans)
    }

    fn query_positions(
        &self,
        op: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<LogPosition>, Error> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(|e| self.err(op, e))?;
        let mut positions = Vec::new();
        for row in rows {
            let (jail, path, dev, inode, first_line_hash, offset) =
                row.map_err(|e| self.err(op, e))?;
            let offset = u64::try_from(offset)
                .map_err(|e| self.invalid(op, format!("log offset {offset}"), e))?;
            positions.push(LogPosition {
                jail,
                path: PathBuf::from(std::ffi::OsStr::from_bytes(&path)),
                fingerprint: Fingerprint {
                    dev_inode: dev
                        .zip(inode)
                        .map(|(dev, inode)| (dev as u64, inode as u64)),
                    first_line_hash,
                },
                offset,
            });
        }
        Ok(positions)
    }

    fn decode_data(&self, op: &'static str, json: &str) -> Result<BanData, Error> {
        serde_json::from_str(json).map_err(|e| self.invalid(op, "a ban's stored data".into(), e))
    }
}

/// A ban row as SQLite returns it, before its values are checked.
struct RawBan {
    jail: String,
    target: String,
    time_of_ban: i64,
    bantime: i64,
    ban_count: i64,
    failures: i64,
    data: String,
}

/// The JSON of a ban's data, keeping only the newest `max_matches` matched lines.
fn encode_data(data: &BanData, max_matches: usize) -> Result<String, serde_json::Error> {
    #[derive(serde::Serialize)]
    struct Stored<'a> {
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        matches: &'a [String],
        #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        fields: &'a std::collections::BTreeMap<String, String>,
    }
    let keep = data.matches.len().saturating_sub(max_matches);
    serde_json::to_string(&Stored {
        matches: &data.matches[keep..],
        fields: &data.fields,
    })
}

#[cfg(test)]
impl Store {
    /// The open connection, for tests that damage the schema on purpose.
    pub(crate) fn inner_conn(&self) -> Option<&Connection> {
        self.inner.as_ref().map(|db| &db.conn)
    }
}
