//! Real journal files for tests: entries written in the journal export format and turned
//! into journal files by `systemd-journal-remote`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A boot id for the entries (any 128-bit hex value).
pub const BOOT_ID: &str = "6a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// `systemd-journal-remote`, or a skip naming its package.
pub fn journal_remote(test: &str) -> Option<PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .or_else(|| jailor_testkit::find_command("systemd-journal-remote"))
    .or_else(|| {
        jailor_testkit::skip(
            test,
            "`systemd-journal-remote` not installed (apt-get install systemd-journal-remote)",
        )
    })
}

/// One journal entry: its fields in order.
#[derive(Debug, Clone)]
pub struct Entry(pub Vec<(String, Vec<u8>)>);

impl Entry {
    /// An sshd-like entry at `sec` seconds since the epoch (the monotonic clock follows).
    pub fn sshd(sec: u64, pid: u32, message: &str) -> Entry {
        Entry::new(sec)
            .field("_HOSTNAME", "web1")
            .field("_TRANSPORT", "syslog")
            .field("_SYSTEMD_UNIT", "ssh.service")
            .field("_COMM", "sshd")
            .field("SYSLOG_IDENTIFIER", "sshd")
            .field("_PID", &pid.to_string())
            .field("MESSAGE", message)
    }

    /// An entry with only the journal's own stamps.
    pub fn new(sec: u64) -> Entry {
        Entry(vec![])
            .field("__REALTIME_TIMESTAMP", &(sec * 1_000_000).to_string())
            .field(
                "__MONOTONIC_TIMESTAMP",
                &((sec % 100_000) * 1_000_000 + 1).to_string(),
            )
            .field("_BOOT_ID", BOOT_ID)
    }

    /// Adds (or replaces) a field.
    pub fn field(mut self, name: &str, value: &str) -> Entry {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_string(), value.as_bytes().to_vec()));
        self
    }

    /// Removes a field.
    pub fn without(mut self, name: &str) -> Entry {
        self.0.retain(|(n, _)| n != name);
        self
    }
}

/// The export format: `NAME=value` lines, or for values with a newline `NAME`, a 64-bit
/// little-endian length and the raw bytes; entries separated by an empty line.
pub fn export(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        for (name, value) in &e.0 {
            out.extend_from_slice(name.as_bytes());
            if value.contains(&b'\n') {
                out.push(b'\n');
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            } else {
                out.push(b'=');
            }
            out.extend_from_slice(value);
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    out
}

/// Writes `entries` into the journal file `path` (created, or appended to).
pub fn write_journal(remote: &Path, path: &Path, entries: &[Entry]) {
    let mut child = Command::new(remote)
        .arg(format!("--output={}", path.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&export(entries))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "systemd-journal-remote failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
