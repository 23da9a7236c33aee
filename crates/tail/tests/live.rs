//! Real files, real renames and truncations, a tailer running in a thread: every scenario
//! runs with both backends and asserts the exact sequence of delivered lines.

mod common;

use std::fs;
use std::io::Write;
use std::time::Duration;

use common::{append, writer, Live};
use jailor_tail::{Backend, StartAt, Tailer};

/// Runs `scenario` once per backend, as two tests.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod polling {
            $( #[test] fn $name() { super::$name(jailor_tail::Backend::Polling) } )*
        }
        mod inotify {
            $( #[test] fn $name() { super::$name(jailor_tail::Backend::Inotify) } )*
        }
    };
}

both_backends!(
    rotation_by_rename,
    copytruncate,
    truncation_to_zero,
    file_created_after_start,
    glob_gains_files,
    file_disappears_and_comes_back,
    partial_line_completed_later,
    ten_megabyte_line_is_cut,
    ten_megabyte_line_whole_when_allowed,
    invalid_utf8_is_replaced,
    binary_file_does_not_break_anything,
);

fn rotation_by_rename(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("auth.log");
    append(&log, b"old-0\n");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Head),
    );
    live.expect(&["old-0"]);
    let mut old_writer = writer(&log);
    old_writer.write_all(b"old-1\n").unwrap();
    live.expect(&["old-1"]);
    fs::rename(&log, live.path("auth.log.1")).unwrap();
    // The daemon has not reopened its log yet: it still writes to the renamed file.
    old_writer.write_all(b"old-2\n").unwrap();
    append(&log, b"new-0\nnew-1\n");
    live.expect(&["old-2", "new-0", "new-1"]);
    append(&log, b"new-2\n");
    live.expect(&["new-2"]);
    live.quiet();
}

fn copytruncate(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("app.log");
    append(&log, b"a-0\na-1\n");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Head),
    );
    live.expect(&["a-0", "a-1"]);
    // logrotate's copytruncate: copy, then truncate the file in place (same inode).
    fs::copy(&log, live.path("app.log.1")).unwrap();
    let w = writer(&log);
    w.set_len(0).unwrap();
    append(&log, b"b-0\n");
    live.expect(&["b-0"]);
    append(&log, b"b-1\n");
    live.expect(&["b-1"]);
    live.quiet();
    let t = live.finish();
    assert_eq!(t.stats().truncations + t.stats().rotations, 1);
}

fn truncation_to_zero(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("t.log");
    append(&log, b"one\ntwo\n");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Head),
    );
    live.expect(&["one", "two"]);
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    live.quiet();
    append(&log, b"three\n");
    live.expect(&["three"]);
    live.quiet();
}

fn file_created_after_start(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("later.log");
    // `tail` applies only to files present at start: a new file is read from its start.
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Tail),
    );
    live.quiet();
    append(&log, b"first\nsecond\n");
    live.expect(&["first", "second"]);
    append(&log, b"third\n");
    live.expect(&["third"]);
    live.quiet();
}

fn glob_gains_files(backend: Backend) {
    let dir = Live::dir();
    fs::create_dir(dir.path().join("sites")).unwrap();
    append(&dir.path().join("sites/a.log"), b"a-0\n");
    let pattern = dir.path().join("sites/*.log");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(pattern.to_str().unwrap(), StartAt::Head),
    );
    live.expect(&["a-0"]);
    append(&live.path("sites/b.log"), b"b-0\nb-1\n");
    live.expect(&["b-0", "b-1"]);
    // Neither a name outside the glob nor a hidden file (Python's glob skips those).
    append(&live.path("sites/c.txt"), b"c-0\n");
    append(&live.path("sites/.hidden.log"), b"h-0\n");
    append(&live.path("sites/a.log"), b"a-1\n");
    live.expect(&["a-1"]);
    live.quiet();
    let t = live.finish();
    assert_eq!(t.paths().len(), 2);
}

fn file_disappears_and_comes_back(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("flaky.log");
    append(&log, b"x-0\n");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Head),
    );
    live.expect(&["x-0"]);
    fs::remove_file(&log).unwrap();
    std::thread::sleep(Duration::from_millis(1300)); // longer than the rotate grace
    live.quiet();
    append(&log, b"y-0\ny-1\n");
    live.expect(&["y-0", "y-1"]);
    live.quiet();
}

fn partial_line_completed_later(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("p.log");
    append(&log, b"whole\npar");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Head),
    );
    live.expect(&["whole"]);
    live.quiet();
    append(&log, b"ti");
    live.quiet();
    append(&log, b"al\r\nnext\n");
    live.expect(&["partial", "next"]);
    live.quiet();
}

const TEN_MB: usize = 10 * 1024 * 1024;

fn write_big_line(log: &std::path::Path) {
    // Written in two halves so the line also spans rounds.
    append(log, &vec![b'x'; TEN_MB / 2]);
    std::thread::sleep(Duration::from_millis(100));
    append(log, &vec![b'y'; TEN_MB / 2]);
    append(log, b"\nafter\n");
}

fn ten_megabyte_line_is_cut(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("big.log");
    append(&log, b"before\n");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder()
            .path(log.to_str().unwrap(), StartAt::Head)
            .max_line_len(1000),
    );
    live.expect(&["before"]);
    write_big_line(&log);
    let got = live.take(2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], "x".repeat(1000));
    assert_eq!(got[1], "after");
    live.quiet();
    let t = live.finish();
    assert_eq!(t.stats().truncated_lines, 1);
}

fn ten_megabyte_line_whole_when_allowed(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("big.log");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder()
            .path(log.to_str().unwrap(), StartAt::Head)
            .max_line_len(16 * 1024 * 1024),
    );
    write_big_line(&log);
    let got = live.take(2);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), TEN_MB);
    assert!(got[0].starts_with('x') && got[0].ends_with('y'));
    assert_eq!(got[0].bytes().filter(|&b| b == b'x').count(), TEN_MB / 2);
    assert_eq!(got[1], "after");
    live.quiet();
}

fn invalid_utf8_is_replaced(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("u.log");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Head),
    );
    append(&log, b"ok caf\xc3\xa9\nbad \xff\xfe user\ncut \xe2\x82\n");
    live.expect(&["ok café", "bad \u{fffd}\u{fffd} user", "cut \u{fffd}"]);
    live.quiet();
    let t = live.finish();
    assert_eq!(t.stats().replaced_lines, 2);
}

fn binary_file_does_not_break_anything(backend: Backend) {
    let dir = Live::dir();
    let log = dir.path().join("bin.log");
    let live = Live::start(
        dir,
        backend,
        Tailer::builder().path(log.to_str().unwrap(), StartAt::Head),
    );
    // Every byte value, NULs included, scrambled by a small LCG; then one text line.
    let mut data = Vec::with_capacity(300_000);
    let mut x: u32 = 12345;
    for _ in 0..300_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push((x >> 16) as u8);
    }
    data.extend_from_slice(b"\nplain text\n");
    append(&log, &data);
    let want: Vec<String> = data
        .strip_suffix(b"\n")
        .unwrap()
        .split(|&b| b == b'\n')
        .map(|l| {
            let mut l = l;
            while let [rest @ .., b'\r'] = l {
                l = rest;
            }
            String::from_utf8_lossy(l).into_owned()
        })
        .collect();
    let got = live.take(want.len());
    assert_eq!(got.len(), want.len());
    assert!(got == want, "binary lines differ");
    assert_eq!(got.last().unwrap(), "plain text");
    live.quiet();
}

/// inotify wakes the tailer long before the poll interval: a line is delivered within 1 s
/// although the interval is 30 s. (Typical latency is measured in the bench.)
#[test]
fn inotify_wakes_before_the_poll_interval() {
    let dir = Live::dir();
    let log = dir.path().join("fast.log");
    append(&log, b"");
    let mut tailer = Tailer::builder()
        .path(log.to_str().unwrap(), StartAt::Tail)
        .backend(Backend::Inotify)
        .poll_interval(Duration::from_secs(30))
        .build()
        .unwrap();
    if tailer.backend() != Backend::Inotify {
        jailor_testkit::skip::<()>("inotify_wakes_before_the_poll_interval", "no inotify");
        return;
    }
    let stop = tailer.stop_handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        tailer.run(
            |l| {
                let _ = tx.send((l.text().to_string(), std::time::Instant::now()));
            },
            |_| {},
        )
    });
    std::thread::sleep(Duration::from_millis(100)); // let the loop reach its wait
    for i in 0..3 {
        let sent = std::time::Instant::now();
        append(&log, format!("line {i}\n").as_bytes());
        let (text, at) = rx.recv_timeout(Duration::from_secs(1)).expect("no wake-up");
        assert_eq!(text, format!("line {i}"));
        assert!(at.duration_since(sent) < Duration::from_secs(1));
    }
    // A new file at the path (rotation) is also noticed through the directory watch.
    fs::rename(&log, log.with_extension("log.1")).unwrap();
    append(&log, b"rotated\n");
    let (text, _) = rx.recv_timeout(Duration::from_secs(1)).expect("no wake-up");
    assert_eq!(text, "rotated");
    stop.stop();
    thread.join().unwrap();
}

/// Stopping interrupts a long wait at once.
#[test]
fn stop_interrupts_the_wait() {
    let dir = Live::dir();
    let mut tailer = Tailer::builder()
        .path(dir.path().join("x.log").to_str().unwrap(), StartAt::Head)
        .backend(Backend::Polling)
        .poll_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let stop = tailer.stop_handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut rounds = 0;
        tailer.run(|_| {}, |_| rounds += 1);
        let _ = tx.send(rounds);
    });
    std::thread::sleep(Duration::from_millis(100));
    stop.stop();
    let rounds = rx
        .recv_timeout(Duration::from_secs(2))
        .expect("run did not stop");
    assert_eq!(rounds, 1);
    thread.join().unwrap();
}
