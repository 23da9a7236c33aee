//! Reading fail2ban's own database, to bring its bans into a jailor [`Store`].
//!
//! fail2ban keeps, per jail and address, its latest ban with the address's ban count in the
//! `bips` table (schema version 4). That is exactly what a jailor ban record is, so an import
//! copies each `bips` row into one [`Ban`]: the bans still in force come back when jailor
//! starts, and the expired ones keep counting for `bantime.increment`.
//!
//! The fail2ban database is opened read-only and never changed. An import is idempotent: a
//! row the store already holds (same start, length and count) is skipped, and so is a row
//! older than what jailor has recorded since.
//!
//! ```no_run
//! use jailor_store::{Fail2banDb, Store};
//!
//! let f2b = Fail2banDb::open("/var/lib/fail2ban/fail2ban.sqlite3")?;
//! let mut store = Store::open("/var/lib/jailor/jailor.sqlite3")?;
//! let plan = jailor_store::plan_import(&store, f2b.bans()?, |_jail| Some(600))?;
//! let written = plan.apply(&mut store)?;
//! println!("{written} bans imported");
//! # Ok::<(), jailor_store::Error>(())
//! ```

use std::net::IpAddr;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::Error;
use crate::{Ban, BanData, BanId, Batch, ErrorKind, Store, PERMANENT};

/// fail2ban's bantime for a ban whose length it no longer knows (rows upgraded from schema
/// version 2); fail2ban reads it as the jail's current bantime.
pub const UNKNOWN_BANTIME: i64 = -2;

/// fail2ban's database, open read-only.
#[derive(Debug)]
pub struct Fail2banDb {
    conn: Connection,
    name: String,
    version: i64,
}

impl Fail2banDb {
    /// Opens fail2ban's database at `path` read-only.
    ///
    /// Fails with [`ErrorKind::ForeignDatabase`] (`fail2ban: false`) when the file is a SQLite
    /// database without fail2ban's `fail2banDb` table, and with [`ErrorKind::InvalidValue`]
    /// for a fail2ban schema older than version 3 (run fail2ban once to upgrade it).
    pub fn open(path: impl AsRef<Path>) -> Result<Fail2banDb, Error> {
        let path = path.as_ref();
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(
                Error::new("open", &name, ErrorKind::Access).with_detail("no such file".to_owned())
            );
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::sqlite("open", &name, e))?;
        let has = |table: &str| -> Result<bool, Error> {
            conn.query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |_| Ok(()),
            )
            .optional()
            .map(|row| row.is_some())
            .map_err(|e| Error::sqlite("read the schema of", &name, e))
        };
        if !has("fail2banDb")? {
            return Err(Error::new(
                "import from",
                &name,
                ErrorKind::ForeignDatabase { fail2ban: false },
            ));
        }
        let version: i64 = conn
            .query_row("SELECT version FROM fail2banDb LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| Error::sqlite("read the schema version of", &name, e))?
            .unwrap_or(0);
        if version < 3 || !has("bans")? {
            return Err(Error::new(
                "import from",
                &name,
                ErrorKind::InvalidValue(format!(
                    "fail2ban schema version {version} is too old; start fail2ban once to upgrade it"
                )),
            ));
        }
        // Version 3 has no `bips` table yet; the `bans` history stands in for it.
        let version = if has("bips")? { version.max(4) } else { 3 };
        Ok(Fail2banDb {
            conn,
            name,
            version,
        })
    }

    /// The database's path, for messages.
    pub fn database(&self) -> &str {
        &self.name
    }

    /// fail2ban's schema version (3 or 4).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Every ban fail2ban remembers: per jail and address, its latest ban with the address's
    /// ban count, by jail and address. Expired bans are included (their counts matter for
    /// `bantime.increment`); [`Ban::is_active`] tells the ones still in force.
    ///
    /// A bantime of [`UNKNOWN_BANTIME`] is returned as stored. v4-mapped IPv6 addresses are
    /// given as IPv4, as jailor stores them. Rows without an address are skipped.
    pub fn bans(&self) -> Result<Vec<Ban>, Error> {
        let sql = if self.version >= 4 {
            "SELECT jail, ip, timeofban, bantime, bancount, data FROM bips
             WHERE ip IS NOT NULL ORDER BY jail, ip"
        } else {
            // SQLite takes the bare columns from the row holding MAX(timeofban).
            "SELECT jail, ip, MAX(timeofban), bantime, COUNT(*), data FROM bans
             WHERE ip IS NOT NULL GROUP BY jail, ip ORDER BY jail, ip"
        };
        let op = "read the bans of";
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| Error::sqlite(op, &self.name, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    // fail2ban writes the JSON as text or, encoded, as a blob.
                    match r.get::<_, rusqlite::types::Value>(5)? {
                        rusqlite::types::Value::Text(t) => Some(t),
                        rusqlite::types::Value::Blob(b) => {
                            Some(String::from_utf8_lossy(&b).into_owned())
                        }
                        _ => None,
                    },
                ))
            })
            .map_err(|e| Error::sqlite(op, &self.name, e))?;
        let mut bans = Vec::new();
        for row in rows {
            let (jail, ip, time_of_ban, bantime, count, data) =
                row.map_err(|e| Error::sqlite(op, &self.name, e))?;
            let (data, failures) = parse_data(data.as_deref());
            bans.push(Ban {
                jail,
                id: normalise(&ip),
                time_of_ban,
                bantime,
                ban_count: u32::try_from(count.max(1)).unwrap_or(u32::MAX),
                failures,
                data,
            });
        }
        Ok(bans)
    }
}

/// Reads an address as jailor stores it: v4-mapped IPv6 as IPv4, anything else as given.
fn normalise(text: &str) -> BanId {
    match BanId::parse(text.trim()) {
        BanId::Ip(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => BanId::Ip(IpAddr::V4(v4)),
            None => BanId::Ip(IpAddr::V6(v6)),
        },
        other => other,
    }
}

/// Splits fail2ban's ticket data (JSON) into matched lines, captured fields and the failure
/// count. Data that is not a JSON object is ignored: it never blocks an import.
fn parse_data(text: Option<&str>) -> (BanData, u32) {
    let mut data = BanData::default();
    let mut failures = 0;
    let Some(serde_json::Value::Object(map)) = text.and_then(|t| serde_json::from_str(t).ok())
    else {
        return (data, failures);
    };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("matches", serde_json::Value::Array(lines)) => {
                data.matches = lines
                    .into_iter()
                    .map(|line| match line {
                        serde_json::Value::String(s) => s,
                        // fail2ban keeps multi-line matches as lists of lines.
                        serde_json::Value::Array(parts) => parts
                            .iter()
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(""),
                        other => other.to_string(),
                    })
                    .collect();
            }
            ("failures", value) => {
                failures = value
                    .as_u64()
                    .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
            }
            (_, serde_json::Value::Null) => {}
            (_, serde_json::Value::String(s)) => {
                data.fields.insert(key, s);
            }
            (_, other) => {
                data.fields.insert(key, other.to_string());
            }
        }
    }
    (data, failures)
}

/// What an import does with one of fail2ban's bans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportDecision {
    /// The store has no record of this address in this jail: the ban is added.
    Add,
    /// The store's record is older: it is replaced.
    Replace,
    /// The store already holds this very ban (an earlier import).
    AlreadyImported,
    /// The store holds a later ban of this address in this jail: it is kept.
    StoreIsNewer,
    /// fail2ban does not know the ban's length ([`UNKNOWN_BANTIME`]) and the jail is not
    /// configured, so there is no bantime to give it.
    UnknownBantime,
}

impl ImportDecision {
    /// Whether the ban is written to the store.
    pub fn writes(self) -> bool {
        matches!(self, ImportDecision::Add | ImportDecision::Replace)
    }
}

/// One of fail2ban's bans and what the import does with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBan {
    /// The ban as it will be stored (an unknown bantime already resolved to the jail's).
    pub ban: Ban,
    /// What the import does with it.
    pub decision: ImportDecision,
}

/// What an import will do, computed before anything is written (a dry run prints it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// fail2ban's bans in its order (by jail and address), each with its decision.
    pub bans: Vec<PlannedBan>,
}

impl ImportPlan {
    /// The bans that will be written.
    pub fn to_write(&self) -> impl Iterator<Item = &Ban> {
        self.bans
            .iter()
            .filter(|p| p.decision.writes())
            .map(|p| &p.ban)
    }

    /// Writes the planned bans into `store` in one transaction; returns how many.
    pub fn apply(&self, store: &mut Store) -> Result<usize, Error> {
        let mut batch = Batch::new();
        for ban in self.to_write() {
            batch.ban(ban.clone());
        }
        store.commit(&batch)?;
        Ok(batch.len())
    }
}

/// Decides, for each of fail2ban's `bans`, whether it goes into `store`.
///
/// `jail_bantime` gives a configured jail's bantime, for fail2ban's rows of unknown length
/// ([`UNKNOWN_BANTIME`]). Nothing is written: see [`ImportPlan::apply`].
pub fn plan_import(
    store: &Store,
    bans: Vec<Ban>,
    jail_bantime: impl Fn(&str) -> Option<i64>,
) -> Result<ImportPlan, Error> {
    let mut plan = ImportPlan::default();
    for mut ban in bans {
        let decision = if ban.bantime == UNKNOWN_BANTIME {
            match jail_bantime(&ban.jail) {
                Some(bantime) => {
                    ban.bantime = bantime;
                    None
                }
                None => Some(ImportDecision::UnknownBantime),
            }
        } else {
            None
        };
        let decision = match decision {
            Some(d) => d,
            None => match store.ban(&ban.jail, &ban.id)? {
                None => ImportDecision::Add,
                Some(held)
                    if held.time_of_ban == ban.time_of_ban
                        && held.bantime == ban.bantime
                        && held.ban_count == ban.ban_count =>
                {
                    ImportDecision::AlreadyImported
                }
                Some(held) if held.time_of_ban > ban.time_of_ban => ImportDecision::StoreIsNewer,
                Some(held) if held.time_of_ban == ban.time_of_ban && held.bantime == PERMANENT => {
                    ImportDecision::StoreIsNewer
                }
                Some(_) => ImportDecision::Replace,
            },
        };
        plan.bans.push(PlannedBan { ban, decision });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fail2ban database written from the schema of its documentation (version 4).
    fn fail2ban_db(dir: &Path, rows: &[(&str, &str, i64, i64, i64, &str)]) -> std::path::PathBuf {
        let path = dir.join("fail2ban.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE fail2banDb(version INTEGER);
             INSERT INTO fail2banDb(version) VALUES (4);
             CREATE TABLE jails(name TEXT NOT NULL UNIQUE, enabled INTEGER NOT NULL DEFAULT 1);
             CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL,
               bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON);
             CREATE TABLE bips(ip TEXT NOT NULL, jail TEXT NOT NULL, timeofban INTEGER NOT NULL,
               bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON,
               PRIMARY KEY(ip, jail));",
        )
        .unwrap();
        for (i, (jail, ip, t, bt, n, data)) in rows.iter().enumerate() {
            // fail2ban stores the JSON encoded (a blob); text must read the same.
            let data: rusqlite::types::Value = if i % 2 == 0 {
                data.as_bytes().to_vec().into()
            } else {
                data.to_string().into()
            };
            conn.execute(
                "INSERT INTO bips(ip, jail, timeofban, bantime, bancount, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![ip, jail, t, bt, n, data],
            )
            .unwrap();
        }
        path
    }

    #[test]
    fn reads_bips_rows_with_counts_data_and_mapped_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let path = fail2ban_db(
            dir.path(),
            &[
                (
                    "sshd",
                    "192.0.2.1",
                    1000,
                    600,
                    3,
                    r#"{"matches": ["line a", ["multi ", "line"]], "failures": 5, "user": "root", "port": 22}"#,
                ),
                ("web", "::ffff:198.51.100.9", 2000, -1, 1, "not json"),
                ("web", "mail@example.org", 2000, 60, 1, "null"),
            ],
        );
        let db = Fail2banDb::open(&path).unwrap();
        assert_eq!(db.version(), 4);
        let bans = db.bans().unwrap();
        assert_eq!(bans.len(), 3);
        let ssh = &bans[0];
        assert_eq!(ssh.id, BanId::parse("192.0.2.1"));
        assert_eq!(
            (ssh.time_of_ban, ssh.bantime, ssh.ban_count),
            (1000, 600, 3)
        );
        assert_eq!(ssh.failures, 5);
        assert_eq!(ssh.data.matches, vec!["line a", "multi line"]);
        assert_eq!(
            ssh.data.fields.get("user").map(String::as_str),
            Some("root")
        );
        assert_eq!(ssh.data.fields.get("port").map(String::as_str), Some("22"));
        let ids: Vec<String> = bans[1..].iter().map(|b| b.id.to_string()).collect();
        assert!(ids.contains(&"198.51.100.9".to_owned()), "{ids:?}");
        assert!(ids.contains(&"mail@example.org".to_owned()), "{ids:?}");
        assert!(bans[1..].iter().any(|b| b.bantime == PERMANENT));
    }

    #[test]
    fn the_file_is_opened_read_only_and_left_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = fail2ban_db(dir.path(), &[("sshd", "192.0.2.1", 1000, 600, 1, "{}")]);
        let before = std::fs::read(&path).unwrap();
        let db = Fail2banDb::open(&path).unwrap();
        assert!(db.conn.execute("DELETE FROM bips", []).is_err());
        drop(db);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn refuses_other_databases_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.sqlite3");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t(x);")
            .unwrap();
        let err = Fail2banDb::open(&other).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ForeignDatabase { fail2ban: false });
        let err = Fail2banDb::open(dir.path().join("missing")).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Access);
        let text = dir.path().join("text");
        std::fs::write(&text, "hello, this is not sqlite at all........").unwrap();
        assert!(Fail2banDb::open(&text).is_err());
    }

    #[test]
    fn version_3_databases_use_the_ban_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE fail2banDb(version INTEGER); INSERT INTO fail2banDb VALUES (3);
             CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL,
               bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON);
             INSERT INTO bans VALUES ('sshd', '192.0.2.1', 100, -2, 1, '{}');
             INSERT INTO bans VALUES ('sshd', '192.0.2.1', 300, 60, 1, '{}');
             INSERT INTO bans VALUES ('sshd', '192.0.2.2', 200, -2, 1, '{}');",
        )
        .unwrap();
        drop(conn);
        let db = Fail2banDb::open(&path).unwrap();
        assert_eq!(db.version(), 3);
        let bans = db.bans().unwrap();
        assert_eq!(bans.len(), 2);
        assert_eq!(
            (bans[0].time_of_ban, bans[0].bantime, bans[0].ban_count),
            (300, 60, 2)
        );
        assert_eq!(
            (bans[1].time_of_ban, bans[1].bantime, bans[1].ban_count),
            (200, -2, 1)
        );
    }

    fn ban(jail: &str, ip: &str, time_of_ban: i64, bantime: i64, count: u32) -> Ban {
        Ban {
            jail: jail.into(),
            id: BanId::parse(ip),
            time_of_ban,
            bantime,
            ban_count: count,
            failures: 1,
            data: BanData::default(),
        }
    }

    #[test]
    fn a_second_import_writes_nothing() {
        let mut store = Store::open_in_memory().unwrap();
        let bans = vec![
            ban("sshd", "192.0.2.1", 1000, 600, 2),
            ban("sshd", "192.0.2.2", 1000, PERMANENT, 1),
        ];
        let plan = plan_import(&store, bans.clone(), |_| None).unwrap();
        assert_eq!(plan.apply(&mut store).unwrap(), 2);
        assert_eq!(store.current_bans(1100).unwrap(), bans);
        let again = plan_import(&store, bans, |_| None).unwrap();
        assert!(again
            .bans
            .iter()
            .all(|p| p.decision == ImportDecision::AlreadyImported));
        assert_eq!(again.apply(&mut store).unwrap(), 0);
    }

    #[test]
    fn newer_jailor_bans_win_and_older_ones_are_replaced() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .add_ban(ban("sshd", "192.0.2.1", 5000, 600, 4))
            .unwrap();
        store
            .add_ban(ban("sshd", "192.0.2.2", 100, 600, 1))
            .unwrap();
        let plan = plan_import(
            &store,
            vec![
                ban("sshd", "192.0.2.1", 1000, 600, 2),
                ban("sshd", "192.0.2.2", 1000, 600, 2),
                ban("web", "192.0.2.2", 1000, UNKNOWN_BANTIME, 1),
                ban("other", "192.0.2.2", 1000, UNKNOWN_BANTIME, 1),
            ],
            |jail| (jail == "web").then_some(3600),
        )
        .unwrap();
        let decisions: Vec<_> = plan.bans.iter().map(|p| p.decision).collect();
        assert_eq!(
            decisions,
            [
                ImportDecision::StoreIsNewer,
                ImportDecision::Replace,
                ImportDecision::Add,
                ImportDecision::UnknownBantime
            ]
        );
        assert_eq!(plan.bans[2].ban.bantime, 3600);
        assert_eq!(plan.apply(&mut store).unwrap(), 2);
        let held = store
            .ban("sshd", &BanId::parse("192.0.2.1"))
            .unwrap()
            .unwrap();
        assert_eq!(held.ban_count, 4);
        let replaced = store
            .ban("sshd", &BanId::parse("192.0.2.2"))
            .unwrap()
            .unwrap();
        assert_eq!((replaced.time_of_ban, replaced.ban_count), (1000, 2));
    }
}
