//! `start` and `restart`: the client starts the daemon (`jailor server`) and waits until its
//! socket answers `ping`, as fail2ban-client does.
use std::process::Command;
use std::time::{Duration, Instant};

use jailor_proto::{Error, ErrorKind, Request, Response};

use super::{ClientArgs, Session};

/// Starts the server with the client's `-c`/`-s`/`-p`/`-x`/log options; waits for `ping`.
pub(super) fn start(session: &Session, args: &ClientArgs) -> Result<(), Error> {
    if session.send(&Request::Ping, session.timeout).is_ok() {
        return Err(ErrorKind::AlreadyRunning(session.socket.clone()).into());
    }
    let exe = std::env::current_exe()
        .map_err(|e| ErrorKind::Io(format!("cannot find jailor's own binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg("server");
    if let Some(conf) = &args.conf {
        cmd.arg("-c").arg(conf);
    }
    cmd.arg(if args.foreground { "-f" } else { "-b" });
    cmd.arg("-s").arg(&session.socket);
    if let Some(p) = &args.pidfile {
        cmd.arg("-p").arg(p);
    }
    if args.force {
        cmd.arg("-x");
    }
    if let Some(t) = &args.logtarget {
        cmd.arg("--logtarget").arg(t);
    }
    if let Some(l) = &args.loglevel {
        cmd.arg("--loglevel").arg(l);
    }
    if args.foreground {
        // `-f start`: the server runs in this process's place until it stops.
        let status = cmd
            .status()
            .map_err(|e| ErrorKind::Io(format!("cannot run the server: {e}")))?;
        return if status.success() {
            Ok(())
        } else {
            Err(ErrorKind::Io(format!("the server exited with {status}")).into())
        };
    }
    // `server -b` forks and its first process exits at once; a non-zero exit is a start-up
    // error (already printed by the server on stderr).
    let status = cmd
        .status()
        .map_err(|e| ErrorKind::Io(format!("cannot run the server: {e}")))?;
    if !status.success() {
        return Err(ErrorKind::Io(format!("the server could not start ({status})")).into());
    }
    wait_for_ping(session)
}

/// Waits until the socket answers `ping`, up to the session's timeout.
fn wait_for_ping(session: &Session) -> Result<(), Error> {
    let deadline = Instant::now() + session.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match session.send(&Request::Ping, left.max(Duration::from_millis(100))) {
            Ok(Response::Pong) => return Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied(_)) => return Err(e),
            _ if left.is_zero() => return Err(ErrorKind::Timeout.into()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// `restart [--unban]` without a jail: stop the server, wait for its socket to go, start it.
/// Answers whether a running server was stopped.
pub(super) fn restart(
    session: &Session,
    args: &ClientArgs,
    words: &[String],
) -> Result<bool, Error> {
    if words.iter().any(|w| w == "--unban") {
        let unban = Request::Unban {
            ips: Vec::new(),
            all: true,
        };
        fail_on_error(session.send(&unban, session.timeout)?)?;
    }
    // The old server's pid: its actions must have stopped before the new one starts them.
    let old_pid = pidfile(args).and_then(|p| std::fs::read_to_string(p).ok());
    let old_pid = old_pid.and_then(|p| p.trim().parse::<u32>().ok());
    let was_running = match session.send(&Request::Stop, session.timeout) {
        Ok(r) => {
            fail_on_error(r)?;
            true
        }
        // Not running: restart is then a start.
        Err(e) if matches!(e.kind(), ErrorKind::NotRunning(_)) => false,
        Err(e) => return Err(e),
    };
    let deadline = Instant::now() + session.timeout;
    while session.send(&Request::Ping, Duration::from_secs(1)).is_ok() {
        if Instant::now() >= deadline {
            return Err(ErrorKind::Timeout.into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(pid) = old_pid.filter(|_| was_running) {
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        while proc_dir.exists() {
            if Instant::now() >= deadline {
                return Err(ErrorKind::Timeout.into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    start(session, args).map(|()| was_running)
}

/// The server's pidfile: `-p`, else `pidfile` of the configuration.
fn pidfile(args: &ClientArgs) -> Option<std::path::PathBuf> {
    if let Some(p) = &args.pidfile {
        return Some(p.clone());
    }
    let base = crate::cli::config_base(args.conf.clone()).ok()?;
    let server = jailor_config::Loader::new(base.path()).read_server().ok()?;
    Some(std::path::PathBuf::from(server.pidfile))
}

fn fail_on_error(response: Response) -> Result<(), Error> {
    match response {
        Response::Error(f) => Err(ErrorKind::Io(f.message).into()),
        _ => Ok(()),
    }
}
