//! Every operation of the store, on real SQLite files in temporary folders.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use jailor_store::{
    Ban, BanData, BanId, BanStats, Batch, DbFile, Durability, ErrorKind, Fingerprint,
    JournalCursor, LogPosition, Purged, Scope, Store, StoreOptions, Unban, PERMANENT,
};

const T0: i64 = 1_700_000_000;

fn ip(text: &str) -> BanId {
    BanId::Ip(text.parse::<IpAddr>().unwrap())
}

fn ban(jail: &str, id: BanId, time_of_ban: i64, bantime: i64) -> Ban {
    Ban {
        jail: jail.into(),
        id,
        time_of_ban,
        bantime,
        ban_count: 1,
        failures: 3,
        data: BanData::default(),
    }
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jailor.sqlite3");
    (dir, path)
}

fn position(jail: &str, path: &str, offset: u64) -> LogPosition {
    LogPosition {
        jail: jail.into(),
        path: PathBuf::from(path),
        fingerprint: Fingerprint {
            dev_inode: Some((0xfd01, u64::MAX - 5)),
            first_line_hash: vec![0xde, 0xad, 0xbe, 0xef],
        },
        offset,
    }
}

#[test]
fn ban_survives_reopen_with_all_fields() {
    let (_dir, path) = temp_db();
    let mut fields = BTreeMap::new();
    fields.insert("user".to_owned(), "rööt \"x\"".to_owned());
    let stored = Ban {
        jail: "sshd".into(),
        id: ip("2001:db8::7"),
        time_of_ban: T0,
        bantime: 600,
        ban_count: 4,
        failures: 9,
        data: BanData {
            matches: vec!["line one".into(), "line two\twith tab".into()],
            fields,
        },
    };
    Store::open(&path).unwrap().add_ban(stored.clone()).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.ban("sshd", &ip("2001:db8::7")).unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.ban("nginx", &ip("2001:db8::7")).unwrap(), None);
    assert_eq!(store.current_bans(T0 + 1).unwrap(), vec![stored]);
}

#[test]
fn raw_ids_round_trip_as_raw() {
    let store_path = temp_db();
    let mut store = Store::open(&store_path.1).unwrap();
    let id = BanId::Raw("session-42 from somewhere".into());
    store.add_ban(ban("custom", id.clone(), T0, 60)).unwrap();
    let got = store.ban("custom", &id).unwrap().unwrap();
    assert_eq!(got.id, id);
}

#[test]
fn current_bans_exclude_expired_and_include_permanent() {
    let mut store = Store::open_in_memory().unwrap();
    let mut batch = Batch::new();
    batch
        .ban(ban("sshd", ip("192.0.2.1"), T0, 600))
        .ban(ban("sshd", ip("192.0.2.2"), T0 - 1000, 600))
        .ban(ban("sshd", ip("192.0.2.3"), T0 - 10_000_000, PERMANENT))
        // Any other negative bantime is already over, as in fail2ban.
        .ban(ban("sshd", ip("192.0.2.4"), T0, -5))
        .ban(ban("nginx", ip("192.0.2.1"), T0, 60));
    store.commit(&batch).unwrap();

    let ids = |bans: Vec<Ban>| -> Vec<(String, String)> {
        bans.into_iter()
            .map(|b| (b.jail, b.id.to_string()))
            .collect()
    };
    assert_eq!(
        ids(store.current_bans(T0 + 10).unwrap()),
        vec![
            ("nginx".into(), "192.0.2.1".into()),
            ("sshd".into(), "192.0.2.1".into()),
            ("sshd".into(), "192.0.2.3".into()),
        ]
    );
    // The nginx ban ends at T0 + 60: at that second it is over.
    assert_eq!(
        ids(store.current_bans(T0 + 60).unwrap()),
        vec![
            ("sshd".into(), "192.0.2.1".into()),
            ("sshd".into(), "192.0.2.3".into()),
        ]
    );
    assert_eq!(
        ids(store.bans_to_restore("sshd", T0 + 599).unwrap()),
        vec![
            ("sshd".into(), "192.0.2.1".into()),
            ("sshd".into(), "192.0.2.3".into()),
        ]
    );
    assert_eq!(
        ids(store.bans_to_restore("sshd", T0 + 600).unwrap()),
        vec![("sshd".into(), "192.0.2.3".into())]
    );
    assert!(store.bans_to_restore("absent", T0).unwrap().is_empty());
}

#[test]
fn a_new_ban_replaces_the_jails_record_for_that_id() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .add_ban(ban("sshd", ip("192.0.2.9"), T0, 600))
        .unwrap();
    let mut second = ban("sshd", ip("192.0.2.9"), T0 + 700, 1200);
    second.ban_count = 2;
    store.add_ban(second.clone()).unwrap();
    assert_eq!(store.current_bans(T0 + 701).unwrap(), vec![second]);
}

#[test]
fn ban_stats_per_jail_and_over_all_jails() {
    let mut store = Store::open_in_memory().unwrap();
    let mut a = ban("sshd", ip("198.51.100.1"), T0, 600);
    a.ban_count = 3;
    let mut b = ban("postfix", ip("198.51.100.1"), T0 + 50, 1200);
    b.ban_count = 2;
    let mut batch = Batch::new();
    batch
        .ban(a)
        .ban(b)
        .ban(ban("sshd", ip("198.51.100.2"), T0 + 99, 600));
    store.commit(&batch).unwrap();

    let id = ip("198.51.100.1");
    assert_eq!(
        store.ban_stats(&id, Scope::Jail("sshd")).unwrap(),
        Some(BanStats {
            ban_count: 3,
            last_ban: T0,
            total_bantime: 600
        })
    );
    assert_eq!(
        store.ban_stats(&id, Scope::AllJails).unwrap(),
        Some(BanStats {
            ban_count: 5,
            last_ban: T0 + 50,
            total_bantime: 1800
        })
    );
    assert_eq!(store.ban_stats(&id, Scope::Jail("nginx")).unwrap(), None);
    assert_eq!(
        store
            .ban_stats(&ip("203.0.113.1"), Scope::AllJails)
            .unwrap(),
        None
    );
}

#[test]
fn unbans_delete_what_they_name() {
    let mut store = Store::open_in_memory().unwrap();
    let mut batch = Batch::new();
    for jail in ["sshd", "nginx", "postfix"] {
        for n in 1..=3 {
            batch.ban(ban(jail, ip(&format!("192.0.2.{n}")), T0, 600));
        }
    }
    store.commit(&batch).unwrap();
    let count = |store: &Store| store.current_bans(T0).unwrap().len();
    assert_eq!(count(&store), 9);

    store
        .remove_bans(Unban::One {
            jail: "sshd".into(),
            id: ip("192.0.2.1"),
        })
        .unwrap();
    assert_eq!(count(&store), 8);
    assert_eq!(store.ban("sshd", &ip("192.0.2.1")).unwrap(), None);
    assert!(store.ban("nginx", &ip("192.0.2.1")).unwrap().is_some());
    // The unban also forgets the id's ban count in that jail.
    assert_eq!(
        store
            .ban_stats(&ip("192.0.2.1"), Scope::Jail("sshd"))
            .unwrap(),
        None
    );

    store
        .remove_bans(Unban::Everywhere(ip("192.0.2.2")))
        .unwrap();
    assert_eq!(count(&store), 5);
    store.remove_bans(Unban::Jail("nginx".into())).unwrap();
    assert_eq!(count(&store), 3);
    let left: Vec<(String, String)> = store
        .current_bans(T0)
        .unwrap()
        .into_iter()
        .map(|b| (b.jail, b.id.to_string()))
        .collect();
    assert_eq!(
        left,
        vec![
            ("postfix".into(), "192.0.2.1".into()),
            ("postfix".into(), "192.0.2.3".into()),
            ("sshd".into(), "192.0.2.3".into()),
        ]
    );
    store.remove_bans(Unban::All).unwrap();
    assert_eq!(count(&store), 0);
    assert_eq!(
        store.merged_bans(&ip("192.0.2.3"), None).unwrap().failures,
        0
    );
}

#[test]
fn changes_apply_in_batch_order() {
    let mut store = Store::open_in_memory().unwrap();
    let mut batch = Batch::new();
    batch
        .ban(ban("sshd", ip("192.0.2.1"), T0, 600))
        .unban(Unban::Everywhere(ip("192.0.2.1")))
        .ban(ban("sshd", ip("192.0.2.2"), T0, 600))
        .unban(Unban::All)
        .ban(ban("sshd", ip("192.0.2.3"), T0, 600));
    assert_eq!(batch.len(), 5);
    store.commit(&batch).unwrap();
    let left: Vec<String> = store
        .current_bans(T0)
        .unwrap()
        .into_iter()
        .map(|b| b.id.to_string())
        .collect();
    assert_eq!(left, vec!["192.0.2.3"]);
}

#[test]
fn positions_and_cursors_round_trip_and_replace() {
    let (_dir, path) = temp_db();
    {
        let mut store = Store::open(&path).unwrap();
        let mut batch = Batch::new();
        batch
            .position(position("sshd", "/var/log/auth.log", 10))
            .position(position("sshd", "/var/log/auth.log", 4096))
            .position(position("sshd", "/var/log/secure", 7))
            .position(position("nginx", "/var/log/auth.log", 1))
            .journal_cursor(JournalCursor {
                jail: "sshd".into(),
                cursor: "s=abc;i=1".into(),
            })
            .journal_cursor(JournalCursor {
                jail: "sshd".into(),
                cursor: "s=abc;i=2".into(),
            });
        store.commit(&batch).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store
            .position("sshd", Path::new("/var/log/auth.log"))
            .unwrap(),
        Some(position("sshd", "/var/log/auth.log", 4096))
    );
    assert_eq!(
        store.position("sshd", Path::new("/var/log/none")).unwrap(),
        None
    );
    assert_eq!(
        store.positions("sshd").unwrap(),
        vec![
            position("sshd", "/var/log/auth.log", 4096),
            position("sshd", "/var/log/secure", 7)
        ]
    );
    assert_eq!(
        store.journal_cursor("sshd").unwrap().as_deref(),
        Some("s=abc;i=2")
    );
    assert_eq!(store.journal_cursor("nginx").unwrap(), None);
}

#[test]
fn a_fingerprint_without_dev_and_inode_round_trips() {
    let mut store = Store::open_in_memory().unwrap();
    let mut pos = position("sshd", "/var/log/auth.log", 12);
    pos.fingerprint = Fingerprint {
        dev_inode: None,
        first_line_hash: vec![1; 16],
    };
    let mut batch = Batch::new();
    batch.position(pos.clone());
    store.commit(&batch).unwrap();
    assert_eq!(
        store
            .position("sshd", Path::new("/var/log/auth.log"))
            .unwrap(),
        Some(pos)
    );
}

#[test]
fn non_utf8_paths_round_trip() {
    use std::os::unix::ffi::OsStrExt;
    let mut store = Store::open_in_memory().unwrap();
    let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/var/log/\xff\xfe.log"));
    let mut pos = position("sshd", "/", 99);
    pos.path = odd.clone();
    let mut batch = Batch::new();
    batch.position(pos.clone());
    store.commit(&batch).unwrap();
    assert_eq!(store.position("sshd", &odd).unwrap(), Some(pos));
}

#[test]
fn offsets_beyond_sqlite_integers_fail_the_whole_batch() {
    let mut store = Store::open_in_memory().unwrap();
    let mut batch = Batch::new();
    batch
        .ban(ban("sshd", ip("192.0.2.1"), T0, 600))
        .position(position("sshd", "/var/log/auth.log", u64::MAX));
    let err = store.commit(&batch).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidValue(_)), "{err}");
    assert!(
        err.to_string().contains("commit a batch to :memory:"),
        "{err}"
    );
    // Nothing of the batch is kept, not even the ban before the bad position.
    assert!(store.current_bans(T0).unwrap().is_empty());
}

#[test]
fn matches_are_cut_to_the_newest_max_matches() {
    let options = StoreOptions {
        max_matches: 3,
        ..StoreOptions::default()
    };
    let mut store = Store::open_in_memory_with(options).unwrap();
    let mut b = ban("sshd", ip("192.0.2.1"), T0, 600);
    b.data.matches = (1..=5).map(|n| format!("failure {n}")).collect();
    store.add_ban(b.clone()).unwrap();
    let got = store.ban("sshd", &ip("192.0.2.1")).unwrap().unwrap();
    assert_eq!(
        got.data.matches,
        vec!["failure 3", "failure 4", "failure 5"]
    );

    store.set_max_matches(0);
    store.add_ban(b).unwrap();
    let got = store.ban("sshd", &ip("192.0.2.1")).unwrap().unwrap();
    assert!(got.data.matches.is_empty());
}

#[test]
fn merged_bans_take_newest_first_up_to_max_matches() {
    let options = StoreOptions {
        max_matches: 4,
        ..StoreOptions::default()
    };
    let mut store = Store::open_in_memory_with(options).unwrap();
    let with = |jail: &str, t: i64, failures: u32, lines: &[&str]| {
        let mut b = ban(jail, ip("192.0.2.5"), t, 60);
        b.failures = failures;
        b.data.matches = lines.iter().map(|l| l.to_string()).collect();
        b
    };
    let mut batch = Batch::new();
    batch
        .ban(with("sshd", T0, 2, &["a1", "a2"]))
        .ban(with("sshd", T0 + 100, 3, &["b1", "b2", "b3"]))
        .ban(with("nginx", T0 + 50, 5, &["n1"]));
    store.commit(&batch).unwrap();

    let all = store.merged_bans(&ip("192.0.2.5"), None).unwrap();
    assert_eq!(all.failures, 10);
    assert_eq!(all.matches, vec!["b1", "b2", "b3", "n1"]);
    let sshd = store.merged_bans(&ip("192.0.2.5"), Some("sshd")).unwrap();
    assert_eq!(sshd.failures, 5);
    assert_eq!(sshd.matches, vec!["b1", "b2", "b3", "a1"]);
}

#[test]
fn purge_follows_dbpurgeage() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let day = 86_400;
    let now = T0 + 10 * day;
    let mut batch = Batch::new();
    batch
        // Recent: kept everywhere.
        .ban(ban("sshd", ip("192.0.2.1"), now - 3600, 600))
        // Old and short: both the record and its history go.
        .ban(ban("sshd", ip("192.0.2.2"), now - 2 * day, 600))
        // Old but long: 3 × bantime reaches past the cutoff, so the record (its ban count)
        // stays; its history goes.
        .ban(ban("sshd", ip("192.0.2.3"), now - 2 * day, day))
        // Old and permanent: the record stays.
        .ban(ban("sshd", ip("192.0.2.4"), now - 9 * day, PERMANENT));
    store.commit(&batch).unwrap();

    let purged = store.purge(now, day).unwrap();
    assert_eq!(
        purged,
        Purged {
            bans: 1,
            history: 3
        }
    );
    let left: Vec<String> = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
        .into_iter()
        .filter(|a| store.ban("sshd", &ip(a)).unwrap().is_some())
        .map(String::from)
        .collect();
    assert_eq!(left, vec!["192.0.2.1", "192.0.2.3", "192.0.2.4"]);
    assert_eq!(
        store.merged_bans(&ip("192.0.2.3"), None).unwrap().failures,
        0
    );
    assert_eq!(
        store.merged_bans(&ip("192.0.2.1"), None).unwrap().failures,
        3
    );
    // Purging again finds nothing more.
    assert_eq!(store.purge(now, day).unwrap(), Purged::default());
}

#[test]
fn memory_databases_are_private_and_temporary() {
    let mut one = Store::open_in_memory().unwrap();
    let two = Store::open_in_memory().unwrap();
    one.add_ban(ban("sshd", ip("192.0.2.1"), T0, 600)).unwrap();
    assert_eq!(one.current_bans(T0).unwrap().len(), 1);
    assert!(two.current_bans(T0).unwrap().is_empty());
    assert_eq!(one.database(), Some(":memory:"));
    let three = Store::from_dbfile(&DbFile::parse(":memory:"), StoreOptions::default()).unwrap();
    assert!(three.current_bans(T0).unwrap().is_empty());
}

#[test]
fn dbfile_none_is_a_store_that_keeps_nothing() {
    assert_eq!(DbFile::parse(" None "), DbFile::Disabled);
    assert_eq!(DbFile::parse("none"), DbFile::Disabled);
    assert_eq!(
        DbFile::parse("/var/lib/jailor/db"),
        DbFile::Path("/var/lib/jailor/db".into())
    );
    let mut store = Store::from_dbfile(&DbFile::Disabled, StoreOptions::default()).unwrap();
    assert!(!store.is_enabled());
    assert_eq!(store.database(), None);
    let mut batch = Batch::new();
    batch
        .ban(ban("sshd", ip("192.0.2.1"), T0, PERMANENT))
        .position(position("sshd", "/var/log/auth.log", 5));
    store.commit(&batch).unwrap();
    assert!(store.current_bans(T0).unwrap().is_empty());
    assert_eq!(
        store.ban_stats(&ip("192.0.2.1"), Scope::AllJails).unwrap(),
        None
    );
    assert_eq!(
        store
            .position("sshd", Path::new("/var/log/auth.log"))
            .unwrap(),
        None
    );
    assert_eq!(store.purge(T0, 1).unwrap(), Purged::default());
}

#[test]
fn file_databases_use_wal_and_the_chosen_durability() {
    let (_dir, path) = temp_db();
    let options = StoreOptions {
        durability: Durability::Full,
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(&path, options).unwrap();
    store
        .add_ban(ban("sshd", ip("192.0.2.1"), T0, 600))
        .unwrap();
    // The WAL file exists beside the database while it is open.
    let wal = path.with_file_name("jailor.sqlite3-wal");
    assert!(wal.exists(), "{} missing", wal.display());
    // A second connection (another process would do the same) sees the committed ban.
    let other = Store::open(&path).unwrap();
    assert_eq!(other.current_bans(T0).unwrap().len(), 1);
}

#[test]
fn a_text_file_is_not_a_database() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, "this is a log file, not SQLite\n".repeat(200)).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotADatabase);
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("not a SQLite database"), "{text}");
    // The file is left as it was.
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("this is a log"));
}

#[test]
fn a_damaged_database_is_reported_as_corrupt() {
    let (_dir, path) = temp_db();
    {
        let mut store = Store::open(&path).unwrap();
        let mut batch = Batch::new();
        for n in 0..2000u32 {
            let mut b = ban(
                "sshd",
                ip(&format!("10.{}.{}.1", n / 256, n % 256)),
                T0,
                600,
            );
            b.data.matches = vec!["x".repeat(200)];
            batch.ban(b);
        }
        store.commit(&batch).unwrap();
    }
    // Overwrite pages in the middle of the file (the WAL was folded in at close).
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 64 * 1024, "{} bytes", bytes.len());
    for b in &mut bytes[8192..40960] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Corrupt, "{err}");
}

#[test]
fn fail2bans_database_is_refused_untouched() {
    let (_dir, path) = temp_db();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE fail2banDb(version INTEGER);
             INSERT INTO fail2banDb VALUES(4);
             CREATE TABLE bans(jail TEXT, ip TEXT);",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ForeignDatabase { fail2ban: true });
    assert!(err.to_string().contains("fail2ban"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!path.with_file_name("jailor.sqlite3-wal").exists());
}

#[test]
fn another_programs_database_is_refused() {
    let (_dir, path) = temp_db();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes(text TEXT)").unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ForeignDatabase { fail2ban: false });
}

#[test]
fn a_database_from_a_newer_jailor_is_refused() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NewerSchema { found: 999, .. }),
        "{err}"
    );
}

#[test]
fn a_missing_folder_is_an_access_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/db.sqlite3");
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Access, "{err}");
    assert_eq!(err.operation(), "open");
    assert_eq!(err.database(), path.display().to_string());
}

#[test]
fn a_locked_database_times_out_as_busy() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let options = StoreOptions {
        busy_timeout: std::time::Duration::from_millis(50),
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(&path, options).unwrap();
    let err = store
        .add_ban(ban("sshd", ip("192.0.2.1"), T0, 600))
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Busy, "{err}");
    locker.execute_batch("ROLLBACK").unwrap();
    store
        .add_ban(ban("sshd", ip("192.0.2.1"), T0, 600))
        .unwrap();
}

#[test]
fn integrity_check_passes_on_a_used_database() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    store
        .add_ban(ban("sshd", ip("192.0.2.1"), T0, 600))
        .unwrap();
    store.check_integrity().unwrap();
}

#[test]
fn a_store_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    let mut store = Store::open_in_memory().unwrap();
    let handle = std::thread::spawn(move || {
        store
            .add_ban(ban("sshd", ip("192.0.2.1"), T0, 600))
            .unwrap();
        store.current_bans(T0).unwrap().len()
    });
    assert_eq!(handle.join().unwrap(), 1);
}

#[test]
fn a_new_file_made_in_the_background_answers_as_empty_and_keeps_the_first_commit() {
    let (_dir, path) = temp_db();
    let mut store = Store::open_in_background(&path, StoreOptions::default()).unwrap();
    // Before the file is ready: the answers of a new, empty database.
    assert!(store.is_enabled());
    assert_eq!(store.database(), Some(path.display().to_string().as_str()));
    assert_eq!(store.positions("sshd").unwrap(), vec![]);
    assert_eq!(store.bans_to_restore("sshd", T0).unwrap(), vec![]);
    assert_eq!(
        store.ban_stats(&ip("192.0.2.1"), Scope::AllJails).unwrap(),
        None
    );
    let b = ban("sshd", ip("192.0.2.1"), T0, 600);
    let mut batch = Batch::new();
    batch
        .ban(b.clone())
        .position(position("sshd", "/var/log/auth.log", 42));
    store.commit(&batch).unwrap();
    assert_eq!(
        store.ban("sshd", &ip("192.0.2.1")).unwrap(),
        Some(b.clone())
    );
    drop(store);
    // The commit is in the file, and no private file of the creation is left.
    let again = Store::open_in_background(&path, StoreOptions::default()).unwrap();
    assert_eq!(again.bans_to_restore("sshd", T0 + 1).unwrap(), vec![b]);
    assert_eq!(again.positions("sshd").unwrap()[0].offset, 42);
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".new-"))
        .collect();
    assert_eq!(names, Vec::<String>::new());
}

#[test]
fn a_store_dropped_before_its_first_write_leaves_a_complete_file() {
    let (_dir, path) = temp_db();
    drop(Store::open_in_background(&path, StoreOptions::default()).unwrap());
    assert!(path.exists());
    let store = Store::open(&path).unwrap();
    store.check_integrity().unwrap();
    assert_eq!(store.current_bans(T0).unwrap(), vec![]);
}

#[test]
fn a_file_that_cannot_be_made_in_the_background_fails_the_first_write_then_keeps_nothing() {
    let (dir, _) = temp_db();
    let path = dir.path().join("missing-folder").join("jailor.sqlite3");
    let mut store = Store::open_in_background(&path, StoreOptions::default()).unwrap();
    let mut batch = Batch::new();
    batch.ban(ban("sshd", ip("192.0.2.9"), T0, 600));
    let err = store.commit(&batch).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Access, "{err}");
    assert!(!store.is_enabled());
    store.commit(&batch).unwrap();
    assert_eq!(store.current_bans(T0).unwrap(), vec![]);
}
