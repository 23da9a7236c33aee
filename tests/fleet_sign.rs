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
//! `keys_made_with_openssl_sign_and_verify`: a key from `openssl genpkey -algorithm
//! ed25519` loads as `signing_key`, the body line of `openssl pkey -pubout` as its public
//! key in `keys =`, and the policy accepts what it signed and refuses it unsigned.

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
    let policy = jailor_fleet::Policy::new(&cfg);
    assert_eq!(policy.check(&ev), jailor_fleet::Verdict::Accept);
    ev.sig = None;
    assert_eq!(policy.check(&ev), jailor_fleet::Verdict::BadSignature);
}
