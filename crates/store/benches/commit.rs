//! Bans committed per second, in batches of 1 and of 1000, on a real file in WAL mode.
//!
//! Each batch holds its bans (three matched lines each, as a typical sshd ban) and one log
//! position, as the daemon commits them. Run with `cargo bench -p jailor-store`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jailor_store::{
    Ban, BanData, BanId, Batch, Durability, Fingerprint, LogPosition, Store, StoreOptions,
};

fn main() {
    for durability in [Durability::Normal, Durability::Full] {
        for (batch_size, batches) in [(1u32, 2_000u32), (1000, 50)] {
            let rate = bans_per_second(durability, batch_size, batches);
            println!(
                "commit/{durability:?}/batch {batch_size:>4}: {rate:>10.0} bans/s ({} bans)",
                batch_size * batches
            );
        }
    }
}

fn bans_per_second(durability: Durability, batch_size: u32, batches: u32) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions {
        durability,
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(dir.path().join("bench.sqlite3"), options).expect("open");
    let matches: Vec<String> = (0..3)
        .map(|i| format!("Jan  1 00:00:0{i} host sshd[1234]: Failed password for root from 10.0.0.1 port 22 ssh2"))
        .collect();
    let mut batch = Batch::new();
    let mut elapsed = Duration::ZERO;
    let mut n = 0u32;
    for _ in 0..batches {
        batch.clear();
        for _ in 0..batch_size {
            batch.ban(Ban {
                jail: "sshd".into(),
                id: BanId::Ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))),
                time_of_ban: 1_700_000_000 + i64::from(n),
                bantime: 600,
                ban_count: 1,
                failures: 5,
                data: BanData {
                    matches: matches.clone(),
                    ..BanData::default()
                },
            });
            n += 1;
        }
        batch.position(LogPosition {
            jail: "sshd".into(),
            path: PathBuf::from("/var/log/auth.log"),
            fingerprint: Fingerprint {
                dev_inode: Some((2049, 1234)),
                first_line_hash: vec![7; 16],
            },
            offset: u64::from(n) * 100,
        });
        // Only the commit is timed, not building the batch.
        let start = Instant::now();
        store.commit(&batch).expect("commit");
        elapsed += start.elapsed();
    }
    f64::from(n) / elapsed.as_secs_f64()
}
