//! Actions (`action.d/<name>`): what a jail does to ban and unban.

use std::collections::HashSet;
use std::path::PathBuf;

use indexmap::IndexMap;

use crate::args::Args;
use crate::definition::{self, as_bool, combine, init_options};
use crate::error::{ErrorKind, Result};
use crate::stream::Value;
use crate::Loader;

/// The `[Definition]` options an action sends to the server, in fail2ban's order.
pub const ACTION_COMMANDS: [&str; 13] = [
    "actionstart",
    "actionstart_on_demand",
    "actionstop",
    "actionflush",
    "actionreload",
    "actioncheck",
    "actionrepair",
    "actionrepair_on_unban",
    "actionban",
    "actionprolong",
    "actionreban",
    "actionunban",
    "norestored",
];

/// Options converted to booleans after substitution.
const BOOL_OPTIONS: [&str; 3] = [
    "actionstart_on_demand",
    "actionrepair_on_unban",
    "norestored",
];

/// Tags left for the server to fill in at ban time.
const DYNAMIC_TAGS: [&str; 5] = [
    "matches",
    "ipmatches",
    "ipjailmatches",
    "timeout",
    "bantime",
];

/// An action, read and resolved for one jail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionSpec {
    /// The action's name inside its jail (`nftables`, `nftables-tcp`...): unique per jail.
    pub actname: String,
    /// The action file's name (`nftables`), or the `.py` file name for a Python action.
    pub file: String,
    /// Arguments given in the jail (`nftables[type=allports]`).
    pub args: Args,
    /// For a Python action (`action = x.py[...]`), the file's path; such actions have no
    /// commands or properties here.
    pub python: Option<PathBuf>,
    /// The command options (`actionstart`, `actionban`... and the three booleans), substituted,
    /// in [`ACTION_COMMANDS`] order; tags with an `?family=` variant and dynamic tags are kept.
    pub commands: IndexMap<String, String>,
    /// Every property sent to the server (jail arguments, `name`, `actname`, `[Init]` values,
    /// `key?family=inet6` variants), as written, in fail2ban's order.
    pub properties: IndexMap<String, String>,
    /// Every combined option after substitution, helpers included.
    pub options: IndexMap<String, String>,
    /// Things fail2ban would only warn about while reading the action's files.
    pub warnings: Vec<String>,
}

impl ActionSpec {
    /// A command option (`"actionban"`), if the action defines it.
    pub fn command(&self, name: &str) -> Option<&str> {
        self.commands.get(name).map(String::as_str)
    }

    /// `actionstart`.
    pub fn actionstart(&self) -> Option<&str> {
        self.command("actionstart")
    }
    /// `actionstop`.
    pub fn actionstop(&self) -> Option<&str> {
        self.command("actionstop")
    }
    /// `actioncheck`.
    pub fn actioncheck(&self) -> Option<&str> {
        self.command("actioncheck")
    }
    /// `actionban`.
    pub fn actionban(&self) -> Option<&str> {
        self.command("actionban")
    }
    /// `actionunban`.
    pub fn actionunban(&self) -> Option<&str> {
        self.command("actionunban")
    }
    /// `actionflush`.
    pub fn actionflush(&self) -> Option<&str> {
        self.command("actionflush")
    }
    /// `actionrepair`.
    pub fn actionrepair(&self) -> Option<&str> {
        self.command("actionrepair")
    }

    /// The `[key, value]` pairs of the `multi-set ... action` stream command.
    pub fn stream_pairs(&self) -> Vec<Value> {
        let mut v = Vec::new();
        for (k, val) in &self.commands {
            let val = if BOOL_OPTIONS.contains(&k.as_str()) {
                Value::Bool(as_bool(val))
            } else {
                Value::Str(val.clone())
            };
            v.push(Value::List(vec![k.as_str().into(), val]));
        }
        for (k, val) in &self.properties {
            v.push(Value::List(vec![k.as_str().into(), val.as_str().into()]));
        }
        v
    }
}

/// The action name inside a jail: the file name, with a suffix when `name` differs from the jail.
fn default_actname(file: &str, name: &str, jail: &str) -> String {
    if name == jail {
        file.to_string()
    } else if let Some(rest) = name.strip_prefix(jail) {
        format!("{file}{rest}")
    } else {
        format!("{file}-{name}")
    }
}

impl Loader {
    /// Reads action `file` with the jail's arguments for jail `jail`.
    pub fn load_action(&self, file: &str, args: &Args, jail: &str) -> Result<ActionSpec> {
        if let Some(stem) = file.strip_suffix(".py") {
            let actname = args
                .get("actname")
                .cloned()
                .unwrap_or_else(|| stem.rsplit('/').next().unwrap_or(stem).to_string());
            let mut a = args.clone();
            a.shift_remove("actname");
            return Ok(ActionSpec {
                actname,
                file: file.to_string(),
                args: a,
                python: Some(self.base.join("action.d").join(file)),
                ..ActionSpec::default()
            });
        }
        let cfg = definition::read_config(&self.base, "action.d", file, &self.statics()).map_err(
            |e| match e.kind() {
                ErrorKind::MissingFile if e.file().is_none() => definition::unknown(
                    ErrorKind::UnknownAction,
                    "action",
                    file,
                    &self.base,
                    "action.d",
                ),
                _ => e,
            },
        )?;
        let name = args
            .get("name")
            .cloned()
            .unwrap_or_else(|| jail.to_string());
        let actname = args
            .get("actname")
            .cloned()
            .unwrap_or_else(|| default_actname(file, &name, jail));
        let pre = [
            ("name".to_string(), name),
            ("actname".to_string(), actname.clone()),
        ];
        let init = init_options(&cfg, args, &pre);
        let ignore: HashSet<&str> = DYNAMIC_TAGS.into_iter().collect();
        let options = combine(&cfg, &init, &ignore, true)?;
        // The file's commands first, then those the jail gave as arguments, in fixed order.
        let defined = cfg.option_names("Definition");
        let mut commands: IndexMap<String, String> = IndexMap::new();
        for from_jail in [false, true] {
            for k in ACTION_COMMANDS {
                let here = if from_jail {
                    init.contains_key(k)
                } else {
                    !init.contains_key(k) && defined.iter().any(|d| d == k)
                };
                if let Some(v) = options.get(k).filter(|_| here) {
                    commands.insert(k.to_string(), v.clone());
                }
            }
        }
        let properties = init
            .iter()
            .filter(|(k, _)| !k.starts_with("known/") && !commands.contains_key(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(ActionSpec {
            actname,
            file: file.to_string(),
            args: args.clone(),
            python: None,
            commands,
            properties,
            options,
            warnings: cfg.warnings().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actname_suffixes() {
        assert_eq!(default_actname("nftables", "nsd", "nsd"), "nftables");
        assert_eq!(
            default_actname("nftables", "nsd-tcp", "nsd"),
            "nftables-tcp"
        );
        assert_eq!(default_actname("a", "other", "j1"), "a-other");
    }
}
