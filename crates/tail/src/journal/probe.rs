//! Checking journal files one by one, so a bad one is reported instead of failing the rest.

use std::path::{Path, PathBuf};

use super::reader::SkippedFile;
use super::sd_journal::Journal;

/// Opens `path` alone with sd-journal: `Err` with the reason when it is missing, empty,
/// truncated or corrupt.
pub(crate) fn probe_file(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    if meta.len() == 0 {
        return Err("empty file".into());
    }
    Journal::open_files([path.to_string_lossy().as_ref()])
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The journal files in `dir` and its machine-id subfolders that sd-journal will pass over
/// (it skips them silently); listed so the daemon can report them.
pub(crate) fn probe_dir(dir: &Path) -> Vec<SkippedFile> {
    let mut files = Vec::new();
    collect(dir, 1, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            probe_file(&path)
                .err()
                .map(|reason| SkippedFile { path, reason })
        })
        .collect()
}

fn collect(dir: &Path, depth: u8, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && depth > 0 {
            collect(&path, depth - 1, out);
        } else if kind.is_file() && is_journal_name(&path) {
            out.push(path);
        }
    }
}

/// `*.journal`, and `*.journal~` (files journald set aside as dirty).
fn is_journal_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with(".journal") || name.ends_with(".journal~")
}
