//! `ignoreip = file:/path`: an address list kept in a file and re-read when it changes.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::id::{parse_addr_or_net, Id};

/// How often a list file is looked at (fail2ban: at most once a second).
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The addresses, networks and raw ids of one list.
#[derive(Clone, Debug, Default)]
pub(crate) struct Entries {
    pub(crate) ips: HashSet<IpAddr>,
    pub(crate) nets: Vec<IpNet>,
    pub(crate) raws: HashSet<Box<str>>,
}

impl Entries {
    pub(crate) fn add_word(&mut self, word: &str) {
        match parse_addr_or_net(word) {
            Some(Id::Ip(ip)) => {
                self.ips.insert(ip);
            }
            Some(Id::Net(net)) => {
                if !self.nets.contains(&net) {
                    self.nets.push(net);
                }
            }
            _ => {
                self.raws.insert(word.into());
            }
        }
    }

    pub(crate) fn contains(&self, id: &Id) -> bool {
        match id {
            Id::Ip(ip) => self.ips.contains(ip) || self.nets.iter().any(|n| n.contains(ip)),
            Id::Net(_) => self.nets.iter().any(|n| id.is_in_net(n)),
            Id::Raw(raw) => self.raws.contains(raw),
        }
    }
}

/// What identifies a version of the file: fail2ban re-reads when any of these changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

/// One `file:` entry of `ignoreip`.
#[derive(Clone, Debug)]
pub(crate) struct IgnoreFile {
    path: PathBuf,
    stamp: Option<Stamp>,
    checked: Option<Instant>,
    missing: bool,
    pub(crate) entries: Entries,
}

impl IgnoreFile {
    pub(crate) fn new(path: &Path) -> IgnoreFile {
        IgnoreFile {
            path: path.to_owned(),
            stamp: None,
            checked: None,
            missing: false,
            entries: Entries::default(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file if a second has passed since the last look and it changed.
    /// Returns whether the entries changed. A file that cannot be read counts as empty, and the
    /// error is returned for the daemon to log (once, when it goes missing).
    pub(crate) fn refresh(&mut self, now: Instant) -> io::Result<bool> {
        if self
            .checked
            .is_some_and(|at| now.saturating_duration_since(at) < CHECK_INTERVAL)
        {
            return Ok(false);
        }
        self.checked = Some(now);
        let read = std::fs::metadata(&self.path).and_then(|meta| {
            let stamp = Stamp {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime: meta.mtime(),
                mtime_nsec: meta.mtime_nsec(),
            };
            if self.stamp == Some(stamp) {
                return Ok(None);
            }
            Ok(Some((stamp, std::fs::read(&self.path)?)))
        });
        let (stamp, text) = match read {
            Ok(None) => {
                self.missing = false;
                return Ok(false);
            }
            Ok(Some(new)) => new,
            Err(err) => {
                // Reported once when the file goes missing, not at every look.
                if self.missing {
                    return Ok(false);
                }
                self.missing = true;
                self.stamp = None;
                self.entries = Entries::default();
                return Err(err);
            }
        };
        self.missing = false;
        self.entries = parse_list(&String::from_utf8_lossy(&text));
        self.stamp = Some(stamp);
        Ok(true)
    }
}

/// Words split on white space and commas; `#` and `;` start a comment to the end of the line.
pub(crate) fn parse_list(text: &str) -> Entries {
    let mut entries = Entries::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        for word in line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
        {
            entries.add_word(word);
        }
    }
    entries
}
