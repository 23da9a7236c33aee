//! Broker credentials beyond user and password, against real brokers on free loopback
//! ports; certificates and keys are made by the test (rcgen, nkeys).
//!
//! - `nats_nkey_identities`: nats-server knows hosts a and b by their NKey public keys
//!   only. A client without credentials, or with a seed the server does not know, is
//!   refused; b's seed cannot publish under origin a; a and b with their seed files
//!   (`[Fleet] nkey`) share a ban.
//! - `nats_mutual_tls`: nats-server requires TLS and a client certificate of its CA, and
//!   maps the certificate's subject (`CN=a`) to the host's user and permissions. A client
//!   without a certificate, with one of another CA, or not trusting the server's CA is
//!   refused, b's certificate cannot publish under origin a; with `tls_ca`, `tls_cert` and
//!   `tls_key` two hosts share a ban.
//! - `redis_mutual_tls_and_acl`: redis-server on a TLS port only (`tls-auth-clients yes`)
//!   with one ACL user per host. Plain TCP, no certificate, another CA's certificate or a
//!   wrong password are refused; with the certificate and its own ACL user a host cannot
//!   write under another origin, and two hosts share a ban.

mod fleet_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_support::host::{config, Host};
use fleet_support::{
    nats_jetstream, nats_permissions, redis_users, wait_for, Broker, Custom, Kind,
};
use jailor_fleet::{now_ms, parse_addr, Action, Engine, FleetConfig, FleetEvent};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// Connects as `cfg` and publishes one ban under `origin`; the error text when the
/// broker refuses (or nothing happens within 20 s).
fn publish_as(cfg: &FleetConfig, origin: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let attempt = async {
            let mut engine = Engine::connect(cfg).await.map_err(|e| e.to_string())?;
            let ev = FleetEvent::new(
                origin,
                "sshd",
                parse_addr("198.18.50.50").unwrap(),
                Action::Ban,
                Some(now_ms() + 600_000),
            )
            .unwrap();
            engine.publish(&ev).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(20), attempt).await {
            Ok(r) => r,
            Err(_) => Err("timed out".into()),
        }
    })
}

fn refused(what: &str, cfg: &FleetConfig, origin: &str) {
    let r = publish_as(cfg, origin);
    assert!(r.is_err(), "{what}: the broker accepted it");
    eprintln!("{what}: refused ({})", r.unwrap_err());
}

/// A ban on `a` reaches `b` through the broker.
fn share_a_ban(dir: &Path, a: FleetConfig, b: FleetConfig) {
    let a = Host::new(dir, a);
    let b = Host::new(dir, b);
    assert!(wait_for(60, || b.stats().connected), "B connects");
    a.ban("198.18.60.1", 600);
    assert!(
        wait_for(60, || b.holds("198.18.60.1")),
        "B holds A's ban: A {:?}, B {:?}",
        a.stats(),
        b.stats()
    );
}

/// A certificate authority: its certificate (also written to `<name>-ca.pem`) and key.
struct Ca {
    cert: Certificate,
    key: KeyPair,
    path: PathBuf,
}

fn ca(dir: &Path, name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("jailor test {name}"));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    let path = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&path, cert.pem()).unwrap();
    Ca { cert, key, path }
}

/// A certificate of `ca` for `name` (server: for 127.0.0.1 and localhost); the paths of
/// its certificate and key files.
fn leaf(dir: &Path, ca: &Ca, name: &str, server: bool) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    if server {
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .subject_alt_names
            .push(rcgen::SanType::DnsName("localhost".try_into().unwrap()));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// The files of one TLS test: the trusted CA with the server's and host a's and b's
/// certificates, and a rogue CA with a certificate for a.
struct Pki {
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    a: (PathBuf, PathBuf),
    b: (PathBuf, PathBuf),
    rogue_a: (PathBuf, PathBuf),
}

fn pki(dir: &Path) -> Pki {
    let trusted = ca(dir, "trusted");
    let rogue = ca(dir, "rogue");
    let rogue_dir = dir.join("rogue");
    std::fs::create_dir(&rogue_dir).unwrap();
    Pki {
        ca: trusted.path.clone(),
        server: leaf(dir, &trusted, "server", true),
        a: leaf(dir, &trusted, "a", false),
        b: leaf(dir, &trusted, "b", false),
        rogue_a: leaf(&rogue_dir, &rogue, "a", false),
    }
}

fn with_tls(
    mut cfg: FleetConfig,
    ca: Option<&Path>,
    cert: Option<&(PathBuf, PathBuf)>,
) -> FleetConfig {
    cfg.tls_ca = ca.map(Path::to_path_buf);
    cfg.tls_cert = cert.map(|c| c.0.clone());
    cfg.tls_key = cert.map(|c| c.1.clone());
    cfg
}

#[test]
fn nats_nkey_identities() {
    if fleet_support::require("nats_nkey_identities", Kind::Nats).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut users = String::new();
    let mut seeds = Vec::new();
    for h in ["a", "b"] {
        let pair = nkeys::KeyPair::new_user();
        users.push_str(&format!(
            "    {{ nkey: {}, {} }}\n",
            pair.public_key(),
            nats_permissions(h)
        ));
        let seed = dir.path().join(format!("{h}.nk"));
        std::fs::write(&seed, format!("{}\n", pair.seed().unwrap())).unwrap();
        seeds.push(seed);
    }
    let stranger = dir.path().join("stranger.nk");
    std::fs::write(&stranger, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    let conf = move |d: &Path, port: u16| {
        format!(
            "listen: 127.0.0.1:{port}\n{}authorization {{\n  users = [\n{users}  ]\n}}\n",
            nats_jetstream(d)
        )
    };
    let broker = Broker::start_custom(
        Kind::Nats,
        tempfile::tempdir().unwrap(),
        Custom {
            conf: Box::new(conf),
            netns: None,
            host: "127.0.0.1".into(),
        },
    );
    let anonymous = FleetConfig::new(jailor_fleet::EngineKind::Nats, vec![broker.url()], "a");
    let nkey = |origin: &str, seed: &Path| {
        let seed = seed.display().to_string();
        let server = broker.url();
        let mut cfg = FleetConfig::from_options(
            [
                ("engine", "nats"),
                ("servers", server.as_str()),
                ("nkey", seed.as_str()),
            ],
            origin,
        )
        .unwrap()
        .unwrap();
        cfg.max_age_ms = 3_600_000;
        cfg
    };
    refused("no credentials", &anonymous, "a");
    refused("an unknown NKey", &nkey("a", &stranger), "a");
    refused("b's NKey under origin a", &nkey("b", &seeds[1]), "a");
    publish_as(&nkey("a", &seeds[0]), "a").expect("a's NKey publishes as a");
    share_a_ban(dir.path(), nkey("a", &seeds[0]), nkey("b", &seeds[1]));
}

#[test]
fn nats_mutual_tls() {
    if fleet_support::require("nats_mutual_tls", Kind::Nats).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (ca_file, (cert, key)) = (pki.ca.clone(), pki.server.clone());
    let conf = move |d: &Path, port: u16| {
        format!(
            "listen: 127.0.0.1:{port}\n{}tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify_and_map: true\n  timeout: 10\n}}\nauthorization {{\n  users = [\n    {{ user: \"CN=a\", {} }}\n    {{ user: \"CN=b\", {} }}\n  ]\n}}\n",
            nats_jetstream(d),
            cert.display(),
            key.display(),
            ca_file.display(),
            nats_permissions("a"),
            nats_permissions("b")
        )
    };
    let broker = Broker::start_custom(
        Kind::Nats,
        tempfile::tempdir().unwrap(),
        Custom {
            conf: Box::new(conf),
            netns: None,
            host: "127.0.0.1".into(),
        },
    );
    let url = format!("tls://127.0.0.1:{}", broker.port);
    let base =
        |origin: &str| FleetConfig::new(jailor_fleet::EngineKind::Nats, vec![url.clone()], origin);
    refused(
        "no client certificate",
        &with_tls(base("a"), Some(&pki.ca), None),
        "a",
    );
    refused(
        "a certificate of another CA",
        &with_tls(base("a"), Some(&pki.ca), Some(&pki.rogue_a)),
        "a",
    );
    refused(
        "not trusting the server's CA",
        &with_tls(base("a"), None, Some(&pki.a)),
        "a",
    );
    refused(
        "b's certificate under origin a",
        &with_tls(base("b"), Some(&pki.ca), Some(&pki.b)),
        "a",
    );
    let a = with_tls(base("a"), Some(&pki.ca), Some(&pki.a));
    publish_as(&a, "a").expect("a's certificate publishes");
    share_a_ban(
        dir.path(),
        a,
        with_tls(base("b"), Some(&pki.ca), Some(&pki.b)),
    );
}

#[test]
fn redis_mutual_tls_and_acl() {
    if fleet_support::require("redis_mutual_tls_and_acl", Kind::Redis).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (ca_file, (cert, key)) = (pki.ca.clone(), pki.server.clone());
    let conf = move |d: &Path, port: u16| {
        format!(
            "bind 127.0.0.1\nport 0\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients yes\ndir {}\nsave \"\"\nappendonly no\ndaemonize no\nlogfile {}\n{}",
            cert.display(),
            key.display(),
            ca_file.display(),
            d.display(),
            d.join("redis.log").display(),
            redis_users()
        )
    };
    let broker = Broker::start_custom(
        Kind::Redis,
        tempfile::tempdir().unwrap(),
        Custom {
            conf: Box::new(conf),
            netns: None,
            host: "127.0.0.1".into(),
        },
    );
    // config() gives the host's ACL user and password; the URL is the TLS port.
    let plain = config(&broker, "a");
    refused("plain TCP", &plain, "a");
    let tls = |origin: &str, cert: Option<&(PathBuf, PathBuf)>| {
        let mut cfg = with_tls(config(&broker, origin), Some(&pki.ca), cert);
        cfg.servers = vec![format!("rediss://127.0.0.1:{}", broker.port)];
        cfg
    };
    refused("no client certificate", &tls("a", None), "a");
    refused(
        "a certificate of another CA",
        &tls("a", Some(&pki.rogue_a)),
        "a",
    );
    let mut wrong = tls("a", Some(&pki.a));
    wrong.password = Some("guess".into());
    refused("a wrong ACL password", &wrong, "a");
    refused("b's ACL user under origin a", &tls("b", Some(&pki.b)), "a");
    publish_as(&tls("a", Some(&pki.a)), "a").expect("a's certificate and user publish");
    share_a_ban(dir.path(), tls("a", Some(&pki.a)), tls("b", Some(&pki.b)));
}
