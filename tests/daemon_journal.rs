//! `jailor server` reading the systemd journal: the sshd jail (fail2ban's own filter, read
//! from the corpus at run time) bans from a journal folder the test writes with
//! `systemd-journal-remote`; after a restart it resumes from the stored cursor, so entries
//! seen before are not counted again and entries written while it was down are counted once.

mod daemon_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use daemon_support::*;

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 3
[sshd]
enabled = true
filter = sshd
backend = systemd[journalpath=@DIR@/journal]
action = record[file=\"@DIR@/actions.txt\"]
";

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

/// Appends sshd entries (`_COMM=sshd`, now) to the journal file `path`, one per message.
fn write_sshd(remote: &Path, path: &Path, messages: &[String]) {
    let now = epoch() * 1_000_000;
    let mut export = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let fields = [
            ("__REALTIME_TIMESTAMP", (now + i as u64).to_string()),
            ("__MONOTONIC_TIMESTAMP", (1_000 + i).to_string()),
            ("_BOOT_ID", "0f1e2d3c4b5a69788796a5b4c3d2e1f0".to_string()),
            ("_HOSTNAME", "gate".to_string()),
            ("_SYSTEMD_UNIT", "ssh.service".to_string()),
            ("_COMM", "sshd".to_string()),
            ("_PID", (2000 + i).to_string()),
            ("MESSAGE", m.clone()),
        ];
        for (k, v) in fields {
            export.extend_from_slice(format!("{k}={v}\n").as_bytes());
        }
        export.push(b'\n');
    }
    let mut child = Command::new(remote)
        .arg(format!("--output={}", path.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    assert!(child.wait().unwrap().success());
}

fn failed(ip: &str) -> String {
    format!("Failed password for root from {ip} port 40022 ssh2")
}

#[test]
fn sshd_jail_bans_from_the_journal_and_resumes_from_its_cursor() {
    const TEST: &str = "sshd_jail_bans_from_the_journal_and_resumes_from_its_cursor";
    let Some(corpus) = jailor_testkit::require_corpus(TEST) else {
        return;
    };
    let Some(remote) = journal_remote(TEST) else {
        return;
    };
    let conf = Conf::new(JAILS);
    for f in ["sshd.conf", "common.conf"] {
        std::fs::copy(
            corpus.join("config/filter.d").join(f),
            conf.file("filter.d").join(f),
        )
        .unwrap();
    }
    std::fs::create_dir_all(conf.file("journal")).unwrap();
    let journal = conf.file("journal/system.journal");
    write_sshd(
        &remote,
        &journal,
        &[
            failed("192.0.2.30"),
            "Accepted publickey for alice from 192.0.2.99 port 1 ssh2".into(),
            failed("192.0.2.30"),
            failed("192.0.2.31"),
            failed("192.0.2.30"),
        ],
    );

    let d = Daemon::start_ready(&conf, &["sshd"]);
    wait_for("the ban from the journal", 15, || {
        conf.actions().contains("ban 192.0.2.30 600")
    });
    wait_for("the lone failure", 10, || {
        conf.log().contains("Found 192.0.2.31 -")
    });
    assert!(
        conf.log().contains("Jail 'sshd' uses systemd"),
        "{}",
        conf.log()
    );
    // Followed while running.
    write_sshd(&remote, &journal, &[failed("192.0.2.32")]);
    wait_for("an entry written while running", 10, || {
        conf.log().contains("Found 192.0.2.32 -")
    });
    d.stop();

    // Written while the daemon is down.
    write_sshd(&remote, &journal, &[failed("192.0.2.33")]);
    let d = Daemon::start_ready(&conf, &["sshd"]);
    wait_for("the entry written while down", 15, || {
        conf.log().contains("Found 192.0.2.33 -")
    });
    std::thread::sleep(Duration::from_millis(700));
    let log = conf.log();
    assert_eq!(count(&log, "Found 192.0.2.30 -"), 3, "{log}");
    assert_eq!(count(&log, "Found 192.0.2.31 -"), 1, "{log}");
    assert_eq!(count(&log, "Found 192.0.2.32 -"), 1, "{log}");
    assert_eq!(count(&log, "Found 192.0.2.33 -"), 1, "{log}");
    assert_eq!(count(&log, "192.0.2.99"), 0, "{log}");
    d.stop();
}

#[test]
fn auto_falls_back_to_the_journal_when_no_log_file_exists() {
    const TEST: &str = "auto_falls_back_to_the_journal_when_no_log_file_exists";
    let Some(corpus) = jailor_testkit::require_corpus(TEST) else {
        return;
    };
    let jails = JAILS.replace(
        "backend = systemd[journalpath=@DIR@/journal]",
        "backend = auto\nlogpath = @DIR@/missing/auth.log",
    ) + "[files]\nenabled = true\nfilter = test\nlogpath = @DIR@/auth.log\naction = record[file=\"@DIR@/actions.txt\"]\n";
    let conf = Conf::new(&jails);
    for f in ["sshd.conf", "common.conf"] {
        std::fs::copy(
            corpus.join("config/filter.d").join(f),
            conf.file("filter.d").join(f),
        )
        .unwrap();
    }
    append(&conf.file("auth.log"), "");
    let d = Daemon::start_ready(&conf, &["sshd", "files"]);
    let log = conf.log();
    assert!(log.contains("Jail 'sshd' uses systemd"), "{log}");
    assert!(log.contains("backend switched to systemd"), "{log}");
    // A jail whose file exists (and whose filter has no journalmatch) stays on files.
    assert!(!log.contains("Jail 'files' uses systemd"), "{log}");
    d.stop();
}
