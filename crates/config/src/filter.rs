//! Filters (`filter.d/<name>`): what a jail looks for in its logs.

use crate::map::Set;
use std::path::Path;

use crate::map::Map;

use crate::args::{extract_options, Args};
use crate::definition::{self, combine, init_options};
use crate::error::{ErrorKind, Result};
use crate::Loader;

/// A filter, read and resolved for one jail (or for `jailor regex`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterSpec {
    /// The filter's name (`sshd`) or the path it was read from.
    pub name: String,
    /// Arguments given with it (`sshd[mode=aggressive]` → `mode=aggressive`).
    pub args: Args,
    /// `prefregex`, tags (`<HOST>`...) still in it.
    pub prefregex: Option<String>,
    /// `failregex`, one regex per non-empty line.
    pub failregex: Vec<String>,
    /// `ignoreregex`, one regex per non-empty line.
    pub ignoreregex: Vec<String>,
    /// `datepattern`.
    pub datepattern: Option<String>,
    /// `maxlines` as written (see [`FilterSpec::maxlines`]).
    pub maxlines_raw: Option<String>,
    /// `journalmatch`, one entry per line, each split into shell words (`+` separates OR-groups).
    pub journalmatch: Vec<Vec<String>>,
    /// `usedns`.
    pub usedns: Option<String>,
    /// `logtimezone`.
    pub logtimezone: Option<String>,
    /// Every combined option after `<tag>` substitution (init options included), in order.
    pub options: Map<String, String>,
    /// Options whose value comes from the filter's `[Init]` section rather than `[Definition]`
    /// (a jail's own value does not hide these from fail2ban's stream).
    pub from_init: Vec<String>,
    /// Things fail2ban would only warn about while reading the filter's files.
    pub warnings: Vec<String>,
}

impl FilterSpec {
    /// `maxlines` as an integer (`None` when absent; `Some(None)` when not a number).
    pub fn maxlines(&self) -> Option<Option<i64>> {
        self.maxlines_raw.as_deref().map(crate::parse_int)
    }
}

/// Splits a string into shell words (POSIX quoting, as Python's `shlex.split`).
pub fn shell_words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => {
                            return Err(crate::Error::new(
                                ErrorKind::BadValue,
                                format!("no closing quotation in \"{s}\""),
                            ))
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('\\' | '"' | '$' | '`' | '\n')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => {
                                return Err(crate::Error::new(
                                    ErrorKind::BadValue,
                                    format!("no closing quotation in \"{s}\""),
                                ))
                            }
                        },
                        Some(c) => cur.push(c),
                        None => {
                            return Err(crate::Error::new(
                                ErrorKind::BadValue,
                                format!("no closing quotation in \"{s}\""),
                            ))
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => {
                        return Err(crate::Error::new(
                            ErrorKind::BadValue,
                            format!("no escaped character in \"{s}\""),
                        ))
                    }
                }
            }
            '#' if !in_word => break,
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn lines(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

impl Loader {
    /// Reads a filter given as `name`, `name[key=value, ...]` or a path to a `.conf` file, for a
    /// jail on `backend` (which decides the automatic `logtype`: `journal` for `systemd*`, else
    /// `file`).
    pub fn load_filter(&self, spec: &str, backend: &str) -> Result<FilterSpec> {
        let (name, args) = extract_options(spec)?;
        self.load_filter_with(&name, &args, backend)
    }

    /// Like [`Loader::load_filter`] with the name and arguments already split.
    pub fn load_filter_with(&self, name: &str, args: &Args, backend: &str) -> Result<FilterSpec> {
        let cfg = definition::read_config(&self.base, "filter.d", name, &self.statics()).map_err(
            |e| match e.kind() {
                ErrorKind::MissingFile if e.file().is_none() => definition::unknown(
                    ErrorKind::UnknownFilter,
                    "filter",
                    name,
                    &self.base,
                    "filter.d",
                ),
                _ => e,
            },
        )?;
        let mut init = init_options(&cfg, args, &[]);
        let defines_logtype = cfg
            .own("Definition")
            .is_some_and(|d| d.contains_key("logtype"));
        if !init.contains_key("logtype") && !defines_logtype {
            let lt = if backend.starts_with("systemd") {
                "journal"
            } else {
                "file"
            };
            init.insert("logtype".into(), lt.into());
        }
        let options = combine(&cfg, &init, &Set::default(), false)?;
        let defined = cfg.option_names("Definition");
        let from_init = init
            .keys()
            .filter(|k| !defined.contains(k))
            .cloned()
            .collect();
        let journalmatch = lines(options.get("journalmatch"))
            .iter()
            .map(|l| shell_words(l))
            .collect::<Result<Vec<_>>>()?;
        Ok(FilterSpec {
            name: name.to_string(),
            args: args.clone(),
            prefregex: options.get("prefregex").cloned(),
            failregex: lines(options.get("failregex")),
            ignoreregex: lines(options.get("ignoreregex")),
            datepattern: options.get("datepattern").cloned(),
            maxlines_raw: options.get("maxlines").cloned(),
            journalmatch,
            usedns: options.get("usedns").cloned(),
            logtimezone: options.get("logtimezone").cloned(),
            options,
            from_init,
            warnings: cfg.warnings().to_vec(),
        })
    }
}

/// Reads a filter under `base_dir` (see [`Loader::load_filter`]), speaking the default fail2ban
/// version.
pub fn load_filter(base_dir: &Path, spec: &str, backend: &str) -> Result<FilterSpec> {
    Loader::new(base_dir).load_filter(spec, backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_like_splitting() {
        assert_eq!(
            shell_words(r#"_SYSTEMD_UNIT=x.service + _COMM="a b" 'c d'e"#).unwrap(),
            ["_SYSTEMD_UNIT=x.service", "+", "_COMM=a b", "c de"]
        );
        assert!(shell_words("\"open").is_err());
    }
}
