//! Network namespaces for the nftables tests: each test makes its own and removes it, also
//! when it fails.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use jailor_action::native::nft::NftCommand;
use serde_json::Value;

/// Root, `ip` and `nft`, or a skip.
pub fn require(test: &str) -> Option<()> {
    jailor_testkit::require_root(test)?;
    jailor_testkit::require_command(test, "ip", "iproute2")?;
    jailor_testkit::require_command(test, "nft", "nftables")?;
    Some(())
}

/// A network namespace `jailor-t-<pid>-<n>`, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// A new namespace with its loopback up.
    pub fn new() -> Netns {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "jailor-t-{}-{}-{:x}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed),
            nanos & 0xffff
        );
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS <args>`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// `nft` inside the namespace, for the action.
    pub fn nft(&self) -> NftCommand {
        NftCommand::in_netns(&self.name)
    }

    /// `ip netns exec NS nft <args>`: its stdout, or `Err(stderr)`.
    pub fn nft_raw(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The items of `nft -j list ruleset`.
    pub fn ruleset(&self) -> Vec<Value> {
        items(&self.nft_raw(&["-j", "list", "ruleset"]).unwrap())
    }

    /// The elements of `nft -j list set inet <table> <set>` (raw JSON values).
    pub fn elements(&self, table: &str, set: &str) -> Vec<Value> {
        let json = self
            .nft_raw(&["-j", "list", "set", "inet", table, set])
            .unwrap();
        items(&json)
            .into_iter()
            .filter_map(|i| i.get("set").and_then(|s| s.get("elem")).cloned())
            .flat_map(|e| e.as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Runs `f` on a thread that has entered this namespace.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            enter_netns(&path);
            f()
        })
        .join()
        .unwrap()
    }

    /// A TCP listener on `[::]:port` (IPv4 too) in this namespace, accepting until dropped.
    pub fn listen(&self, port: u16) -> Listener {
        let path = format!("/run/netns/{}", self.name);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            enter_netns(&path);
            let listener = TcpListener::bind(("::", port)).unwrap();
            listener.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => drop(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ready_rx.recv().unwrap();
        Listener {
            stop,
            thread: Some(thread),
        }
    }

    /// Connects from this namespace, from `source` (or the kernel's choice) to `target`,
    /// giving up after `timeout`: `Ok` when the connection was accepted, else the error.
    pub fn connect(
        &self,
        source: Option<SocketAddr>,
        target: SocketAddr,
        timeout: Duration,
    ) -> std::io::Result<()> {
        self.enter(move || {
            let domain = socket2::Domain::for_address(target);
            let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
            if let Some(source) = source {
                socket.bind(&source.into())?;
            }
            socket.connect_timeout(&target.into(), timeout)
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A listener thread, stopped and joined on drop.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn enter_netns(path: &str) {
    let file = std::fs::File::open(path).unwrap();
    // SAFETY: a valid namespace fd; setns only changes this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn items(json: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap();
    v["nftables"].as_array().cloned().unwrap_or_default()
}

/// `(kind, name)` of every table, chain, set and rule (rules as `rule:<chain>`) of a ruleset.
pub fn objects(ruleset: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for item in ruleset {
        for kind in ["table", "chain", "set"] {
            if let Some(o) = item.get(kind) {
                out.push((kind.to_owned(), o["name"].as_str().unwrap().to_owned()));
            }
        }
        if let Some(r) = item.get("rule") {
            out.push(("rule".into(), r["chain"].as_str().unwrap().to_owned()));
        }
    }
    out
}

/// An element's value as text (`192.0.2.1`, `2001:db8::/64`) and its timeout.
pub fn element(e: &Value) -> (String, Option<u64>) {
    let (val, timeout) = match e.get("elem") {
        Some(inner) => (&inner["val"], inner["timeout"].as_u64()),
        None => (e, None),
    };
    let text = match val.as_str() {
        Some(s) => s.to_owned(),
        None => {
            let p = &val["prefix"];
            format!("{}/{}", p["addr"].as_str().unwrap(), p["len"])
        }
    };
    (text, timeout)
}
