//! A store killed with SIGKILL in the middle of a burst of commits loses no ban whose commit
//! had returned, and never keeps a log position without the bans committed with it.
//!
//! The test binary runs itself as the child: with `JAILOR_STORE_CRASH_CHILD` set, it commits
//! batches of bans (and the log position after them) in a loop and prints each ban's address
//! once its commit has returned. The parent kills it after a while, reopens the file and checks.
//! (`harness = false`: this file's `main` is the whole test.)

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jailor_store::{
    Ban, BanData, BanId, Batch, Durability, Fingerprint, LogPosition, Store, StoreOptions,
    PERMANENT,
};

const CHILD_ENV: &str = "JAILOR_STORE_CRASH_CHILD";
const ROUND_ENV: &str = "JAILOR_STORE_CRASH_ROUND";
const JAIL: &str = "burst";
const T0: i64 = 1_700_000_000;

fn main() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        let round: u16 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
        child(Path::new(&path), round);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite3");
    let mut total = 0;
    // Each round kills the child at a different point of its burst, on the same file.
    for (round, kill_after) in [(0u16, 150usize), (1, 401), (2, 977)] {
        total += parent_round(&db, round, kill_after);
    }
    println!("test crash_safety ... ok ({total} acknowledged bans found after 3 SIGKILLs)");
}

/// The address of the `n`-th ban of a round.
fn address(round: u16, n: u64) -> IpAddr {
    let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, round, 0, 0, 0, 0, 0));
    IpAddr::V6(Ipv6Addr::from(base + u128::from(n)))
}

fn log_path(round: u16) -> PathBuf {
    PathBuf::from(format!("/var/log/burst-{round}.log"))
}

/// Commits bans until killed; prints each address after its commit returned.
fn child(path: &Path, round: u16) {
    let options = StoreOptions {
        // One round pays an fsync per commit, the others do not; both must survive SIGKILL.
        durability: if round == 1 {
            Durability::Full
        } else {
            Durability::Normal
        },
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(path, options).unwrap();
    let mut out = std::io::stdout().lock();
    let mut batch = Batch::new();
    let mut committed = 0u64;
    for burst in 0u64.. {
        batch.clear();
        // Batches of 1 to 40 bans, each with the position after them.
        let size = 1 + (burst * 7) % 40;
        for n in committed..committed + size {
            batch.ban(Ban {
                jail: JAIL.into(),
                id: BanId::Ip(address(round, n)),
                time_of_ban: T0,
                bantime: PERMANENT,
                ban_count: 1,
                failures: 5,
                data: BanData {
                    matches: vec![format!("failure {n} of round {round}"); 3],
                    ..BanData::default()
                },
            });
        }
        batch.position(LogPosition {
            jail: JAIL.into(),
            path: log_path(round),
            fingerprint: Fingerprint {
                dev_inode: Some((1, u64::from(round))),
                first_line_hash: vec![round as u8],
            },
            offset: committed + size,
        });
        store.commit(&batch).unwrap();
        for n in committed..committed + size {
            // The parent is gone (broken pipe): stop.
            if writeln!(out, "{}", address(round, n)).is_err() {
                return;
            }
        }
        if out.flush().is_err() {
            return;
        }
        committed += size;
    }
}

/// Runs one child, kills it after `kill_after` acknowledged bans, and checks the file.
fn parent_round(db: &Path, round: u16, kill_after: usize) -> usize {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env(CHILD_ENV, db)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = Vec::new();
    for line in lines.by_ref() {
        acknowledged.push(line.unwrap());
        if acknowledged.len() == kill_after {
            // Child::kill sends SIGKILL: no destructor, no SQLite cleanup runs.
            child.kill().unwrap();
            break;
        }
    }
    // Lines the child wrote before it died are still in the pipe: they count too.
    acknowledged.extend(lines.map(|l| l.unwrap()));
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "round {round}: the child ended by itself ({status}) before being killed"
    );
    assert!(acknowledged.len() >= kill_after, "round {round}");

    let store = Store::open(db).unwrap();
    store.check_integrity().unwrap();
    let of_round = |id: &BanId| match id {
        BanId::Ip(IpAddr::V6(v6)) => v6.segments()[2] == round,
        _ => false,
    };
    let stored: std::collections::BTreeSet<String> = store
        .current_bans(T0)
        .unwrap()
        .into_iter()
        .filter(|b| of_round(&b.id))
        .map(|b| b.id.to_string())
        .collect();
    for address in &acknowledged {
        assert!(
            stored.contains(address),
            "round {round}: ban of {address} was acknowledged but is not in the store \
             ({} acknowledged, {} stored)",
            acknowledged.len(),
            stored.len()
        );
    }
    // The position was committed with the bans: it counts exactly the bans stored.
    let position = store.position(JAIL, &log_path(round)).unwrap().unwrap();
    assert_eq!(
        position.offset,
        stored.len() as u64,
        "round {round}: position and bans disagree"
    );
    eprintln!(
        "crash_safety round {round}: {} acknowledged, {} stored after SIGKILL",
        acknowledged.len(),
        stored.len()
    );
    acknowledged.len()
}
