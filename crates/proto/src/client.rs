//! The client's side of the control socket.

use std::io::ErrorKind as IoKind;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::frame::{
    read_frame, read_hello, write_frame, Hello, Refusal, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME,
};
use crate::request::Request;
use crate::response::Response;

/// A connection to a daemon's control socket, past the handshake.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    path: PathBuf,
}

impl Client {
    /// Connects to the socket at `path` and exchanges hellos; `timeout` bounds each read and
    /// write (`None`: wait forever).
    ///
    /// # Errors
    /// [`ErrorKind::NotRunning`] when nothing listens at `path` (fail2ban's "Failed to access
    /// socket path: ... Is fail2ban running?"), [`ErrorKind::PermissionDenied`] when the socket's
    /// mode or the daemon's peer check refuses this user, [`ErrorKind::VersionMismatch`],
    /// [`ErrorKind::Timeout`].
    pub fn connect(path: impl AsRef<Path>, timeout: Option<Duration>) -> Result<Client, Error> {
        let path = path.as_ref().to_path_buf();
        let mut stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
            IoKind::NotFound | IoKind::ConnectionRefused => {
                Error::from(ErrorKind::NotRunning(path.clone()))
            }
            IoKind::PermissionDenied => ErrorKind::PermissionDenied(path.clone()).into(),
            _ => Error::io(format!("connecting to {}", path.display()), e),
        })?;
        let set = |s: &UnixStream| {
            s.set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout))
        };
        set(&stream).map_err(|e| Error::io("setting the socket timeout", e))?;
        let hello = read_hello(&mut stream).map_err(|e| match e.kind() {
            // A daemon that closes before its hello is going away or is not ours.
            ErrorKind::Closed => ErrorKind::NotRunning(path.clone()).into(),
            _ => e,
        })?;
        match hello.refused {
            None => {}
            Some(Refusal::PermissionDenied) => return Err(ErrorKind::PermissionDenied(path).into()),
            Some(_) => {
                return Err(ErrorKind::Io(format!(
                    "{}: the daemon has too many connections open",
                    path.display()
                ))
                .into())
            }
        }
        write_frame(&mut stream, &Hello::current(), MAX_REQUEST_FRAME)?;
        Ok(Client { stream, path })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `request` and waits for its response.
    ///
    /// # Errors
    /// [`ErrorKind::FrameTooLarge`] when the request is over the server's cap (nothing is sent),
    /// [`ErrorKind::Closed`], [`ErrorKind::Timeout`], or another I/O error. A command that
    /// fails in the daemon is not an error here: it is [`Response::Error`].
    pub fn send(&mut self, request: &Request) -> Result<Response, Error> {
        write_frame(&mut self.stream, request, MAX_REQUEST_FRAME)?;
        read_frame(&mut self.stream, MAX_RESPONSE_FRAME)
    }

    /// Sends raw frame bytes (for tests of the server's guards).
    #[doc(hidden)]
    pub fn stream_mut(&mut self) -> &mut UnixStream {
        &mut self.stream
    }
}
