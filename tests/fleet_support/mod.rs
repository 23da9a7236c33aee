//! Helpers for the fleet tests: a real broker (nats-server with JetStream, or
//! redis-server) on a free loopback port in a temporary folder, with one user per host
//! that may publish under its own origin only, and an admin. Killed when dropped.
#![allow(dead_code)]

pub mod host;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nats,
    Redis,
}

impl Kind {
    /// The engine name in `[Fleet] engine =`.
    pub fn engine(self) -> &'static str {
        match self {
            Kind::Nats => "nats",
            Kind::Redis => "redis",
        }
    }
}

/// The hosts every test broker knows (user = origin, password = `pw-<origin>`).
pub const HOSTS: &[&str] = &["a", "b", "c", "d", "x"];

/// The password of a host's broker user.
pub fn password(host: &str) -> String {
    format!("pw-{host}")
}

/// A broker process on a free loopback port.
pub struct Broker {
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    custom: Option<Custom>,
}

/// Writes a broker's whole configuration: (its folder, its port) → text.
pub type ConfFn = Box<dyn Fn(&std::path::Path, u16) -> String>;

/// A broker with a configuration of the test's own (credentials, TLS), optionally inside
/// a network namespace and on another address than 127.0.0.1.
pub struct Custom {
    /// The configuration.
    pub conf: ConfFn,
    /// `ip netns exec` into this namespace.
    pub netns: Option<String>,
    /// The address it listens on (the configuration must say the same).
    pub host: String,
}

/// The server binary, or `None` (the test skips) when the package is missing.
pub fn require(test: &str, kind: Kind) -> Option<PathBuf> {
    match kind {
        Kind::Nats => jailor_testkit::require_command(test, "nats-server", "nats-server"),
        Kind::Redis => jailor_testkit::require_command(test, "redis-server", "redis-server"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The NATS permissions of host `h`: publish under its own origin and use the stream,
/// subscribe to its inboxes only.
pub fn nats_permissions(h: &str) -> String {
    format!(
        "permissions: {{
        publish: {{ allow: [\"jailor.ban.{h}.>\", \"$JS.API.INFO\", \"$JS.API.STREAM.INFO.JAILOR_BANS\",
            \"$JS.API.STREAM.CREATE.JAILOR_BANS\", \"$JS.API.CONSUMER.CREATE.JAILOR_BANS\",
            \"$JS.API.CONSUMER.CREATE.JAILOR_BANS.>\", \"$JS.API.CONSUMER.DELETE.JAILOR_BANS.>\",
            \"$JS.API.CONSUMER.INFO.JAILOR_BANS.>\", \"$JS.FC.JAILOR_BANS.>\", \"$JS.ACK.JAILOR_BANS.>\"] }},
        subscribe: {{ allow: [\"_INBOX.>\"] }} }}"
    )
}

/// The `jetstream { … }` block of a NATS configuration with its store in `dir`.
pub fn nats_jetstream(dir: &std::path::Path) -> String {
    format!(
        "jetstream {{ store_dir: \"{}\", max_memory_store: 64MB, max_file_store: 512MB }}\n",
        dir.join("js").display()
    )
}

/// The Redis ACL lines: `default` off, an admin, and each host of [`HOSTS`] allowed to
/// write its own stream and ban keys only.
pub fn redis_users() -> String {
    let mut conf = String::from("user default off\nuser admin on >pw-admin ~* &* +@all\n");
    for h in HOSTS {
        conf.push_str(&format!(
            "user {h} on >{p} resetkeys %R~jailor:* ~jailor:ban:{h}:* ~jailor:events:{h} resetchannels -@all +@connection +client +info +set +del +get +mget +scan +xadd +xread +xrange +xrevrange +multi +exec +discard\n",
            p = password(h)
        ));
    }
    conf
}

/// The default NATS configuration (password users of [`HOSTS`], an admin), listening on
/// `bind`.
pub fn nats_conf_on(dir: &std::path::Path, bind: &str, port: u16) -> String {
    let mut users = String::new();
    for h in HOSTS {
        users.push_str(&format!(
            "    {{ user: {h}, password: {p}, {perm} }}\n",
            p = password(h),
            perm = nats_permissions(h)
        ));
    }
    users.push_str("    { user: admin, password: pw-admin }\n");
    format!(
        "listen: {bind}:{port}\nhttp: 0\n{}authorization {{\n  users = [\n{users}  ]\n}}\n",
        nats_jetstream(dir)
    )
}

/// The default Redis configuration (ACL users of [`HOSTS`], an admin), listening on
/// `bind`.
pub fn redis_conf_on(dir: &std::path::Path, bind: &str, port: u16) -> String {
    format!(
        "bind {bind}\nprotected-mode no\nport {port}\ndir {}\nappendonly yes\nappendfsync always\nsave \"\"\ndaemonize no\nlogfile {}\n{}",
        dir.display(),
        dir.join("redis.log").display(),
        redis_users()
    )
}

impl Broker {
    /// Starts a broker of `kind`, retrying on another port if the first is taken.
    pub fn start(kind: Kind) -> Broker {
        Broker::start_in(kind, tempfile::tempdir().expect("temp dir"), None)
    }

    /// Starts a broker of `kind` with a configuration of the test's own, its files in
    /// `dir` (where the test may have written certificates the configuration names).
    pub fn start_custom(kind: Kind, dir: tempfile::TempDir, custom: Custom) -> Broker {
        Broker::start_in(kind, dir, Some(custom))
    }

    fn start_in(kind: Kind, mut dir: tempfile::TempDir, mut custom: Option<Custom>) -> Broker {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut b = Broker {
                kind,
                port,
                dir,
                child: None,
                custom,
            };
            match b.spawn() {
                Ok(()) => return b,
                Err(e) => {
                    last = e;
                    (dir, custom) = b.take_parts();
                }
            }
        }
        panic!("{kind:?} did not start: {last}");
    }

    fn take_parts(mut self) -> (tempfile::TempDir, Option<Custom>) {
        self.kill();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        (dir, self.custom.take())
    }

    /// The broker's folder.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The address it listens on.
    pub fn host(&self) -> &str {
        self.custom
            .as_ref()
            .map_or("127.0.0.1", |c| c.host.as_str())
    }

    /// Whether a TCP connection to the broker's port opens (inside its namespace when it
    /// has one).
    fn listening(&self) -> bool {
        match self.custom.as_ref().and_then(|c| c.netns.as_deref()) {
            None => TcpStream::connect((self.host(), self.port)).is_ok(),
            Some(ns) => Command::new("ip")
                .args(["netns", "exec", ns, "timeout", "4", "bash", "-c"])
                .arg(format!("exec 3<>/dev/tcp/{}/{}", self.host(), self.port))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let (bin, conf_name, conf) = match self.kind {
            Kind::Nats => (
                "nats-server",
                "nats.conf",
                nats_conf_on(self.dir.path(), "127.0.0.1", self.port),
            ),
            Kind::Redis => (
                "redis-server",
                "redis.conf",
                redis_conf_on(self.dir.path(), "127.0.0.1", self.port),
            ),
        };
        let conf = match &self.custom {
            Some(c) => (c.conf)(self.dir.path(), self.port),
            None => conf,
        };
        let conf_path = self.dir.path().join(conf_name);
        std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let mut cmd = match self.custom.as_ref().and_then(|c| c.netns.as_deref()) {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => Command::new(bin),
        };
        match self.kind {
            Kind::Nats => cmd.arg("-c").arg(&conf_path),
            Kind::Redis => cmd.arg(&conf_path),
        };
        let log =
            std::fs::File::create(self.dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{bin}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return Err(format!("{bin} exited: {status}"));
                }
            }
            if self.listening() {
                // JetStream and the AOF load right after the listener opens.
                std::thread::sleep(Duration::from_millis(300));
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("{bin} not listening on {} after 30 s", self.port))
    }

    /// The server URL for `[Fleet] servers`.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Nats => format!("nats://{}:{}", self.host(), self.port),
            Kind::Redis => format!("redis://{}:{}", self.host(), self.port),
        }
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `cond` every 50 ms until it holds or `secs` pass; answers whether it held.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
