//! Helpers shared by jailor's tests.
//!
//! Some tests need things a fresh machine may lack: fail2ban's compatibility corpus
//! (`../shared/compat`), root, or a Debian package such as `fail2ban`. Such a test calls one
//! of the `require_*` functions first. Where the thing is missing, the function prints one line
//! `jailor-test: SKIP <test>: <reason>` and returns `None`, and the test returns early, so
//! `cargo test` passes on a fresh machine.
//!
//! CI must not skip anything: `.ci/run` sets `JAILOR_NO_SKIP=1`, and then a missing
//! requirement panics instead, failing the test with the same reason.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

/// Environment variable naming fail2ban's corpus (a folder with `config/`, `logs/`, `reference/`).
pub const CORPUS_ENV: &str = "JAILOR_F2B_CORPUS";

/// Environment variable that turns every skip into a failure (set by `.ci/run`).
pub const NO_SKIP_ENV: &str = "JAILOR_NO_SKIP";

/// Skips (or, under `JAILOR_NO_SKIP`, fails) the calling test with a one-line reason.
///
/// Always returns `None`, so a test can write `let Some(x) = ... else { return };`.
pub fn skip<T>(test: &str, reason: &str) -> Option<T> {
    if std::env::var_os(NO_SKIP_ENV).is_some_and(|v| v != "0" && !v.is_empty()) {
        panic!("{test}: required but missing ({NO_SKIP_ENV} is set): {reason}");
    }
    eprintln!("jailor-test: SKIP {test}: {reason}");
    None
}

/// The project's root folder (the workspace root).
pub fn project_root() -> PathBuf {
    // This crate lives at <root>/crates/testkit.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// fail2ban's compatibility corpus: `$JAILOR_F2B_CORPUS`, else `../shared/compat` beside the
/// project root. Skips the test when neither exists.
pub fn require_corpus(test: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os(CORPUS_ENV) {
        Some(p) => PathBuf::from(p),
        None => project_root().join("../shared/compat"),
    };
    if dir.join("config").is_dir() {
        Some(dir)
    } else {
        skip(
            test,
            &format!(
                "fail2ban's corpus not found at {} (set {CORPUS_ENV})",
                dir.display()
            ),
        )
    }
}

/// The shared benchmark material (`../shared/bench`), or a skip.
pub fn require_shared_bench(test: &str) -> Option<PathBuf> {
    let dir = project_root().join("../shared/bench");
    if dir.join("gen_authlog.py").is_file() {
        Some(dir)
    } else {
        skip(test, &format!("{} not found", dir.display()))
    }
}

/// The full path of `cmd` found on `PATH` (or in the sbin folders), or a skip naming the
/// Debian package that provides it.
pub fn require_command(test: &str, cmd: &str, package: &str) -> Option<PathBuf> {
    match find_command(cmd) {
        Some(p) => Some(p),
        None => skip(
            test,
            &format!("`{cmd}` not installed (apt-get install {package})"),
        ),
    }
}

/// Finds `cmd` on `PATH`, then in `/usr/sbin` and `/sbin` (which a non-login root shell may lack).
pub fn find_command(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(cmd))
        .find(|p| p.is_file())
}

/// `Some(())` when the test runs as root, else a skip.
pub fn require_root(test: &str) -> Option<()> {
    // SAFETY-free check: the effective uid is readable from /proc without libc.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u32>().ok());
    if euid == Some(0) {
        Some(())
    } else {
        skip(test, "needs root")
    }
}
