//! A merged configuration (one name such as `jail` or `filter.d/sshd`, all its files) and
//! `%(name)s` interpolation over it.

use crate::map::HashMap;
use std::path::{Path, PathBuf};

use crate::map::Map;

use crate::error::{Error, ErrorKind, Result};
use crate::files::{self, ParsedFile};
use crate::ini::{Entry, DEFAULT};
use crate::Origin;

/// The options of one section, in first-definition order.
pub type Section = Map<String, Entry>;

/// Values that take precedence over a section's own options during `get` (fail2ban's `vars`:
/// jail arguments and `[Init]` values for filters and actions).
pub type Vars = Map<String, String>;

/// How deep `%(name)s` references may nest (Python's `MAX_INTERPOLATION_DEPTH`).
pub const MAX_INTERPOLATION_DEPTH: usize = 10;

/// One configuration name read from all its files and merged.
#[derive(Debug, Clone, Default)]
pub struct Config {
    sections: Map<String, Section>,
    default: Section,
    known: HashMap<String, Section>,
    statics: Map<String, String>,
    files: Vec<PathBuf>,
    warnings: Vec<String>,
}

/// Splits `Name?cond` (a conditional section) into `Name` and `?cond`.
fn split_conditional(name: &str) -> Option<(&str, &str)> {
    let q = name.find('?')?;
    let (base, cond) = name.split_at(q);
    let word = !base.is_empty() && base.chars().all(|c| c.is_alphanumeric() || c == '_');
    (word && cond.len() > 1).then_some((base, cond))
}

impl Config {
    /// Reads configuration `name` (e.g. `"jail"`, `"filter.d/sshd"`) under `base`, with
    /// `statics` as the last fallback for interpolation (e.g. `fail2ban_version`).
    pub fn read(base: &Path, name: &str, statics: &Map<String, String>) -> Result<Config> {
        let (parsed, warnings) = files::read_set(base, name)?;
        let mut cfg = Self::from_files(parsed, statics.clone());
        cfg.warnings = warnings;
        Ok(cfg)
    }

    /// Merges parsed files in order: later files override earlier ones option by option; the
    /// value an option had before is kept for `%(known/option)s`.
    pub fn from_files(parsed: Vec<ParsedFile>, statics: Map<String, String>) -> Config {
        let mut cfg = Config {
            statics,
            ..Config::default()
        };
        for file in parsed {
            cfg.files.push(file.path.to_path_buf());
            for sec in file.sections {
                let (target, suffix) = match split_conditional(&sec.name) {
                    Some((b, c)) => (b.to_string(), c.to_string()),
                    None => (sec.name.clone(), String::new()),
                };
                let map = if target == DEFAULT {
                    &mut cfg.default
                } else {
                    cfg.sections.entry(target.clone()).or_default()
                };
                for (key, entry) in sec.entries {
                    let key = format!("{key}{suffix}");
                    if let Some(old) = map.insert(key.clone(), entry) {
                        cfg.known
                            .entry(target.clone())
                            .or_default()
                            .insert(key, old);
                    }
                }
            }
        }
        cfg
    }

    /// Things fail2ban would only warn about (an include loop, skipped).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Records a warning.
    pub(crate) fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    /// The files read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Section names in first-appearance order (without `[DEFAULT]`).
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }

    /// Whether `[section]` exists.
    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    /// The section's own options (not `[DEFAULT]`'s).
    pub fn own(&self, section: &str) -> Option<&Section> {
        if section == DEFAULT {
            Some(&self.default)
        } else {
            self.sections.get(section)
        }
    }

    /// Option names visible in `section`: its own, then `[DEFAULT]`'s.
    pub fn option_names(&self, section: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .sections
            .get(section)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        for k in self.default.keys() {
            if !v.contains(k) {
                v.push(k.clone());
            }
        }
        v
    }

    /// The raw entry of `option` in `section`, falling back to `[DEFAULT]`.
    pub fn raw(&self, section: &str, option: &str) -> Option<&Entry> {
        self.sections
            .get(section)
            .and_then(|s| s.get(option))
            .or_else(|| self.default.get(option))
    }

    /// Adds or replaces an option (used to merge a filter's options into a jail as `known/x`).
    pub fn set(&mut self, section: &str, option: &str, entry: Entry) {
        let map = if section == DEFAULT {
            &mut self.default
        } else {
            self.sections.entry(section.to_string()).or_default()
        };
        map.insert(option.to_string(), entry);
    }

    /// The interpolated value of `option` in `section` (`vars` first, then the section, then
    /// `[DEFAULT]`), with where it was written. `None` when the option is not defined.
    pub fn get(
        &self,
        section: &str,
        option: &str,
        vars: &Vars,
    ) -> Result<Option<(String, Option<Origin>)>> {
        let (raw, origin) = match vars.get(option) {
            Some(v) => (v.as_str(), None),
            None => match self.raw(section, option) {
                Some(e) => (e.value.as_str(), Some(e.origin.clone())),
                None => return Ok(None),
            },
        };
        let value = self
            .interpolate(section, option, raw, vars)
            .map_err(|e| e.at(origin.as_ref()).in_section(section))?;
        Ok(Some((value, origin)))
    }

    /// Resolves a `%(name)s` reference name in the context of `section`.
    fn lookup(&self, section: &str, name: &str, vars: &Vars) -> Option<String> {
        if name == "__name__" {
            return Some(section.to_string());
        }
        let lower = name.to_lowercase();
        if let Some(v) = vars.get(&lower) {
            return Some(v.clone());
        }
        if let Some(e) = self.raw(section, &lower) {
            return Some(e.value.clone());
        }
        if let Some((sec, opt)) = name.split_once('/') {
            let valid = !sec.is_empty()
                && sec
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
            if valid {
                let opt = opt.to_lowercase();
                let found = match sec {
                    "known" | "KNOWN" => self
                        .known
                        .get(section)
                        .and_then(|k| k.get(&opt))
                        .or_else(|| self.default.get(&opt)),
                    "default" | DEFAULT => self.default.get(&opt),
                    _ => self.raw(sec, &opt),
                };
                if let Some(e) = found {
                    return Some(e.value.clone());
                }
            }
        }
        self.statics.get(&lower).cloned()
    }

    /// Replaces `%(name)s` and `%%` in `value`, read as option `option` of `section`.
    pub fn interpolate(
        &self,
        section: &str,
        option: &str,
        value: &str,
        vars: &Vars,
    ) -> Result<String> {
        let mut out = String::with_capacity(value.len());
        self.interpolate_into(section, option, value, vars, 1, &mut out)?;
        Ok(out)
    }

    fn interpolate_into(
        &self,
        section: &str,
        option: &str,
        value: &str,
        vars: &Vars,
        depth: usize,
        out: &mut String,
    ) -> Result<()> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(Error::new(
                ErrorKind::InterpolationDepth,
                format!(
                    "option \"{option}\": %(name)s references nest deeper than {MAX_INTERPOLATION_DEPTH} levels (probably a loop)"
                ),
            ));
        }
        let mut rest = value;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
            } else if let Some(r) = after.strip_prefix('(') {
                let Some(close) = r
                    .find(')')
                    .filter(|&c| c > 0 && r[c + 1..].starts_with('s'))
                else {
                    return Err(Error::new(
                        ErrorKind::InterpolationSyntax,
                        format!(
                            "option \"{option}\": bad %(name)s reference near \"%{}\"",
                            after.chars().take(30).collect::<String>()
                        ),
                    ));
                };
                let name = &r[..close];
                let Some(v) = self.lookup(section, name, vars) else {
                    return Err(Error::new(
                        ErrorKind::InterpolationMissing,
                        format!("option \"{option}\" refers to %({name})s, which is not defined"),
                    ));
                };
                if v.contains('%') {
                    self.interpolate_into(section, option, &v, vars, depth + 1, out)?;
                } else {
                    out.push_str(&v);
                }
                rest = &r[close + 2..];
            } else {
                return Err(Error::new(
                    ErrorKind::InterpolationSyntax,
                    format!("option \"{option}\": '%' must be followed by '%' or '(' (write %% for a literal %)"),
                ));
            }
        }
        out.push_str(rest);
        Ok(())
    }
}
