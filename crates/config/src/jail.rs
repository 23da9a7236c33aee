//! Jails (`jail.conf`, `jail.d/`, `jail.local`): which logs, which filter, which actions.

use std::path::PathBuf;

use crate::map::Map;

use crate::action::ActionSpec;
use crate::args::{extract_options, split_with_options};
use crate::config::{Config, Vars};
use crate::definition::as_bool;
use crate::error::{Error, ErrorKind, Result};
use crate::filter::{shell_words, FilterSpec};
use crate::stream::{Command, Value};
use crate::{parse_int, parse_time, Loader, Origin};

/// Jail options sent to the server after the filter's, in fail2ban's order.
pub const JAIL_OPTIONS: [&str; 17] = [
    "maxretry",
    "maxmatches",
    "findtime",
    "bantime",
    "bantime.increment",
    "bantime.factor",
    "bantime.formula",
    "bantime.multipliers",
    "bantime.maxtime",
    "bantime.rndtime",
    "bantime.overalljails",
    "ignorecommand",
    "ignoreself",
    "ignoreip",
    "ignorecache",
    "logtimezone",
    "logencoding",
];

/// jailor's own jail options: kept in [`JailSpec::options`] for the daemon, never sent in
/// fail2ban's stream (fail2ban has no such option).
pub const JAILOR_JAIL_OPTIONS: [&str; 3] =
    ["maxlinelength", "maxactionbacklog", "maxtrackedaddresses"];

/// Filter options a jail may set itself, replacing the filter's value.
const FILTER_OPTIONS: [&str; 7] = [
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

/// The order of a filter's own options in the stream.
const FILTER_STREAM_ORDER: [&str; 7] = [
    "usedns",
    "prefregex",
    "maxlines",
    "ignoreregex",
    "failregex",
    "datepattern",
    "journalmatch",
];

const INT_OPTIONS: [&str; 2] = ["maxretry", "maxmatches"];
const BOOL_OPTIONS: [&str; 3] = ["bantime.increment", "bantime.overalljails", "ignoreself"];
const TIME_OPTIONS: [&str; 4] = ["findtime", "bantime", "bantime.maxtime", "bantime.rndtime"];

/// One `logpath` line: a glob pattern and where to start reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPath {
    /// The pattern as written.
    pub pattern: String,
    /// `true` for `tail` (start at the end), `false` for `head` (the default).
    pub tail: bool,
    /// Files the pattern matched when the configuration was read, sorted.
    pub files: Vec<PathBuf>,
}

/// A jail, read and resolved.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JailSpec {
    /// The section name.
    pub name: String,
    /// `backend` (default `auto`).
    pub backend: String,
    /// The filter with the jail's own filter options applied (`None` for `filter =`).
    pub filter: Option<FilterSpec>,
    /// The actions in order.
    pub actions: Vec<ActionSpec>,
    /// `logpath` lines (empty for `systemd` backends, which read the journal).
    pub logpaths: Vec<LogPath>,
    /// The jail options of [`JAIL_OPTIONS`] and [`JAILOR_JAIL_OPTIONS`] that are set,
    /// interpolated, as written.
    pub options: Map<String, String>,
    /// Where each option was written (for error messages).
    pub origins: Map<String, Origin>,
    /// Things fail2ban would warn about (e.g. a logpath matching no file).
    pub warnings: Vec<String>,
    /// Filter options the jail sets itself (`failregex = %(known/failregex)s ...`), as written.
    pub filter_overrides: Map<String, String>,
    /// The filter as its files define it, before the jail's own filter options.
    filter_own: Option<FilterSpec>,
}

impl JailSpec {
    /// A jail option's value as written (`"10m"`).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// `maxretry` (`None` when unset, `Some(None)` when not an integer).
    pub fn maxretry(&self) -> Option<Option<i64>> {
        self.option("maxretry").map(parse_int)
    }

    /// `maxmatches` (`None` when unset, `Some(None)` when not an integer).
    pub fn maxmatches(&self) -> Option<Option<i64>> {
        self.option("maxmatches").map(parse_int)
    }

    /// A time option (`findtime`, `bantime`, `bantime.maxtime`...) in seconds.
    pub fn time(&self, name: &str) -> Option<Result<f64>> {
        self.option(name)
            .map(|v| parse_time(v).map_err(|e| e.at(self.origins.get(name)).in_section(&self.name)))
    }

    /// A boolean option (`ignoreself`, `bantime.increment`...).
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.option(name).map(as_bool)
    }

    /// `ignoreip` split into entries (addresses, networks, host names, files).
    pub fn ignoreip(&self) -> Vec<String> {
        split_words(self.option("ignoreip").unwrap_or(""))
    }

    /// Checks what the server would refuse later: time values, integers, `usedns`, log files,
    /// an empty filter. Returns every problem found.
    pub fn problems(&self) -> Vec<Error> {
        let mut out = Vec::new();
        let at = |e: Error, opt: &str| e.at(self.origins.get(opt)).in_section(&self.name);
        for opt in TIME_OPTIONS {
            if let Some(Err(e)) = self.time(opt) {
                out.push(e);
            }
        }
        for opt in INT_OPTIONS {
            if let Some(v) = self.option(opt) {
                if parse_int(v).is_none() {
                    out.push(at(
                        Error::new(
                            ErrorKind::BadValue,
                            format!("{opt} = \"{v}\" is not a whole number"),
                        ),
                        opt,
                    ));
                }
            }
        }
        if let Some(f) = &self.filter {
            if let Some(Some(n)) = f.maxlines() {
                if n < 1 {
                    out.push(at(
                        Error::new(
                            ErrorKind::BadValue,
                            format!("maxlines = {n} must be at least 1"),
                        ),
                        "maxlines",
                    ));
                }
            } else if let Some(None) = f.maxlines() {
                out.push(at(
                    Error::new(ErrorKind::BadValue, "maxlines is not a whole number"),
                    "maxlines",
                ));
            }
            if let Some(u) = &f.usedns {
                let ok = matches!(
                    u.to_ascii_lowercase().as_str(),
                    "yes" | "warn" | "no" | "raw" | "true" | "false" | "1" | "0" | "on" | "off"
                );
                if !ok {
                    out.push(at(
                        Error::new(
                            ErrorKind::BadValue,
                            format!("usedns = \"{u}\" must be yes, warn, no or raw"),
                        ),
                        "usedns",
                    ));
                }
            }
            if f.failregex.is_empty() {
                out.push(at(
                    Error::new(
                        ErrorKind::BadValue,
                        format!("the filter \"{}\" has no failregex", f.name),
                    ),
                    "filter",
                ));
            }
        }
        for (i, a) in self.actions.iter().enumerate() {
            if self.actions[..i].iter().any(|b| b.actname == a.actname) {
                out.push(at(
                    Error::new(
                        ErrorKind::DuplicateAction,
                        format!(
                            "two actions are named \"{}\" in this jail (the server refuses the second); give one a different name=... or actname=...",
                            a.actname
                        ),
                    ),
                    "action",
                ));
            }
        }
        if !self.backend.starts_with("systemd") {
            for lp in &self.logpaths {
                if lp.files.is_empty() {
                    out.push(at(
                        Error::new(
                            ErrorKind::MissingFile,
                            format!("logpath \"{}\" matches no file", lp.pattern),
                        ),
                        "logpath",
                    ));
                }
            }
            if self.logpaths.is_empty() {
                out.push(at(
                    Error::new(ErrorKind::MissingFile, "the jail has no logpath"),
                    "logpath",
                ));
            }
        }
        out
    }

    /// The jail's commands in fail2ban's stream (without the final `start`).
    pub fn stream(&self) -> Vec<Command> {
        let j = || Value::from(self.name.as_str());
        let set = |k: &str, v: Value| -> Command { vec!["set".into(), j(), k.into(), v] };
        let mut out: Vec<Command> = vec![vec!["add".into(), j(), self.backend.as_str().into()]];
        if let (Some(f), Some(own)) = (&self.filter, &self.filter_own) {
            let given = |opt: &str| self.filter_overrides.contains_key(opt);
            // The jail's own usedns/prefregex/maxlines first, then the filter's options the jail
            // does not set, then the jail's other filter options: fail2ban's order.
            for opt in ["usedns", "prefregex", "maxlines"] {
                if given(opt) {
                    out.extend(filter_commands(&self.name, f, opt));
                }
            }
            for opt in FILTER_STREAM_ORDER {
                if !given(opt) || own.from_init.iter().any(|k| k == opt) {
                    out.extend(filter_commands(&self.name, own, opt));
                }
            }
            for opt in ["ignoreregex", "failregex", "datepattern", "journalmatch"] {
                if given(opt) {
                    out.extend(filter_commands(&self.name, f, opt));
                }
            }
        }
        for opt in JAIL_OPTIONS {
            let Some(v) = self.options.get(opt) else {
                continue;
            };
            if opt == "ignoreip" {
                let words = split_words(v);
                if !words.is_empty() {
                    let mut c: Command = vec!["set".into(), j(), "addignoreip".into()];
                    c.extend(words.into_iter().map(Value::Str));
                    out.push(c);
                }
            } else if INT_OPTIONS.contains(&opt) {
                out.push(set(opt, parse_int(v).map_or(Value::None, Value::Int)));
            } else if BOOL_OPTIONS.contains(&opt) {
                out.push(set(opt, Value::Bool(as_bool(v))));
            } else {
                out.push(set(opt, v.as_str().into()));
            }
        }
        if !self.backend.starts_with("systemd") {
            for lp in &self.logpaths {
                for f in &lp.files {
                    out.push(vec![
                        "set".into(),
                        j(),
                        "addlogpath".into(),
                        f.to_string_lossy().into_owned().into(),
                        if lp.tail { "tail" } else { "head" }.into(),
                    ]);
                }
            }
        }
        for a in &self.actions {
            if let Some(py) = &a.python {
                out.push(vec![
                    "set".into(),
                    j(),
                    "addaction".into(),
                    a.actname.as_str().into(),
                    py.to_string_lossy().into_owned().into(),
                    json_object(&a.args).into(),
                ]);
                continue;
            }
            out.push(vec![
                "set".into(),
                j(),
                "addaction".into(),
                a.actname.as_str().into(),
            ]);
            out.push(vec![
                "multi-set".into(),
                j(),
                "action".into(),
                a.actname.as_str().into(),
                Value::List(a.stream_pairs()),
            ]);
        }
        out
    }
}

/// The stream commands for one filter option of `f`.
fn filter_commands(jail: &str, f: &FilterSpec, opt: &str) -> Vec<Command> {
    let j = || Value::from(jail);
    let set = |k: &str, v: Value| -> Command { vec!["set".into(), j(), k.into(), v] };
    let list = |key: &str, list: &[String]| -> Vec<Command> {
        match list.len() {
            0 => vec![],
            1 => vec![set(key, list[0].as_str().into())],
            _ => vec![vec![
                "multi-set".into(),
                j(),
                key.into(),
                Value::List(list.iter().map(|s| s.as_str().into()).collect()),
            ]],
        }
    };
    match opt {
        "usedns" => f
            .usedns
            .iter()
            .map(|u| set("usedns", u.as_str().into()))
            .collect(),
        "prefregex" => f
            .prefregex
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| set("prefregex", p.as_str().into()))
            .collect(),
        "maxlines" => f
            .maxlines()
            .map(|m| set("maxlines", m.map_or(Value::None, Value::Int)))
            .into_iter()
            .collect(),
        "ignoreregex" => list("addignoreregex", &f.ignoreregex),
        "failregex" => list("addfailregex", &f.failregex),
        "datepattern" => f
            .datepattern
            .iter()
            .map(|d| set("datepattern", d.as_str().into()))
            .collect(),
        "journalmatch" => f
            .journalmatch
            .iter()
            .map(|words| {
                let mut c: Command = vec!["set".into(), j(), "addjournalmatch".into()];
                c.extend(words.iter().map(|w| Value::from(w.as_str())));
                c
            })
            .collect(),
        _ => vec![],
    }
}

/// Python's `json.dumps` of a string dictionary (`{"a": "b"}`).
fn json_object(args: &Map<String, String>) -> String {
    let q = |s: &str| {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        o.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => o.push(c),
            }
        }
        o.push('"');
        o
    };
    let body: Vec<String> = args
        .iter()
        .map(|(k, v)| format!("{}: {}", q(k), q(v)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

/// Splits on white space and commas.
fn split_words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Expands one logpath pattern to the existing files it names, sorted.
fn glob_files(pattern: &str) -> Vec<PathBuf> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut v: Vec<PathBuf> = match glob::glob_with(pattern, opts) {
        Ok(paths) => paths
            .filter_map(|p| p.ok())
            .filter(|p| p.exists())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// One enabled jail: read, or the error that made fail2ban skip it.
pub type JailResult = std::result::Result<JailSpec, JailError>;

/// A jail that could not be read; fail2ban skips it and starts the others.
#[derive(Debug, Clone, PartialEq)]
pub struct JailError {
    /// The jail's name.
    pub jail: String,
    /// What is wrong, with file and line.
    pub error: Error,
}

impl JailError {
    /// The `config-error` message fail2ban puts into its stream for this jail.
    pub fn config_error_message(&self) -> String {
        format!(
            "Jail '{}' skipped, because of wrong configuration: {}",
            self.jail, self.error
        )
    }
}

impl Loader {
    /// Reads `jail.conf` & co. and resolves every enabled jail (disabled ones are left out;
    /// broken ones come back as [`JailError`] in their place).
    pub fn read_jails(&self) -> Result<Vec<JailResult>> {
        Ok(self.read_jails_and_warnings()?.0)
    }

    /// [`Loader::read_jails`], with the warnings of reading the jail files themselves.
    pub(crate) fn read_jails_and_warnings(&self) -> Result<(Vec<JailResult>, Vec<String>)> {
        let cfg = Config::read(&self.base, "jail", &self.statics())?;
        let out = crate::jail_sections::read_in_order(self, &cfg, |loader, cfg, name| {
            loader.read_jail(cfg, name)
        });
        Ok((out, cfg.warnings().to_vec()))
    }

    /// Reads one jail section; `None` when it is not enabled.
    fn read_jail(&self, cfg: &Config, name: &str) -> Result<Option<JailSpec>> {
        let none = Vars::default();
        let get = |opt: &str, vars: &Vars| -> Result<Option<(String, Option<Origin>)>> {
            cfg.get(name, opt, vars).map_err(|e| e.in_section(name))
        };
        let enabled = get("enabled", &none)?.is_some_and(|(v, _)| as_bool(&v));
        if !enabled {
            return Ok(None);
        }
        let mut jail = JailSpec {
            name: name.to_string(),
            ..JailSpec::default()
        };
        let note = |jail: &mut JailSpec, opt: &str, o: Option<Origin>| {
            if let Some(o) = o {
                jail.origins.insert(opt.to_string(), o);
            }
        };
        let (backend, o) = get("backend", &none)?.unwrap_or_else(|| ("auto".into(), None));
        note(&mut jail, "backend", o);
        jail.backend = backend;
        let (filter, fo) = get("filter", &none)?.unwrap_or_default();
        note(&mut jail, "filter", fo.clone());
        let at = |e: Error, o: &Option<Origin>| e.at(o.as_ref()).in_section(name);

        // The filter, and its options as `known/<opt>` for the jail's own values.
        let mut vars = Vars::default();
        if !filter.trim().is_empty() {
            let (fname, fargs) = extract_options(&filter).map_err(|e| at(e, &fo))?;
            let spec = self
                .load_filter_with(&fname, &fargs, &jail.backend)
                .map_err(|e| at(e, &fo))?;
            for (k, v) in &spec.options {
                vars.insert(format!("known/{k}"), v.clone());
            }
            jail.warnings.extend(spec.warnings.iter().cloned());
            jail.filter_own = Some(spec.clone());
            jail.filter = Some(spec);
        }
        if let Some(f) = jail.filter.as_mut() {
            for opt in FILTER_OPTIONS {
                let Some((v, o)) = get(opt, &vars)? else {
                    continue;
                };
                if let Some(o) = o {
                    jail.origins.insert(opt.to_string(), o);
                }
                jail.filter_overrides.insert(opt.to_string(), v.clone());
                let lines: Vec<String> = v
                    .split('\n')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                match opt {
                    "usedns" => f.usedns = Some(v),
                    "prefregex" => f.prefregex = Some(v),
                    "ignoreregex" => f.ignoreregex = lines,
                    "failregex" => f.failregex = lines,
                    "maxlines" => f.maxlines_raw = Some(v),
                    "datepattern" => f.datepattern = Some(v),
                    _ => {
                        f.journalmatch = lines
                            .iter()
                            .map(|l| shell_words(l))
                            .collect::<Result<Vec<_>>>()
                            .map_err(|e| at(e, &jail.origins.get(opt).cloned()))?
                    }
                }
            }
        }
        for opt in JAIL_OPTIONS.iter().chain(&JAILOR_JAIL_OPTIONS) {
            if let Some((v, o)) = get(opt, &vars)? {
                note(&mut jail, opt, o);
                jail.options.insert(opt.to_string(), v);
            }
        }

        // Log files.
        if let Some((lp, o)) = get("logpath", &vars)? {
            note(&mut jail, "logpath", o);
            for line in lp.split('\n').map(str::trim).filter(|l| !l.is_empty()) {
                let (pattern, tail) = match line.rsplit_once(' ') {
                    Some((p, "tail")) => (p.trim_end(), true),
                    Some((p, "head")) => (p.trim_end(), false),
                    _ => (line, false),
                };
                let files = glob_files(pattern);
                if files.is_empty() && !jail.backend.starts_with("systemd") {
                    jail.warnings
                        .push(format!("logpath \"{pattern}\" matches no file"));
                }
                jail.logpaths.push(LogPath {
                    pattern: pattern.to_string(),
                    tail,
                    files,
                });
            }
        }

        // Actions.
        if let Some((list, o)) = get("action", &vars)? {
            note(&mut jail, "action", o.clone());
            for entry in split_with_options(&list) {
                let (file, args) = extract_options(&entry).map_err(|e| at(e, &o))?;
                let action = self
                    .load_action(&file, &args, name)
                    .map_err(|e| at(e, &o))?;
                jail.warnings.extend(action.warnings.iter().cloned());
                jail.actions.push(action);
            }
        }
        Ok(Some(jail))
    }
}
