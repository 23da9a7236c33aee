//! Journal reading speed: 100,000 sshd-like entries written with `systemd-journal-remote`,
//! read back through `JournalReader` (fields, line, cursor) with and without a journalmatch.
//! Run: `cargo bench -p jailor-tail --bench journal`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use jailor_tail::{JournalMatch, JournalOptions, JournalReader, JournalStart};

const ENTRIES: u64 = 100_000;

fn main() {
    let Some(remote) = [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file()) else {
        eprintln!("journal bench skipped: systemd-journal-remote not installed");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bench.journal");
    let mut export = Vec::new();
    for i in 0..ENTRIES {
        let (comm, unit) = if i % 4 == 0 {
            ("cron", "cron.service")
        } else {
            ("sshd", "ssh.service")
        };
        write!(
            export,
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=00112233445566778899aabbccddeeff\n_HOSTNAME=web1\n_SYSTEMD_UNIT={unit}\n_COMM={comm}\n_PID={}\nMESSAGE=Failed password for invalid user u{i} from 10.{}.{}.{} port {} ssh2\n\n",
            1_700_000_000_000_000 + i * 1000,
            1_000_000 + i,
            1000 + i % 30000,
            i % 250,
            (i / 250) % 250,
            i % 200 + 1,
            1024 + i % 60000
        )
        .expect("write");
    }
    let mut child = Command::new(remote)
        .arg(format!("--output={}", file.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-journal-remote");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&export)
        .expect("export");
    assert!(child.wait().expect("wait").success());

    for journalmatch in ["", "_SYSTEMD_UNIT=ssh.service + _COMM=sshd"] {
        let mut o = JournalOptions::new("").expect("options");
        o.matches = JournalMatch::parse(journalmatch).expect("match");
        o.files = vec![file.display().to_string()];
        let started = Instant::now();
        let mut r = JournalReader::open(&o, JournalStart::Head).expect("open");
        let mut n = 0u64;
        let mut bytes = 0usize;
        while let Some(e) = r.next_entry() {
            n += 1;
            bytes += e.line.len();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "journal read, match {journalmatch:?}: {n} entries ({bytes} bytes of lines) in {secs:.3} s = {:.0} entries/s",
            n as f64 / secs
        );
    }
}
