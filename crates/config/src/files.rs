//! Which files make up one configuration name, in which order: `X.conf`, `X.d/*.conf`,
//! `X.local`, `X.d/*.local`, each expanded with its `[INCLUDES]` `before`/`after` files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::ini::{self, ParsedSection};

/// A parsed file and its path.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    /// The file's path.
    pub path: Arc<Path>,
    /// Its sections in file order.
    pub sections: Vec<ParsedSection>,
}

/// The files fail2ban reads for `name` under `base`, existing ones only, before includes.
pub fn file_set(base: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let conf = base.join(format!("{name}.conf"));
    let local = base.join(format!("{name}.local"));
    let dir = base.join(format!("{name}.d"));
    if conf.is_file() {
        out.push(conf);
    }
    out.extend(sorted_glob(&dir, "conf"));
    if local.is_file() {
        out.push(local);
    }
    out.extend(sorted_glob(&dir, "local"));
    out
}

fn sorted_glob(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == ext)
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'))
                && p.is_file()
        })
        .collect();
    v.sort();
    v
}

/// Reads and parses one file.
pub fn parse_file(path: &Path) -> Result<ParsedFile> {
    let bytes = std::fs::read(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::MissingFile
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("cannot read the file: {e}")).in_file(path)
    })?;
    let text = ini::decode(bytes, path)?;
    let path: Arc<Path> = Arc::from(path);
    let sections = ini::parse(&text, &path)?;
    Ok(ParsedFile { path, sections })
}

/// A file name with its sibling `.local`, when that exists.
fn with_local(p: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if p.exists() {
        v.push(p.to_path_buf());
    }
    if p.extension().is_some_and(|e| e == "conf") {
        let local = p.with_extension("local");
        if local.is_file() {
            v.push(local);
        }
    }
    v
}

/// Expands `file` into `before`-includes + file + `after`-includes, recursively, appending
/// parsed files to `out`. `stack` holds the files being expanded: an include back into it is
/// an include loop, skipped as fail2ban skips it, with a warning.
pub fn expand(
    file: &Path,
    stack: &mut Vec<PathBuf>,
    out: &mut Vec<ParsedFile>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let parsed = parse_file(file)?;
    stack.push(file.to_path_buf());
    let includes = |key: &str| -> Vec<(PathBuf, usize)> {
        let dir = file.parent().unwrap_or(Path::new("."));
        parsed
            .sections
            .iter()
            .filter(|s| s.name == "INCLUDES")
            .flat_map(|s| s.entries.iter())
            .filter(|(k, _)| k == key)
            .flat_map(|(_, e)| {
                e.value
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| (dir.join(l), e.origin.line))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let before = includes("before");
    let after = includes("after");
    let mut run = |list: Vec<(PathBuf, usize)>,
                   out: &mut Vec<ParsedFile>,
                   warnings: &mut Vec<String>|
     -> Result<()> {
        for (inc, line) in list {
            if inc.is_dir() {
                return Err(Error::new(
                    ErrorKind::Include,
                    format!("[INCLUDES] names \"{}\", which is a folder", inc.display()),
                )
                .in_file(file)
                .at_line(line));
            }
            for f in with_local(&inc) {
                if stack.contains(&f) {
                    let e = Error::new(
                        ErrorKind::IncludeCycle,
                        format!(
                            "[INCLUDES] includes \"{}\", which is already being read: an include loop (skipped, as fail2ban does)",
                            f.display()
                        ),
                    )
                    .in_file(file)
                    .at_line(line);
                    warnings.push(e.to_string());
                    continue;
                }
                expand(&f, stack, out, warnings).map_err(|e| match e.kind() {
                    ErrorKind::MissingFile | ErrorKind::Io => e.in_file(&f),
                    _ => e,
                })?;
            }
        }
        Ok(())
    };
    run(before, out, warnings)?;
    out.push(parsed);
    run(after, out, warnings)?;
    stack.pop();
    Ok(())
}

/// All parsed files for configuration `name` under `base`, in reading order, and warnings.
/// Fails with [`ErrorKind::MissingFile`] when none of the files exists.
pub fn read_set(base: &Path, name: &str) -> Result<(Vec<ParsedFile>, Vec<String>)> {
    let set = file_set(base, name);
    if set.is_empty() {
        return Err(Error::new(
            ErrorKind::MissingFile,
            format!(
                "found no configuration file for \"{name}\" under {} (looked for {name}.conf, {name}.d/*.conf, {name}.local)",
                base.display()
            ),
        ));
    }
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for f in set {
        expand(&f, &mut Vec::new(), &mut out, &mut warnings)?;
    }
    Ok((out, warnings))
}
