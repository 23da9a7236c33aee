//! Sleeping between rounds: a timer, a stop signal, and inotify as an early wake-up.

use std::collections::{HashMap, HashSet};
use std::io;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags, Timespec};
use rustix::fd::OwnedFd;
use rustix::fs::inotify;

/// Stops a [`Tailer::run`](crate::Tailer::run) loop from another thread.
///
/// Cloneable and `Send`; stopping wakes the loop at once, even in the middle of a poll
/// interval.
#[derive(Debug, Clone)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

#[derive(Debug)]
struct StopInner {
    stopped: AtomicBool,
    /// An eventfd that becomes readable on stop.
    fd: OwnedFd,
}

impl StopHandle {
    pub(crate) fn new() -> io::Result<StopHandle> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(StopHandle {
            inner: Arc::new(StopInner {
                stopped: AtomicBool::new(false),
                fd,
            }),
        })
    }

    /// Asks the tailer to return from `run` after the line it is delivering, if any.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        // A full counter (EAGAIN) still leaves the fd readable, which is all that matters.
        let _ = rustix::io::write(&self.inner.fd, &1u64.to_ne_bytes());
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The timeout passed (or a signal interrupted the wait).
    Timeout,
    /// A followed file was modified: reading suffices.
    Files,
    /// A directory changed or a file moved: the paths must be scanned again.
    Rescan,
    /// [`StopHandle::stop`] was called.
    Stop,
}

/// The inotify side: watches on followed files and on the directories they live in.
#[derive(Debug)]
struct Inotify {
    fd: OwnedFd,
    dirs: HashMap<PathBuf, i32>,
    dir_wds: HashSet<i32>,
    buf: Vec<MaybeUninit<u8>>,
}

impl Inotify {
    fn new() -> io::Result<Inotify> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        Ok(Inotify {
            fd,
            dirs: HashMap::new(),
            dir_wds: HashSet::new(),
            buf: vec![MaybeUninit::uninit(); 16 * 1024],
        })
    }

    /// Reads every pending event; returns (anything seen, rescan needed).
    fn drain(&mut self) -> io::Result<(bool, bool)> {
        let mut any = false;
        let mut rescan = false;
        let mut reader = inotify::Reader::new(&self.fd, &mut self.buf);
        let mut ignored = Vec::new();
        loop {
            match reader.next() {
                Ok(ev) => {
                    any = true;
                    let flags = ev.events();
                    if flags.contains(inotify::ReadFlags::IGNORED) {
                        ignored.push(ev.wd());
                    }
                    if ev.wd() < 0
                        || self.dir_wds.contains(&ev.wd())
                        || flags.intersects(
                            inotify::ReadFlags::MOVE_SELF
                                | inotify::ReadFlags::DELETE_SELF
                                | inotify::ReadFlags::ATTRIB
                                | inotify::ReadFlags::QUEUE_OVERFLOW,
                        )
                    {
                        rescan = true;
                    }
                }
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        // A removed directory's watch is gone: forget it so the next scan watches it again.
        for wd in ignored {
            if self.dir_wds.remove(&wd) {
                self.dirs.retain(|_, w| *w != wd);
            }
        }
        Ok((any, rescan))
    }
}

/// Waits for the next round.
#[derive(Debug)]
pub(crate) struct Waker {
    stop: StopHandle,
    inotify: Option<Inotify>,
}

impl Waker {
    /// A waker; with `use_inotify`, tries to set up inotify and reports whether it did.
    pub(crate) fn new(use_inotify: bool) -> io::Result<Waker> {
        let inotify = if use_inotify {
            match Inotify::new() {
                Ok(i) => Some(i),
                Err(e) => {
                    tracing::warn!("inotify unavailable ({e}), falling back to polling");
                    None
                }
            }
        } else {
            None
        };
        Ok(Waker {
            stop: StopHandle::new()?,
            inotify,
        })
    }

    pub(crate) fn stop_handle(&self) -> &StopHandle {
        &self.stop
    }

    pub(crate) fn has_inotify(&self) -> bool {
        self.inotify.is_some()
    }

    /// Watches a directory for files appearing, disappearing or moving (once per directory).
    pub(crate) fn watch_dir(&mut self, dir: &Path) {
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        if ino.dirs.contains_key(dir) {
            return;
        }
        let flags = inotify::WatchFlags::CREATE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::DELETE
            | inotify::WatchFlags::DELETE_SELF
            | inotify::WatchFlags::MOVE_SELF
            | inotify::WatchFlags::ONLYDIR;
        // A missing directory is watched on a later scan, once it exists.
        if let Ok(wd) = inotify::add_watch(&ino.fd, dir, flags) {
            ino.dirs.insert(dir.to_path_buf(), wd);
            ino.dir_wds.insert(wd);
        }
    }

    /// Watches a followed file for writes; `None` without inotify or when the kernel refuses
    /// (for instance when out of watches: polling still covers the file).
    pub(crate) fn watch_file(&mut self, path: &Path) -> Option<i32> {
        let ino = self.inotify.as_mut()?;
        let flags = inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::ATTRIB
            | inotify::WatchFlags::MOVE_SELF
            | inotify::WatchFlags::DELETE_SELF;
        match inotify::add_watch(&ino.fd, path, flags) {
            Ok(wd) => Some(wd),
            Err(e) => {
                tracing::debug!(path = %path.display(), "no inotify watch ({e}); polling only");
                None
            }
        }
    }

    /// Removes a file watch (which the kernel may already have dropped).
    pub(crate) fn unwatch(&mut self, wd: Option<i32>) {
        if let (Some(ino), Some(wd)) = (self.inotify.as_mut(), wd) {
            if !ino.dir_wds.contains(&wd) {
                let _ = inotify::remove_watch(&ino.fd, wd);
            }
        }
    }

    /// Sleeps up to `timeout`, or less when stopped or when inotify reports a change.
    pub(crate) fn wait(&mut self, timeout: Duration) -> Woken {
        if self.stop.is_stopped() {
            return Woken::Stop;
        }
        let ts = Timespec::try_from(timeout.min(Duration::from_secs(3600))).ok();
        let polled = {
            let mut fds = Vec::with_capacity(2);
            fds.push(PollFd::new(&self.stop.inner.fd, PollFlags::IN));
            if let Some(ino) = &self.inotify {
                fds.push(PollFd::new(&ino.fd, PollFlags::IN));
            }
            poll(&mut fds, ts.as_ref())
        };
        if self.stop.is_stopped() {
            return Woken::Stop;
        }
        match polled {
            Ok(0) | Err(rustix::io::Errno::INTR) => return Woken::Timeout,
            Ok(_) => {}
            Err(e) => {
                // Should not happen; sleep so a persistent error cannot spin.
                tracing::warn!("poll failed: {e}");
                std::thread::sleep(timeout);
                return Woken::Timeout;
            }
        }
        let Some(ino) = self.inotify.as_mut() else {
            return Woken::Timeout;
        };
        match ino.drain() {
            Ok((_, true)) => Woken::Rescan,
            Ok((true, false)) => Woken::Files,
            Ok((false, false)) => Woken::Timeout,
            Err(e) => {
                tracing::warn!("reading inotify events failed ({e}), falling back to polling");
                self.inotify = None;
                Woken::Rescan
            }
        }
    }
}
