//! The tailer: expanding `logpath` patterns, following files, rounds and the run loop.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::encoding::Encoding;
use crate::error::{Error, ErrorKind};
use crate::fingerprint::{read_head, FileKey, Fingerprint};
use crate::follow::{Followed, Sink, Start};
use crate::line::{FileId, LineRef};
use crate::seek::{seek_recent, Recency};
use crate::stats::Stats;
use crate::wake::{StopHandle, Waker, Woken};

/// The default maximum line length: longer lines are cut (see [`TailerBuilder::max_line_len`]).
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// How much one file may deliver in one round before the others get their turn.
const ROUND_BUDGET: u64 = 16 * 1024 * 1024;

/// Where to begin in a file that exists at start and has no usable stored position
/// (fail2ban's `logpath = <path> head|tail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// From the beginning (fail2ban's default).
    #[default]
    Head,
    /// From the end: only lines written from now on.
    Tail,
}

/// Where reading stopped in one file, to resume there after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file's path.
    pub path: PathBuf,
    /// The file's identity; the position applies only to a file that still matches it.
    pub fingerprint: Fingerprint,
    /// The byte offset just after the last delivered line.
    pub offset: u64,
}

/// Builds a [`Tailer`]. Obtained from [`Tailer::builder`].
pub struct TailerBuilder {
    paths: Vec<(String, StartAt)>,
    backend: Backend,
    encoding: Encoding,
    poll_interval: Duration,
    max_line: usize,
    read_buffer: usize,
    rotate_grace: Duration,
    positions: Vec<Position>,
    head_seek: Option<Recency>,
}

impl std::fmt::Debug for TailerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailerBuilder")
            .field("paths", &self.paths)
            .field("backend", &self.backend)
            .field("encoding", &self.encoding)
            .field("poll_interval", &self.poll_interval)
            .field("max_line", &self.max_line)
            .field("head_seek", &self.head_seek.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for TailerBuilder {
    fn default() -> Self {
        TailerBuilder {
            paths: Vec::new(),
            backend: Backend::Auto,
            encoding: Encoding::Auto,
            poll_interval: Duration::from_secs(1),
            max_line: DEFAULT_MAX_LINE,
            read_buffer: 128 * 1024,
            rotate_grace: Duration::from_secs(5),
            positions: Vec::new(),
            head_seek: None,
        }
    }
}

impl TailerBuilder {
    /// Follows `pattern`: a path, or a glob (`*`, `?`, `[...]`; a leading dot is matched only
    /// literally, as in Python's `glob`). Globs are expanded again on every poll, so files
    /// that appear later are followed from their start.
    pub fn path(mut self, pattern: impl Into<String>, start: StartAt) -> Self {
        self.paths.push((pattern.into(), start));
        self
    }

    /// The backend (default [`Backend::Auto`]).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The encoding of the followed files (default [`Encoding::Auto`]).
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// How often every path is checked even without inotify events (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The longest line delivered whole (default [`DEFAULT_MAX_LINE`]); a longer line is
    /// delivered cut to this length, its rest skipped, and counted in
    /// [`Stats::truncated_lines`].
    pub fn max_line_len(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }

    /// The size of the read buffer (default 128 KiB).
    pub fn read_buffer_len(mut self, bytes: usize) -> Self {
        self.read_buffer = bytes;
        self
    }

    /// How long a file that left its followed path (rotated away or deleted) is still read,
    /// counted from when it was last seen growing (default 5 s). Covers writers that keep
    /// writing to the old file until they reopen their log.
    pub fn rotate_grace(mut self, grace: Duration) -> Self {
        self.rotate_grace = grace;
        self
    }

    /// Positions stored by an earlier run. A position is used when its path is found with a
    /// matching [`Fingerprint`]; a file that does not match is read from its start.
    pub fn positions(mut self, positions: impl IntoIterator<Item = Position>) -> Self {
        self.positions.extend(positions);
        self
    }

    /// Skips the old part of files read at start, like fail2ban's `seekToTime`: for a file
    /// that exists at start in [`StartAt::Head`] mode, or that resumes from a stored position,
    /// a binary search (probing up to 5 lines per step with `is_recent`) finds where recent
    /// lines begin, and reading starts shortly before it. Files that appear later are read
    /// whole. Without this, `head` reads files from their start (or stored position).
    pub fn head_seek(
        mut self,
        is_recent: impl FnMut(&[u8]) -> Option<bool> + Send + 'static,
    ) -> Self {
        self.head_seek = Some(Box::new(is_recent));
        self
    }

    /// Checks the settings, sets up the backend and looks at the paths once: files found now
    /// are the ones that exist "at start" for [`StartAt`].
    pub fn build(self) -> Result<Tailer, Error> {
        if self.max_line == 0 {
            return Err(bad("max_line_len", "must be at least 1 byte"));
        }
        if self.read_buffer < 4096 {
            return Err(bad("read_buffer_len", "must be at least 4096 bytes"));
        }
        if self.poll_interval.is_zero() {
            return Err(bad("poll_interval", "must be positive"));
        }
        let mut patterns = Vec::with_capacity(self.paths.len());
        for (spec, start) in self.paths {
            patterns.push(Pattern::new(spec, start)?);
        }
        let waker = Waker::new(self.backend != Backend::Polling).map_err(|source| {
            Error::from(ErrorKind::Io {
                what: "creating the wake-up eventfd",
                source,
            })
        })?;
        let stored = self
            .positions
            .into_iter()
            .map(|p| (p.path.clone(), p))
            .collect();
        let mut tailer = Tailer {
            patterns,
            files: Vec::new(),
            stored,
            scans: 0,
            next_id: 0,
            encoding: self.encoding,
            poll_interval: self.poll_interval,
            max_line: self.max_line,
            rotate_grace: self.rotate_grace,
            head_seek: self.head_seek,
            // Allocated on the first read: an idle jail's files may never need it.
            buf: Vec::new(),
            read_buffer: self.read_buffer,
            scratch: String::new(),
            stats: Stats::default(),
            waker,
            complained: HashSet::new(),
        };
        tailer.scan();
        Ok(tailer)
    }
}

fn bad(name: &'static str, message: &str) -> Error {
    ErrorKind::BadSetting {
        name,
        message: message.to_string(),
    }
    .into()
}

/// One `logpath` entry.
#[derive(Debug)]
struct Pattern {
    spec: String,
    start: StartAt,
    is_glob: bool,
    /// The deepest directory without glob characters, watched for new files.
    base_dir: PathBuf,
}

impl Pattern {
    fn new(spec: String, start: StartAt) -> Result<Pattern, Error> {
        let is_glob = spec.contains(['*', '?', '[']);
        if is_glob {
            glob::Pattern::new(&spec).map_err(|e| ErrorKind::BadPattern {
                pattern: spec.clone(),
                message: e.to_string(),
            })?;
        }
        let mut base_dir = PathBuf::new();
        let mut comps = Path::new(&spec).components().peekable();
        while let Some(c) = comps.next() {
            let literal = !c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
            if comps.peek().is_none() || !literal {
                break;
            }
            base_dir.push(c);
        }
        if base_dir.as_os_str().is_empty() || base_dir.components().all(|c| c == Component::CurDir)
        {
            base_dir = PathBuf::from(".");
        }
        Ok(Pattern {
            spec,
            start,
            is_glob,
            base_dir,
        })
    }

    /// The paths the pattern names now.
    fn expand(&self) -> Vec<PathBuf> {
        if !self.is_glob {
            return vec![PathBuf::from(&self.spec)];
        }
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        match glob::glob_with(&self.spec, opts) {
            Ok(paths) => paths.filter_map(Result::ok).collect(),
            Err(_) => Vec::new(), // validated in `new`
        }
    }
}

/// Follows log files the way fail2ban's polling and pyinotify backends do.
///
/// A file is identified by device, inode and first line ([`Fingerprint`]), not by its path,
/// so renames between followed paths are followed and a new file at a path is read from its
/// start. Every round:
///
/// 1. the patterns are expanded and stat'ed; new files are opened, files that left every
///    followed path are marked gone (rotation by rename or deletion);
/// 2. each file, oldest first, is checked for truncation (size below the read offset) and
///    in-place rewrites (first line changed: copytruncate), then read to its end in large
///    chunks, complete lines going to the callback; the partial last line waits;
/// 3. gone files are read until they stay quiet for the rotate grace, then dropped.
///
/// [`poll`](Self::poll) runs one round (deterministic, for tests and custom loops);
/// [`run`](Self::run) runs rounds every poll interval and whenever inotify reports a write.
pub struct Tailer {
    patterns: Vec<Pattern>,
    files: Vec<Followed>,
    stored: HashMap<PathBuf, Position>,
    scans: u64,
    next_id: u32,
    encoding: Encoding,
    poll_interval: Duration,
    max_line: usize,
    rotate_grace: Duration,
    head_seek: Option<Recency>,
    /// The read buffer, `read_buffer` bytes once first needed (see [`grown`]).
    buf: Vec<u8>,
    read_buffer: usize,
    scratch: String,
    stats: Stats,
    waker: Waker,
    /// Paths whose I/O error was already logged (cleared on success), to log once.
    complained: HashSet<PathBuf>,
}

impl std::fmt::Debug for Tailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tailer")
            .field("patterns", &self.patterns)
            .field("files", &self.files)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Tailer {
    /// A builder with default settings and no paths.
    pub fn builder() -> TailerBuilder {
        TailerBuilder::default()
    }

    /// The backend in use: [`Backend::Inotify`] or [`Backend::Polling`].
    pub fn backend(&self) -> Backend {
        if self.waker.has_inotify() {
            Backend::Inotify
        } else {
            Backend::Polling
        }
    }

    /// A handle that stops [`run`](Self::run) from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.waker.stop_handle().clone()
    }

    /// Counters since the tailer was built.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The paths of the files followed now (fail2ban's "File list").
    pub fn paths(&self) -> Vec<&Path> {
        self.files
            .iter()
            .filter(|f| f.gone_since.is_none())
            .map(|f| f.path.as_path())
            .collect()
    }

    /// Where reading stands in every followed file, plus stored positions not applied yet
    /// (their file has not been seen), so that storing this list loses nothing.
    pub fn positions(&self) -> Vec<Position> {
        let mut out: Vec<Position> = self
            .files
            .iter()
            .filter(|f| f.gone_since.is_none())
            .map(|f| Position {
                path: f.path.clone(),
                fingerprint: f.fingerprint(),
                offset: f.offset(),
            })
            .collect();
        out.extend(self.stored.values().cloned());
        out
    }

    /// Runs one round: looks at every path, then reads every file. Returns `true` when a
    /// file has more to read than one round delivers (call again without waiting).
    pub fn poll<F: FnMut(&LineRef<'_>)>(&mut self, mut on_line: F) -> bool {
        self.scan();
        self.read_all(&mut on_line)
    }

    /// Runs rounds until [`StopHandle::stop`] is called: every poll interval, and as soon as
    /// inotify reports a change. `after_round` runs after each round, for instance to store
    /// [`positions`](Self::positions).
    pub fn run<F, G>(&mut self, mut on_line: F, mut after_round: G)
    where
        F: FnMut(&LineRef<'_>),
        G: FnMut(&Tailer),
    {
        let mut next_scan = Instant::now();
        let mut rescan = true;
        loop {
            if rescan || Instant::now() >= next_scan {
                self.scan();
                next_scan = Instant::now() + self.poll_interval;
            }
            let more = self.read_all(&mut on_line);
            after_round(self);
            let timeout = if more {
                Duration::ZERO
            } else {
                next_scan.saturating_duration_since(Instant::now())
            };
            match self.waker.wait(timeout) {
                Woken::Stop => return,
                Woken::Rescan => rescan = true,
                Woken::Files | Woken::Timeout => rescan = false,
            }
        }
    }

    /// Expands the patterns, starts following new files and marks vanished ones gone.
    fn scan(&mut self) {
        self.scans += 1;
        let gen = self.scans;
        let at_start = gen == 1;
        for pi in 0..self.patterns.len() {
            let base = self.patterns[pi].base_dir.clone();
            self.waker.watch_dir(&base);
            let start = self.patterns[pi].start;
            for path in self.patterns[pi].expand() {
                let meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        self.complain(&path, "stat", &e);
                        continue;
                    }
                };
                if !meta.is_file() {
                    continue;
                }
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    if parent != base {
                        self.waker.watch_dir(parent);
                    }
                }
                let key = FileKey::of(&meta);
                if !self.mark_seen(key, &path, gen) {
                    self.add(path, start, at_start, gen);
                }
            }
        }
        let now = Instant::now();
        for f in &mut self.files {
            if f.seen_gen != gen && f.gone_since.is_none() {
                tracing::debug!(path = %f.path.display(), "log absence detected (possibly rotation)");
                f.gone_since = Some(now);
            }
        }
    }

    /// Marks an already followed file as seen at `path`; false when it is not followed.
    fn mark_seen(&mut self, key: FileKey, path: &Path, gen: u64) -> bool {
        let Some(f) = self.files.iter_mut().find(|f| f.key == key) else {
            return false;
        };
        if f.seen_gen == gen {
            return true; // already claimed this scan under another path
        }
        f.seen_gen = gen;
        f.gone_since = None;
        if f.path != path {
            tracing::info!(from = %f.path.display(), to = %path.display(), "followed file renamed");
            f.path = path.to_path_buf();
        }
        true
    }

    /// Opens a newly found file and decides where to start reading it.
    fn add(&mut self, path: PathBuf, start: StartAt, at_start: bool, gen: u64) {
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    self.complain(&path, "open", &e);
                }
                return;
            }
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return self.complain(&path, "stat", &e),
        };
        let key = FileKey::of(&meta);
        if self.mark_seen(key, &path, gen) {
            return; // replaced between stat and open by a file we already follow
        }
        let head = match read_head(&file) {
            Ok(h) => h,
            Err(e) => return self.complain(&path, "read", &e),
        };
        self.complained.remove(&path);
        let size = meta.len();
        let current = Fingerprint {
            key: Some(key),
            first_line_md5: head.map(|h| h.md5),
        };
        let from = if let Some(pos) = self.stored.remove(&path) {
            if pos.fingerprint.matches(&current) && pos.offset <= size {
                Start {
                    offset: self.seek(&file, pos.offset, size),
                    skipping: false,
                }
            } else {
                self.stats.positions_refused += 1;
                tracing::info!(path = %path.display(),
                    "stored position does not match the file any more, reading from the start");
                Start {
                    offset: 0,
                    skipping: false,
                }
            }
        } else if at_start && start == StartAt::Tail {
            let buf: &mut [u8] = match size {
                0 => &mut [],
                _ => grown(&mut self.buf, self.read_buffer),
            };
            tail_start(&file, size, buf)
        } else if at_start {
            Start {
                offset: self.seek(&file, 0, size),
                skipping: false,
            }
        } else {
            Start {
                offset: 0,
                skipping: false,
            }
        };
        let id = FileId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        tracing::info!(path = %path.display(), pos = from.offset,
            hash = current.md5_hex().unwrap_or_default(), "added logfile");
        // Watch before the first read, so no write between the two goes unnoticed.
        let watch = self.waker.watch_file(&path);
        let mut f = Followed::new(id, path, key, file, head, from, gen);
        f.watch = watch;
        self.stats.files_added += 1;
        self.files.push(f);
    }

    /// Where recent lines begin at or after `from`, with the head seek set; else `from`.
    fn seek(&mut self, file: &File, from: u64, size: u64) -> u64 {
        let Some(is_recent) = self.head_seek.as_mut() else {
            return from;
        };
        // No more than half a buffer to search: `seek_recent` reads nothing (and an empty
        // file at start needs no buffer).
        if size.saturating_sub(from) <= (self.read_buffer / 2) as u64 {
            return from;
        }
        let buf = grown(&mut self.buf, self.read_buffer);
        seek_recent(file, from, size, buf, is_recent.as_mut()).unwrap_or(from)
    }

    /// Reads every file, oldest first; drops gone files once drained and quiet.
    fn read_all<F: FnMut(&LineRef<'_>)>(&mut self, on_line: &mut F) -> bool {
        let now = Instant::now();
        let mut more = false;
        let mut errors: Vec<(PathBuf, &'static str, io::Error)> = Vec::new();
        let mut sink = Sink {
            encoding: self.encoding,
            max_line: self.max_line,
            scratch: &mut self.scratch,
            stats: &mut self.stats,
            on_line,
        };
        let mut i = 0;
        while i < self.files.len() {
            let f = &mut self.files[i];
            let mut pending = false;
            let result = f
                .size()
                .map_err(|e| ("stat", e))
                .and_then(|size| {
                    f.check(size, sink.stats)
                        .map(|()| size)
                        .map_err(|e| ("read", e))
                })
                .and_then(|size| {
                    let buf: &mut [u8] = if size > f.read_pos() {
                        grown(&mut self.buf, self.read_buffer)
                    } else {
                        &mut []
                    };
                    f.read(size, buf, &mut sink, ROUND_BUDGET)
                        .map_err(|e| ("read", e))
                });
            match result {
                Ok(p) => pending = p,
                Err((what, e)) => errors.push((f.path.clone(), what, e)),
            }
            more |= pending;
            let quiet_since = f.gone_since.map(|g| g.max(f.last_growth));
            if !pending && quiet_since.is_some_and(|q| now.duration_since(q) >= self.rotate_grace) {
                f.finish(&mut sink);
                tracing::debug!(path = %f.path.display(), "stopped following a gone file");
                let watch = f.watch;
                self.waker.unwatch(watch);
                self.files.remove(i);
                sink.stats.files_removed += 1;
                continue;
            }
            i += 1;
        }
        for (path, what, e) in errors {
            self.complain(&path, what, &e);
        }
        more
    }

    /// Counts an I/O error and logs it once per path until that path works again.
    fn complain(&mut self, path: &Path, what: &str, e: &io::Error) {
        self.stats.io_errors += 1;
        if self.complained.insert(path.to_path_buf()) {
            tracing::warn!(path = %path.display(), "cannot {what} log file: {e}");
        }
    }
}

/// Where `tail` starts: just after the last newline, so a line being written now is
/// delivered whole.
/// `buf` at `len` bytes, allocated (zeroed) on first use.
fn grown(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    buf
}

fn tail_start(file: &File, size: u64, buf: &mut [u8]) -> Start {
    let win = usize::try_from(size).map_or(buf.len(), |s| s.min(buf.len()));
    let from = size - win as u64;
    if win == 0 || file.read_exact_at(&mut buf[..win], from).is_err() {
        return Start {
            offset: size,
            skipping: false,
        };
    }
    match memchr::memrchr(b'\n', &buf[..win]) {
        Some(i) => Start {
            offset: from + i as u64 + 1,
            skipping: false,
        },
        None if from == 0 => Start {
            offset: 0,
            skipping: false,
        },
        None => Start {
            offset: size,
            skipping: true,
        },
    }
}

#[cfg(test)]
mod buffer_tests {
    use super::*;

    /// Idle jails' tailers hold no read buffer: the files found at start are empty, so
    /// neither the head seek nor the tail start reads anything; the first read allocates it.
    #[test]
    fn the_read_buffer_waits_for_something_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let head = dir.path().join("head.log");
        let tail = dir.path().join("tail.log");
        std::fs::write(&head, "").unwrap();
        std::fs::write(&tail, "").unwrap();
        let mut t = Tailer::builder()
            .path(head.display().to_string(), StartAt::Head)
            .path(tail.display().to_string(), StartAt::Tail)
            .head_seek(|_| Some(true))
            .build()
            .unwrap();
        assert_eq!(t.buf.capacity(), 0);
        let mut lines = Vec::new();
        t.read_all(&mut |l: &LineRef<'_>| lines.push(l.text().to_owned()));
        assert!(lines.is_empty());
        assert_eq!(t.buf.capacity(), 0);
        std::fs::write(&tail, "a line\n").unwrap();
        t.read_all(&mut |l: &LineRef<'_>| lines.push(l.text().to_owned()));
        assert_eq!(lines, ["a line"]);
        assert_eq!(t.buf.len(), t.read_buffer);
    }
}
