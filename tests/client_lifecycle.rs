//! `jailor client start|restart|stop` drive a real daemon's life as fail2ban-client does:
//! start puts it in the background and waits until it answers (`Server ready`), a second
//! start is refused, restart stops and starts it again with its bans, stop ends it.

mod daemon_support;

use std::process::{Command, Output};

use daemon_support::*;

const JAILS: &str = "[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
";

fn client(conf: &Conf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jailor"))
        .arg("client")
        .arg("-c")
        .arg(conf.path())
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Kills the background daemon (by its pidfile) if the test ends without stopping it.
struct Reaper(std::path::PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}

#[test]
fn start_restart_and_stop_the_daemon() {
    let conf = Conf::new(JAILS);
    append(&conf.file("auth.log"), "");
    let _reaper = Reaper(conf.file("jailor.pid"));
    let o = client(&conf, &["start"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(text(&o).0, "Server ready\n");
    let o = client(&conf, &["ping"]);
    assert_eq!(text(&o).0, "Server replied: pong\n");
    let first_pid = read(&conf.file("jailor.pid"));
    assert!(!first_pid.trim().is_empty());

    let o = client(&conf, &["start"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        text(&o).1.contains("Server already running"),
        "{:?}",
        text(&o)
    );
    let o = client(&conf, &["--json", "start"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "already_running", "{v}");

    // restart: a new process with the ban it had.
    let o = client(&conf, &["set", "test", "banip", "198.51.100.30"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = client(&conf, &["restart"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(text(&o).0, "Shutdown successful\nServer ready\n");
    wait_for("the new pidfile", 30, || {
        let p = read(&conf.file("jailor.pid"));
        !p.trim().is_empty() && p != first_pid
    });
    wait_for("the ban restored", 60, || {
        text(&client(&conf, &["get", "test", "banned"]))
            .0
            .contains("198.51.100.30")
    });

    let o = client(&conf, &["stop"]);
    assert_eq!(text(&o).0, "Shutdown successful\n");
    wait_for("the socket to go", 30, || {
        !conf.file("jailor.sock").exists()
    });
    let o = client(&conf, &["ping"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        text(&o).1.contains("Is fail2ban running?"),
        "{:?}",
        text(&o)
    );
}
