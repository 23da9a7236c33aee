//! The daemon's side of the control socket: binding it safely and serving connections.
//!
//! The daemon supplies a [`Handler`]; everything else (the socket file, peer checks, the
//! handshake, framing, a thread per open connection, kept for the next) is here, so the daemon's matching threads
//! never wait on a socket client.

use std::io::ErrorKind as IoKind;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

mod pool;

use pool::Pool;

use crate::error::{Error, ErrorKind};
use crate::frame::{
    read_frame, read_hello, write_frame, Hello, Refusal, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME,
};
use crate::request::Request;
use crate::response::{FailureKind, Response};

/// Answers control requests. The daemon implements it; one exhaustive `match` on the
/// [`Request`] is the intended shape.
///
/// `handle` runs on the connection's own thread, several at a time, so it must not block
/// for long on the daemon's hot paths. `Request::Stop` must be answered before the daemon
/// exits: answer `Response::Done`, then shut down from another thread.
pub trait Handler: Send + Sync {
    /// Answers one request.
    fn handle(&self, request: Request) -> Response;
}

impl<F: Fn(Request) -> Response + Send + Sync> Handler for F {
    fn handle(&self, request: Request) -> Response {
        self(request)
    }
}

/// How long a connection may take to send its hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection may stay silent between requests (interactive clients reconnect).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long writing a response may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long binding waits for the hello of a server already at the socket path.
const STALE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// A bound control socket, not yet serving.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    owner_uid: u32,
    max_connections: usize,
}

impl ControlServer {
    /// Creates the socket at `path`, mode 0600, owned by `owner_uid` (chowned when the process
    /// runs as another user, i.e. root), creating its folder (mode 0755) when missing.
    ///
    /// A socket left by a dead daemon (nothing accepts on it) is replaced. The socket appears
    /// atomically with its final mode: it is bound under a temporary name and renamed.
    ///
    /// # Errors
    /// [`ErrorKind::AlreadyRunning`] when a live daemon answers on `path`;
    /// [`ErrorKind::NotASocket`] when `path` is another kind of file (it is left alone);
    /// an I/O error when the folder or socket cannot be created.
    pub fn bind(path: impl AsRef<Path>, owner_uid: u32) -> Result<ControlServer, Error> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)
                    .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            }
        }
        remove_stale(&path)?;
        let tmp = temporary_name(&path);
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp)
            .map_err(|e| Error::io(format!("binding {}", tmp.display()), e))?;
        let finish = || -> std::io::Result<()> {
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            if nix::unistd::geteuid().as_raw() != owner_uid {
                std::os::unix::fs::chown(&tmp, Some(owner_uid), None)?;
            }
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = finish() {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(format!("creating {}", path.display()), e));
        }
        Ok(ControlServer {
            listener,
            path,
            owner_uid,
            max_connections: 64,
        })
    }

    /// Wraps a socket already bound and listening (systemd socket activation); its file
    /// mode and owner are the caller's business, the peer check still applies.
    pub fn from_listener(listener: UnixListener, path: PathBuf, owner_uid: u32) -> ControlServer {
        ControlServer {
            listener,
            path,
            owner_uid,
            max_connections: 64,
        }
    }

    /// Sets how many connections may be open at once (64 by default); more are refused
    /// with [`Refusal::Busy`].
    pub fn max_connections(mut self, n: usize) -> ControlServer {
        self.max_connections = n.max(1);
        self
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts serving on a thread of its own, one more thread per open connection (a thread
    /// waits a while for the next connection before it ends: see `pool`).
    ///
    /// # Errors
    /// An I/O error when the threads cannot be started.
    pub fn spawn(self, handler: Arc<dyn Handler>) -> Result<RunningServer, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let ino = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
        let wake = self
            .listener
            .try_clone()
            .map_err(|e| Error::io("cloning the listener", e))?;
        let (path, stop2) = (self.path.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || self.accept_loop(&handler, &stop2))
            .map_err(|e| Error::io("starting the control thread", e))?;
        Ok(RunningServer {
            path,
            ino,
            stop,
            wake,
            thread: Some(thread),
        })
    }

    fn accept_loop(self, handler: &Arc<dyn Handler>, stop: &AtomicBool) {
        let open = Arc::new(AtomicUsize::new(0));
        let pool = Pool::new(handler.clone(), open.clone(), pool::LINGER);
        for conn in self.listener.incoming() {
            if stop.load(Ordering::Acquire) {
                break;
            }
            let Ok(stream) = conn else {
                // EMFILE and friends: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let allowed = peer_uid(&stream).is_some_and(|uid| uid == 0 || uid == self.owner_uid);
            if !allowed {
                refuse(stream, Refusal::PermissionDenied);
                continue;
            }
            if open.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
                open.fetch_sub(1, Ordering::AcqRel);
                refuse(stream, Refusal::Busy);
                continue;
            }
            if pool.serve(stream).is_err() {
                open.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// A serving control socket. Dropping it (or [`RunningServer::shutdown`]) stops accepting
/// and removes the socket file, unless another server has replaced it meanwhile.
#[derive(Debug)]
pub struct RunningServer {
    path: PathBuf,
    ino: Option<u64>,
    stop: Arc<AtomicBool>,
    wake: UnixListener,
    thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting connections and removes the socket file. Connections being served
    /// finish their current request on their own threads.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::Release);
        // On Linux, shutting a listening socket down wakes a blocked accept().
        let _ = nix::sys::socket::shutdown(self.wake.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let _ = UnixStream::connect(&self.path);
        let _ = thread.join();
        let same = std::fs::metadata(&self.path).map(|m| Some(m.ino()) == self.ino);
        if same.unwrap_or(false) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Removes a socket nobody answers on; refuses a live one or a non-socket file.
fn remove_stale(path: &Path) -> Result<(), Error> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("inspecting {}", path.display()), e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ErrorKind::NotASocket(path.to_path_buf()).into());
    }
    if let Ok(mut stream) = UnixStream::connect(path) {
        // A connection can succeed without a server: after `kill -9`, a child caught between
        // fork and exec still holds the listening socket for a moment. A live server sends
        // its hello at once; one that is only slow is given the benefit of the doubt.
        let _ = stream.set_read_timeout(Some(STALE_CHECK_TIMEOUT));
        match read_hello(&mut stream) {
            Err(e) if matches!(e.kind(), ErrorKind::Closed) => {}
            _ => return Err(ErrorKind::AlreadyRunning(path.to_path_buf()).into()),
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == IoKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(
            format!("removing the stale socket {}", path.display()),
            e,
        )),
    }
}

/// A short temporary name beside `path` (socket paths are limited to 107 bytes).
fn temporary_name(path: &Path) -> PathBuf {
    path.with_file_name(format!(".jailor-{}.sock", std::process::id()))
}

fn peer_uid(stream: &UnixStream) -> Option<u32> {
    nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.uid())
}

fn refuse(mut stream: UnixStream, why: Refusal) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = write_frame(&mut stream, &Hello::refusal(why), MAX_REQUEST_FRAME);
}

/// Handshake, then request/response until the client closes, errs or idles out.
fn serve_connection(mut stream: UnixStream, handler: &dyn Handler) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    if write_frame(&mut stream, &Hello::current(), MAX_REQUEST_FRAME).is_err() {
        return;
    }
    if let Err(e) = read_hello(&mut stream) {
        if let ErrorKind::VersionMismatch { .. } = e.kind() {
            let reply = Response::error(FailureKind::VersionMismatch, e.to_string());
            let _ = write_frame(&mut stream, &reply, MAX_RESPONSE_FRAME);
        }
        return;
    }
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    loop {
        let request: Request = match read_frame(&mut stream, MAX_REQUEST_FRAME) {
            Ok(r) => r,
            Err(e) => {
                let reply = match e.kind() {
                    ErrorKind::FrameTooLarge { .. } => {
                        Response::error(FailureKind::TooLarge, e.to_string())
                    }
                    ErrorKind::Malformed(_) => {
                        // The frame was read whole: the stream is still in step.
                        let reply = Response::error(FailureKind::InvalidCommand, e.to_string());
                        if write_frame(&mut stream, &reply, MAX_RESPONSE_FRAME).is_err() {
                            return;
                        }
                        continue;
                    }
                    _ => return,
                };
                let _ = write_frame(&mut stream, &reply, MAX_RESPONSE_FRAME);
                return;
            }
        };
        let reply =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(request)))
                .unwrap_or_else(|_| {
                    Response::error(FailureKind::Failed, "internal error in the daemon")
                });
        let sent = match write_frame(&mut stream, &reply, MAX_RESPONSE_FRAME) {
            Err(e) if matches!(e.kind(), ErrorKind::FrameTooLarge { .. }) => write_frame(
                &mut stream,
                &Response::error(FailureKind::TooLarge, e.to_string()),
                MAX_RESPONSE_FRAME,
            ),
            other => other,
        };
        if sent.is_err() {
            return;
        }
    }
}
