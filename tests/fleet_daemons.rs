//! Three (then four) real `jailor server` processes share bans through a real broker:
//! each its own configuration, store and recording action, the broker on a free
//! loopback port. The same body runs for NATS JetStream and Redis Streams.

mod daemon_support;
mod fleet_support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use daemon_support::{append, failure, Conf, Daemon};
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
            "[Fleet]\nengine = {}\nservers = {}\nuser = {origin}\npassword = {}\norigin = {origin}\n{extra}",
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
        }
    };
}

engine_suite!(nats, Kind::Nats);
engine_suite!(redis, Kind::Redis);
