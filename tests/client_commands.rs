//! `jailor client` as a process against a control socket served by a test handler: human
//! output in fail2ban-client's layout, `--json`, exit codes, and the `fail2ban-client` link.
//! (Tests against the real daemon come with its control wiring.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use jailor_proto::{
    ActionsStatus, ControlServer, FilterStatus, JailQuery, JailSetting, JailStatus, LogSource,
    Request, Response, RunningServer, ServerStatus,
};

/// A daemon stand-in with one jail, `sshd`, whose bans live in memory.
#[derive(Default)]
struct FakeDaemon {
    bans: Mutex<Vec<String>>,
}

impl jailor_proto::Handler for FakeDaemon {
    fn handle(&self, request: Request) -> Response {
        let mut bans = self.bans.lock().unwrap();
        match request {
            Request::Ping => Response::Pong,
            Request::Version => Response::Text("1.0.2".into()),
            Request::Echo { words } => Response::List(words),
            Request::Status { .. } => Response::ServerStatus(ServerStatus {
                jails: vec!["sshd".into()],
            }),
            Request::JailStatus { jail, flavor } if jail == "sshd" => {
                Response::JailStatus(JailStatus {
                    jail,
                    filter: FilterStatus {
                        currently_failed: 1,
                        total_failed: 7,
                        source: LogSource::Files(vec!["/var/log/auth.log".into()]),
                    },
                    actions: ActionsStatus {
                        currently_banned: bans.len() as u64,
                        total_banned: bans.len() as u64,
                        banned: (flavor != jailor_proto::Flavor::Short).then(|| bans.clone()),
                        cymru: None,
                    },
                })
            }
            Request::SetJail {
                jail,
                setting: JailSetting::BanIp { ips },
            } if jail == "sshd" => {
                let before = bans.len();
                for ip in ips {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        return Response::error(
                            jailor_proto::FailureKind::InvalidValue,
                            format!("'{ip}' is not a valid IP address"),
                        );
                    }
                    if !bans.contains(&ip) {
                        bans.push(ip);
                    }
                }
                Response::Number((bans.len() - before) as i64)
            }
            Request::GetJail {
                jail,
                query: JailQuery::IgnoreIp,
            } if jail == "sshd" => Response::List(vec!["127.0.0.1/8".into(), "::1".into()]),
            Request::JailStatus { jail, .. }
            | Request::SetJail { jail, .. }
            | Request::GetJail { jail, .. } => Response::unknown_jail(&jail),
            _ => Response::error(jailor_proto::FailureKind::InvalidCommand, "Invalid command"),
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    _server: RunningServer,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("jailor.sock");
    let uid = std::fs::metadata(dir.path()).unwrap();
    let server = ControlServer::bind(&socket, std::os::unix::fs::MetadataExt::uid(&uid))
        .unwrap()
        .spawn(Arc::new(FakeDaemon::default()))
        .unwrap();
    Fixture {
        _dir: dir,
        socket,
        _server: server,
    }
}

fn client(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jailor"))
        .arg("client")
        .arg("-s")
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn status_has_fail2ban_clients_layout() {
    let f = fixture();
    let o = client(&f.socket, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Status\n|- Number of jail:\t1\n`- Jail list:\tsshd\n"
    );

    let o = client(
        &f.socket,
        &["set", "sshd", "banip", "192.0.2.1", "2001:db8::1"],
    );
    assert_eq!(stdout(&o), "2\n");
    let o = client(&f.socket, &["status", "sshd"]);
    assert_eq!(o.status.code(), Some(0));
    let expected = "Status for the jail: sshd\n\
                    |- Filter\n\
                    |  |- Currently failed:\t1\n\
                    |  |- Total failed:\t7\n\
                    |  `- File list:\t/var/log/auth.log\n\
                    `- Actions\n   \
                    |- Currently banned:\t2\n   \
                    |- Total banned:\t2\n   \
                    `- Banned IP list:\t192.0.2.1 2001:db8::1\n";
    assert_eq!(stdout(&o), expected);

    let o = client(&f.socket, &["get", "sshd", "ignoreip"]);
    assert_eq!(
        stdout(&o),
        "These IP addresses/networks are ignored:\n|- 127.0.0.1/8\n`- ::1\n"
    );
    let o = client(&f.socket, &["ping"]);
    assert_eq!(stdout(&o), "Server replied: pong\n");
    let o = client(&f.socket, &["echo", "a", "b"]);
    assert_eq!(stdout(&o), "a b\n");
}

#[test]
fn failures_exit_255_with_fail2bans_messages() {
    let f = fixture();
    let o = client(&f.socket, &["status", "nojail"]);
    assert_eq!(o.status.code(), Some(255));
    assert_eq!(stdout(&o), "Sorry but the jail 'nojail' does not exist\n");

    let o = client(&f.socket, &["set", "sshd", "banip", "not-an-ip"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        stdout(&o).contains("not a valid IP address"),
        "{}",
        stdout(&o)
    );

    // Unknown commands are refused by the client itself, with fail2ban's texts.
    let o = client(&f.socket, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(255));
    assert_eq!(stdout(&o), "Invalid command\n");
    let o = client(&f.socket, &["set", "sshd", "foo", "1"]);
    assert_eq!(o.status.code(), Some(255));
    assert_eq!(
        stdout(&o),
        "Invalid command 'foo' (no set action or not yet implemented)\n"
    );
}

#[test]
fn daemon_not_running_is_255_with_fail2bans_message() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    let o = client(&socket, &["ping"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        stderr(&o).contains(&format!(
            "Failed to access socket path: {}. Is fail2ban running?",
            socket.display()
        )),
        "{}",
        stderr(&o)
    );
    let o = client(&socket, &["--json", "status"]);
    assert_eq!(o.status.code(), Some(255));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "not_running");
}

#[test]
fn json_output_has_the_documented_envelope() {
    let f = fixture();
    let o = client(&f.socket, &["--json", "set", "sshd", "banip", "192.0.2.9"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["command"],
        serde_json::json!(["set", "sshd", "banip", "192.0.2.9"])
    );
    assert_eq!(
        v["response"],
        serde_json::json!({"type": "number", "data": 1})
    );

    let o = client(&f.socket, &["--json", "status", "sshd"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["response"]["type"], "jail_status");
    let data = &v["response"]["data"];
    assert_eq!(data["jail"], "sshd");
    assert_eq!(data["filter"]["total_failed"], 7);
    assert_eq!(data["filter"]["source"]["kind"], "files");
    assert_eq!(data["actions"]["banned"], serde_json::json!(["192.0.2.9"]));

    let o = client(&f.socket, &["--json", "status", "nojail"]);
    assert_eq!(o.status.code(), Some(255));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "unknown_jail");

    let o = client(&f.socket, &["--json", "frobnicate"]);
    assert_eq!(o.status.code(), Some(255));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "invalid_command");
}

#[test]
fn invoked_as_fail2ban_client_it_is_the_client() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("fail2ban-client");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_jailor"), &link).unwrap();
    let o = Command::new(&link)
        .arg("-s")
        .arg(&f.socket)
        .arg("ping")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Server replied: pong\n");
    let o = Command::new(&link)
        .args(["--str2sec", "1h30m"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "5400\n");
    let o = Command::new(&link).arg("-V").output().unwrap();
    assert_eq!(stdout(&o), format!("{}\n", jailor_config::FAIL2BAN_VERSION));
}

#[test]
fn start_refuses_when_a_daemon_already_answers() {
    let f = fixture();
    let o = client(&f.socket, &["start"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(stderr(&o).contains("already running"), "{}", stderr(&o));
}

#[test]
fn a_client_run_as_nobody_is_refused() {
    let test = "a_client_run_as_nobody_is_refused";
    let Some(()) = jailor_testkit::require_root(test) else {
        return;
    };
    let Some(setpriv) = jailor_testkit::require_command(test, "setpriv", "util-linux") else {
        return;
    };
    let f = fixture();
    // `nobody` must be able to reach the socket's folder and run a copy of the binary.
    let dir = f.socket.parent().unwrap();
    let perms = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir, perms).unwrap();
    let bin = dir.join("jailor");
    std::fs::copy(env!("CARGO_BIN_EXE_jailor"), &bin).unwrap();
    let o = Command::new(setpriv)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&bin)
        .args(["client", "-s"])
        .arg(&f.socket)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "Permission denied to socket: {}, (you must be root)",
            f.socket.display()
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
}

#[test]
fn interactive_mode_reads_shell_quoted_commands() {
    use std::io::Write;
    let f = fixture();
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(["client", "-i", "-s"])
        .arg(&f.socket)
        .env("HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ping\necho 'a  b' c\nstatus nojail\nquit\nping\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The quoted word keeps its two spaces; nothing runs after `quit`.
    assert_eq!(
        stdout(&o),
        "Server replied: pong\na  b c\nSorry but the jail 'nojail' does not exist\n"
    );
}
