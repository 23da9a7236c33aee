//! Ed25519-signed fleet events against real brokers, for both engines: host A signs with
//! its private key file; B holds A's public key, C holds none.
//!
//! - A's signed ban is applied by B (and C).
//! - Events under origin A sent with A's broker credentials (as a thief of them would) but
//!   unsigned, or signed with another key, are refused by B and counted as
//!   `rejected_signature`; C, without a key for A, applies them: the signature is what
//!   stopped them. A forged unban of A's real ban is refused by B the same way.
//! - A's signed unban is applied by B.
//!
//! `daemons_sign_and_check`: real daemons read `signing_key` and `keys` from `[Fleet]`: A
//! signs, B (A's key) bans, C (another key for A) refuses and counts it.
//!
//! `keys_made_with_openssl_sign_and_verify`: a key from `openssl genpkey -algorithm
//! ed25519` loads as `signing_key`, the body line of `openssl pkey -pubout` as its public
//! key in `keys =`, and the policy accepts what it signed and refuses it unsigned.

mod daemon_support;
mod fleet_support;

use std::time::Duration;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use fleet_support::host::{config, Host};
use fleet_support::{wait_for, Broker, Kind};
use jailor_fleet::{now_ms, parse_addr, Action, Engine, FleetEvent};

fn signed_events_from_a_key_holder_only(kind: Kind) {
    let broker = Broker::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[0x5a; 32]);
    let key_file = dir.path().join("a.pem");
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    std::fs::write(&key_file, pem.as_bytes()).unwrap();

    // A reads its key the way the daemon does, from `[Fleet] signing_key`.
    let key_path = key_file.display().to_string();
    let mut a_cfg = jailor_fleet::FleetConfig::from_options(
        [
            ("engine", kind.engine()),
            ("signing_key", key_path.as_str()),
        ],
        "a",
    )
    .unwrap()
    .unwrap();
    let base = config(&broker, "a");
    a_cfg.servers = base.servers.clone();
    a_cfg.user = base.user.clone();
    a_cfg.password = base.password.clone();
    let a = Host::new(dir.path(), a_cfg);

    let mut b_cfg = config(&broker, "b");
    let public = jailor_fleet::public_key_text(&key.verifying_key());
    let keys = format!("a:{public}");
    let parsed = jailor_fleet::FleetConfig::from_options(
        [("engine", kind.engine()), ("keys", keys.as_str())],
        "b",
    )
    .unwrap()
    .unwrap();
    b_cfg.keys = parsed.keys;
    let b = Host::new(dir.path(), b_cfg);
    let c = Host::new(dir.path(), config(&broker, "c"));
    assert!(wait_for(60, || b.stats().connected && c.stats().connected));

    a.ban("198.18.1.1", 600);
    assert!(
        wait_for(60, || b.holds("198.18.1.1") && c.holds("198.18.1.1")),
        "A's signed ban reaches B and C: {:?}",
        b.stats()
    );

    // A thief of A's broker credentials publishes under origin A without A's key.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut thief = Engine::connect(&config(&broker, "a"))
            .await
            .expect("connects");
        let wrong = SigningKey::from_bytes(&[0x77; 32]);
        let ban = |addr: &str| {
            FleetEvent::new(
                "a",
                "sshd",
                parse_addr(addr).unwrap(),
                Action::Ban,
                Some(now_ms() + 600_000),
            )
            .unwrap()
        };
        let unsigned = ban("198.18.2.2");
        let mut badly_signed = ban("198.18.3.3");
        badly_signed.sign(&wrong);
        let mut forged_unban = FleetEvent::new(
            "a",
            "sshd",
            parse_addr("198.18.1.1").unwrap(),
            Action::Unban,
            None,
        )
        .unwrap();
        forged_unban.sign(&wrong);
        for ev in [unsigned, badly_signed, forged_unban] {
            tokio::time::timeout(Duration::from_secs(20), thief.publish(&ev))
                .await
                .expect("in time")
                .expect("the broker takes it: the credentials are A's");
        }
    });
    assert!(
        wait_for(60, || c.holds("198.18.2.2")
            && c.holds("198.18.3.3")
            && !c.holds("198.18.1.1")),
        "C, without a key for A, applies all three"
    );
    assert!(
        wait_for(60, || b.stats().rejected_signature == 3),
        "B refuses and counts the three: {:?}",
        b.stats()
    );
    let s = b.stats();
    assert_eq!((s.rejected, s.applied), (3, 1), "{s:?}");
    assert!(!b.holds("198.18.2.2") && !b.holds("198.18.3.3"));
    assert!(b.holds("198.18.1.1"), "the forged unban was not applied");

    a.unban("198.18.1.1");
    assert!(
        wait_for(60, || !b.holds("198.18.1.1")),
        "A's signed unban is applied: {:?}",
        b.stats()
    );
    assert_eq!(b.stats().rejected_signature, 3);
}

/// A `jailor server` configuration for `origin` with a recording action and `extra`
/// `[Fleet]` options.
fn daemon_host(broker: &Broker, origin: &str, extra: &str) -> daemon_support::Conf {
    let conf = daemon_support::Conf::new(
        "[DEFAULT]\nbantime = 600\nfindtime = 600\nmaxretry = 1\n[test]\nenabled = true\n\
         filter = test\nlogpath = @DIR@/auth.log\naction = record[file=\"@DIR@/actions.txt\"]\n",
    );
    daemon_support::append(&conf.file("auth.log"), "");
    daemon_support::append(
        &conf.file("fail2ban.conf"),
        &format!(
            "[Fleet]\nengine = {}\nservers = {}\nuser = {origin}\npassword = {}\norigin = {origin}\n{extra}",
            broker.kind.engine(),
            broker.url(),
            fleet_support::password(origin)
        ),
    );
    conf
}

/// `status --fleet --json` of a daemon: the response's data (null while it does not answer).
fn fleet_status(conf: &daemon_support::Conf) -> serde_json::Value {
    let out = daemon_support::client(conf, &["--json", "status", "--fleet"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map(|v| v["response"]["data"].clone())
        .unwrap_or_default()
}

/// Real daemons read `signing_key` and `keys` from `[Fleet]`: A signs, B holds A's key
/// and applies A's ban, C holds another key for A and refuses it (counted).
fn daemons_sign_and_check(kind: Kind) {
    let broker = Broker::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[0x21; 32]);
    let key_file = dir.path().join("a.pem");
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    std::fs::write(&key_file, pem.as_bytes()).unwrap();
    let right = jailor_fleet::public_key_text(&key.verifying_key());
    let wrong = jailor_fleet::public_key_text(&SigningKey::from_bytes(&[0x22; 32]).verifying_key());
    let a = daemon_host(
        &broker,
        "a",
        &format!("signing_key = {}\n", key_file.display()),
    );
    let b = daemon_host(&broker, "b", &format!("keys = a:{right}\n"));
    let c = daemon_host(&broker, "c", &format!("keys = a:{wrong}\n"));
    let _da = daemon_support::Daemon::start_ready(&a, &["test"]);
    let _db = daemon_support::Daemon::start_ready(&b, &["test"]);
    let _dc = daemon_support::Daemon::start_ready(&c, &["test"]);
    for conf in [&b, &c] {
        daemon_support::wait_for("the fleet connection", 60, || {
            fleet_status(conf)["connected"] == true
        });
    }
    daemon_support::ok(&a, &["set", "test", "banip", "198.18.200.1"]);
    daemon_support::wait_for("B bans A's signed ban", 60, || {
        b.actions().contains("ban 198.18.200.1 ")
    });
    daemon_support::wait_for("C refuses it as badly signed", 60, || {
        fleet_status(&c)["rejected"]["signature"] == 1
    });
    assert!(
        !c.actions().contains("ban 198.18.200.1"),
        "C applied it: {}",
        c.actions()
    );
    assert_eq!(fleet_status(&b)["rejected"]["total"], 0);
}

macro_rules! engine_suite {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn signed_events_from_a_key_holder_only() {
                let test = "signed_events_from_a_key_holder_only";
                if fleet_support::require(test, $kind).is_none() {
                    return;
                }
                super::signed_events_from_a_key_holder_only($kind);
            }

            #[test]
            fn daemons_sign_and_check() {
                if fleet_support::require("daemons_sign_and_check", $kind).is_none() {
                    return;
                }
                super::daemons_sign_and_check($kind);
            }
        }
    };
}

engine_suite!(nats, Kind::Nats);
engine_suite!(redis, Kind::Redis);

/// The key workflow the README gives: `openssl genpkey` makes the signing key file, the
/// second line of `openssl pkey -pubout` is the public key for `keys =`.
#[test]
fn keys_made_with_openssl_sign_and_verify() {
    let test = "keys_made_with_openssl_sign_and_verify";
    let Some(openssl) = jailor_testkit::require_command(test, "openssl", "openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let out = std::process::Command::new(&openssl)
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = std::process::Command::new(&openssl)
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pem = String::from_utf8(out.stdout).unwrap();
    let public = pem.lines().nth(1).unwrap();
    let signing = jailor_fleet::load_signing_key(&key).expect("openssl's PEM loads");
    let parsed = jailor_fleet::parse_public_key(public).expect("openssl's public key parses");
    assert_eq!(signing.verifying_key(), parsed);
    let mut ev = FleetEvent::new(
        "a",
        "sshd",
        parse_addr("198.18.1.1").unwrap(),
        Action::Ban,
        None,
    )
    .unwrap();
    ev.sign(&signing);
    let key_path = key.display().to_string();
    let cfg = jailor_fleet::FleetConfig::from_options(
        [
            ("engine", "nats"),
            ("signing_key", key_path.as_str()),
            ("keys", format!("a:{public}").as_str()),
        ],
        "b",
    )
    .unwrap()
    .unwrap();
    let mut policy = jailor_fleet::Policy::new(&cfg);
    assert_eq!(policy.check(&ev), jailor_fleet::Verdict::Accept);
    ev.sig = None;
    assert_eq!(policy.check(&ev), jailor_fleet::Verdict::BadSignature);
}
