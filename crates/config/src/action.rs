//! Actions (`action.d/<name>`): what a jail does to ban and unban.

use crate::map::Set;
use std::path::PathBuf;

use crate::map::Map;

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

/// Action names that jailor runs natively (in Rust, not through `action.d` commands).
///
/// A jail may name one without any `action.d/<name>.conf` file (fail2ban's own `/etc/fail2ban`
/// has none): the action is then its jail arguments alone. Where such a file exists (jailor's
/// own configuration ships one to document the arguments), it is read as any other action.
pub const NATIVE_ACTIONS: [&str; 1] = ["jailor-nftables"];

/// Whether `file` (what precedes `[…]` in `action = file[…]`) names a native action.
pub fn is_native_action(file: &str) -> bool {
    NATIVE_ACTIONS.contains(&file.trim())
}

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
    pub commands: Map<String, String>,
    /// Every property sent to the server (jail arguments, `name`, `actname`, `[Init]` values,
    /// `key?family=inet6` variants), as written, in fail2ban's order.
    pub properties: Map<String, String>,
    /// Every combined option after substitution, helpers included.
    pub options: Map<String, String>,
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
        let name = args
            .get("name")
            .cloned()
            .unwrap_or_else(|| jail.to_string());
        let actname = args
            .get("actname")
            .cloned()
            .unwrap_or_else(|| default_actname(file, &name, jail));
        let cfg = match definition::read_config(&self.base, "action.d", file, &self.statics()) {
            Ok(cfg) => cfg,
            Err(e) if matches!(e.kind(), ErrorKind::MissingFile) && e.file().is_none() => {
                if is_native_action(file) {
                    return Ok(native_spec(file, args, name, actname));
                }
                return Err(definition::unknown(
                    ErrorKind::UnknownAction,
                    "action",
                    file,
                    &self.base,
                    "action.d",
                ));
            }
            Err(e) => return Err(e),
        };
        let pre = [
            ("name".to_string(), name),
            ("actname".to_string(), actname.clone()),
        ];
        let init = init_options(&cfg, args, &pre);
        let ignore: Set<&str> = DYNAMIC_TAGS.into_iter().collect();
        let options = combine(&cfg, &init, &ignore, true)?;
        // The file's commands first, then those the jail gave as arguments, in fixed order.
        let defined = cfg.option_names("Definition");
        let mut commands: Map<String, String> = Map::default();
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

/// A native action without a file: its properties are `name`, `actname` and the jail's
/// arguments; it has no commands (the daemon runs it in Rust).
fn native_spec(file: &str, args: &Args, name: String, actname: String) -> ActionSpec {
    let mut properties = args.clone();
    for (k, v) in [("name", name), ("actname", actname.clone())] {
        properties.entry(k.to_string()).or_insert(v);
    }
    ActionSpec {
        actname,
        file: file.to_string(),
        args: args.clone(),
        python: None,
        commands: Map::default(),
        options: properties.clone(),
        properties,
        warnings: Vec::new(),
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

    fn jails_in(dir: &std::path::Path, jails: &str) -> Vec<crate::JailResult> {
        std::fs::create_dir_all(dir.join("filter.d")).unwrap();
        std::fs::write(
            dir.join("filter.d/f.conf"),
            "[Definition]\nfailregex = ^x <HOST>$\n",
        )
        .unwrap();
        std::fs::write(dir.join("x.log"), "").unwrap();
        std::fs::write(dir.join("jail.conf"), jails).unwrap();
        crate::Loader::new(dir).read_jails().unwrap()
    }

    #[test]
    fn native_action_needs_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let jails = jails_in(
            dir.path(),
            "[DEFAULT]\nbanaction = jailor-nftables\nport = 0:65535\n\
             action_ = %(banaction)s[port=\"%(port)s\", protocol=\"tcp\"]\n\
             [j]\nenabled = true\nfilter = f\nlogpath = x.log\nport = 22,2222\n\
             action = %(action_)s\n         jailor-nftables[name=j6, banprefix6=64]\n",
        );
        let jail = jails[0].as_ref().unwrap();
        assert_eq!(jail.actions.len(), 2);
        let a = &jail.actions[0];
        assert_eq!(
            (a.file.as_str(), a.actname.as_str()),
            ("jailor-nftables", "jailor-nftables")
        );
        assert!(a.commands.is_empty());
        assert_eq!(a.properties["port"], "22,2222");
        assert_eq!(a.properties["protocol"], "tcp");
        assert_eq!(a.properties["name"], "j");
        let b = &jail.actions[1];
        assert_eq!(b.actname, "jailor-nftables6");
        assert_eq!(b.properties["banprefix6"], "64");
        // Only the native name is exempt: a look-alike still needs its file.
        let dir = tempfile::tempdir().unwrap();
        let jails = jails_in(
            dir.path(),
            "[j]\nenabled = true\nfilter = f\nlogpath = x.log\naction = jailor-nftables-x\n",
        );
        let e = jails[0].as_ref().unwrap_err();
        assert!(matches!(e.error.kind(), ErrorKind::UnknownAction), "{e:?}");
    }

    #[test]
    fn a_native_action_file_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("action.d")).unwrap();
        std::fs::write(
            dir.path().join("action.d/jailor-nftables.conf"),
            "[Definition]\nactionban = true <ip>\n[Init]\nblocktype = drop\n",
        )
        .unwrap();
        let jails = jails_in(
            dir.path(),
            "[j]\nenabled = true\nfilter = f\nlogpath = x.log\naction = jailor-nftables\n",
        );
        let a = &jails[0].as_ref().unwrap().actions[0];
        assert_eq!(a.properties["blocktype"], "drop");
        assert!(a.actionban().is_some());
    }
}
