//! Readiness for systemd (`Type=notify`): state changes sent as datagrams to the socket
//! named by `$NOTIFY_SOCKET` (`READY=1` once every jail started, `RELOADING=1`/`READY=1`
//! around a reload, `STOPPING=1`), and the gate a jail's reader passes when it starts.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use crate::logf;

/// Where state changes go: nowhere when `$NOTIFY_SOCKET` is unset (not run by systemd).
#[derive(Debug)]
pub(crate) struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` names: a path, or `@name` for an abstract socket.
    pub(crate) fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|s| {
            let s = s.to_string_lossy().into_owned();
            match open(&s) {
                Ok(t) => Some(t),
                Err(e) => {
                    logf!(
                        WARNING,
                        "fail2ban.server",
                        "NOTIFY_SOCKET {s:?} not usable: {e}"
                    );
                    None
                }
            }
        });
        Notifier { target }
    }

    /// Sends one state change (`KEY=VALUE` lines); a failure is logged, never fatal.
    pub(crate) fn send(&self, state: &str) {
        if let Some((sock, addr)) = &self.target {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                logf!(
                    DEBUG,
                    "fail2ban.server",
                    "sd_notify {state:?} not sent: {e}"
                );
            }
        }
    }

    /// `RELOADING=1`, with the `MONOTONIC_USEC` of now that sd_notify(3) asks to go with it.
    pub(crate) fn reloading(&self) {
        let usec = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as i128 * 1_000_000 + t.tv_nsec() as i128 / 1_000);
        match usec {
            Ok(u) => self.send(&format!("RELOADING=1\nMONOTONIC_USEC={u}")),
            Err(_) => self.send("RELOADING=1"),
        }
    }

    /// Sends `state` from a new thread once every jail behind `started` has started (or
    /// failed to: its reader ended without starting), so waiting never holds up the server.
    pub(crate) fn send_when_started(self: &Arc<Self>, started: Vec<Receiver<()>>, state: String) {
        self.send_when_started_then(started, state, None);
    }

    /// [`Notifier::send_when_started`], then runs `after` on the same thread.
    pub(crate) fn send_when_started_then(
        self: &Arc<Self>,
        started: Vec<Receiver<()>>,
        state: String,
        after: Option<Box<dyn FnOnce() + Send>>,
    ) {
        if self.target.is_none() && after.is_none() {
            return;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("sd-notify".into())
            .stack_size(crate::memory::SMALL_STACK)
            .spawn(move || {
                for s in started {
                    let _ = s.recv();
                }
                me.send(&state);
                if let Some(after) = after {
                    after();
                }
            });
        if let Err(e) = spawned {
            logf!(
                ERROR,
                "fail2ban.server",
                "cannot start the sd-notify thread: {e}"
            );
        }
    }
}

fn open(name: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match name.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name.as_bytes())?
        }
        None if name.starts_with('/') => SocketAddr::from_pathname(name)?,
        None => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "neither an absolute path nor @abstract",
            ))
        }
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// What a jail's reader waits on before it reads (its actions started, its bans restored)
/// and signals once it has started.
#[derive(Debug)]
pub(crate) struct StartGate {
    ready: Receiver<()>,
    started: Sender<()>,
}

impl StartGate {
    /// A gate opened through `ready`; the receiver learns when the reader passed it.
    pub(crate) fn new(ready: Receiver<()>) -> (StartGate, Receiver<()>) {
        let (started, passed) = mpsc::channel();
        (StartGate { ready, started }, passed)
    }

    /// Waits until the jail may read; false when the keeper went away instead.
    pub(crate) fn wait(&self) -> bool {
        self.ready.recv().is_ok()
    }

    /// Tells the waiter that the jail started (call after logging it).
    pub(crate) fn started(self) {
        let _ = self.started.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_and_to_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        let (sock, addr) = open(path.to_str().unwrap()).unwrap();
        let n = Notifier {
            target: Some((sock, addr)),
        };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("jailor-notify-test-{}", std::process::id());
        let abs = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        let (sock, addr) = open(&format!("@{name}")).unwrap();
        Notifier {
            target: Some((sock, addr)),
        }
        .send("STOPPING=1");
        let len = abs.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");
        assert!(open("relative/path").is_err());
    }

    #[test]
    fn waits_for_every_jail_or_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_nonblocking(true).unwrap();
        let n = Arc::new(Notifier {
            target: Some(open(path.to_str().unwrap()).unwrap()),
        });
        let (ready_a, gate_a) = mpsc::channel();
        let (ready_b, gate_b) = mpsc::channel();
        let (a, started_a) = StartGate::new(gate_a);
        let (b, started_b) = StartGate::new(gate_b);
        n.send_when_started(vec![started_a, started_b], "READY=1".into());
        ready_a.send(()).unwrap();
        assert!(a.wait());
        a.started();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut buf = [0u8; 64];
        assert!(rx.recv(&mut buf).is_err(), "sent before jail b started");
        // b's keeper goes away: b never starts, and the wait ends all the same.
        drop(ready_b);
        assert!(!b.wait());
        drop(b);
        rx.set_nonblocking(false).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }
}
