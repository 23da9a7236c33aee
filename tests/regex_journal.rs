//! `jailor regex systemd-journal[...] REGEX` reads journal entries as fail2ban-regex does:
//! the line `<host> <ident>[<pid>]: <message>` at the entry's time, `-m` selecting entries.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn journal_remote(test: &str) -> Option<PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .or_else(|| {
        jailor_testkit::skip(
            test,
            "`systemd-journal-remote` not installed (apt-get install systemd-journal-remote)",
        )
    })
}

#[test]
fn regex_reads_the_journal_with_a_journalmatch() {
    const TEST: &str = "regex_reads_the_journal_with_a_journalmatch";
    let Some(remote) = journal_remote(TEST) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.journal");
    let entry = |sec: u64, comm: &str, pid: u32, msg: &str| {
        format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=00112233445566778899aabbccddeeff\n_HOSTNAME=gate\n_COMM={comm}\n_PID={pid}\nMESSAGE={msg}\n\n",
            sec * 1_000_000,
            sec
        )
    };
    let export = [
        entry(
            1_700_000_000,
            "sshd",
            10,
            "Invalid user eve from 192.0.2.40",
        ),
        entry(1_700_000_001, "cron", 11, "job from 192.0.2.41"),
        entry(1_700_000_002, "sshd", 12, "Connection closed by 192.0.2.42"),
        entry(
            1_700_000_003,
            "sshd",
            13,
            "Invalid user mallory from 192.0.2.43",
        ),
    ]
    .concat();
    let mut child = Command::new(&remote)
        .arg(format!("--output={}", file.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(export.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .env("TZ", "UTC")
        .args([
            "regex",
            &format!("systemd-journal[journalfiles={}]", file.display()),
            "^gate sshd\\[\\d+\\]: Invalid user \\S+ from <HOST>$",
            "-m",
            "_COMM=sshd",
            "--print-all-matched",
            "--print-all-missed",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Use         systemd journal\n"), "{text}");
    assert!(
        text.contains("Use    journal match : _COMM=sshd\n"),
        "{text}"
    );
    assert!(
        text.contains("Lines: 3 lines, 0 ignored, 2 matched, 1 missed"),
        "{text}"
    );
    assert!(
        text.contains(
            "|- Matched line(s):\n\
             |  2023-11-14T22:13:20+00:00 gate sshd[10]: Invalid user eve from 192.0.2.40\n\
             |  2023-11-14T22:13:23+00:00 gate sshd[13]: Invalid user mallory from 192.0.2.43\n`-"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "|  2023-11-14T22:13:22+00:00 gate sshd[12]: Connection closed by 192.0.2.42"
        ),
        "{text}"
    );
    assert!(!text.contains("cron"), "{text}");

    // -o ip prints each failure's address, one per line.
    let ips = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args([
            "regex",
            &format!("systemd-journal[journalfiles={}]", file.display()),
            "from <HOST>$",
            "--journalmatch",
            "_COMM=sshd + _COMM=cron",
            "-o",
            "ip",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ips.stdout),
        "192.0.2.40\n192.0.2.41\n192.0.2.43\n"
    );
}
