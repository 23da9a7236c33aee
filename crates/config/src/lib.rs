//! fail2ban's configuration, read as it is: the INI dialect, includes, interpolation, jails,
//! filters and actions.
//!
//! jailor reads a system administrator's `/etc/fail2ban` unchanged. This crate does what
//! fail2ban's client does before it talks to its server: it reads `fail2ban.conf` and the jail
//! files in fail2ban's order (`X.conf`, `X.d/*.conf`, `X.local`, `X.d/*.local`, with
//! `[INCLUDES]`), resolves `%(name)s` interpolation and `<tag>` substitution, and produces
//! typed [`JailSpec`], [`FilterSpec`] and [`ActionSpec`] values, plus the very command stream
//! `fail2ban-client -d` prints ([`Configuration::stream`]).
//!
//! ```no_run
//! let cfg = jailor_config::Loader::new("/etc/fail2ban").read_all()?;
//! for jail in cfg.jails.iter().flatten() {
//!     println!("{}: {} failregex", jail.name, jail.filter.as_ref().map_or(0, |f| f.failregex.len()));
//! }
//! # Ok::<(), jailor_config::Error>(())
//! ```
//!
//! Errors name the file, the section and the line ([`Error`]); nothing here panics on bad input.
#![deny(missing_docs)]

mod action;
mod args;
mod config;
mod definition;
pub mod embedded;
mod error;
mod files;
mod filter;
mod ini;
mod jail;
mod jail_sections;
pub mod map;
mod server;
mod stream;
mod tags;
mod time;
pub mod two_threads;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::map::Map;

pub use action::{is_native_action, ActionSpec, ACTION_COMMANDS, NATIVE_ACTIONS};
pub use args::{extract_options, split_with_options, Args};
pub use config::{Config, Section, Vars, MAX_INTERPOLATION_DEPTH};
pub use error::{Error, ErrorKind, Result};
pub use filter::{load_filter, shell_words, FilterSpec};
pub use ini::Entry;
pub use jail::{JailError, JailResult, JailSpec, LogPath, JAILOR_JAIL_OPTIONS, JAIL_OPTIONS};
pub use server::ServerSpec;
pub use stream::{command_repr, python_str_repr, Command, Value};
pub use time::parse_time;

/// The fail2ban version jailor's configuration reading follows, reported to configurations as
/// `%(fail2ban_version)s` (e.g. in `fail2ban_agent`). Debian 12's fail2ban is 1.0.2.
pub const FAIL2BAN_VERSION: &str = "1.0.2";

/// The default configuration folder.
pub const DEFAULT_BASE: &str = "/etc/fail2ban";

/// Where an option value was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file.
    pub file: Arc<Path>,
    /// The line (1-based) of the option's first line.
    pub line: usize,
}

/// Parses an integer the way Python's `int()` does for config values (surrounding white space
/// allowed); `None` when it is not one.
pub fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    t.parse().ok()
}

/// Reads configurations under one base folder (`-c DIR`).
#[derive(Debug, Clone)]
pub struct Loader {
    base: PathBuf,
    fail2ban_version: String,
}

impl Loader {
    /// A loader for `base` (e.g. `/etc/fail2ban`).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Loader {
            base: base.into(),
            fail2ban_version: FAIL2BAN_VERSION.to_string(),
        }
    }

    /// Overrides the fail2ban version the configuration sees as `%(fail2ban_version)s`.
    pub fn with_fail2ban_version(mut self, version: &str) -> Self {
        self.fail2ban_version = version.to_string();
        self
    }

    /// The base folder.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Values every configuration sees as a last resort: `fail2ban_version`, `fail2ban_confpath`.
    pub(crate) fn statics(&self) -> Map<String, String> {
        let mut m = Map::default();
        m.insert("fail2ban_version".into(), self.fail2ban_version.clone());
        m.insert(
            "fail2ban_confpath".into(),
            self.base.to_string_lossy().into_owned(),
        );
        m
    }

    /// Reads `fail2ban.conf` & co.
    pub fn read_server(&self) -> Result<ServerSpec> {
        ServerSpec::read(self)
    }

    /// Reads the whole configuration: server settings and every enabled jail.
    pub fn read_all(&self) -> Result<Configuration> {
        let server = self.read_server()?;
        let (jails, mut warnings) = self.read_jails_and_warnings()?;
        warnings.splice(0..0, server.warnings.iter().cloned());
        Ok(Configuration {
            base: self.base.clone(),
            server,
            jails,
            warnings,
        })
    }
}

/// A whole configuration: `fail2ban.conf` settings and the enabled jails.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// The folder it was read from.
    pub base: PathBuf,
    /// The server settings.
    pub server: ServerSpec,
    /// Enabled jails in file order; a jail that could not be read is an `Err` in its place.
    pub jails: Vec<JailResult>,
    /// Things fail2ban would only warn about in `fail2ban.conf` and the jail files (per-jail
    /// warnings are in [`JailSpec::warnings`]).
    pub warnings: Vec<String>,
}

impl Configuration {
    /// The command stream `fail2ban-client -d` prints for this configuration: server settings,
    /// each jail's commands (or a `config-error` for a broken one), then `start` for each jail.
    pub fn stream(&self) -> Vec<Command> {
        let mut out = self.server.stream();
        for j in &self.jails {
            match j {
                Ok(j) => out.extend(j.stream()),
                Err(e) => out.push(vec!["config-error".into(), e.config_error_message().into()]),
            }
        }
        for j in self.jails.iter().flatten() {
            out.push(vec!["start".into(), j.name.as_str().into()]);
        }
        out
    }
}
