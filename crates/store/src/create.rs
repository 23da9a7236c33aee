//! Creating a new database file with one `fsync` instead of six.
//!
//! Left to itself, SQLite creates a file in WAL mode through a rollback journal (page 1 is
//! written under it) and then the WAL: journal, directory, database, WAL and directory again
//! are each flushed to the disk. On a slow disk that is most of a daemon's first start. Here
//! the new, empty schema is built in a private file beside the target with `synchronous=OFF`,
//! folded into the file (WAL checkpoint), flushed once, and linked into place under the
//! target's name. A crash at any point leaves either no database (built again on the next
//! start) or a complete one, never a torn file; a file that appeared meanwhile under the
//! target's name (another process was faster) is kept, and the private one removed.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::Error;
use crate::schema;

/// The private file a new database is built in: `<target>.new-<pid>`.
fn private_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(format!(".new-{}", std::process::id()));
    PathBuf::from(name)
}

fn remove_with_sidecars(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Creates the database at `target` with the latest schema in WAL mode, when no file exists
/// there. Returns without doing anything when one does (or appears meanwhile).
pub(crate) fn create_if_missing(target: &Path) -> Result<(), Error> {
    if target.exists() {
        return Ok(());
    }
    let private = private_path(target);
    let name = target.display().to_string();
    let io = |what: &str, e: std::io::Error| {
        Error::new("create", &name, crate::ErrorKind::Access).with_detail(format!("{what}: {e}"))
    };
    remove_with_sidecars(&private);
    let built = (|| -> Result<(), Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sqlite = |e| Error::sqlite("create", &name, e);
        let mut conn = Connection::open_with_flags(&private, flags).map_err(sqlite)?;
        // Nothing here needs to survive a crash: the file is not in place yet.
        conn.pragma_update(None, "synchronous", "OFF")
            .map_err(sqlite)?;
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sqlite)?;
        schema::migrate_to(&mut conn, &name, schema::LATEST)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(sqlite)?;
        drop(conn);
        // The one flush: the file is complete on the disk before it gets its name.
        File::open(&private)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("flushing the new database", e))
    })();
    let linked = built.and_then(|()| match std::fs::hard_link(&private, target) {
        Ok(()) => Ok(()),
        // Another process created it first: theirs is used.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io("moving the new database into place", e)),
    });
    remove_with_sidecars(&private);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_complete_in_wal_mode_and_leaves_no_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.sqlite3");
        create_if_missing(&target).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["state.sqlite3"]);
        let conn = Connection::open(&target).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::LATEST);
    }

    #[test]
    fn an_existing_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.sqlite3");
        std::fs::write(&target, b"not ours").unwrap();
        create_if_missing(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"not ours");
    }
}
