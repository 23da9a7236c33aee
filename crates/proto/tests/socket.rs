//! The control socket end to end: a test handler behind a real `ControlServer`, real clients.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jailor_proto::frame::{read_frame, write_frame};
use jailor_proto::{
    Client, ControlServer, ErrorKind, FailureKind, Handler, Hello, JailSetting, Request, Response,
    RunningServer, ServerStatus, MAX_REQUEST_FRAME,
};

/// A small daemon stand-in: two jails and a ban counter.
#[derive(Default)]
struct TestDaemon {
    bans: AtomicUsize,
}

impl Handler for TestDaemon {
    fn handle(&self, request: Request) -> Response {
        match request {
            Request::Ping => Response::Pong,
            Request::Echo { words } => Response::List(words),
            Request::Status { .. } => Response::ServerStatus(ServerStatus {
                jails: vec!["recidive".into(), "sshd".into()],
            }),
            Request::SetJail {
                jail,
                setting: JailSetting::BanIp { ips },
            } if jail == "sshd" => {
                self.bans.fetch_add(ips.len(), Ordering::SeqCst);
                Response::Number(ips.len() as i64)
            }
            Request::SetJail { jail, .. } | Request::GetJail { jail, .. } => {
                Response::unknown_jail(&jail)
            }
            Request::Sleep { .. } => panic!("the handler panics"),
            _ => Response::error(FailureKind::InvalidCommand, "Invalid command"),
        }
    }
}

fn serve(path: &Path) -> RunningServer {
    ControlServer::bind(path, nix::unistd::geteuid().as_raw())
        .unwrap()
        .spawn(Arc::new(TestDaemon::default()))
        .unwrap()
}

fn timeout() -> Option<Duration> {
    Some(Duration::from_secs(10))
}

#[test]
fn requests_round_trip_over_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/sub/jailor.sock");
    let server = serve(&path);
    // The folder was created 0755, the socket 0600.
    let folder = std::fs::metadata(path.parent().unwrap()).unwrap();
    assert_eq!(folder.permissions().mode() & 0o777, 0o755);
    let sock = std::fs::metadata(&path).unwrap();
    assert_eq!(sock.permissions().mode() & 0o777, 0o600);
    assert_eq!(sock.uid(), nix::unistd::geteuid().as_raw());

    let mut client = Client::connect(&path, timeout()).unwrap();
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);
    let words = vec!["a".to_string(), "b c".to_string()];
    assert_eq!(
        client
            .send(&Request::Echo {
                words: words.clone()
            })
            .unwrap(),
        Response::List(words)
    );
    let ban = Request::from_words(&["set", "sshd", "banip", "192.0.2.1", "192.0.2.2"]).unwrap();
    assert_eq!(client.send(&ban).unwrap(), Response::Number(2));
    let other = Request::from_words(&["get", "nojail", "findtime"]).unwrap();
    assert_eq!(
        client.send(&other).unwrap(),
        Response::unknown_jail("nojail")
    );

    // Several clients at once, each with its own thread in the server.
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&path, timeout()).unwrap();
                let words = vec![i.to_string()];
                c.send(&Request::Echo {
                    words: words.clone(),
                })
                .unwrap()
                    == Response::List(words)
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }

    server.shutdown();
    assert!(!path.exists(), "the socket is removed at shutdown");
    let err = Client::connect(&path, timeout()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotRunning(path.clone()));
    assert_eq!(
        err.to_string(),
        format!(
            "Failed to access socket path: {}. Is fail2ban running?",
            path.display()
        )
    );
}

#[test]
fn a_panicking_handler_answers_an_error_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let _server = serve(&path);
    let mut client = Client::connect(&path, timeout()).unwrap();
    let reply = client.send(&Request::Sleep { seconds: 0.0 }).unwrap();
    assert!(matches!(reply, Response::Error(f) if f.kind == FailureKind::Failed));
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);
}

#[test]
fn oversized_request_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let _server = serve(&path);

    // The client refuses to send a request over the cap.
    let mut client = Client::connect(&path, timeout()).unwrap();
    let big = Request::Echo {
        words: vec!["x".repeat(MAX_REQUEST_FRAME as usize)],
    };
    let err = client.send(&big).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::FrameTooLarge { .. }),
        "{err}"
    );
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);

    // A peer that announces a huge frame gets a TooLarge answer and is closed.
    let mut client = Client::connect(&path, timeout()).unwrap();
    let stream = client.stream_mut();
    stream.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let reply: Response = read_frame(stream, 1 << 20).unwrap();
    assert!(matches!(reply, Response::Error(f) if f.kind == FailureKind::TooLarge));
    let mut rest = Vec::new();
    assert_eq!(
        stream.read_to_end(&mut rest).unwrap(),
        0,
        "closed after the refusal"
    );

    // Malformed JSON within the cap is answered and the connection stays usable.
    let mut client = Client::connect(&path, timeout()).unwrap();
    let stream = client.stream_mut();
    stream.write_all(&5u32.to_be_bytes()).unwrap();
    stream.write_all(b"nope!").unwrap();
    let reply: Response = read_frame(stream, 1 << 20).unwrap();
    assert!(matches!(reply, Response::Error(f) if f.kind == FailureKind::InvalidCommand));
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);
}

#[test]
fn handshake_version_mismatch_is_a_clear_error_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let _server = serve(&path);

    // A client of another version: the server answers a VersionMismatch failure and closes.
    let mut stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(timeout()).unwrap();
    let hello: Hello = read_frame(&mut stream, 4096).unwrap();
    assert_eq!(hello, Hello::current());
    let old = Hello {
        version: 99,
        ..Hello::current()
    };
    write_frame(&mut stream, &old, 4096).unwrap();
    let reply: Response = read_frame(&mut stream, 1 << 20).unwrap();
    match reply {
        Response::Error(f) => {
            assert_eq!(f.kind, FailureKind::VersionMismatch);
            assert!(f.message.contains("99"), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }

    // A server of another version: the client refuses it.
    let fake = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&fake).unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let newer = Hello {
            version: 2,
            ..Hello::current()
        };
        write_frame(&mut s, &newer, 4096).unwrap();
    });
    let err = Client::connect(&fake, timeout()).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::VersionMismatch { ours: 1, theirs: 2 }
    );
    t.join().unwrap();
}

#[test]
fn stale_socket_of_a_dead_daemon_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    // A daemon that died without cleaning up: the socket file stays, nobody accepts.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let _server = serve(&path);
    let mut client = Client::connect(&path, timeout()).unwrap();
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);
}

#[test]
fn a_socket_held_for_a_moment_by_a_dead_daemons_child_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    // After `kill -9`, a child between fork and exec still holds the listening socket:
    // connections are queued but never answered, then reset when the child execs.
    let leftover = UnixListener::bind(&path).unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(leftover);
    });
    let _server = serve(&path);
    holder.join().unwrap();
    let mut client = Client::connect(&path, timeout()).unwrap();
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);
}

#[test]
fn second_server_on_a_live_socket_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let _first = serve(&path);
    let err = ControlServer::bind(&path, 0).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::AlreadyRunning(path.clone()));
    // The first one still serves.
    let mut client = Client::connect(&path, timeout()).unwrap();
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);
}

#[test]
fn a_regular_file_at_the_socket_path_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    std::fs::write(&path, "data").unwrap();
    let err = ControlServer::bind(&path, 0).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotASocket(path.clone()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "data");
}

#[test]
fn a_peer_that_is_not_root_nor_the_owner_is_refused() {
    let Some(()) = jailor_testkit::require_root("a_peer_that_is_not_root_nor_the_owner_is_refused")
    else {
        return;
    };
    let Some(setpriv) = jailor_testkit::require_command(
        "a_peer_that_is_not_root_nor_the_owner_is_refused",
        "setpriv",
        "util-linux",
    ) else {
        return;
    };
    if !Path::new("/usr/bin/python3").is_file() {
        return jailor_testkit::skip(
            "a_peer_that_is_not_root_nor_the_owner_is_refused",
            "needs /usr/bin/python3",
        )
        .unwrap_or(());
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("s.sock");
    let _server = serve(&path);
    let nobody_connects = |path: &Path| {
        // A tiny client in Python so the test needs no second binary: it prints what it got.
        let script = "import socket,sys\n\
             s=socket.socket(socket.AF_UNIX)\n\
             try:\n  s.connect(sys.argv[1])\n\
             except OSError as e:\n  print('connect-error', e.errno); sys.exit(0)\n\
             d=b''\n\
             while True:\n  c=s.recv(4096)\n  if not c: break\n  d+=c\n\
             print('got', d[4:].decode())\n";
        let out = std::process::Command::new(&setpriv)
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "/usr/bin/python3",
            ])
            .arg("-c")
            .arg(script)
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Mode 0600: the kernel refuses `nobody` before the daemon sees it (EACCES = 13).
    assert_eq!(nobody_connects(&path).trim(), "connect-error 13");
    // Even with the mode opened up, the peer-credential check refuses with a frame.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let got = nobody_connects(&path);
    assert!(got.contains("\"refused\":\"permission_denied\""), "{got}");
    // Root still gets through.
    let mut client = Client::connect(&path, timeout()).unwrap();
    assert_eq!(client.send(&Request::Ping).unwrap(), Response::Pong);
}

#[test]
fn refusal_frame_maps_to_permission_denied_in_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&fake).unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        write_frame(
            &mut s,
            &Hello::refusal(jailor_proto::Refusal::PermissionDenied),
            4096,
        )
        .unwrap();
    });
    let err = Client::connect(&fake, timeout()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::PermissionDenied(fake.clone()));
    assert_eq!(
        err.to_string(),
        format!(
            "Permission denied to socket: {}, (you must be root)",
            fake.display()
        )
    );
    t.join().unwrap();
}

/// A handler that answers `echo` with the name of the thread that runs it.
fn thread_teller(path: &Path) -> RunningServer {
    ControlServer::bind(path, nix::unistd::geteuid().as_raw())
        .unwrap()
        .spawn(Arc::new(|req: Request| match req {
            Request::Echo { .. } => Response::Text(format!("{:?}", std::thread::current().id())),
            _ => Response::error(FailureKind::InvalidCommand, "Invalid command"),
        }))
        .unwrap()
}

fn thread_of(client: &mut Client) -> String {
    match client.send(&Request::Echo { words: vec![] }).unwrap() {
        Response::Text(t) => t,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_next_connection_is_served_by_the_thread_of_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jailor.sock");
    let _server = thread_teller(&path);
    let mut first = Client::connect(&path, timeout()).unwrap();
    let served_first = thread_of(&mut first);
    // Two at once: two threads.
    let mut second = Client::connect(&path, timeout()).unwrap();
    let served_second = thread_of(&mut second);
    assert_ne!(served_first, served_second);
    drop(first);
    drop(second);
    // Both threads now wait for the next connection (once each has read its client's close:
    // asynchronous, so poll); a new connection goes to one of them, not to a new thread.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut new_threads = 0;
    loop {
        let mut c = Client::connect(&path, timeout()).unwrap();
        let served = thread_of(&mut c);
        if served == served_first || served == served_second {
            break;
        }
        new_threads += 1;
        assert!(
            std::time::Instant::now() < deadline,
            "{new_threads} new connections ran on new threads (the last on {served}), never \
             on {served_first} or {served_second}"
        );
        drop(c);
        std::thread::sleep(Duration::from_millis(20));
    }
}
