//! Fleet bans reach the kernel: three real `jailor server` processes, each in its own
//! network namespace with the native `jailor-nftables` action, share bans through a real
//! broker (nats-server or redis-server) in a fourth namespace joined to each by a veth
//! pair. The same body runs for both engines.
//!
//! - A ban on A appears in B's and C's `addr4-test` nft sets; C, started 6 s after the
//!   ban, gets it from the broker's snapshot with its remaining time as the element's
//!   timeout (so the kernel expires it even when jailor is down), not the full bantime.
//! - An unban on A removes the element from B's and C's sets.
//!
//! `bench_fleet_to_nft_latency` (ignored; run by `bench/fleet/nft.sh`) measures the time
//! from A's `banip` to the element appearing in B's set (`nft monitor` in B's namespace)
//! and prints p50/p99.
//!
//! Addresses: 10.203.N.0/24 and fd42:203:N::/64 on the veth pairs (only inside the test's
//! namespaces); banned addresses from 198.18.0.0/15 are only strings.

mod daemon_support;
mod firewall_support;
mod fleet_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use daemon_support::{append, Conf, Daemon};
use firewall_support::{client, elements, has, link, start_daemon, Netns};
use fleet_support::{nats_conf_on, password, redis_conf_on, Broker, Custom, Kind};

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 1
[test]
enabled = true
filter = test
backend = polling
logpath = @DIR@/auth.log
action = jailor-nftables[port=\"22\", blocktype=drop]
";

/// The namespaces, the broker and the three daemons of one run.
struct Lab {
    // Dropped in this order: daemons, broker, then the namespaces.
    daemons: Vec<Option<Daemon>>,
    _broker: Broker,
    confs: Vec<Conf>,
    hosts: Vec<Netns>,
    _hub: Netns,
}

const NAMES: [&str; 3] = ["a", "b", "c"];

impl Lab {
    fn new(kind: Kind) -> Lab {
        let hub = Netns::new("h");
        let mut hosts = Vec::new();
        for (i, name) in NAMES.iter().enumerate() {
            let ns = Netns::new(name);
            let n = i + 1;
            // veth names hold the tag and the test's pid: the engine letter keeps the two
            // engines' runs (threads of one process) apart.
            let tag = format!("{}{n}", &kind.engine()[..1]);
            link(
                &hub,
                &format!("10.203.{n}.1"),
                &format!("fd42:203:{n}::1"),
                &ns,
                &format!("10.203.{n}.2"),
                &format!("fd42:203:{n}::2"),
                &tag,
            );
            hosts.push(ns);
        }
        let conf: fleet_support::ConfFn = match kind {
            Kind::Nats => Box::new(|d: &Path, port| nats_conf_on(d, "0.0.0.0", port)),
            Kind::Redis => Box::new(|d: &Path, port| redis_conf_on(d, "0.0.0.0", port)),
        };
        let broker = Broker::start_custom(
            kind,
            tempfile::tempdir().unwrap(),
            Custom {
                conf,
                netns: Some(hub.name.clone()),
                host: "10.203.1.1".into(),
            },
        );
        let confs = NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let conf = Conf::new(JAILS);
                append(&conf.file("auth.log"), "");
                append(
                    &conf.file("fail2ban.conf"),
                    &format!(
                        "[Fleet]\nengine = {}\nservers = {}://10.203.{}.1:{}\nuser = {name}\npassword = {}\norigin = {name}\n",
                        kind.engine(),
                        kind.engine(),
                        i + 1,
                        broker.port,
                        password(name)
                    ),
                );
                conf
            })
            .collect();
        Lab {
            daemons: vec![None, None, None],
            _broker: broker,
            confs,
            hosts,
            _hub: hub,
        }
    }

    /// Starts host `i`'s daemon and waits until its jail started and its fleet connected.
    fn start(&mut self, i: usize) {
        let conf = &self.confs[i];
        let before = daemon_support::count(&conf.log(), "Jail 'test' started");
        let d = start_daemon(&self.hosts[i], conf.path(), &conf.file("stderr.txt"));
        self.daemons[i] = Some(d);
        daemon_support::wait_for(&format!("{}'s jail", NAMES[i]), 60, || {
            daemon_support::count(&conf.log(), "Jail 'test' started") > before
        });
        daemon_support::wait_for(&format!("{}'s fleet connection", NAMES[i]), 60, || {
            self.fleet(i)["connected"] == true
        });
    }

    /// `status --fleet --json` of host `i` (null while it does not answer).
    fn fleet(&self, i: usize) -> serde_json::Value {
        let out = self.client(i, &["--json", "status", "--fleet"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .map(|v| v["response"]["data"].clone())
            .unwrap_or_default()
    }

    fn client(&self, i: usize, args: &[&str]) -> std::process::Output {
        let conf = &self.confs[i];
        client(conf.path(), &conf.file("jailor.sock"), args)
    }

    fn ok(&self, i: usize, args: &[&str]) {
        let out = self.client(i, args);
        assert!(out.status.success(), "{args:?} on {}: {out:?}", NAMES[i]);
    }

    /// Whether host `i`'s kernel set holds `addr`.
    fn kernel_has(&self, i: usize, addr: &str) -> bool {
        has(&self.hosts[i], "addr4-test", addr)
    }

    /// The timeout (s) of `addr`'s element in host `i`'s set.
    fn timeout(&self, i: usize, addr: &str) -> Option<u64> {
        elements(&self.hosts[i], "addr4-test")
            .into_iter()
            .find(|(a, _)| a == addr)
            .and_then(|(_, t)| t)
    }
}

fn requirements(test: &str, kind: Kind) -> bool {
    firewall_support::requirements(test) && fleet_support::require(test, kind).is_some()
}

fn bans_reach_the_kernel_of_every_host(kind: Kind) {
    let mut lab = Lab::new(kind);
    lab.start(0);
    lab.start(1);
    let ip = "198.18.200.1";
    lab.ok(0, &["set", "test", "banip", ip]);
    daemon_support::wait_for("A's own kernel ban", 30, || lab.kernel_has(0, ip));
    daemon_support::wait_for("the ban in B's kernel set", 60, || lab.kernel_has(1, ip));
    let b_timeout = lab.timeout(1, ip);
    assert!(
        matches!(b_timeout, Some(t) if (540..=600).contains(&t)),
        "B's element timeout: {b_timeout:?}"
    );
    // C joins 6 s later: the snapshot gives it the ban with what is left of it (at most
    // 595 s, with the daemons' whole-second rounding).
    std::thread::sleep(Duration::from_secs(6));
    lab.start(2);
    daemon_support::wait_for("the ban in C's kernel set", 60, || lab.kernel_has(2, ip));
    let c_timeout = lab.timeout(2, ip);
    assert!(
        matches!(c_timeout, Some(t) if (500..=596).contains(&t)),
        "C's element timeout is the remaining time, not the bantime: {c_timeout:?}"
    );
    assert_eq!(
        elements(&lab.hosts[2], "addr4-test").len(),
        1,
        "C holds exactly A's ban"
    );
    lab.ok(0, &["set", "test", "unbanip", ip]);
    daemon_support::wait_for("the unban in B's and C's kernel sets", 60, || {
        !lab.kernel_has(1, ip) && !lab.kernel_has(2, ip)
    });
    assert!(!lab.kernel_has(0, ip));
    for d in lab.daemons.iter_mut() {
        if let Some(d) = d.take() {
            d.stop();
        }
    }
}

/// A percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn bench_fleet_to_nft_latency(kind: Kind) {
    let count: usize = std::env::var("JAILOR_FLEET_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut lab = Lab::new(kind);
    lab.start(0);
    lab.start(1);
    // `nft monitor` in B's namespace prints each element as the kernel adds it.
    let mut monitor = lab.hosts[1]
        .command(&["nft", "monitor", "new", "elements"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = monitor.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<(String, Instant)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((line, Instant::now())).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut latencies = Vec::new();
    let mut missed = 0;
    for i in 0..count {
        let ip = format!("198.18.{}.{}", 10 + i / 250, i % 250 + 1);
        let needle = format!("{ip} ");
        let t0 = Instant::now();
        lab.ok(0, &["set", "test", "banip", &ip]);
        let deadline = t0 + Duration::from_secs(10);
        let mut got = None;
        while let Ok((line, at)) =
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(&needle) && line.contains("addr4-test") {
                got = Some(at);
                break;
            }
        }
        match got {
            Some(at) => latencies.push(at.duration_since(t0).as_secs_f64() * 1000.0),
            None => missed += 1,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    latencies.sort_by(|a, b| a.total_cmp(b));
    assert!(!latencies.is_empty(), "no ban reached B's kernel");
    println!(
        "{}: {} bans, A's banip -> B's nft set: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms, missed {missed}",
        kind.engine(),
        latencies.len(),
        pct(&latencies, 0.5),
        pct(&latencies, 0.9),
        pct(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    for d in lab.daemons.iter_mut() {
        if let Some(d) = d.take() {
            d.stop();
        }
    }
}

macro_rules! engine_suite {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn bans_reach_the_kernel_of_every_host() {
                if requirements("bans_reach_the_kernel_of_every_host", $kind) {
                    super::bans_reach_the_kernel_of_every_host($kind);
                }
            }

            #[test]
            #[ignore = "a benchmark: bench/fleet/nft.sh runs it"]
            fn bench_fleet_to_nft_latency() {
                if requirements("bench_fleet_to_nft_latency", $kind) {
                    super::bench_fleet_to_nft_latency($kind);
                }
            }
        }
    };
}

engine_suite!(nats, Kind::Nats);
engine_suite!(redis, Kind::Redis);
