//! The systemd journal as a jail's source: `backend = systemd[...]`, or `auto` when none of
//! the jail's log files exists and its filter has a `journalmatch`.
//!
//! The reader thread opens the journal itself (sd-journal handles are bound to a thread),
//! resumes after the cursor stored for the jail (else at "now - findtime"), matches each
//! entry's line at the entry's time and sends the cursor to the keeper after each round,
//! which commits it in the same transaction as the bans found before it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jailor_config::{extract_options, JailSpec};
use jailor_tail::{JournalMatch, JournalOptions, JournalReader, JournalStart, StopHandle, Tailer};

use crate::keeper::ToKeeper;
use crate::logf;
use crate::notify::StartGate;
use crate::reader::Reader;

/// The longest wait for new entries before the stop flag is checked again.
const WAIT: Duration = Duration::from_millis(250);
/// How often a journal that cannot be opened is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// The journal the jail reads, or `None` when it reads log files. Errors are one line.
pub(crate) fn journal_options(spec: &JailSpec) -> Result<Option<JournalOptions>, String> {
    let (name, args) = extract_options(spec.backend.trim()).map_err(|e| format!("backend: {e}"))?;
    let name = name.trim().to_ascii_lowercase();
    let journalmatch: &[Vec<String>] = spec
        .filter
        .as_ref()
        .map_or(&[], |f| f.journalmatch.as_slice());
    let systemd = name == "systemd";
    let fallback = name.starts_with("auto")
        && !journalmatch.is_empty()
        && spec.logpaths.iter().all(|l| l.files.is_empty())
        && spec.flag("systemd_if_nologs").unwrap_or(true);
    if !systemd && !fallback {
        return Ok(None);
    }
    let mut options = JournalOptions {
        matches: JournalMatch::from_lines(journalmatch).map_err(|e| e.to_string())?,
        ..JournalOptions::default()
    };
    if systemd {
        for (k, v) in &args {
            options.set(k, v).map_err(|e| e.to_string())?;
        }
    }
    Ok(Some(options))
}

fn usec(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Runs the jail's reader on the journal until `tailer`'s stop handle is used (the tailer
/// itself, built without files, only lends its handle).
pub(crate) fn run(
    mut reader: Box<Reader>,
    tailer: Tailer,
    options: JournalOptions,
    gate: StartGate,
) {
    let stop = tailer.stop_handle();
    drop(tailer);
    if !gate.wait() {
        return;
    }
    let name = reader.name().clone();
    logf!(NOTICE, "fail2ban.jail", "Jail '{name}' started");
    gate.started();
    let since = SystemTime::now() - Duration::from_secs(reader.findtime().max(0) as u64);
    let Some(mut journal) = open(&reader, &options, since, &stop) else {
        return;
    };
    for s in journal.skipped_files() {
        logf!(
            WARNING,
            "fail2ban.filtersystemd",
            "[{name}] journal file {} skipped: {}",
            s.path.display(),
            s.reason
        );
    }
    // fail2ban starts at the later of the stored position and "now - findtime".
    journal.set_not_before(Some(usec(since)));
    let mut sent = journal.cursor().map(str::to_owned);
    while !stop.is_stopped() {
        while let Some(entry) = journal.next_entry() {
            reader.journal_line(&entry.line, entry.time);
            if stop.is_stopped() {
                break;
            }
        }
        reader.journal_round(journal.caught_up());
        send_cursor(&reader, &journal, &mut sent);
        if let Err(e) = journal.wait(WAIT) {
            logf!(ERROR, "fail2ban.filtersystemd", "[{name}] {e}");
            std::thread::sleep(WAIT);
        }
    }
    send_cursor(&reader, &journal, &mut sent);
}

/// Opens the journal at the stored cursor (else at `since`), retrying until it opens or the
/// jail stops.
fn open(
    reader: &Reader,
    options: &JournalOptions,
    since: SystemTime,
    stop: &StopHandle,
) -> Option<JournalReader> {
    let name = reader.name();
    let mut complained = false;
    loop {
        let stored = reader.stored_journal_cursor();
        let first = match &stored {
            Some(c) => JournalReader::open(options, JournalStart::Cursor(c.clone())),
            None => JournalReader::open(options, JournalStart::Since(since)),
        };
        // A cursor the journal refuses (malformed, another machine's): start by time.
        let opened = match first {
            Err(e) if stored.is_some() => {
                logf!(
                    WARNING,
                    "fail2ban.filtersystemd",
                    "[{name}] stored journal cursor refused ({e}); starting at now - findtime"
                );
                JournalReader::open(options, JournalStart::Since(since))
            }
            other => other,
        };
        match opened {
            Ok(mut j) => {
                j.set_stop_handle(stop.clone());
                return Some(j);
            }
            Err(e) => {
                if !complained {
                    complained = true;
                    logf!(
                        ERROR,
                        "fail2ban.filtersystemd",
                        "[{name}] cannot open the journal: {e}; retrying every {}s",
                        RETRY.as_secs()
                    );
                }
            }
        }
        let until = std::time::Instant::now() + RETRY;
        while std::time::Instant::now() < until {
            if stop.is_stopped() {
                return None;
            }
            std::thread::sleep(WAIT);
        }
    }
}

fn send_cursor(reader: &Reader, journal: &JournalReader, sent: &mut Option<String>) {
    let Some(cursor) = journal.cursor() else {
        return;
    };
    if sent.as_deref() != Some(cursor) {
        *sent = Some(cursor.to_owned());
        let _ = reader.to_keeper().send(ToKeeper::JournalCursor {
            jail: reader.name().clone(),
            cursor: cursor.to_owned(),
        });
    }
}
