//! Helpers for the tailer's integration tests: files in a temp dir and a tailer running in a
//! thread that sends each line's text over a channel.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jailor_tail::{Backend, LineRef, StopHandle, Tailer, TailerBuilder};

/// Appends `data` to `path`, creating it.
pub fn append(path: &Path, data: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(data).unwrap();
}

/// Opens `path` for appending, as a logging daemon keeps it open.
pub fn writer(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// Every line text delivered by one `poll`.
pub fn poll_texts(t: &mut Tailer) -> Vec<String> {
    let mut out = Vec::new();
    while t.poll(|l: &LineRef<'_>| out.push(l.text().to_string())) {}
    out
}

/// A temp dir with a tailer running in a thread.
pub struct Live {
    pub dir: tempfile::TempDir,
    rx: mpsc::Receiver<String>,
    stop: StopHandle,
    thread: Option<JoinHandle<Tailer>>,
    interval: Duration,
}

/// The poll interval used for live tests of `backend`: short for polling; for inotify long
/// enough that most deliveries come from wake-ups.
pub fn interval_for(backend: Backend) -> Duration {
    match backend {
        Backend::Polling => Duration::from_millis(50),
        _ => Duration::from_millis(400),
    }
}

impl Live {
    /// A temp dir, to create files in before starting.
    pub fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    /// Starts a tailer built from `builder` (plus `backend`, the live interval and a short
    /// rotate grace) on files in `dir`.
    pub fn start(dir: tempfile::TempDir, backend: Backend, builder: TailerBuilder) -> Live {
        let interval = interval_for(backend);
        let mut tailer = builder
            .backend(backend)
            .poll_interval(interval)
            .rotate_grace(Duration::from_millis(1000))
            .build()
            .unwrap();
        if backend == Backend::Inotify {
            assert_eq!(tailer.backend(), Backend::Inotify, "inotify unavailable");
        }
        let stop = tailer.stop_handle();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            tailer.run(
                |l| {
                    let _ = tx.send(l.text().to_string());
                },
                |_| {},
            );
            tailer
        });
        Live {
            dir,
            rx,
            stop,
            thread: Some(thread),
            interval,
        }
    }

    /// A path in the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits for exactly `want`, in order (10 s at most).
    pub fn expect(&self, want: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < want.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => break,
            }
        }
        assert_eq!(got, want, "lines delivered");
    }

    /// Receives `n` lines (10 s at most).
    pub fn take(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => break,
            }
        }
        got
    }

    /// Asserts nothing more arrives during a few poll intervals.
    pub fn quiet(&self) {
        let wait = self.interval * 3 + Duration::from_millis(200);
        match self.rx.recv_timeout(wait) {
            Ok(line) => panic!("unexpected line delivered: {:?}", truncate(&line)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("tailer thread ended: {e}"),
        }
    }

    /// Stops the tailer and returns it.
    pub fn finish(mut self) -> Tailer {
        self.stop.stop();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Removes `path`, ignoring a missing file.
pub fn remove(path: &Path) {
    let _ = fs::remove_file(path);
}
