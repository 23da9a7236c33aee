//! The journal reader on real journal files written by `systemd-journal-remote`.

mod journal_support;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use jailor_tail::{ErrorKind, Identity, JournalEntry, JournalOptions, JournalReader, JournalStart};
use journal_support::{journal_remote, write_journal, Entry};

const T0: u64 = 1_700_000_000;

fn drain(r: &mut JournalReader) -> Vec<JournalEntry> {
    std::iter::from_fn(|| r.next_entry()).collect()
}

fn files(paths: &[&Path]) -> JournalOptions {
    let mut o = JournalOptions::new("").unwrap();
    let joined: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    o.set("journalfiles", &joined.join(" ")).unwrap();
    o
}

fn messages(entries: &[JournalEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.line.rsplit(": ").next().unwrap().to_string())
        .collect()
}

/// sshd, cron and a second ssh unit, all in one file.
fn mixed(remote: &Path, path: &Path) {
    write_journal(
        remote,
        path,
        &[
            Entry::sshd(
                T0,
                100,
                "Failed password for root from 192.0.2.1 port 22 ssh2",
            ),
            Entry::new(T0 + 1)
                .field("_HOSTNAME", "web1")
                .field("_SYSTEMD_UNIT", "cron.service")
                .field("_COMM", "cron")
                .field("_PID", "7")
                .field("MESSAGE", "cron job"),
            Entry::sshd(T0 + 2, 101, "Invalid user bob from 192.0.2.2"),
            Entry::sshd(T0 + 3, 102, "session via other unit")
                .field("_SYSTEMD_UNIT", "sshd-other.service"),
        ],
    );
}

#[test]
fn journalmatch_and_groups_select_entries_in_order() {
    let Some(remote) = journal_remote("journalmatch_and_groups_select_entries_in_order") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.journal");
    mixed(&remote, &file);

    let mut all = JournalReader::open(&files(&[&file]), JournalStart::Head).unwrap();
    assert_eq!(
        messages(&drain(&mut all)),
        [
            "Failed password for root from 192.0.2.1 port 22 ssh2",
            "cron job",
            "Invalid user bob from 192.0.2.2",
            "session via other unit"
        ]
    );

    let mut o = files(&[&file]);
    o.matches = jailor_tail::JournalMatch::parse("_SYSTEMD_UNIT=ssh.service").unwrap();
    let mut ssh = JournalReader::open(&o, JournalStart::Head).unwrap();
    assert_eq!(
        messages(&drain(&mut ssh)),
        [
            "Failed password for root from 192.0.2.1 port 22 ssh2",
            "Invalid user bob from 192.0.2.2"
        ]
    );

    // AND within a group, OR between groups.
    o.matches =
        jailor_tail::JournalMatch::parse("_COMM=sshd _PID=102 + _SYSTEMD_UNIT=cron.service")
            .unwrap();
    let mut or = JournalReader::open(&o, JournalStart::Head).unwrap();
    assert_eq!(
        messages(&drain(&mut or)),
        ["cron job", "session via other unit"]
    );
}

#[test]
fn entries_of_several_files_come_in_time_order() {
    let Some(remote) = journal_remote("entries_of_several_files_come_in_time_order") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.journal");
    let b = dir.path().join("b.journal");
    let at = |s: u64| Entry::sshd(T0 + s, 1, &format!("m{s}"));
    write_journal(&remote, &a, &[at(1), at(3), at(5)]);
    write_journal(&remote, &b, &[at(2), at(4)]);
    let mut o = JournalOptions::new("").unwrap();
    o.set("journalpath", &dir.path().display().to_string())
        .unwrap();
    let mut r = JournalReader::open(&o, JournalStart::Head).unwrap();
    let got = drain(&mut r);
    assert_eq!(messages(&got), ["m1", "m2", "m3", "m4", "m5"]);
    let times: Vec<f64> = got.iter().map(|e| e.time).collect();
    assert_eq!(times, [1.0, 2.0, 3.0, 4.0, 5.0].map(|s| (T0 as f64) + s));
    assert!(r.caught_up());
    assert_eq!(r.stats().entries, 5);
}

#[test]
fn line_is_fail2bans_journal_line() {
    let Some(remote) = journal_remote("line_is_fail2bans_journal_line") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.journal");
    write_journal(
        &remote,
        &file,
        &[
            Entry::sshd(
                T0,
                4242,
                "Failed password for root from 192.0.2.1 port 22 ssh2",
            ),
            // A forged identifier: jailor writes the trusted _COMM/_PID; fail2ban (and
            // Identity::Syslog) writes the forged one.
            Entry::sshd(T0 + 1, 55, "two\nlines")
                .field("SYSLOG_IDENTIFIER", "fake")
                .field("SYSLOG_PID", "1"),
            Entry::new(T0 + 2)
                .field(
                    "_SOURCE_REALTIME_TIMESTAMP",
                    &((T0 - 10) * 1_000_000 + 250_000).to_string(),
                )
                .field("_COMM", "sshd")
                .field("MESSAGE", "no host, no pid"),
        ],
    );
    let mut r = JournalReader::open(&files(&[&file]), JournalStart::Head).unwrap();
    let got = drain(&mut r);
    let lines: Vec<&str> = got.iter().map(|e| e.line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "web1 sshd[4242]: Failed password for root from 192.0.2.1 port 22 ssh2",
            "web1 sshd[55]: two\\nlines",
            "sshd: no host, no pid",
        ]
    );
    assert_eq!(got[0].time, T0 as f64);
    assert_eq!(got[0].realtime_usec, T0 * 1_000_000);
    assert_eq!(got[2].time, (T0 - 10) as f64 + 0.25);

    let mut o = files(&[&file]);
    o.set("journalidentity", "syslog").unwrap();
    assert_eq!(o.identity, Identity::Syslog);
    let mut t = JournalReader::open(&o, JournalStart::Head).unwrap();
    assert_eq!(drain(&mut t)[1].line, "web1 fake[1]: two\\nlines");
}

#[test]
fn cursor_resumes_without_repeating_and_since_seeks_by_time() {
    let Some(remote) = journal_remote("cursor_resumes_without_repeating_and_since_seeks_by_time")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.journal");
    let all: Vec<Entry> = (0..6)
        .map(|i| Entry::sshd(T0 + i * 10, 1, &format!("m{i}")))
        .collect();
    write_journal(&remote, &file, &all);
    let o = files(&[&file]);

    let mut first = JournalReader::open(&o, JournalStart::Head).unwrap();
    let seen: Vec<JournalEntry> = (0..3).map_while(|_| first.next_entry()).collect();
    let cursor = first.cursor().unwrap().to_string();
    assert_eq!(cursor, seen[2].cursor);
    drop(first);

    let mut again = JournalReader::open(&o, JournalStart::Cursor(cursor.clone())).unwrap();
    assert_eq!(messages(&drain(&mut again)), ["m3", "m4", "m5"]);
    // Nothing new: resuming from the last cursor yields nothing.
    let last = again.cursor().unwrap().to_string();
    let mut idle = JournalReader::open(&o, JournalStart::Cursor(last)).unwrap();
    assert!(idle.next_entry().is_none());

    // A floor passes over what is too old even after the cursor.
    let mut floored = JournalReader::open(&o, JournalStart::Cursor(cursor)).unwrap();
    floored.set_not_before(Some((T0 + 45) * 1_000_000));
    assert_eq!(messages(&drain(&mut floored)), ["m5"]);
    assert_eq!(floored.stats().too_old, 2);

    let since = UNIX_EPOCH + Duration::from_secs(T0 + 25);
    let mut s = JournalReader::open(&o, JournalStart::Since(since)).unwrap();
    assert_eq!(messages(&drain(&mut s)), ["m3", "m4", "m5"]);

    let mut tail = JournalReader::open(&o, JournalStart::Tail).unwrap();
    assert!(tail.next_entry().is_none());
    write_journal(&remote, &file, &[Entry::sshd(T0 + 100, 1, "late")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut late = Vec::new();
    while late.is_empty() && Instant::now() < deadline {
        tail.wait(Duration::from_millis(200)).unwrap();
        late = drain(&mut tail);
    }
    assert_eq!(messages(&late), ["late"]);
}

#[test]
fn follow_sees_appends_and_a_new_file_in_the_folder() {
    let Some(remote) = journal_remote("follow_sees_appends_and_a_new_file_in_the_folder") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("system.journal");
    write_journal(&remote, &first, &[Entry::sshd(T0, 1, "before")]);

    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel();
    let folder = dir.path().to_path_buf();
    let worker = std::thread::spawn(move || {
        let mut o = JournalOptions::new("_COMM=sshd").unwrap();
        o.path = Some(folder);
        let mut r = JournalReader::open(&o, JournalStart::Head).unwrap();
        stop_tx.send(r.stop_handle()).unwrap();
        r.follow(|e| tx.send(e.line.clone()).unwrap()).unwrap();
        r.stats()
    });
    let stop = stop_rx.recv().unwrap();
    let recv = || rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(recv(), "web1 sshd[1]: before");

    write_journal(&remote, &first, &[Entry::sshd(T0 + 1, 2, "appended")]);
    assert_eq!(recv(), "web1 sshd[2]: appended");

    // Rotation: journald starts a new file beside the old one.
    let rotated = dir.path().join("system@0001.journal");
    write_journal(
        &remote,
        &rotated,
        &[Entry::sshd(T0 + 2, 3, "in the new file")],
    );
    assert_eq!(recv(), "web1 sshd[3]: in the new file");

    stop.stop();
    let stats = worker.join().unwrap();
    assert_eq!(stats.entries, 3);
    assert!(rx.try_recv().is_err(), "nothing delivered twice");
}

#[test]
fn empty_and_corrupt_files_are_reported_and_skipped() {
    let Some(remote) = journal_remote("empty_and_corrupt_files_are_reported_and_skipped") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.journal");
    write_journal(&remote, &good, &[Entry::sshd(T0, 1, "kept")]);
    let empty = dir.path().join("empty.journal");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.path().join("garbage.journal");
    std::fs::write(
        &garbage,
        (0..20_000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let truncated = dir.path().join("truncated.journal");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..200]).unwrap();
    let bad = [empty.as_path(), garbage.as_path(), truncated.as_path()];

    // Given one by one: each bad file is reported, the good one read.
    let mut listed = vec![good.as_path()];
    listed.extend(bad);
    let mut r = JournalReader::open(&files(&listed), JournalStart::Head).unwrap();
    assert_eq!(messages(&drain(&mut r)), ["kept"]);
    let mut skipped: Vec<_> = r.skipped_files().iter().map(|s| s.path.clone()).collect();
    skipped.sort();
    let mut want: Vec<_> = bad.iter().map(|p| p.to_path_buf()).collect();
    want.sort();
    assert_eq!(skipped, want);
    assert!(r.skipped_files().iter().all(|s| !s.reason.is_empty()));
    assert_eq!(r.stats().files_skipped, 3);

    // In a folder: the same.
    let mut o = JournalOptions::new("").unwrap();
    o.path = Some(dir.path().to_path_buf());
    let mut d = JournalReader::open(&o, JournalStart::Head).unwrap();
    assert_eq!(messages(&drain(&mut d)), ["kept"]);
    assert_eq!(d.skipped_files().len(), 3);

    // Nothing usable at all: an error, not a panic.
    let e = JournalReader::open(&files(&bad), JournalStart::Head).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Journal { .. }), "{e}");
}

#[test]
fn bad_settings_are_refused() {
    let mut o = JournalOptions::new("").unwrap();
    assert!(o.set("journalflags", "x").is_err());
    assert!(o.set("namespace", "foo").is_err());
    o.set("journalflags", "4").unwrap();
    assert_eq!(o.flags, jailor_tail::JOURNAL_SYSTEM);
    assert!(JournalOptions::new("sshd").is_err());
}
