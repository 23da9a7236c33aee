//! `jailor regex systemd-journal[args] FILTER`: the journal as fail2ban-regex reads it.
//!
//! `systemd-journal[journalfiles=..., journalpath=..., journalflags=N]` opens the journal
//! (the machine's without arguments) from its oldest entry; `-m/--journalmatch` selects the
//! entries, else the filter's own `journalmatch`. Each entry's line is matched at the
//! entry's time, without date detection, as fail2ban does for `logtype = journal`.

use std::io::{self, Write};

use anyhow::Context;
use jailor_config::extract_options;
use jailor_match::{Pipeline, Processed};
use jailor_tail::{JournalMatch, JournalOptions, JournalReader, JournalStart};

use super::RegexArgs;

/// Whether LOG names the journal (`systemd-journal`, with or without arguments).
pub(super) fn is_journal(log: &str) -> bool {
    log.trim() == "systemd-journal" || log.trim_start().starts_with("systemd-journal[")
}

/// The journal LOG names, with `-m` or else the filter's journalmatch.
pub(super) fn options(
    args: &RegexArgs,
    filter_match: &[Vec<String>],
) -> anyhow::Result<JournalOptions> {
    let (_, backend_args) =
        extract_options(args.log.trim()).with_context(|| format!("cannot read {:?}", args.log))?;
    let mut o = JournalOptions::default();
    for (k, v) in &backend_args {
        o.set(k, v)?;
    }
    o.matches = match &args.journalmatch {
        Some(m) => JournalMatch::parse(m)?,
        None => JournalMatch::from_lines(filter_match)?,
    };
    Ok(o)
}

/// Reads every entry of the journal into the pipeline, handing each result on.
pub(super) fn read(
    options: &JournalOptions,
    pipeline: &mut Pipeline,
    out: &mut dyn Write,
    mut on_result: impl FnMut(u64, &str, Processed, &mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut reader =
        JournalReader::open(options, JournalStart::Head).context("cannot open the journal")?;
    for s in reader.skipped_files() {
        eprintln!(
            "WARNING journal file {} skipped: {}",
            s.path.display(),
            s.reason
        );
    }
    let mut n = 0;
    while let Some(entry) = reader.next_entry() {
        n += 1;
        let before = pipeline.filter().stats().ignored;
        let failures = pipeline.process_journal(&entry.line, entry.time);
        let p = Processed {
            time: Some(entry.time),
            date: None,
            failures,
            ignored: pipeline.filter().stats().ignored > before,
        };
        // Listed as fail2ban-regex lists a journal line: its time first.
        let shown = format!(
            "{} {}",
            iso_time(entry.realtime_usec, entry.time),
            entry.line
        );
        on_result(n, &shown, p, out)?;
    }
    Ok(())
}

/// Python's `datetime.isoformat()` of the entry's time in the local zone
/// (`2023-11-14T22:13:20+00:00`, microseconds only when not zero).
fn iso_time(realtime_usec: u64, time: f64) -> String {
    let usec = if time.is_finite() {
        (time * 1e6).round() as i64
    } else {
        i64::try_from(realtime_usec).unwrap_or(i64::MAX)
    };
    let Ok(ts) = jiff::Timestamp::from_microsecond(usec) else {
        return String::new();
    };
    let zoned = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    if usec % 1_000_000 == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S.%6f%:z").to_string()
    }
}

/// The report's input lines, as fail2ban-regex writes them for the journal.
pub(super) fn header(out: &mut dyn Write, options: &JournalOptions) -> io::Result<()> {
    writeln!(out, "Use         systemd journal")?;
    writeln!(out, "Use         encoding : UTF-8")?;
    if !options.matches.is_empty() {
        writeln!(out, "Use    journal match : {}", options.matches)?;
    }
    Ok(())
}
