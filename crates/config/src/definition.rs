//! What filters and actions share: a file with `[Definition]` and `[Init]` sections, arguments
//! from the jail, and `<tag>` substitution over the combined options (spec §1.6).

use crate::map::Set;
use std::path::Path;

use crate::map::Map;

use crate::args::Args;
use crate::config::{Config, Vars};
use crate::error::{Error, ErrorKind, Result};
use crate::files;
use crate::tags;

/// Reads a definition file set: `<base>/<dir>/<name>` (`.conf`, `.d/`, `.local`), or, when
/// `name` is a path to an existing file, that file (with its `.local`) and its includes.
pub fn read_config(
    base: &Path,
    dir: &str,
    name: &str,
    statics: &Map<String, String>,
) -> Result<Config> {
    let p = Path::new(name);
    if (name.contains('/') || name.ends_with(".conf") || name.ends_with(".local")) && p.is_file() {
        let mut parsed = Vec::new();
        let mut warnings = Vec::new();
        files::expand(p, &mut Vec::new(), &mut parsed, &mut warnings)?;
        if p.extension().is_some_and(|e| e == "conf") {
            let local = p.with_extension("local");
            if local.is_file() {
                files::expand(&local, &mut Vec::new(), &mut parsed, &mut warnings)?;
            }
        }
        let mut cfg = Config::from_files(parsed, statics.clone());
        for w in warnings {
            cfg.warn(w);
        }
        return Ok(cfg);
    }
    Config::read(base, &format!("{dir}/{name}"), statics)
}

/// Builds the init options: the jail's arguments, then `pre` defaults not given, then the file's
/// `[Init]` values not given (each also kept as `known/<key>`), with conditional keys following
/// their base key when the jail gave that.
pub fn init_options(cfg: &Config, args: &Args, pre: &[(String, String)]) -> Vars {
    let mut init: Vars = args.clone();
    for (k, v) in pre {
        if !init.contains_key(k) {
            init.insert(k.clone(), v.clone());
        }
    }
    if let Some(own) = cfg.own("Init") {
        for (key, entry) in own {
            if key.starts_with("known/") {
                continue;
            }
            // The file's own raw value, even where the jail gives one (that one is kept apart);
            // `%(x)s` in it is resolved where it is used, as fail2ban's `vars` are.
            let value = entry.value.clone();
            init.insert(format!("known/{key}"), value.clone());
            if args.contains_key(key) {
                continue;
            }
            if let Some((base, _)) = key.split_once('?') {
                if let Some(given) = args.get(base) {
                    init.insert(key.clone(), given.clone());
                    continue;
                }
            }
            init.entry(key.clone()).or_insert(value);
        }
    }
    init
}

/// Resolves `section/option` forms for tags (`<lt_file/__prefix_line>`, `<known/chain>`).
fn tag_fallback(cfg: &Config, init: &Vars, tag: &str) -> Result<Option<String>> {
    let Some((sec, opt)) = tag.split_once('/') else {
        return Ok(None);
    };
    let valid_sec = !sec.is_empty()
        && sec
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !valid_sec || opt.is_empty() || opt.contains(char::is_whitespace) {
        return Ok(None);
    }
    match sec {
        "known" | "default" => {
            let name = format!("%({tag})s");
            match cfg.interpolate("Definition", tag, &name, init) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == ErrorKind::InterpolationMissing => Ok(None),
                Err(e) => Err(e),
            }
        }
        _ if cfg.has_section(sec) => Ok(cfg.get(sec, opt, init)?.map(|(v, _)| v)),
        _ => Ok(None),
    }
}

/// The combined options: every `[Definition]` option (interpolated with `init` as vars, which
/// take precedence), the other init options, then `<tag>` substitution.
pub fn combine(
    cfg: &Config,
    init: &Vars,
    ignore: &Set<&str>,
    keep_conditional: bool,
) -> Result<Map<String, String>> {
    let mut combined: Map<String, String> = Map::default();
    for opt in cfg.option_names("Definition") {
        if let Some((v, _)) = cfg.get("Definition", &opt, init)? {
            combined.insert(opt, v);
        }
    }
    // Init options the `[Definition]` does not name join too (those it names were read above,
    // the init value taking precedence).
    for (k, v) in init {
        if !combined.contains_key(k) {
            let v = cfg
                .interpolate("Init", k, v, init)
                .unwrap_or_else(|_| v.clone());
            combined.insert(k.clone(), v);
        }
    }
    tags::substitute(&mut combined, "", ignore, keep_conditional, &|t| {
        tag_fallback(cfg, init, t)
    })
    .map_err(|e| match cfg.files().last() {
        Some(f) => e.in_file(f).in_section("Definition"),
        None => e,
    })?;
    Ok(combined)
}

/// Converts a fail2ban boolean (`1`, `on`, `true`, `yes`, any case).
pub fn as_bool(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "on" | "true" | "yes"
    )
}

/// The error for an unknown filter or action file.
pub fn unknown(kind: ErrorKind, what: &str, name: &str, base: &Path, dir: &str) -> Error {
    Error::new(
        kind,
        format!(
            "unknown {what} \"{name}\": there is no {dir}/{name}.conf or {dir}/{name}.local under {}",
            base.display()
        ),
    )
}
