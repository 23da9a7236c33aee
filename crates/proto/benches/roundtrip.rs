//! Control socket costs: connect + handshake, one request round trip, and a `banned` answer
//! with 100,000 addresses. Run with `cargo bench -p jailor-proto`; prints one line per case.
use std::sync::Arc;
use std::time::Instant;

use jailor_proto::{Client, ControlServer, JailBans, Request, Response};

fn main() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("bench.sock");
    let bans: Vec<String> = (0..100_000u32)
        .map(|i| std::net::Ipv4Addr::from(0xC000_0000 | i).to_string())
        .collect();
    let server = ControlServer::bind(&path, nix::unistd::geteuid().as_raw())
        .expect("bind")
        .spawn(Arc::new(move |req: Request| match req {
            Request::Banned { .. } => Response::Banned(vec![JailBans {
                jail: "sshd".into(),
                ips: bans.clone(),
            }]),
            _ => Response::Pong,
        }))
        .expect("serve");

    let n = 2_000;
    let t = Instant::now();
    for _ in 0..n {
        let mut c = Client::connect(server.path(), None).expect("connect");
        c.send(&Request::Ping).expect("ping");
    }
    report("connect + handshake + ping", t.elapsed(), n);

    let mut c = Client::connect(server.path(), None).expect("connect");
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        c.send(&Request::Ping).expect("ping");
    }
    report("ping on an open connection", t.elapsed(), n);

    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        let r = c.send(&Request::Banned { ips: vec![] }).expect("banned");
        let text = jailor_proto::render(&Request::Banned { ips: vec![] }, &r);
        assert!(text.len() > 1_000_000);
    }
    report("banned with 100k addresses (send + render)", t.elapsed(), n);
}

fn report(what: &str, total: std::time::Duration, n: u32) {
    println!(
        "{what}: {:.1} µs each ({n} runs)",
        total.as_secs_f64() * 1e6 / f64::from(n)
    );
}
