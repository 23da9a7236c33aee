//! Helpers for the firewall tests: network namespaces joined by veth pairs, a real OpenSSH
//! server in one of them with its log in syslog format, a real `ssh` client trying wrong
//! passwords, TCP reachability from a chosen source address, and `nft` listings.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Numbers the namespaces and links of this test process (tests run in parallel threads).
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn next() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A network namespace, deleted (with the processes started in it by the test) when dropped.
/// Its name holds the test process id and a counter, so parallel tests and runs never share
/// one.
pub struct Netns {
    pub name: String,
    pub children: Vec<Child>,
}

impl Netns {
    pub fn new(short: &str) -> Netns {
        let name = format!("jl{}-{}{short}", std::process::id(), next());
        let _ = run(&["ip", "netns", "del", &name]);
        let out = run(&["ip", "netns", "add", &name]);
        assert!(out.status.success(), "ip netns add {name}: {out:?}");
        let ns = Netns {
            name,
            children: Vec::new(),
        };
        ns.ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} in {}: {out:?}", self.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether a TCP connection to `addr` port 22 opens within 4 s (the kernel answers the
    /// handshake; the margin is for starting bash on a loaded machine).
    pub fn connects(&self, addr: &str) -> bool {
        let script = format!("exec 3<>/dev/tcp/{addr}/22");
        self.run(&["timeout", "4", "bash", "-c", &script])
            .status
            .success()
    }

    /// Whether a TCP connection from source address `src` to `dst` port 22 opens within 4 s:
    /// the route to `dst` (via `dev`) is set to prefer `src` first (bash cannot bind).
    pub fn connects_from(&self, src: &str, dst: &str, dev: &str) -> bool {
        let (flag, len) = if dst.contains(':') {
            ("-6", "128")
        } else {
            ("-4", "32")
        };
        self.ok(&[
            "ip",
            flag,
            "route",
            "replace",
            &format!("{dst}/{len}"),
            "dev",
            dev,
            "src",
            src,
        ]);
        self.connects(dst)
    }

    /// `nft list ruleset` in this namespace.
    pub fn ruleset(&self) -> String {
        self.ok(&["nft", "list", "ruleset"])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

/// Runs a command in the test's own namespace.
pub fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The names of the veth ends [`link`] creates for `tag`: (in `a`, in `b`).
pub fn veth_names(tag: &str) -> (String, String) {
    (
        format!("v{tag}a{}", std::process::id()),
        format!("v{tag}b{}", std::process::id()),
    )
}

/// Joins `a` and `b` by a veth pair with the given IPv4 and IPv6 addresses (/24, /64).
pub fn link(a: &Netns, a4: &str, a6: &str, b: &Netns, b4: &str, b6: &str, tag: &str) {
    let (ea, eb) = veth_names(tag);
    let out = run(&[
        "ip", "link", "add", &ea, "netns", &a.name, "type", "veth", "peer", "name", &eb, "netns",
        &b.name,
    ]);
    assert!(out.status.success(), "veth: {out:?}");
    for (ns, dev, v4, v6) in [(a, &ea, a4, a6), (b, &eb, b4, b6)] {
        ns.ok(&["ip", "addr", "add", &format!("{v4}/24"), "dev", dev]);
        add6(ns, dev, &format!("{v6}/64"));
        ns.ok(&["ip", "link", "set", dev, "up"]);
    }
}

/// Adds an IPv6 address without duplicate address detection (usable at once).
pub fn add6(ns: &Netns, dev: &str, cidr: &str) {
    ns.ok(&["ip", "-6", "addr", "add", cidr, "dev", dev, "nodad"]);
}

/// `(address, timeout)` of the elements of set `set` of table `inet jailor` (empty when the
/// set does not exist).
pub fn elements(ns: &Netns, set: &str) -> Vec<(String, Option<u64>)> {
    let out = ns.run(&["nft", "-j", "list", "set", "inet", "jailor", set]);
    if !out.status.success() {
        return Vec::new();
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found = Vec::new();
    for item in doc["nftables"].as_array().into_iter().flatten() {
        for e in item["set"]["elem"].as_array().into_iter().flatten() {
            let (val, timeout) = match e.get("elem") {
                Some(inner) => (&inner["val"], inner["timeout"].as_u64()),
                None => (e, None),
            };
            let text = match val {
                serde_json::Value::String(s) => s.clone(),
                // A network: {"prefix": {"addr": "fd42::", "len": 64}}.
                other => match (
                    other["prefix"]["addr"].as_str(),
                    other["prefix"]["len"].as_u64(),
                ) {
                    (Some(a), Some(l)) => format!("{a}/{l}"),
                    _ => other.to_string(),
                },
            };
            found.push((text, timeout));
        }
    }
    found
}

/// Whether set `set` of `inet jailor` holds `addr`.
pub fn has(ns: &Netns, set: &str, addr: &str) -> bool {
    elements(ns, set).iter().any(|(a, _)| a == addr)
}

/// `jailor server -f` with configuration folder `conf` inside `ns`; its standard error goes
/// to `stderr` (appended).
pub fn start_daemon(ns: &Netns, conf: &Path, stderr: &Path) -> super::daemon_support::Daemon {
    let err = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr)
        .unwrap();
    let child = ns
        .command(&[env!("CARGO_BIN_EXE_jailor"), "server", "-f", "-x", "-c"])
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    super::daemon_support::Daemon { child }
}

/// `jailor client -c conf -s socket ARGS…` (from the test's own namespace: a Unix socket is a
/// file, not a network address).
pub fn client(conf: &Path, socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jailor"))
        .arg("client")
        .arg("-c")
        .arg(conf)
        .arg("-s")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Root, `nft` and `ip`; the reasons are printed (or fail the test under `JAILOR_NO_SKIP`).
pub fn requirements(test: &str) -> bool {
    jailor_testkit::require_root(test).is_some()
        && jailor_testkit::require_command(test, "nft", "nftables").is_some()
        && jailor_testkit::require_command(test, "ip", "iproute2").is_some()
}

/// [`requirements`], plus sshd, ssh and sshpass.
pub fn ssh_requirements(test: &str) -> bool {
    requirements(test)
        && jailor_testkit::require_command(test, "sshd", "openssh-server").is_some()
        && jailor_testkit::require_command(test, "sshpass", "sshpass").is_some()
        && jailor_testkit::require_command(test, "ssh", "openssh-client").is_some()
}

/// A syslog line as rsyslog writes it, for a line sshd wrote to stderr with `-e`.
pub fn syslog_line(pid: u32, line: &str) -> String {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::system());
    format!(
        "{} srv sshd[{pid}]: {line}\n",
        now.strftime("%b %e %H:%M:%S")
    )
}

/// Starts sshd in `srv` on a config in `dir`; its stderr lines, timestamped, go to `log`.
pub fn start_sshd(srv: &mut Netns, dir: &Path, log: PathBuf) {
    let args = sshd_args(dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = spawn_sshd(srv.command(&args), log);
    srv.children.push(child);
}

/// Writes a host key and an `sshd_config` (password logins, no PAM, port 22 on every
/// address) into `dir`; returns sshd's command line (foreground, log to stderr).
pub fn sshd_args(dir: &Path) -> Vec<String> {
    let key = dir.join("host_ed25519");
    if !key.exists() {
        let out = run(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            key.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    let config = dir.join("sshd_config");
    fs::write(
        &config,
        format!(
            "Port 22\nListenAddress 0.0.0.0\nListenAddress ::\nHostKey {}\nPidFile {}/sshd.pid\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin yes\nStrictModes no\nLogLevel INFO\nMaxStartups 100\n",
            key.display(),
            dir.display()
        ),
    )
    .unwrap();
    fs::create_dir_all("/run/sshd").unwrap();
    let sshd = jailor_testkit::find_command("sshd").unwrap();
    vec![
        sshd.display().to_string(),
        "-D".into(),
        "-e".into(),
        "-f".into(),
        config.display().to_string(),
    ]
}

/// Spawns sshd by `command`; its stderr lines, timestamped as syslog does, go to `log`.
pub fn spawn_sshd(mut command: Command, log: PathBuf) -> Child {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = child.id();
    std::thread::spawn(move || {
        let mut out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = out.write_all(syslog_line(pid, &line).as_bytes());
        }
    });
    child
}

/// One wrong-password login from `ns` (one `Failed password` line).
pub fn wrong_password(ns: &Netns, addr: &str) {
    let _ = ns.run(&[
        "sshpass",
        "-p",
        "wrong",
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "ConnectTimeout=3",
        &format!("root@{addr}"),
        "true",
    ]);
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Three namespaces: `srv` (10.201.1.1 / fd42:201:1::1 towards `atk`, 10.201.2.1 /
/// fd42:201:2::1 towards `ok`), the attacker `atk` (10.201.1.2, fd42:201:1::2) and the
/// bystander `ok` (10.201.2.2, fd42:201:2::2), with sshd running in `srv` and logging to
/// `auth_log`.
pub struct Lab {
    pub srv: Netns,
    pub atk: Netns,
    pub ok: Netns,
    /// The veth end in `srv` towards `atk`.
    pub srv_dev: String,
    /// The veth end in `atk`.
    pub atk_dev: String,
}

impl Lab {
    /// The namespaces and links, with sshd in `srv` logging to `auth_log`.
    pub fn new(dir: &Path, auth_log: &Path) -> Lab {
        let mut lab = Lab::bare();
        super::daemon_support::append(auth_log, "");
        start_sshd(&mut lab.srv, dir, auth_log.to_path_buf());
        let atk = &lab.atk;
        super::daemon_support::wait_for("sshd listening", 20, || atk.connects("10.201.1.1"));
        lab
    }

    /// The namespaces and links only.
    pub fn bare() -> Lab {
        let n = next();
        let (srv_dev, atk_dev) = veth_names(&format!("a{n}"));
        let srv = Netns::new("srv");
        let atk = Netns::new("atk");
        let ok = Netns::new("ok");
        link(
            &srv,
            "10.201.1.1",
            "fd42:201:1::1",
            &atk,
            "10.201.1.2",
            "fd42:201:1::2",
            &format!("a{n}"),
        );
        link(
            &srv,
            "10.201.2.1",
            "fd42:201:2::1",
            &ok,
            "10.201.2.2",
            "fd42:201:2::2",
            &format!("o{n}"),
        );
        Lab {
            srv,
            atk,
            ok,
            srv_dev,
            atk_dev,
        }
    }
}
