//! A jail's settings, checked and typed, from the configuration reader's [`JailSpec`].

use jailor_config::{parse_int, JailSpec};
use jailor_match::{FilterOptions, UseDns};
use jailor_policy::{Increment, IncrementOptions, DEFAULT_MAX_TRACKED};
use jailor_tail::{Backend, Encoding, StartAt};

/// The jail option (also read from `[Definition]` of `fail2ban.conf` as the default for every
/// jail) that caps how many addresses a jail tracks failures for. jailor's own; fail2ban has
/// no such bound.
pub const MAX_TRACKED_OPTION: &str = "maxtrackedaddresses";

/// The jail option that caps a line's length in bytes (at least 64): longer lines are cut
/// where they are read, and the cut is counted. jailor's own; by default the tailer cuts at
/// [`jailor_tail::DEFAULT_MAX_LINE`] and the filter reads at most
/// [`jailor_match::DEFAULT_LINE_CAP`] of a line.
pub const MAX_LINE_OPTION: &str = "maxlinelength";

/// The jail option that bounds how many action jobs (bans, unbans) the keeper holds for the
/// jail's actions beyond the worker's own queue: at the bound, the jail's reader waits before
/// its next ban candidate until the actions have worked half of them off. No ban is dropped.
/// jailor's own; fail2ban has no such bound.
pub const MAX_BACKLOG_OPTION: &str = "maxactionbacklog";

/// [`MAX_BACKLOG_OPTION`] when not set.
pub const DEFAULT_MAX_BACKLOG: usize = 4096;

/// The smallest line cap accepted (the filter's own minimum).
const MIN_LINE_CAP: usize = 64;

/// Everything a jail runs on.
#[derive(Debug, Clone)]
pub struct JailSettings {
    /// The jail's name.
    pub name: String,
    /// File backend.
    pub backend: Backend,
    /// `logpath` patterns and where to start.
    pub logpaths: Vec<(String, StartAt)>,
    /// `logencoding`.
    pub encoding: Encoding,
    /// The filter.
    pub filter: FilterOptions,
    /// `datepattern`.
    pub datepattern: Option<String>,
    /// `logtimezone`.
    pub logtimezone: Option<String>,
    /// `findtime` in seconds.
    pub findtime: i64,
    /// `bantime` in seconds (-1: permanent).
    pub bantime: i64,
    /// `maxretry`.
    pub maxretry: u32,
    /// `maxmatches`.
    pub maxmatches: usize,
    /// [`MAX_TRACKED_OPTION`].
    pub max_tracked: usize,
    /// The tailer's line cap in bytes ([`MAX_LINE_OPTION`]).
    pub max_line: usize,
    /// The keeper's backlog bound for the jail's actions ([`MAX_BACKLOG_OPTION`]).
    pub max_backlog: usize,
    /// `bantime.increment` and its options, when on.
    pub increment: Option<Increment>,
    /// `ignoreip` as written.
    pub ignoreip: String,
    /// `ignoreself`.
    pub ignoreself: bool,
    /// `ignorecommand`, when set.
    pub ignorecommand: Option<String>,
    /// `ignorecache`, when set: `ignorecommand`'s decisions kept per key.
    pub ignorecache: Option<jailor_proto::IgnoreCacheOptions>,
    /// The actions: `action.d` commands for the action runner, or jailor's native ones.
    pub actions: Vec<crate::native::JailAction>,
    /// Things to warn about (a Python action that cannot run, ...).
    pub warnings: Vec<String>,
    /// The systemd journal to read instead of `logpaths` (`backend = systemd`).
    pub journal: Option<jailor_tail::JournalOptions>,
}

impl JailSettings {
    /// Checks and converts `spec`. `max_tracked` is the value of [`MAX_TRACKED_OPTION`] found
    /// for the jail, if any. Errors are one line each, for the log.
    pub fn from_spec(spec: &JailSpec, max_tracked: Option<&str>) -> Result<JailSettings, String> {
        let name = spec.name.clone();
        let journal = crate::journal_source::journal_options(spec)?;
        let backend = match &journal {
            Some(_) => Backend::Auto,
            None => Backend::parse(&spec.backend).map_err(|e| e.to_string())?,
        };
        let Some(filter) = &spec.filter else {
            return Err("the jail has no filter".into());
        };
        let time = |opt: &str, default: i64| -> Result<i64, String> {
            match spec.time(opt) {
                None => Ok(default),
                Some(Ok(v)) => Ok(v as i64),
                Some(Err(e)) => Err(e.to_string()),
            }
        };
        let int = |opt: &str, v: Option<Option<i64>>, default: i64| -> Result<i64, String> {
            match v {
                None => Ok(default),
                Some(Some(n)) => Ok(n),
                Some(None) => Err(format!("{opt} is not a whole number")),
            }
        };
        let findtime = time("findtime", 600)?;
        let bantime = time("bantime", 600)?;
        let maxretry = int("maxretry", spec.maxretry(), 3)?.clamp(1, i64::from(u32::MAX)) as u32;
        let maxmatches = int("maxmatches", spec.maxmatches(), i64::from(maxretry))?.max(0) as usize;
        let maxlines = int("maxlines", filter.maxlines(), 1)?;
        if maxlines < 1 {
            return Err(format!("maxlines = {maxlines} must be at least 1"));
        }
        let usedns = match &filter.usedns {
            None => UseDns::Warn,
            Some(u) => match u.trim().to_ascii_lowercase().as_str() {
                "1" | "on" => UseDns::Yes,
                "0" | "off" => UseDns::No,
                other => other.parse::<UseDns>().map_err(|e| e.to_string())?,
            },
        };
        let max_tracked = match max_tracked {
            None => DEFAULT_MAX_TRACKED,
            Some(v) => match parse_int(v) {
                Some(n) if n > 0 => n as usize,
                _ => {
                    return Err(format!(
                        "{MAX_TRACKED_OPTION} = \"{v}\" is not a positive number"
                    ))
                }
            },
        };
        let line_cap = match spec.option(MAX_LINE_OPTION) {
            None => None,
            Some(v) => match parse_int(v) {
                Some(n) if n >= MIN_LINE_CAP as i64 => Some(n as usize),
                _ => {
                    return Err(format!(
                        "{MAX_LINE_OPTION} = \"{v}\" is not a number of bytes of at least {MIN_LINE_CAP}"
                    ))
                }
            },
        };
        let max_backlog = match spec.option(MAX_BACKLOG_OPTION) {
            None => DEFAULT_MAX_BACKLOG,
            Some(v) => match parse_int(v) {
                Some(n) if n > 0 => n as usize,
                _ => {
                    return Err(format!(
                        "{MAX_BACKLOG_OPTION} = \"{v}\" is not a positive number"
                    ))
                }
            },
        };
        let encoding = match spec.option("logencoding") {
            None => Encoding::Auto,
            Some(e) => Encoding::parse(e).map_err(|e| e.to_string())?,
        };
        let increment = if spec.flag("bantime.increment").unwrap_or(false) {
            let opts = IncrementOptions {
                factor: spec.option("bantime.factor"),
                formula: spec.option("bantime.formula"),
                multipliers: spec.option("bantime.multipliers"),
                maxtime: Some(time("bantime.maxtime", 0)?).filter(|t| *t != 0),
                rndtime: Some(time("bantime.rndtime", 0)?).filter(|t| *t != 0),
                overalljails: spec.flag("bantime.overalljails").unwrap_or(false),
            };
            Some(Increment::from_options(&opts).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let mut warnings = spec.warnings.clone();
        // fail2ban runs such a jail (`add JAIL` makes one, filled by later commands).
        if filter.failregex.is_empty() {
            warnings.push(format!(
                "the filter '{}' has no failregex: nothing is banned",
                filter.name
            ));
        }
        if journal.is_some()
            && !spec
                .backend
                .trim()
                .to_ascii_lowercase()
                .starts_with("systemd")
        {
            warnings.push(
                "no log file found: backend switched to systemd (the filter has a journalmatch)"
                    .into(),
            );
        }
        let mut actions = Vec::new();
        for a in &spec.actions {
            if a.python.is_some() {
                warnings.push(format!(
                    "action '{}': Python actions are not supported; it is skipped",
                    a.actname
                ));
                continue;
            }
            actions.push(crate::native::JailAction::from_config(&name, a)?);
        }
        let logpaths = spec
            .logpaths
            .iter()
            .map(|lp| {
                let start = if lp.tail {
                    StartAt::Tail
                } else {
                    StartAt::Head
                };
                (lp.pattern.clone(), start)
            })
            .collect::<Vec<_>>();
        // The configuration refuses a jail without logpath; a jail made by `add JAIL` has
        // none until `addlogpath` (fail2ban runs it, reading nothing).
        if logpaths.is_empty() && journal.is_none() {
            warnings.push("the jail has no logpath: nothing is read".into());
        }
        // The journal replaces the log files (`auto` falls back to it when none exists).
        let logpaths = if journal.is_some() {
            Vec::new()
        } else {
            logpaths
        };
        Ok(JailSettings {
            name,
            backend,
            logpaths,
            encoding,
            filter: FilterOptions {
                prefregex: filter.prefregex.clone(),
                failregex: filter.failregex.clone(),
                ignoreregex: filter.ignoreregex.clone(),
                maxlines: maxlines as usize,
                usedns,
                line_cap: line_cap.unwrap_or(jailor_match::DEFAULT_LINE_CAP),
                ..FilterOptions::default()
            },
            datepattern: filter.datepattern.clone().filter(|d| !d.trim().is_empty()),
            logtimezone: spec
                .option("logtimezone")
                .map(str::to_owned)
                .or_else(|| filter.logtimezone.clone())
                .filter(|z| !z.trim().is_empty()),
            findtime,
            bantime,
            maxretry,
            maxmatches,
            max_tracked,
            max_line: line_cap.unwrap_or(jailor_tail::DEFAULT_MAX_LINE),
            max_backlog,
            increment,
            ignoreip: spec.option("ignoreip").unwrap_or("").to_owned(),
            ignoreself: spec.flag("ignoreself").unwrap_or(true),
            ignorecommand: spec
                .option("ignorecommand")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            ignorecache: crate::ignore_cmd::parse_ignore_cache(
                spec.option("ignorecache").unwrap_or(""),
            )?,
            actions,
            warnings,
            journal,
        })
    }
}
