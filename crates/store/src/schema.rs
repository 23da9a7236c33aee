//! The schema, its versions, and the checks that a file is ours before it is changed.
//!
//! The schema version is SQLite's `PRAGMA user_version`; `PRAGMA application_id` marks the file
//! as jailor's. Each entry of [`MIGRATIONS`] takes the schema from version `i` to `i + 1`; all
//! pending ones run in one transaction at open, so a crash mid-upgrade leaves the old version.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, ErrorKind};

/// `PRAGMA application_id` of a jailor database: "JAIL" in ASCII.
pub(crate) const APPLICATION_ID: i64 = 0x4A41_494C;

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 0 -> 1: bans (one record per jail and id) and log positions.
    "PRAGMA application_id = 1245792588;
     CREATE TABLE bans(
         jail TEXT NOT NULL,
         target TEXT NOT NULL,
         time_of_ban INTEGER NOT NULL,
         bantime INTEGER NOT NULL,
         ban_count INTEGER NOT NULL,
         failures INTEGER NOT NULL,
         data TEXT NOT NULL,
         PRIMARY KEY(jail, target)
     ) WITHOUT ROWID;
     CREATE INDEX bans_target ON bans(target);
     CREATE TABLE log_positions(
         jail TEXT NOT NULL,
         path BLOB NOT NULL,
         dev INTEGER,
         inode INTEGER,
         first_line_hash BLOB NOT NULL,
         offset INTEGER NOT NULL,
         PRIMARY KEY(jail, path)
     ) WITHOUT ROWID;",
    // 1 -> 2: journal cursors, and a history of every ban (for `<ipmatches>` and friends),
    // started from the bans already recorded.
    "CREATE TABLE journal_cursors(
         jail TEXT NOT NULL PRIMARY KEY,
         cursor TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE ban_events(
         jail TEXT NOT NULL,
         target TEXT NOT NULL,
         time_of_ban INTEGER NOT NULL,
         bantime INTEGER NOT NULL,
         failures INTEGER NOT NULL,
         data TEXT NOT NULL
     );
     CREATE INDEX ban_events_target ON ban_events(target, time_of_ban);
     CREATE INDEX ban_events_time ON ban_events(time_of_ban);
     INSERT INTO ban_events(jail, target, time_of_ban, bantime, failures, data)
         SELECT jail, target, time_of_ban, bantime, failures, data FROM bans;",
    // 2 -> 3: the fleet's received bans and engine cursors, so that they are committed in
    // the same transaction as the jail bans they cause.
    "CREATE TABLE fleet_bans(
         origin TEXT NOT NULL,
         jail TEXT NOT NULL,
         addr TEXT NOT NULL,
         ts_ms INTEGER NOT NULL,
         id TEXT NOT NULL,
         banned INTEGER NOT NULL,
         exp_ms INTEGER,
         PRIMARY KEY(origin, jail, addr)
     ) WITHOUT ROWID;
     CREATE INDEX fleet_bans_target ON fleet_bans(jail, addr);
     CREATE TABLE fleet_cursors(
         engine TEXT NOT NULL PRIMARY KEY,
         cursor TEXT NOT NULL
     ) WITHOUT ROWID;",
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Refuses a file that is not a fresh database or one of ours, before anything writes to it.
///
/// This read is also the first one: a file that is not SQLite fails here with `NotADatabase`.
pub(crate) fn check_identity(conn: &Connection, db: &str) -> Result<(), Error> {
    let op = "open";
    let err = |e| Error::sqlite(op, db, e);
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(err)?;
    if app_id == APPLICATION_ID {
        return Ok(());
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(err)?;
    if app_id == 0 && version == 0 && objects == 0 {
        return Ok(());
    }
    let fail2ban = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fail2banDb'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map_err(err)?
        .is_some();
    Err(Error::new(op, db, ErrorKind::ForeignDatabase { fail2ban }))
}

/// Runs SQLite's `quick_check`; a damaged file is `Corrupt`.
pub(crate) fn check_integrity(conn: &Connection, db: &str) -> Result<(), Error> {
    let op = "check the integrity of";
    let mut stmt = conn
        .prepare("PRAGMA quick_check")
        .map_err(|e| Error::sqlite(op, db, e))?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| Error::sqlite(op, db, e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        Ok(())
    } else {
        let mut e = Error::new(op, db, ErrorKind::Corrupt);
        e = e.with_detail(problems.join("; "));
        Err(e)
    }
}

/// Brings the schema to `target` (normally [`LATEST`]) in one immediate transaction.
pub(crate) fn migrate_to(conn: &mut Connection, db: &str, target: i64) -> Result<(), Error> {
    let op = "upgrade the schema of";
    let err = |e| Error::sqlite(op, db, e);
    // Only an upgrade takes the write lock, so opening never waits for another writer.
    let current: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    if current == target {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    // Read under the write lock: another process may have upgraded the file meanwhile.
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    if version > LATEST {
        return Err(Error::new(
            "open",
            db,
            ErrorKind::NewerSchema {
                found: version,
                supported: LATEST,
            },
        ));
    }
    if version >= target {
        return Ok(());
    }
    let (Ok(from), Ok(to)) = (usize::try_from(version), usize::try_from(target)) else {
        let what = format!("schema version {version}");
        return Err(Error::new(op, db, ErrorKind::InvalidValue(what)));
    };
    for step in &MIGRATIONS[from..to] {
        tx.execute_batch(step).map_err(err)?;
    }
    tx.pragma_update(None, "user_version", target)
        .map_err(err)?;
    tx.commit().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn application_id_literal_matches_the_constant() {
        assert!(MIGRATIONS[0].contains(&format!("application_id = {APPLICATION_ID};")));
    }

    #[test]
    fn each_step_raises_the_version_by_one() {
        let mut conn = Connection::open_in_memory().unwrap();
        for v in 1..=LATEST {
            migrate_to(&mut conn, ":memory:", v).unwrap();
            assert_eq!(user_version(&conn), v);
        }
        check_identity(&conn, ":memory:").unwrap();
    }

    #[test]
    fn version_one_bans_reach_the_history_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, "old", 1).unwrap();
            conn.execute(
                "INSERT INTO bans VALUES ('sshd', '192.0.2.1', 100, 600, 2, 7, '{\"matches\":[\"x\"]}')",
                [],
            )
            .unwrap();
        }
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, "old", LATEST).unwrap();
        assert_eq!(user_version(&conn), LATEST);
        let (jail, failures): (String, i64) = conn
            .query_row(
                "SELECT jail, failures FROM ban_events WHERE target = '192.0.2.1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((jail.as_str(), failures), ("sshd", 7));
        conn.execute("INSERT INTO journal_cursors VALUES ('j', 'c')", [])
            .unwrap();
    }

    #[test]
    fn store_open_upgrades_a_version_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, "v1", 1).unwrap();
            conn.execute(
                "INSERT INTO bans VALUES ('sshd', '192.0.2.1', 100, -1, 3, 4, '{\"matches\":[\"m\"]}')",
                [],
            )
            .unwrap();
        }
        let store = crate::Store::open(&path).unwrap();
        let id = crate::BanId::parse("192.0.2.1");
        let ban = store.ban("sshd", &id).unwrap().unwrap();
        assert_eq!((ban.bantime, ban.ban_count, ban.failures), (-1, 3, 4));
        let merged = store.merged_bans(&id, None).unwrap();
        assert_eq!((merged.matches, merged.failures), (vec!["m".to_owned()], 4));
        assert_eq!(store.journal_cursor("sshd").unwrap(), None);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), LATEST);
    }

    #[test]
    fn fleet_records_and_cursor_commit_with_the_bans_or_not_at_all() {
        let mut store = crate::Store::open_in_memory().unwrap();
        let rec = crate::FleetRecord {
            origin: "a".into(),
            jail: "sshd".into(),
            addr: "192.0.2.7/32".into(),
            ts_ms: 1_000,
            id: "a:1".into(),
            banned: true,
            exp_ms: Some(9_000_000),
        };
        let cursor = |c: &str| crate::FleetCursor {
            engine: "nats".into(),
            cursor: c.into(),
        };
        let ban = crate::Ban {
            jail: "sshd".into(),
            id: crate::BanId::parse("192.0.2.7"),
            time_of_ban: 1,
            bantime: 600,
            ban_count: 1,
            failures: 0,
            data: crate::BanData::default(),
        };
        let mut batch = crate::Batch::new();
        batch.fleet_record(rec.clone()).fleet_cursor(cursor("7"));
        batch.ban(ban.clone());
        store.commit(&batch).unwrap();
        assert_eq!(store.fleet_cursor("nats").unwrap().as_deref(), Some("7"));
        assert_eq!(
            store.fleet_records(Some(("sshd", "192.0.2.7/32"))).unwrap(),
            std::slice::from_ref(&rec)
        );
        assert!(rec.older_than(1_000, "a:2") && !rec.older_than(1_000, "a:1"));
        // A batch that fails after its fleet changes (its ban's history table is gone)
        // leaves neither the newer record nor the cursor behind.
        let mut later = rec.clone();
        later.ts_ms = 2_000;
        let mut batch = crate::Batch::new();
        batch.fleet_record(later).fleet_cursor(cursor("9"));
        batch.ban(ban);
        if let Some(db) = &store.inner_conn() {
            db.execute_batch("DROP TABLE ban_events").unwrap();
        }
        assert!(store.commit(&batch).is_err());
        assert_eq!(store.fleet_cursor("nats").unwrap().as_deref(), Some("7"));
        assert_eq!(store.fleet_records(None).unwrap(), [rec]);
        let mut batch = crate::Batch::new();
        batch.fleet_forget("a", "sshd", "192.0.2.7/32");
        store.commit(&batch).unwrap();
        assert!(store.fleet_records(None).unwrap().is_empty());
    }

    #[test]
    fn a_failed_step_leaves_the_old_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, ":memory:", 1).unwrap();
        // A table the next step wants to create makes that step fail.
        conn.execute_batch("CREATE TABLE journal_cursors(x)")
            .unwrap();
        let err = migrate_to(&mut conn, ":memory:", LATEST).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Sqlite);
        assert_eq!(user_version(&conn), 1);
    }

    #[test]
    fn negative_schema_version_is_an_error_not_a_panic() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", -3).unwrap();
        let err = migrate_to(&mut conn, ":memory:", LATEST).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidValue(_)), "{err}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        let err = migrate_to(&mut conn, ":memory:", LATEST).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::NewerSchema {
                found: LATEST + 1,
                supported: LATEST
            }
        );
    }
}
