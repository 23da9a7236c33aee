//! One round at a time with `Tailer::poll`: positions, fingerprints, start modes, offsets and
//! in-place rewrites, asserted exactly.

mod common;

use std::fs;
use std::os::unix::fs::FileExt;

use common::{append, poll_texts};
use jailor_tail::{Encoding, Fingerprint, LineRef, Position, StartAt, Tailer};

fn tailer(path: &std::path::Path, start: StartAt) -> Tailer {
    Tailer::builder()
        .path(path.to_str().unwrap(), start)
        .build()
        .unwrap()
}

#[test]
fn head_reads_everything_and_tail_only_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"1\n2\n");
    let mut head = tailer(&log, StartAt::Head);
    let mut tail = tailer(&log, StartAt::Tail);
    append(&log, b"3\n");
    assert_eq!(poll_texts(&mut head), ["1", "2", "3"]);
    assert_eq!(poll_texts(&mut tail), ["3"]);
}

#[test]
fn tail_keeps_a_line_being_written_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"old\nhalf-");
    let mut t = tailer(&log, StartAt::Tail);
    append(&log, b"done\n");
    assert_eq!(poll_texts(&mut t), ["half-done"]);
}

#[test]
fn offsets_point_after_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"ab\r\n\ncd\nrest");
    let mut t = tailer(&log, StartAt::Head);
    let mut seen = Vec::new();
    t.poll(|l: &LineRef<'_>| seen.push((l.bytes().to_vec(), l.offset(), l.path().to_owned())));
    assert_eq!(
        seen.iter()
            .map(|(b, o, _)| (b.as_slice(), *o))
            .collect::<Vec<_>>(),
        [(&b"ab"[..], 4), (&b""[..], 5), (&b"cd"[..], 8)]
    );
    assert!(seen.iter().all(|(_, _, p)| p == &log));
    let pos = t.positions();
    assert_eq!(pos.len(), 1);
    assert_eq!(pos[0].offset, 8, "the partial line is not consumed");
}

#[test]
fn restart_from_positions_delivers_lines_written_while_down_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"1\n2\n");
    let mut t = tailer(&log, StartAt::Head);
    assert_eq!(poll_texts(&mut t), ["1", "2"]);
    append(&log, b"3-part");
    assert!(poll_texts(&mut t).is_empty());
    let saved = t.positions();
    drop(t);
    append(&log, b"ial\n4\n");
    // Even in tail mode, a matching stored position wins.
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Tail)
        .positions(saved)
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["3-partial", "4"]);
    assert_eq!(t.stats().positions_refused, 0);
}

#[test]
fn changed_fingerprint_restarts_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"first\nsecond\n");
    let mut t = tailer(&log, StartAt::Head);
    assert_eq!(poll_texts(&mut t), ["first", "second"]);
    let saved = t.positions();
    drop(t);
    // Rotated while down: a new file (new inode) whose content is longer than the offset.
    fs::rename(&log, dir.path().join("a.log.1")).unwrap();
    append(&log, b"fresh-1\nfresh-2\nfresh-3\n");
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Tail)
        .positions(saved.clone())
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["fresh-1", "fresh-2", "fresh-3"]);
    assert_eq!(t.stats().positions_refused, 1);

    // Same inode, first line rewritten (copytruncate while down).
    let log2 = dir.path().join("b.log");
    append(&log2, b"aaa\nbbb\n");
    let mut t = tailer(&log2, StartAt::Head);
    poll_texts(&mut t);
    let saved = t.positions();
    drop(t);
    fs::OpenOptions::new()
        .write(true)
        .open(&log2)
        .unwrap()
        .write_all_at(b"ccc\nddd\neee\n", 0)
        .unwrap();
    let mut t = Tailer::builder()
        .path(log2.to_str().unwrap(), StartAt::Head)
        .positions(saved)
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["ccc", "ddd", "eee"]);
}

#[test]
fn position_imported_from_fail2ban_md5_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"hello\nworld\nagain\n");
    // fail2ban stores only the first line's MD5 (here md5("hello\n")) and the offset.
    let fp = Fingerprint::from_md5_hex("b1946ac92492d2347c6235b4d2611184").unwrap();
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .positions([Position {
            path: log.clone(),
            fingerprint: fp,
            offset: 12,
        }])
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["again"]);
}

#[test]
fn unapplied_positions_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.log");
    let pos = Position {
        path: missing.clone(),
        fingerprint: Fingerprint::from_md5_hex("b1946ac92492d2347c6235b4d2611184").unwrap(),
        offset: 6,
    };
    let t = Tailer::builder()
        .path(missing.to_str().unwrap(), StartAt::Head)
        .positions([pos.clone()])
        .build()
        .unwrap();
    assert_eq!(t.positions(), [pos]);
}

#[test]
fn copytruncate_regrown_past_offset_is_detected_by_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"a1\na2\n");
    let mut t = tailer(&log, StartAt::Head);
    assert_eq!(poll_texts(&mut t), ["a1", "a2"]);
    // Truncated and rewritten beyond the old offset before the next round.
    let f = fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    f.write_all_at(b"b1-longer\nb2-longer\n", 0).unwrap();
    assert_eq!(poll_texts(&mut t), ["b1-longer", "b2-longer"]);
    assert_eq!(t.stats().rotations, 1);
    assert_eq!(t.stats().truncations, 0);
}

#[test]
fn truncation_below_offset_restarts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"long line one\nlong line two\n");
    let mut t = tailer(&log, StartAt::Head);
    poll_texts(&mut t);
    let f = fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    append(&log, b"x\n");
    assert_eq!(poll_texts(&mut t), ["x"]);
    assert_eq!(t.stats().truncations, 1);
}

#[test]
fn rename_within_the_glob_keeps_following_without_rereading() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, b"1\n");
    let pattern = dir.path().join("app.log*");
    let mut t = Tailer::builder()
        .path(pattern.to_str().unwrap(), StartAt::Head)
        .build()
        .unwrap();
    let mut ids = Vec::new();
    t.poll(|l| ids.push((l.file(), l.text().to_string())));
    fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&dir.path().join("app.log.1"), b"2\n");
    append(&log, b"3\n");
    t.poll(|l| ids.push((l.file(), l.text().to_string())));
    let texts: Vec<&str> = ids.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(texts, ["1", "2", "3"]);
    assert_eq!(ids[0].0, ids[1].0, "same file, same id after the rename");
    assert_ne!(ids[1].0, ids[2].0);
    let mut paths: Vec<_> = t.positions().into_iter().map(|p| p.path).collect();
    paths.sort();
    assert_eq!(paths, [log.clone(), dir.path().join("app.log.1")]);
}

#[test]
fn two_patterns_naming_one_file_deliver_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"only once\n");
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .path(dir.path().join("*.log").to_str().unwrap(), StartAt::Head)
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["only once"]);
    assert_eq!(t.paths().len(), 1);
}

#[test]
fn latin1_and_ascii_decode_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"user \xe9ric\n");
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .encoding(Encoding::parse("latin-1").unwrap())
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["user éric"]);
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .encoding(Encoding::Ascii)
        .build()
        .unwrap();
    let mut raw = Vec::new();
    t.poll(|l| raw.push((l.text().to_string(), l.bytes().to_vec())));
    assert_eq!(
        raw,
        [("user \u{fffd}ric".to_string(), b"user \xe9ric".to_vec())]
    );
}

#[test]
fn overlong_partial_line_is_cut_and_its_rest_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .max_line_len(8)
        .build()
        .unwrap();
    append(&log, b"0123456789abc");
    let mut got = Vec::new();
    t.poll(|l| got.push((l.text().to_string(), l.is_truncated())));
    append(&log, b"def\nshort\n12345678\n");
    t.poll(|l| got.push((l.text().to_string(), l.is_truncated())));
    assert_eq!(
        got,
        [
            ("01234567".to_string(), true),
            ("short".to_string(), false),
            ("12345678".to_string(), false),
        ]
    );
    assert_eq!(t.stats().truncated_lines, 1);
}

#[test]
fn small_read_buffer_splits_lines_across_reads() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let mut want = Vec::new();
    let mut data = Vec::new();
    for i in 0..2000 {
        let line = format!("line {i} {}", "z".repeat(i % 37));
        data.extend_from_slice(line.as_bytes());
        data.push(b'\n');
        want.push(line);
    }
    append(&log, &data);
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .read_buffer_len(4096)
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), want);
    assert_eq!(t.stats().bytes, data.len() as u64);
}

#[test]
fn rotated_file_without_final_newline_delivers_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, b"1\nunterminated");
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .rotate_grace(std::time::Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["1"]);
    fs::rename(&log, dir.path().join("a.log.1")).unwrap();
    append(&log, b"2\n");
    assert_eq!(poll_texts(&mut t), ["unterminated", "2"]);
    assert_eq!(t.stats().files_removed, 1);
}

#[test]
fn bad_settings_are_refused() {
    assert!(Tailer::builder()
        .path("/tmp/[", StartAt::Head)
        .build()
        .is_err());
    assert!(Tailer::builder().max_line_len(0).build().is_err());
    assert!(Tailer::builder().read_buffer_len(10).build().is_err());
}

#[test]
fn unreadable_file_is_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    fs::create_dir(&log).unwrap(); // a directory where a file is expected
    let good = dir.path().join("b.log");
    append(&good, b"fine\n");
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .path(good.to_str().unwrap(), StartAt::Head)
        .build()
        .unwrap();
    assert_eq!(poll_texts(&mut t), ["fine"]);
    assert_eq!(t.paths(), [good.as_path()]);
}

/// A log of numbered lines "T<n> ...", every 7th without a time.
fn numbered_log(path: &std::path::Path, count: u32) {
    let mut data = Vec::new();
    for n in 0..count {
        if n % 7 == 3 {
            data.extend_from_slice(b"  continuation without a time\n");
        } else {
            data.extend_from_slice(format!("T{n:07} sshd: event {n}\n").as_bytes());
        }
    }
    append(path, &data);
}

fn time_of(line: &[u8]) -> Option<u32> {
    std::str::from_utf8(line.get(1..8)?).ok()?.parse().ok()
}

#[test]
fn head_seek_skips_old_lines_with_few_probes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    numbered_log(&log, 200_000);
    let probes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = probes.clone();
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .head_seek(move |line| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            line.starts_with(b"T")
                .then(|| time_of(line).map(|n| n >= 190_000))
                .flatten()
        })
        .build()
        .unwrap();
    let mut lines = Vec::new();
    while t.poll(|l| lines.push(l.bytes().to_vec())) {}
    let times: Vec<u32> = lines.iter().filter_map(|l| time_of(l)).collect();
    let recent: Vec<u32> = times.iter().copied().filter(|&n| n >= 190_000).collect();
    let want: Vec<u32> = (190_000..200_000).filter(|n| n % 7 != 3).collect();
    assert_eq!(recent, want, "every recent line, once, in order");
    let old_bytes: usize = lines
        .iter()
        .filter(|l| time_of(l).is_none_or(|n| n < 190_000))
        .map(|l| l.len() + 1)
        .sum();
    assert!(old_bytes <= 64 * 1024, "{old_bytes} old bytes read");
    assert!(probes.load(std::sync::atomic::Ordering::Relaxed) < 150);
}

#[test]
fn head_seek_does_not_apply_to_files_found_later_or_to_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let mut t = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Head)
        .head_seek(|line| time_of(line).map(|n| n >= 190_000))
        .build()
        .unwrap();
    numbered_log(&log, 200_000);
    let mut n = 0;
    while t.poll(|_| n += 1) {}
    assert_eq!(n, 200_000, "a file created after start is read whole");
}

#[test]
fn backend_in_use_is_reported() {
    use jailor_tail::Backend;
    let t = Tailer::builder().backend(Backend::Polling).build().unwrap();
    assert_eq!(t.backend(), Backend::Polling);
    let auto = Tailer::builder().backend(Backend::Auto).build().unwrap();
    // Auto picks inotify where the kernel has it (it does on every Linux this runs on).
    assert_eq!(auto.backend(), Backend::Inotify);
}
