//! The threads that serve connections, kept between connections.
//!
//! A thread started for a connection waits behind every runnable thread on a busy machine
//! before it first runs; a thread that sleeps until the next connection is woken at once,
//! like any sleeper. Measured in `tests/flood.rs` (2 cores under a log flood): `ping` on a
//! new connection p99 24 ms with a thread started per connection, 5 ms on an open one. So a
//! thread that has served a connection waits [`LINGER`] for the next before it ends.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{serve_connection, Handler};

/// How long a thread waits for its next connection.
pub(super) const LINGER: Duration = Duration::from_secs(60);

/// Connection threads: idle ones take the next connection, new ones start when none is idle.
pub(super) struct Pool {
    to_idle: Sender<UnixStream>,
    shared: Arc<Shared>,
}

struct Shared {
    handler: Arc<dyn Handler>,
    /// Connections open (the accept loop's count, lowered when one ends).
    open: Arc<AtomicUsize>,
    /// Threads waiting for a connection and not yet promised one.
    idle: AtomicUsize,
    next: Mutex<Receiver<UnixStream>>,
    linger: Duration,
}

impl Pool {
    /// A pool with no thread yet; `open` is lowered as each connection ends.
    pub(super) fn new(handler: Arc<dyn Handler>, open: Arc<AtomicUsize>, linger: Duration) -> Pool {
        let (to_idle, next) = mpsc::channel();
        Pool {
            to_idle,
            shared: Arc::new(Shared {
                handler,
                open,
                idle: AtomicUsize::new(0),
                next: Mutex::new(next),
                linger,
            }),
        }
    }

    /// Serves `stream` on an idle thread, or on a new one.
    ///
    /// # Errors
    /// When no thread is idle and none can be started.
    pub(super) fn serve(&self, stream: UnixStream) -> std::io::Result<()> {
        // Promise the stream to one idle thread; any idle thread may take it.
        if take_one(&self.shared.idle) {
            match self.to_idle.send(stream) {
                Ok(()) => return Ok(()),
                // Not reached: the receiver lives in `shared`, which this pool holds.
                Err(mpsc::SendError(stream)) => return self.start(stream),
            }
        }
        self.start(stream)
    }

    fn start(&self, first: UnixStream) -> std::io::Result<()> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name("control-conn".into())
            .spawn(move || shared.work(first))
            .map(|_| ())
    }
}

impl Shared {
    fn work(&self, first: UnixStream) {
        let mut next = Some(first);
        while let Some(stream) = next.take() {
            serve_connection(stream, self.handler.as_ref());
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.idle.fetch_add(1, Ordering::AcqRel);
            next = self.wait();
        }
    }

    /// The next connection, or `None` to end the thread (lingered long enough, or the
    /// server stopped).
    fn wait(&self) -> Option<UnixStream> {
        loop {
            let got = self
                .next
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .recv_timeout(self.linger);
            match got {
                Ok(stream) => return Some(stream),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    if take_one(&self.idle) {
                        return None;
                    }
                    // Every idle thread is promised a connection: one is on its way.
                }
            }
        }
    }
}

/// Lowers `n` by one unless it is zero; answers whether it did.
fn take_one(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1))
        .is_ok()
}
