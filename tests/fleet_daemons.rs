//! Three (then four) real `jailor server` processes share bans through a real broker:
//! each its own configuration, store and recording action, the broker on a free
//! loopback port. The same body runs for NATS JetStream and Redis Streams.

mod daemon_support;
mod fleet_support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use daemon_support::{append, failure, metrics_addr, ok, Conf, Daemon};
use fleet_support::{password, Broker, Kind};

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 1
[test]
enabled = true
filter = test
logpath = @DIR@/auth.log
action = record[file=\"@DIR@/actions.txt\"]
";

fn host(kind: Kind, broker: &Broker, origin: &str, extra: &str) -> Conf {
    let conf = Conf::new(JAILS);
    append(&conf.file("auth.log"), "");
    append(
        &conf.file("fail2ban.conf"),
        &format!(
            // Port 0: the kernel picks a free port for the metrics endpoint (logged).
            "metrics = 127.0.0.1:0\n[Fleet]\nengine = {}\nservers = {}\nuser = {origin}\npassword = {}\norigin = {origin}\n{extra}",
            kind.engine(),
            broker.url(),
            password(origin)
        ),
    );
    conf
}

/// The addresses the recording action holds banned now (its `ban`/`unban` lines in order).
fn held(conf: &Conf) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for line in conf.actions().lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("ban"), Some(ip)) => {
                set.insert(ip.to_owned());
            }
            (Some("unban"), Some(ip)) => {
                set.remove(ip);
            }
            _ => {}
        }
    }
    set
}

fn client(conf: &Conf, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .arg("client")
        .arg("-c")
        .arg(conf.path())
        .arg("-s")
        .arg(conf.file("jailor.sock"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn until(what: &str, secs: u64, cond: impl FnMut() -> bool) {
    assert!(
        fleet_support::wait_for(secs, cond),
        "timed out after {secs} s: {what}"
    );
}

fn addr(i: usize) -> String {
    format!("198.18.{}.{}", i / 250, i % 250 + 1)
}

fn three_daemons_share_bans(kind: Kind) {
    let mut broker = Broker::start(kind);
    let a = host(kind, &broker, "a", "");
    let b = host(kind, &broker, "b", "allowlist = 192.0.2.0/24\n");
    let c = host(kind, &broker, "c", "");
    let da = Daemon::start_ready(&a, &["test"]);
    let db = Daemon::start_ready(&b, &["test"]);
    let _dc = Daemon::start_ready(&c, &["test"]);
    // A ban found on A reaches B's and C's actions with (about) A's remaining time.
    append(&a.file("auth.log"), &failure("198.18.200.1"));
    until("B and C ban 198.18.200.1", 60, || {
        held(&b).contains("198.18.200.1") && held(&c).contains("198.18.200.1")
    });
    let line = b
        .actions()
        .lines()
        .find(|l| l.starts_with("ban 198.18.200.1"))
        .unwrap()
        .to_owned();
    let secs: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (540..=600).contains(&secs),
        "remaining bantime on B: {line}"
    );
    assert_eq!(
        held(&a).len(),
        1,
        "A applied its own ban once: {}",
        a.actions()
    );
    // An allowlisted address banned on A is refused by B only.
    client(&a, &["set", "test", "banip", "192.0.2.50"]);
    until("C bans 192.0.2.50", 60, || held(&c).contains("192.0.2.50"));
    assert!(!held(&b).contains("192.0.2.50"), "B's allowlist wins");
    // B stops; A bans 60 and unbans 10 of them; B restarted and a new D hold exactly A's.
    db.stop();
    let ips: Vec<String> = (0..60).map(addr).collect();
    let mut args = vec!["set", "test", "banip"];
    args.extend(ips.iter().map(String::as_str));
    client(&a, &args);
    for ip in ips.iter().step_by(6) {
        client(&a, &["set", "test", "unbanip", ip]);
    }
    until("A's actions ran", 60, || held(&a).len() == 2 + 60 - 10);
    let expected = held(&a);
    let _db = Daemon::start_ready(&b, &["test"]);
    let d = host(kind, &broker, "d", "");
    let _dd = Daemon::start_ready(&d, &["test"]);
    let mut want_b = expected.clone();
    want_b.remove("192.0.2.50");
    until("B restarted and D hold exactly A's bans", 90, || {
        held(&b) == want_b && held(&d) == expected
    });
    // The broker is down for 5 s: A keeps banning at once; the outbox drains afterwards.
    broker.kill();
    client(&a, &["set", "test", "banip", "198.18.99.1", "198.18.99.2"]);
    until("A bans locally with the broker down", 10, || {
        held(&a).contains("198.18.99.2")
    });
    std::thread::sleep(Duration::from_secs(5));
    broker.restart();
    until("C gets what A banned during the outage", 90, || {
        held(&c).contains("198.18.99.1") && held(&c).contains("198.18.99.2")
    });
    let bans_on_c = c
        .actions()
        .lines()
        .filter(|l| l.starts_with("ban 198.18.99."))
        .count();
    assert_eq!(bans_on_c, 2, "nothing applied twice: {}", c.actions());
    da.stop();
}

/// The value of one sample (`name{labels}`) of a real scrape, if present.
fn scrape(addr: &str, sample: &str) -> Option<u64> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let prefix = format!("{sample} ");
    raw.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// `status --fleet --json` when the daemon answers (`None` before its socket is up).
fn fleet_state(conf: &Conf) -> Option<serde_json::Value> {
    let out = daemon_support::client(conf, &["--json", "status", "--fleet"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    (v["ok"] == true).then(|| v["response"]["data"].clone())
}

/// How many times the recording action banned `ip`.
fn bans_of(conf: &Conf, ip: &str) -> usize {
    let line = format!("ban {ip} ");
    conf.actions()
        .lines()
        .filter(|l| l.starts_with(&line))
        .count()
}

/// `status --fleet --json` through the real client: the response's data.
fn fleet_json(conf: &Conf) -> serde_json::Value {
    let out = ok(conf, &["--json", "status", "--fleet"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["ok"], true, "{out}");
    assert_eq!(v["response"]["type"], "fleet_status", "{out}");
    v["response"]["data"].clone()
}

fn status_and_metrics_show_the_fleet(kind: Kind) {
    let broker = Broker::start(kind);
    let a = host(kind, &broker, "a", "");
    let b = host(
        kind,
        &broker,
        "b",
        "origins = a\nallowlist = 192.0.2.0/24\nminprefix4 = 24\n",
    );
    let _da = Daemon::start_ready(&a, &["test"]);
    let _db = Daemon::start_ready(&b, &["test"]);
    let engine = kind.engine();
    until("B's fleet connects", 60, || {
        fleet_json(&b)["connected"] == true
    });
    // One good ban and one of B's allowlisted addresses, both from A.
    client(&a, &["set", "test", "banip", "198.18.200.1", "192.0.2.50"]);
    until("B applied one and refused one", 60, || {
        let s = fleet_json(&b);
        s["applied"] == 1 && s["rejected"]["total"] == 1
    });
    let sb = fleet_json(&b);
    assert_eq!(sb["engine"], engine, "{sb}");
    assert_eq!(sb["origin"], "b", "{sb}");
    assert_eq!(sb["received"], 2, "{sb}");
    assert_eq!(sb["published"], 0, "{sb}");
    assert_eq!(
        sb["rejected"],
        serde_json::json!({"total": 1, "origin": 0, "allowlist": 1, "prefix": 0, "signature": 0, "ratelimit": 0, "invalid": 0}),
        "{sb}"
    );
    until("A's outbox drained", 60, || {
        let s = fleet_json(&a);
        s["outbox"] == 0 && s["published"] == 2
    });
    // The human output, through the real client.
    let text = ok(&b, &["status", "--fleet"]);
    assert!(text.starts_with("Fleet status\n"), "{text}");
    assert!(
        text.contains(&format!("|- Engine:\t{engine} (origin b)\n")),
        "{text}"
    );
    assert!(text.contains("|- Connected:\tyes\n"), "{text}");
    assert!(text.contains("|- Applied:\t1\n"), "{text}");
    assert!(
        text.contains("`- Rejected:\t1 (origin 0, allowlist 1, prefix 0, signature 0, ratelimit 0, invalid 0)"),
        "{text}"
    );
    // The same counters in a real scrape of each daemon's metrics endpoint.
    let (ma, mb) = (metrics_addr(&a), metrics_addr(&b));
    let label = format!("{{engine=\"{engine}\"}}");
    let reason =
        |r: &str| format!("jailor_fleet_rejected_total{{engine=\"{engine}\",reason=\"{r}\"}}");
    assert_eq!(
        scrape(&ma, &format!("jailor_fleet_published_total{label}")),
        Some(2)
    );
    assert_eq!(scrape(&ma, &format!("jailor_fleet_outbox{label}")), Some(0));
    assert_eq!(
        scrape(&mb, &format!("jailor_fleet_received_total{label}")),
        Some(2)
    );
    assert_eq!(
        scrape(&mb, &format!("jailor_fleet_applied_total{label}")),
        Some(1)
    );
    assert_eq!(
        scrape(&mb, &format!("jailor_fleet_connected{label}")),
        Some(1)
    );
    assert_eq!(scrape(&mb, &reason("allowlist")), Some(1));
    assert_eq!(scrape(&mb, &reason("origin")), Some(0));
    assert_eq!(scrape(&mb, &reason("prefix")), Some(0));
    // A daemon without an engine answers that the fleet is off.
    let plain = Conf::new(JAILS);
    append(&plain.file("auth.log"), "");
    let _dp = Daemon::start_ready(&plain, &["test"]);
    assert_eq!(fleet_json(&plain), serde_json::Value::Null);
    assert_eq!(
        ok(&plain, &["status", "--fleet"]).trim(),
        "Fleet bans are off (no engine in [Fleet])"
    );
}

fn a_crash_between_receipt_and_commit_loses_nothing_and_applies_once(kind: Kind) {
    let broker = Broker::start(kind);
    let a = host(kind, &broker, "a", "");
    let b = host(kind, &broker, "b", "");
    let _da = Daemon::start_ready(&a, &["test"]);
    // B aborts (as `kill -9` would hit it) once it received bans and is about to commit
    // them with the cursor.
    let mut db = Daemon::start_with_env(&b, &[("JAILOR_TEST_FLEET_CRASH", "before-commit")]);
    until("B's fleet connects", 60, || {
        fleet_state(&b).is_some_and(|s| s["connected"] == true)
    });
    let ips = ["198.18.210.1", "198.18.210.2", "198.18.210.3"];
    let mut args = vec!["set", "test", "banip"];
    args.extend(ips);
    client(&a, &args);
    until("B crashed on receipt", 60, || !db.is_running());
    let status = db.child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(6),
        "B ended by the crash hook's abort: {status}"
    );
    assert_eq!(
        held(&b),
        BTreeSet::new(),
        "no action ran before the commit: {}",
        b.actions()
    );
    // Restarted: the uncommitted events come again from the stored cursor, once each.
    let db = Daemon::start_ready(&b, &["test"]);
    until("B restarted holds A's bans", 60, || {
        ips.iter().all(|ip| held(&b).contains(*ip))
    });
    let s = fleet_json(&b);
    assert_eq!(s["applied"], 3, "{s}");
    for ip in ips {
        assert_eq!(bans_of(&b, ip), 1, "{ip} banned once: {}", b.actions());
    }
    // kill -9 after the commit: the cursor was stored with the bans, so nothing is read
    // again, and the bans are still recorded (restored from the store).
    db.kill9();
    let _db = Daemon::start_ready(&b, &["test"]);
    until("B's fleet reconnects", 60, || {
        fleet_json(&b)["connected"] == true
    });
    client(&a, &["set", "test", "banip", "198.18.210.9"]);
    until("B gets A's next ban", 60, || {
        held(&b).contains("198.18.210.9")
    });
    let s = fleet_json(&b);
    assert_eq!(
        (s["received"].as_u64(), s["applied"].as_u64()),
        (Some(1), Some(1)),
        "only the new ban was read after the restart: {s}"
    );
    let banned = ok(&b, &["get", "test", "banip"]);
    for ip in ips {
        assert!(banned.contains(ip), "{ip} still banned on B: {banned}");
    }
}

macro_rules! engine_suite {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::Kind;

            #[test]
            fn three_daemons_share_bans() {
                if super::fleet_support::require("three_daemons_share_bans", $kind).is_none() {
                    return;
                }
                super::three_daemons_share_bans($kind);
            }

            #[test]
            fn status_and_metrics_show_the_fleet() {
                if super::fleet_support::require("status_and_metrics_show_the_fleet", $kind)
                    .is_none()
                {
                    return;
                }
                super::status_and_metrics_show_the_fleet($kind);
            }

            #[test]
            fn a_crash_between_receipt_and_commit_loses_nothing_and_applies_once() {
                let name = "a_crash_between_receipt_and_commit_loses_nothing_and_applies_once";
                if super::fleet_support::require(name, $kind).is_none() {
                    return;
                }
                super::a_crash_between_receipt_and_commit_loses_nothing_and_applies_once($kind);
            }
        }
    };
}

engine_suite!(nats, Kind::Nats);
engine_suite!(redis, Kind::Redis);
