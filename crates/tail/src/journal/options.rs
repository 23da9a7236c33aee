//! Which journal to open: `journalmatch` and the `systemd[...]` backend arguments.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::error::{Error, ErrorKind};

use super::format::Identity;
use super::matches::JournalMatch;

/// sd-journal's `SD_JOURNAL_LOCAL_ONLY`: only files of this machine.
pub const JOURNAL_LOCAL_ONLY: i32 = 1;
/// sd-journal's `SD_JOURNAL_RUNTIME_ONLY`: only volatile files (`/run/log/journal`).
pub const JOURNAL_RUNTIME_ONLY: i32 = 2;
/// sd-journal's `SD_JOURNAL_SYSTEM`: system services and the kernel.
pub const JOURNAL_SYSTEM: i32 = 4;
/// sd-journal's `SD_JOURNAL_CURRENT_USER`: the current user's files.
pub const JOURNAL_CURRENT_USER: i32 = 8;

/// What a journal reader opens and which entries it hands on.
///
/// Built from a jail's `journalmatch` and its backend arguments
/// (`backend = systemd[journalflags=1, journalfiles="/a.journal /b.journal", journalpath=/dir]`).
/// With neither files nor a path, the machine's journal is opened with the flags.
#[derive(Debug, Clone, Default)]
pub struct JournalOptions {
    /// The entries to read (empty: all).
    pub matches: JournalMatch,
    /// `journalflags`: sd-journal open flags (`JOURNAL_*`, ORed; 0 = every local and remote
    /// file of the system and all users).
    pub flags: i32,
    /// `journalfiles`: journal files to open (globs allowed); wins over `journalpath`.
    pub files: Vec<String>,
    /// `journalpath`: a folder of journal files (and machine-id subfolders).
    pub path: Option<PathBuf>,
    /// Which fields name the process in the line (fail2ban's choice by default).
    pub identity: Identity,
}

impl JournalOptions {
    /// Options reading the entries `journalmatch` selects from the machine's journal.
    pub fn new(journalmatch: &str) -> Result<JournalOptions, Error> {
        Ok(JournalOptions {
            matches: JournalMatch::parse(journalmatch)?,
            ..JournalOptions::default()
        })
    }

    /// Applies one argument of `backend = systemd[...]`: `journalflags` (an integer),
    /// `journalfiles` (paths or globs separated by white space or commas), `journalpath`.
    /// Other fail2ban arguments are refused with the reason.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let bad = |message: String| -> Error {
            ErrorKind::BadSetting {
                name: "systemd backend argument",
                message,
            }
            .into()
        };
        let value = value.trim();
        match name.trim() {
            "journalflags" => {
                self.flags = value
                    .parse::<i32>()
                    .ok()
                    .filter(|f| *f >= 0)
                    .ok_or_else(|| bad(format!("journalflags={value:?} is not a flag number")))?;
            }
            "journalfiles" => {
                self.files = value
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            "journalpath" => {
                self.path = (!value.is_empty()).then(|| PathBuf::from(value));
            }
            "journalidentity" => {
                self.identity = match value {
                    "trusted" => Identity::Trusted,
                    "syslog" => Identity::Syslog,
                    _ => {
                        return Err(bad(format!(
                            "journalidentity={value:?}: use trusted (_COMM, _PID) or syslog (SYSLOG_IDENTIFIER, SYSLOG_PID)"
                        )))
                    }
                };
            }
            other => {
                return Err(bad(format!(
                    "{other}={value:?}: supported are journalflags, journalfiles, journalpath, journalidentity"
                )))
            }
        }
        Ok(())
    }
}

/// Where reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalStart {
    /// The oldest entry.
    Head,
    /// After the newest entry: only entries written from now on.
    Tail,
    /// The first entry at or after this time (fail2ban's "now - findtime").
    Since(SystemTime),
    /// The entry after the one with this cursor (as stored by the daemon). When that entry
    /// is gone (vacuumed), the nearest following entry.
    Cursor(String),
}
