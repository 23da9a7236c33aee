//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use jailor_action::{Action, ActionRunner, ActionSpec, HostNames, RunnerOptions, Ticket};

/// A runner with a fixed host name and a short kill grace.
pub fn runner() -> ActionRunner {
    let mut o = RunnerOptions::default();
    o.hostnames = HostNames::new("gate.example.org");
    o.kill_grace = Duration::from_millis(100);
    ActionRunner::new(o)
}

/// An action from `(property, value)` pairs.
pub fn action(name: &str, props: &[(&str, &str)]) -> Action {
    Action::new(&ActionSpec::new(name, props.iter().copied()), &runner()).unwrap()
}

/// A ticket for `addr`.
pub fn ticket(addr: &str) -> Ticket {
    Ticket::new(addr.parse().unwrap(), 1_700_000_000.0)
}

/// The text of `path`, or "" when it does not exist.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `dir/name` as a string.
pub fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Every process whose process group is `pgid` (from /proc/*/stat).
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name (which is in parentheses): state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|f| f.parse::<u32>().ok()) == Some(pgid) && fields[0] != "Z" {
            out.push(pid);
        }
    }
    out
}

/// A file path that does not exist yet, for "this must never be created" checks.
pub fn marker(dir: &Path) -> PathBuf {
    dir.join("PWNED")
}
