//! Reading the journal through libsystemd's sd-journal.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::error::{Error, ErrorKind};
use crate::wake::StopHandle;

use super::format::{Fields, FIELD_NAMES};
use super::options::{JournalOptions, JournalStart, JOURNAL_CURRENT_USER, JOURNAL_SYSTEM};
use super::probe::{probe_dir, probe_file};
use super::sd_journal::{Journal, Wake};

/// How long one wait for new entries lasts before the stop flag is checked again.
const WAIT_SLICE: Duration = Duration::from_millis(250);

/// One journal entry as a line for matching.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// The line fail2ban builds for `logtype = journal`:
    /// `<hostname> <identifier>[<pid>]: <MESSAGE>` (see [`Identity`](crate::Identity)).
    pub line: String,
    /// The entry's time in epoch seconds (`_SOURCE_REALTIME_TIMESTAMP`, else the journal's
    /// realtime stamp): the line's known date, no date parsing needed.
    pub time: f64,
    /// The journal's realtime stamp of the entry (µs since the epoch).
    pub realtime_usec: u64,
    /// The entry's cursor; store it to resume after this entry ([`JournalStart::Cursor`]).
    pub cursor: String,
}

/// A journal file that could not be opened and is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why (e.g. "Bad message" for a corrupt file, "No data available" for an empty one).
    pub reason: String,
}

/// What a [`JournalReader`] has done since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalStats {
    /// Entries handed on.
    pub entries: u64,
    /// Entries passed over because they are older than the reader's floor
    /// ([`JournalReader::set_not_before`]).
    pub too_old: u64,
    /// Files left out at open because they are empty or corrupt.
    pub files_skipped: u64,
    /// Times sd-journal reported files added or removed (rotation, vacuuming).
    pub invalidations: u64,
    /// Errors from sd-journal while reading (the read is retried on the next round).
    pub read_errors: u64,
}

/// Why [`JournalReader::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalEvent {
    /// Nothing changed within the timeout.
    Timeout,
    /// Entries were appended.
    Append,
    /// Files were added or removed (rotation); sd-journal already follows them.
    Rotated,
}

/// Reads a journal from a start position, entry by entry, and follows new entries.
///
/// Built on sd-journal, which merges the files by time, follows rotation (new files in the
/// watched folders) and skips corrupt files inside folders; files given one by one are
/// checked first, and an empty or corrupt one is reported ([`skipped_files`]) and left out.
///
/// ```no_run
/// use jailor_tail::{JournalOptions, JournalReader, JournalStart};
///
/// let opts = JournalOptions::new("_SYSTEMD_UNIT=ssh.service + _COMM=sshd")?;
/// let mut reader = JournalReader::open(&opts, JournalStart::Tail)?;
/// let stop = reader.stop_handle();
/// # stop.stop();
/// reader.follow(|entry| println!("{} {}", entry.time, entry.line))?;
/// # Ok::<(), jailor_tail::Error>(())
/// ```
///
/// [`skipped_files`]: JournalReader::skipped_files
pub struct JournalReader {
    journal: Journal,
    options: JournalOptions,
    /// The current entry was positioned by a seek and not handed on yet.
    pending_current: bool,
    cursor: Option<String>,
    not_before_usec: Option<u64>,
    caught_up: bool,
    fields: Fields,
    skipped: Vec<SkippedFile>,
    stats: JournalStats,
    stop: StopHandle,
}

impl std::fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalReader")
            .field("options", &self.options)
            .field("cursor", &self.cursor)
            .field("skipped", &self.skipped)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Turns a libsystemd error into ours, keeping the errno.
pub(crate) fn journal_error(what: impl Into<String>, source: io::Error) -> Error {
    ErrorKind::Journal {
        what: what.into(),
        source,
    }
    .into()
}

impl JournalReader {
    /// Opens the journal `options` name, applies `journalmatch` and seeks to `start`.
    ///
    /// Fails when the journal cannot be opened at all (no usable file among `journalfiles`,
    /// a `journalpath` that is not a folder, an unknown flag) or a match is refused.
    pub fn open(options: &JournalOptions, start: JournalStart) -> Result<JournalReader, Error> {
        let mut skipped = Vec::new();
        let journal = open_journal(options, &mut skipped)?;
        for s in &skipped {
            tracing::warn!(path = %s.path.display(), reason = %s.reason, "journal file skipped");
        }
        let stop = StopHandle::new().map_err(|source| ErrorKind::Io {
            what: "create the journal reader's stop event",
            source,
        })?;
        let mut reader = JournalReader {
            journal,
            options: options.clone(),
            pending_current: false,
            cursor: None,
            not_before_usec: None,
            caught_up: false,
            fields: Fields::default(),
            stats: JournalStats {
                files_skipped: skipped.len() as u64,
                ..JournalStats::default()
            },
            skipped,
            stop,
        };
        reader.add_matches()?;
        reader.seek(start)?;
        // Asking for the fd sets up sd-journal's inotify watches now, so files created from
        // here on (rotation) are seen by the next wait.
        reader
            .journal
            .watch()
            .map_err(|e| journal_error("watch the journal for changes", e))?;
        Ok(reader)
    }

    fn add_matches(&mut self) -> Result<(), Error> {
        let groups = self.options.matches.groups().to_vec();
        for (i, group) in groups.iter().enumerate() {
            if i > 0 {
                self.journal
                    .add_disjunction()
                    .map_err(|e| journal_error("add a journalmatch alternative", e))?;
            }
            for term in group {
                let (field, value) = term.split_once('=').unwrap_or((term, ""));
                self.journal
                    .add_match(field, value)
                    .map_err(|e| journal_error(format!("add journalmatch {term:?}"), e))?;
            }
        }
        Ok(())
    }

    fn seek(&mut self, start: JournalStart) -> Result<(), Error> {
        let j = &mut self.journal;
        let seek_err = |e: io::Error| journal_error("seek", e);
        match start {
            JournalStart::Head => j.seek_head().map_err(seek_err)?,
            JournalStart::Tail => {
                j.seek_tail().map_err(seek_err)?;
                // Step onto the last entry, so that `next` yields only newer ones.
                j.previous().map_err(seek_err)?;
            }
            JournalStart::Since(t) => {
                let usec = t
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
                j.seek_realtime_usec(usec).map_err(seek_err)?;
            }
            JournalStart::Cursor(cursor) => {
                j.seek_cursor(cursor.as_str())
                    .map_err(|e| journal_error(format!("seek to cursor {cursor:?}"), e))?;
                if j.next().map_err(seek_err)? > 0 {
                    // On the stored entry: it was handed on before the restart. Elsewhere (the
                    // entry is gone): the nearest later entry, still to be handed on.
                    let same = j.test_cursor(cursor.as_str()).unwrap_or(false);
                    self.pending_current = !same;
                    self.cursor = Some(cursor);
                }
            }
        }
        Ok(())
    }

    /// Passes over entries older than `usec` (µs since the epoch), e.g. "now - findtime"
    /// when resuming from an old cursor, as fail2ban starts at the later of both.
    pub fn set_not_before(&mut self, usec: Option<u64>) {
        self.not_before_usec = usec;
    }

    /// The next entry, or `None` when there is none for now (then wait and ask again).
    ///
    /// An error from sd-journal is counted, logged and reported as "none for now".
    pub fn next_entry(&mut self) -> Option<JournalEntry> {
        loop {
            if !self.pending_current {
                match self.journal.next() {
                    Ok(0) => {
                        self.caught_up = true;
                        return None;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.stats.read_errors += 1;
                        tracing::warn!(error = %e, "reading the journal failed; retrying later");
                        return None;
                    }
                }
            }
            self.pending_current = false;
            let Ok(realtime_usec) = self.journal.realtime_usec() else {
                self.stats.read_errors += 1;
                continue;
            };
            if self
                .not_before_usec
                .is_some_and(|floor| realtime_usec < floor)
            {
                self.stats.too_old += 1;
                continue;
            }
            self.read_fields();
            let monotonic = self.journal.monotonic_usec().ok();
            let mut line = String::new();
            self.fields
                .format(self.options.identity, monotonic, &mut line);
            let cursor = match self.journal.cursor() {
                Ok(c) => c,
                Err(e) => {
                    self.stats.read_errors += 1;
                    tracing::warn!(error = %e, "journal entry without cursor skipped");
                    continue;
                }
            };
            self.cursor = Some(cursor.clone());
            self.stats.entries += 1;
            return Some(JournalEntry {
                line,
                time: self.fields.time(realtime_usec),
                realtime_usec,
                cursor,
            });
        }
    }

    fn read_fields(&mut self) {
        for (i, name) in FIELD_NAMES.iter().enumerate() {
            let value = match self.journal.data(name) {
                Ok(Some(v)) => Some(v.to_vec()),
                _ => None,
            };
            if let Some(slot) = self.fields.slot(i) {
                *slot = value;
            }
        }
    }

    /// Waits up to `timeout` for the journal to change.
    pub fn wait(&mut self, timeout: Duration) -> Result<JournalEvent, Error> {
        match self.journal.wait(timeout) {
            Ok(Wake::Nop) => Ok(JournalEvent::Timeout),
            Ok(Wake::Append) => Ok(JournalEvent::Append),
            Ok(Wake::Invalidate) => {
                self.stats.invalidations += 1;
                tracing::debug!("journal files added or removed");
                Ok(JournalEvent::Rotated)
            }
            Err(e) => Err(journal_error("wait for journal changes", e)),
        }
    }

    /// Hands every entry to `on_entry` and follows new ones until the
    /// [`stop_handle`](Self::stop_handle) is used (checked at least every 250 ms).
    pub fn follow<F: FnMut(&JournalEntry)>(&mut self, mut on_entry: F) -> Result<(), Error> {
        while !self.stop.is_stopped() {
            while let Some(entry) = self.next_entry() {
                on_entry(&entry);
                if self.stop.is_stopped() {
                    return Ok(());
                }
            }
            self.wait(WAIT_SLICE)?;
        }
        Ok(())
    }

    /// Stops [`follow`](Self::follow) from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Makes [`follow`](Self::follow) obey `stop` instead (e.g. the handle of the
    /// [`Tailer`](crate::Tailer) a daemon already keeps for the jail).
    pub fn set_stop_handle(&mut self, stop: StopHandle) {
        self.stop = stop;
    }

    /// The cursor of the last entry handed on (or of the stored entry resumed from).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Whether the end of the journal was reached once (fail2ban's "in operation").
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Files left out at open, with the reason.
    pub fn skipped_files(&self) -> &[SkippedFile] {
        &self.skipped
    }

    /// Counters.
    pub fn stats(&self) -> JournalStats {
        self.stats
    }

    /// The options the reader was opened with.
    pub fn options(&self) -> &JournalOptions {
        &self.options
    }
}

fn open_journal(
    options: &JournalOptions,
    skipped: &mut Vec<SkippedFile>,
) -> Result<Journal, Error> {
    if !options.files.is_empty() {
        let mut good = Vec::new();
        for path in expand_files(&options.files) {
            match probe_file(&path) {
                Ok(()) => good.push(path),
                Err(reason) => skipped.push(SkippedFile { path, reason }),
            }
        }
        if good.is_empty() {
            return Err(ErrorKind::Journal {
                what: format!("no readable file among journalfiles {:?}", options.files),
                source: io::Error::from(io::ErrorKind::NotFound),
            }
            .into());
        }
        let names: Vec<String> = good
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        return Journal::open_files(names.iter().map(String::as_str))
            .map_err(|e| journal_error("open the journal files", e));
    }
    if let Some(dir) = &options.path {
        skipped.extend(probe_dir(dir));
        // sd_journal_open_directory takes only these two of the flags.
        let flags = options.flags & (JOURNAL_SYSTEM | JOURNAL_CURRENT_USER);
        return Journal::open_directory(dir.to_string_lossy().as_ref(), flags)
            .map_err(|e| journal_error(format!("open the journal folder {}", dir.display()), e));
    }
    Journal::open(options.flags).map_err(|e| journal_error("open the system journal", e))
}

/// `journalfiles` words as paths: globs expanded (sorted), plain paths kept as given.
fn expand_files(words: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for w in words {
        let matched: Vec<PathBuf> = glob::glob(w)
            .map(|paths| paths.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if matched.is_empty() {
            out.push(Path::new(w).to_path_buf());
        } else {
            out.extend(matched);
        }
    }
    out.sort();
    out.dedup();
    out
}
