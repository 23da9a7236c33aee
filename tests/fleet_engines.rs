//! The fleet runtime against real brokers (nats-server with JetStream, redis-server),
//! each test with its own broker on a free loopback port. Every "host" is a
//! `jailor_fleet::Fleet` with its own SQLite file and a sink that records the bans it
//! was told to apply, as a daemon's jail would. The same bodies run for both engines.

mod fleet_support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleet_support::{password, wait_for, Broker, Kind};
use jailor_fleet::{now_ms, parse_addr, Action, Engine, Fleet, FleetConfig, FleetEvent, Received};

/// What a host's jails hold: (jail, address) → end of the ban (ms; `None` permanent).
type Held = Arc<Mutex<HashMap<(String, String), Option<i64>>>>;

struct Host {
    fleet: Option<Fleet>,
    held: Held,
    /// Every ban the sink was given, to check that nothing is applied twice.
    applied: Arc<Mutex<Vec<(String, String)>>>,
    db: std::path::PathBuf,
    cfg: FleetConfig,
}

fn config(kind: Kind, broker: &Broker, origin: &str) -> FleetConfig {
    let engine = match kind {
        Kind::Nats => jailor_fleet::EngineKind::Nats,
        Kind::Redis => jailor_fleet::EngineKind::Redis,
    };
    let mut cfg = FleetConfig::new(engine, vec![broker.url()], origin);
    cfg.user = Some(origin.to_owned());
    cfg.password = Some(password(origin));
    cfg
}

impl Host {
    fn new(dir: &Path, cfg: FleetConfig) -> Host {
        let mut h = Host {
            fleet: None,
            held: Arc::default(),
            applied: Arc::default(),
            db: dir.join(format!("{}.sqlite3", cfg.origin)),
            cfg,
        };
        h.start();
        h
    }

    fn start(&mut self) {
        let held = self.held.clone();
        let applied = self.applied.clone();
        let sink = Box::new(move |r: Received| {
            let key = (r.jail.clone(), r.addr.to_string());
            let mut held = held.lock().unwrap();
            if r.ban {
                applied.lock().unwrap().push(key.clone());
                held.insert(key, r.exp_ms);
            } else {
                held.remove(&key);
            }
        });
        self.fleet = Some(Fleet::start(self.cfg.clone(), &self.db, sink).expect("fleet starts"));
    }

    fn stop(&mut self) {
        if let Some(f) = self.fleet.take() {
            f.stop();
        }
    }

    fn fleet(&self) -> &Fleet {
        self.fleet.as_ref().expect("started")
    }

    fn ban(&self, addr: &str, secs: i64) {
        let exp = now_ms() + secs * 1000;
        self.fleet()
            .publish("sshd", parse_addr(addr).unwrap(), Action::Ban, Some(exp))
            .expect("queued");
    }

    fn unban(&self, addr: &str) {
        self.fleet()
            .publish("sshd", parse_addr(addr).unwrap(), Action::Unban, None)
            .expect("queued");
    }

    /// The addresses whose ban is in force now, sorted.
    fn in_force(&self) -> Vec<String> {
        let now = now_ms();
        let mut v: Vec<String> = self
            .held
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, exp)| exp.is_none_or(|e| e > now))
            .map(|((_, a), _)| a.clone())
            .collect();
        v.sort();
        v
    }

    fn holds(&self, addr: &str) -> bool {
        let key = ("sshd".to_owned(), parse_addr(addr).unwrap().to_string());
        self.held.lock().unwrap().contains_key(&key)
    }

    fn drained(&self) -> bool {
        self.fleet().stats().outbox == 0
    }
}

fn addr(i: usize) -> String {
    // RFC 2544 benchmark addresses: only strings here, nothing is sent to them.
    format!("198.18.{}.{}", i / 250, i % 250 + 1)
}

fn one_ban_reaches_every_host(kind: Kind) {
    let broker = Broker::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let a = Host::new(dir.path(), config(kind, &broker, "a"));
    let b = Host::new(dir.path(), config(kind, &broker, "b"));
    let c = Host::new(dir.path(), config(kind, &broker, "c"));
    assert!(wait_for(30, || b.fleet().stats().connected
        && c.fleet().stats().connected));
    a.ban("198.18.7.7", 600);
    assert!(
        wait_for(30, || b.holds("198.18.7.7") && c.holds("198.18.7.7")),
        "B and C hold A's ban"
    );
    assert!(
        !a.holds("198.18.7.7"),
        "a host does not apply its own ban twice"
    );
    let exp = b
        .held
        .lock()
        .unwrap()
        .values()
        .next()
        .copied()
        .flatten()
        .unwrap();
    assert!(
        (exp - now_ms() - 600_000).abs() < 30_000,
        "the ban keeps its end: {exp}"
    );
    a.unban("198.18.7.7");
    assert!(
        wait_for(30, || !b.holds("198.18.7.7") && !c.holds("198.18.7.7")),
        "the unban travels"
    );
    let s = a.fleet().stats();
    assert_eq!((s.published, s.outbox), (2, 0), "{s:?}");
    assert_eq!(b.fleet().stats().applied, 2);
}

fn offline_and_new_hosts_hold_exactly_the_bans_in_force(kind: Kind) {
    let broker = Broker::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let a = Host::new(dir.path(), config(kind, &broker, "a"));
    let mut b = Host::new(dir.path(), config(kind, &broker, "b"));
    for i in 0..50 {
        a.ban(&addr(i), 600);
    }
    assert!(
        wait_for(60, || b.in_force().len() == 50),
        "B got the first 50"
    );
    b.stop();
    // While B is away: 1,000 bans (100 of them expire within 3 s), then 100 unbans.
    for i in 50..1050 {
        a.ban(&addr(i), if i % 10 == 0 { 3 } else { 600 });
    }
    let unbanned: std::collections::HashSet<usize> =
        (50..1050).filter(|i| i % 10 == 5).take(100).collect();
    for i in &unbanned {
        a.unban(&addr(*i));
    }
    assert!(
        wait_for(120, || a.drained()),
        "A's outbox drains: {:?}",
        a.fleet().stats()
    );
    std::thread::sleep(Duration::from_secs(4));
    let mut truth: Vec<String> = (0..1050)
        .filter(|i| !unbanned.contains(i))
        .filter(|i| *i < 50 || i % 10 != 0)
        .map(|i| parse_addr(&addr(i)).unwrap().to_string())
        .collect();
    truth.sort();
    b.start();
    let d = Host::new(dir.path(), config(kind, &broker, "d"));
    let ok = wait_for(120, || b.in_force() == truth && d.in_force() == truth);
    assert!(
        ok,
        "B holds {} and D {} of the {} bans in force",
        b.in_force().len(),
        d.in_force().len(),
        truth.len()
    );
}

fn broker_outage_queues_and_drains_once(kind: Kind) {
    let mut broker = Broker::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let a = Host::new(dir.path(), config(kind, &broker, "a"));
    let b = Host::new(dir.path(), config(kind, &broker, "b"));
    a.ban("198.18.100.1", 600);
    assert!(wait_for(30, || b.holds("198.18.100.1")));
    std::thread::sleep(Duration::from_millis(1500));
    broker.kill();
    let t = std::time::Instant::now();
    for i in 0..200 {
        a.ban(&addr(i), 600);
    }
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "queueing never waits for the broker"
    );
    assert!(a.fleet().stats().outbox >= 150, "{:?}", a.fleet().stats());
    std::thread::sleep(Duration::from_secs(5));
    broker.restart();
    assert!(
        wait_for(120, || a.drained()),
        "the outbox drains: {:?}",
        a.fleet().stats()
    );
    // Every ban queued during the outage arrives, and the one received just before the
    // kill stays: the broker's restart must not make B take a snapshot that lacks it
    // (Redis 7 dropped MULTI/EXEC blocks from its AOF on restart under ACL users).
    let want: Vec<String> = (0..200)
        .map(|i| parse_addr(&addr(i)).unwrap().to_string())
        .collect();
    let ok = wait_for(120, || want.iter().all(|a| b.in_force().contains(a)));
    assert!(
        ok,
        "B holds {}: {:?}",
        b.in_force().len(),
        b.fleet().stats()
    );
    assert!(
        b.holds("198.18.100.1"),
        "the ban from before the outage stays"
    );
    std::thread::sleep(Duration::from_secs(1));
    let applied = b.applied.lock().unwrap().clone();
    let mut unique = applied.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(applied.len(), unique.len(), "nothing applied twice");
    assert_eq!(applied.len(), 201);
}

fn poisoning_is_refused_and_counted(kind: Kind) {
    let broker = Broker::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let a = Host::new(dir.path(), config(kind, &broker, "a"));
    let x = Host::new(dir.path(), config(kind, &broker, "x"));
    let mut bcfg = config(kind, &broker, "b");
    bcfg.origins = vec!["a".into(), "c".into()];
    bcfg.allowlist = vec![parse_addr("192.0.2.0/24").unwrap()];
    let b = Host::new(dir.path(), bcfg);
    // B subscribed (its snapshot taken) before anything is published: with Redis, an
    // event published while a snapshot is read arrives twice (harmless for the bans,
    // but counted twice).
    assert!(wait_for(30, || b.fleet().stats().connected));
    // B's broker user publishing under A's origin: the broker refuses it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = rt.block_on(async {
        let mut spoof = Engine::connect(&config(kind, &broker, "b"))
            .await
            .expect("connects");
        let ev = FleetEvent::new(
            "a",
            "sshd",
            parse_addr("198.18.9.9").unwrap(),
            Action::Ban,
            None,
        )
        .unwrap();
        tokio::time::timeout(Duration::from_secs(20), spoof.publish(&ev)).await
    });
    assert!(
        !matches!(refused, Ok(Ok(()))),
        "the broker accepted a spoofed origin"
    );
    x.ban("198.18.8.8", 600); // unknown origin
    a.ban("192.0.2.10", 600); // allowlisted
    a.fleet()
        .publish(
            "sshd",
            parse_addr("198.18.0.0/16").unwrap(),
            Action::Ban,
            Some(now_ms() + 600_000),
        )
        .unwrap(); // too broad
    a.ban("198.18.5.5", 600); // good
    let ok = wait_for(60, || {
        let s = b.fleet().stats();
        b.holds("198.18.5.5") && s.rejected == 3
    });
    let s = b.fleet().stats();
    assert!(ok, "{s:?}");
    assert_eq!(
        (
            s.rejected_origin,
            s.rejected_allowlist,
            s.rejected_prefix,
            s.invalid
        ),
        (1, 1, 1, 0),
        "{s:?}"
    );
    assert_eq!(
        b.in_force(),
        ["198.18.5.5/32"],
        "only the good ban is applied"
    );
    assert!(!b.holds("198.18.9.9"), "the spoofed ban never arrived");
}

macro_rules! engine_suite {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;

            fn run(test: &str, body: fn(Kind)) {
                if fleet_support::require(test, $kind).is_none() {
                    return;
                }
                body($kind);
            }

            #[test]
            fn one_ban_reaches_every_host() {
                run(
                    "one_ban_reaches_every_host",
                    super::one_ban_reaches_every_host,
                );
            }

            #[test]
            fn offline_and_new_hosts_hold_exactly_the_bans_in_force() {
                run(
                    "offline_and_new_hosts_hold_exactly_the_bans_in_force",
                    super::offline_and_new_hosts_hold_exactly_the_bans_in_force,
                );
            }

            #[test]
            fn broker_outage_queues_and_drains_once() {
                run(
                    "broker_outage_queues_and_drains_once",
                    super::broker_outage_queues_and_drains_once,
                );
            }

            #[test]
            fn poisoning_is_refused_and_counted() {
                run(
                    "poisoning_is_refused_and_counted",
                    super::poisoning_is_refused_and_counted,
                );
            }
        }
    };
}

engine_suite!(nats, Kind::Nats);
engine_suite!(redis, Kind::Redis);
