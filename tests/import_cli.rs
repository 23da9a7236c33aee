//! `jailor import-fail2ban-db` on a database written from fail2ban's schema: where it
//! imports to, what a dry run prints, and what it refuses.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jailor_store::{BanId, Store};

const JAILOR: &str = env!("CARGO_BIN_EXE_jailor");

/// A fail2ban database (schema version 4) with an active ban, an expired one with ban count
/// 3, and a permanent one.
fn fail2ban_db(dir: &Path, now: i64) -> PathBuf {
    let path = dir.join("fail2ban.sqlite3");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE fail2banDb(version INTEGER); INSERT INTO fail2banDb VALUES (4);
         CREATE TABLE jails(name TEXT NOT NULL UNIQUE, enabled INTEGER NOT NULL DEFAULT 1);
         CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL,
           bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON);
         CREATE TABLE bips(ip TEXT NOT NULL, jail TEXT NOT NULL, timeofban INTEGER NOT NULL,
           bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON,
           PRIMARY KEY(ip, jail));",
    )
    .unwrap();
    for (ip, jail, t, bantime, count) in [
        ("192.0.2.10", "sshd", now - 100, 600, 1),
        ("192.0.2.11", "sshd", now - 5000, 600, 3),
        ("2001:db8::7", "web", now - 100, -1, 2),
    ] {
        conn.execute(
            "INSERT INTO bips VALUES (?1, ?2, ?3, ?4, ?5, '{\"matches\": [], \"failures\": 4}')",
            rusqlite::params![ip, jail, t, bantime, count],
        )
        .unwrap();
    }
    path
}

fn import(args: &[&str]) -> Output {
    Command::new(JAILOR)
        .arg("import-fail2ban-db")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn conf_with_dbfile(dir: &Path, dbfile: &str) -> PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("fail2ban.conf"),
        format!("[Definition]\ndbfile = {dbfile}\n"),
    )
    .unwrap();
    std::fs::write(conf.join("jail.conf"), "[DEFAULT]\nbantime = 600\n").unwrap();
    conf
}

#[test]
fn imports_into_jailor_sqlite3_beside_fail2bans_dbfile() {
    let tmp = tempfile::tempdir().unwrap();
    let now = now();
    let source = fail2ban_db(tmp.path(), now);
    let conf = conf_with_dbfile(tmp.path(), &source.display().to_string());
    let before = std::fs::read(&source).unwrap();
    let target = tmp.path().join("jailor.sqlite3");

    let dry = stdout(&import(&[
        source.to_str().unwrap(),
        "--dry-run",
        "-c",
        conf.to_str().unwrap(),
    ]));
    assert_eq!(dry.matches("would import: ").count(), 3, "{dry}");
    assert!(dry.contains("[web] 2001:db8::7"), "{dry}");
    assert!(dry.contains("permanent"), "{dry}");
    assert!(dry.contains("expired"), "{dry}");
    assert!(dry.contains("(2 still in force)"), "{dry}");
    assert!(!target.exists());

    let done = stdout(&import(&[
        source.to_str().unwrap(),
        "-c",
        conf.to_str().unwrap(),
    ]));
    assert!(
        done.contains(&format!("into {}", target.display())),
        "{done}"
    );
    let store = Store::open(&target).unwrap();
    let current = store.current_bans(now).unwrap();
    let ids: Vec<String> = current.iter().map(|b| b.id.to_string()).collect();
    assert_eq!(ids, ["192.0.2.10", "2001:db8::7"]);
    // The expired ban is kept for its ban count.
    let expired = store
        .ban("sshd", &BanId::parse("192.0.2.11"))
        .unwrap()
        .unwrap();
    assert_eq!((expired.ban_count, expired.failures), (3, 4));
    drop(store);
    assert_eq!(
        std::fs::read(&source).unwrap(),
        before,
        "fail2ban's file changed"
    );

    let again = stdout(&import(&[
        source.to_str().unwrap(),
        "-c",
        conf.to_str().unwrap(),
    ]));
    assert!(again.contains("0 of 3 bans"), "{again}");
}

#[test]
fn dbfile_option_wins_and_fail2bans_own_file_is_refused_as_target() {
    let tmp = tempfile::tempdir().unwrap();
    let source = fail2ban_db(tmp.path(), now());
    let conf = conf_with_dbfile(tmp.path(), "None");
    let src = source.to_str().unwrap();
    let c = conf.to_str().unwrap();

    // dbfile = None keeps no store: the import asks for one.
    let out = import(&[src, "-c", c]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dbfile"));

    let out = import(&[src, "-c", c, "--dbfile", src]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fail2ban's database itself"));

    let target = tmp.path().join("state/own.sqlite3");
    let done = stdout(&import(&[
        src,
        "-c",
        c,
        "--dbfile",
        target.to_str().unwrap(),
    ]));
    assert!(done.contains("3 of 3 bans"), "{done}");
    assert_eq!(
        Store::open(&target)
            .unwrap()
            .current_bans(now())
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_missing_or_foreign_source_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("j.sqlite3");
    let t = target.to_str().unwrap();
    let missing = tmp.path().join("nope.sqlite3");
    let out = import(&[missing.to_str().unwrap(), "--dbfile", t]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, "definitely not a database, just some text in a file").unwrap();
    let out = import(&[junk.to_str().unwrap(), "--dbfile", t]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
