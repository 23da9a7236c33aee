//! jailor's own default configuration, embedded in the binary.
//!
//! The project's `config/` folder (our filters, actions, `jail.conf` and `jailor.conf`, in
//! fail2ban's file formats) is compiled in, so jailor protects a server out of the box. The
//! reader works on folders, so the embedded files are written to a private temporary folder
//! (mode 0700, random name, removed when dropped) and read from there.

use std::io;
use std::path::{Path, PathBuf};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));
}

/// Where jailor's installed configuration lives (`/etc/jailor`), preferred over the embedded one.
pub const INSTALLED_BASE: &str = "/etc/jailor";

/// Every embedded file: its path relative to the configuration folder and its contents.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    generated::FILES
}

/// The contents of one embedded file, by its relative path (e.g. `filter.d/sshd.conf`).
pub fn file(relative: &str) -> Option<&'static [u8]> {
    files()
        .iter()
        .find(|(name, _)| *name == relative)
        .map(|(_, data)| *data)
}

/// Writes the embedded configuration into `dest` (created if missing), leaving files that
/// already exist untouched unless `overwrite` is set. Returns the files written.
pub fn install(dest: &Path, overwrite: bool) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (rel, data) in files() {
        let path = dest.join(rel);
        if !overwrite && path.exists() {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, data)?;
        written.push(path);
    }
    Ok(written)
}

/// A configuration folder to read: one given by the user, or the embedded default written to a
/// private temporary folder that lives as long as this value.
#[derive(Debug)]
pub enum ConfigBase {
    /// A folder on disk (`-c DIR`, or `/etc/jailor` when installed).
    Dir(PathBuf),
    /// The embedded default, materialised in a temporary folder.
    Embedded(tempfile::TempDir),
}

impl ConfigBase {
    /// Chooses the configuration: `dir` when given; else `/etc/jailor` when it holds a
    /// `jail.conf`; else the embedded default.
    pub fn resolve(dir: Option<&Path>) -> io::Result<ConfigBase> {
        if let Some(dir) = dir {
            return Ok(ConfigBase::Dir(dir.to_path_buf()));
        }
        let installed = Path::new(INSTALLED_BASE);
        if installed.join("jail.conf").is_file() {
            return Ok(ConfigBase::Dir(installed.to_path_buf()));
        }
        ConfigBase::embedded()
    }

    /// The embedded default, written to a fresh private temporary folder.
    pub fn embedded() -> io::Result<ConfigBase> {
        let tmp = tempfile::Builder::new()
            .prefix("jailor-config-")
            .tempdir()?;
        install(tmp.path(), true)?;
        Ok(ConfigBase::Embedded(tmp))
    }

    /// The folder to read.
    pub fn path(&self) -> &Path {
        match self {
            ConfigBase::Dir(p) => p,
            ConfigBase::Embedded(t) => t.path(),
        }
    }

    /// A short description for messages: the folder, or "the embedded default configuration".
    pub fn describe(&self) -> String {
        match self {
            ConfigBase::Dir(p) => p.display().to_string(),
            ConfigBase::Embedded(_) => "the embedded default configuration".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_holds_the_core_files_and_materialises() {
        // The default must carry at least the server settings and the syslog prefix helper.
        assert!(file("jailor.conf").is_some(), "jailor.conf is not embedded");
        assert!(file("filter.d/common.conf").is_some());
        let base = ConfigBase::embedded().unwrap();
        for (rel, data) in files() {
            assert_eq!(&std::fs::read(base.path().join(rel)).unwrap(), data);
        }
        let path = base.path().to_path_buf();
        drop(base);
        assert!(!path.exists(), "the temporary folder outlived its owner");
    }
}
