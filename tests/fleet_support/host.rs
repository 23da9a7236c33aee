//! A fleet "host" without a daemon: a `jailor_fleet::Fleet` with its own SQLite file and a
//! sink that records what its jails would hold, as `(jail, address) → end of the ban`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jailor_fleet::{now_ms, parse_addr, Action, Fleet, FleetConfig, Received, StatsSnapshot};

/// What a host's jails hold: (jail, address) → end of the ban (ms; `None` permanent).
pub type Held = Arc<Mutex<HashMap<(String, String), Option<i64>>>>;

/// One host: its fleet runtime and what it was told to apply.
pub struct Host {
    fleet: Fleet,
    pub held: Held,
    pub db: PathBuf,
}

impl Host {
    /// Starts the fleet runtime of `cfg` with its database in `dir`.
    pub fn new(dir: &Path, cfg: FleetConfig) -> Host {
        let held: Held = Arc::default();
        let db = dir.join(format!("{}.sqlite3", cfg.origin));
        let sink_held = held.clone();
        let sink = Box::new(move |r: Received| {
            let key = (r.jail.clone(), r.addr.to_string());
            let mut held = sink_held.lock().unwrap();
            if r.ban {
                held.insert(key, r.exp_ms);
            } else {
                held.remove(&key);
            }
        });
        let fleet = Fleet::start(cfg, &db, sink).expect("fleet starts");
        Host { fleet, held, db }
    }

    /// Queues a ban of `addr` in jail `sshd` for `secs`.
    pub fn ban(&self, addr: &str, secs: i64) {
        self.fleet
            .publish(
                "sshd",
                parse_addr(addr).unwrap(),
                Action::Ban,
                Some(now_ms() + secs * 1000),
            )
            .expect("queued");
    }

    /// Queues an unban of `addr` in jail `sshd`.
    pub fn unban(&self, addr: &str) {
        self.fleet
            .publish("sshd", parse_addr(addr).unwrap(), Action::Unban, None)
            .expect("queued");
    }

    /// Whether jail `sshd` holds `addr`.
    pub fn holds(&self, addr: &str) -> bool {
        let key = ("sshd".to_owned(), parse_addr(addr).unwrap().to_string());
        self.held.lock().unwrap().contains_key(&key)
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.fleet.stats()
    }
}

/// A configuration for `origin` at `broker`, as its broker user (password auth).
pub fn config(broker: &super::Broker, origin: &str) -> FleetConfig {
    let engine = match broker.kind {
        super::Kind::Nats => jailor_fleet::EngineKind::Nats,
        super::Kind::Redis => jailor_fleet::EngineKind::Redis,
    };
    let mut cfg = FleetConfig::new(engine, vec![broker.url()], origin);
    cfg.user = Some(origin.to_owned());
    cfg.password = Some(super::password(origin));
    cfg
}
