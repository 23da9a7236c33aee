//! Only root (or the socket's owner) may drive the real daemon: `jailor client` run as
//! `nobody` is refused with fail2ban-client's message and exit code, both by the socket's
//! mode and, when the file mode is opened up, by the daemon's peer-credential check.

mod daemon_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use daemon_support::*;

const JAILS: &str = "[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
";

fn as_nobody(setpriv: &Path, bin: &Path, socket: &Path, args: &[&str]) -> Output {
    Command::new(setpriv)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(bin)
        .args(["client", "-s"])
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn nobody_is_refused_by_the_real_daemon() {
    let test = "nobody_is_refused_by_the_real_daemon";
    let Some(()) = jailor_testkit::require_root(test) else {
        return;
    };
    let Some(setpriv) = jailor_testkit::require_command(test, "setpriv", "util-linux") else {
        return;
    };
    let conf = Conf::new(JAILS);
    append(&conf.file("auth.log"), "");
    let _d = Daemon::start_ready(&conf, &["test"]);
    let socket = conf.file("jailor.sock");
    wait_for("the socket", 10, || socket.exists());
    // `nobody` may reach the folder and run a copy of the binary; the socket stays 0600.
    std::fs::set_permissions(conf.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = conf.file("jailor");
    std::fs::copy(env!("CARGO_BIN_EXE_jailor"), &bin).unwrap();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let refused = format!(
        "Permission denied to socket: {}, (you must be root)",
        socket.display()
    );

    for args in [
        &["status"][..],
        &["set", "test", "banip", "198.51.100.1"][..],
    ] {
        let o = as_nobody(&setpriv, &bin, &socket, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {err}");
        assert!(err.contains(&refused), "{args:?}: {err}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    }
    let o = as_nobody(&setpriv, &bin, &socket, &["--json", "ping"]);
    assert_eq!(o.status.code(), Some(255));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "permission_denied", "{v}");

    // With the file mode opened, the daemon's own check (peer credentials) still refuses.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = as_nobody(
        &setpriv,
        &bin,
        &socket,
        &["set", "test", "banip", "198.51.100.1"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(err.contains(&refused), "{err}");
    // Nothing was banned, and root is still served.
    let o = Command::new(&bin)
        .args(["client", "-s"])
        .arg(&socket)
        .args(["get", "test", "banned"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[]\n");
}
