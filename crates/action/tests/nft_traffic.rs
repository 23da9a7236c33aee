//! Real packets: two network namespaces joined by a veth pair, a TCP listener in one, a
//! client in the other, and the native nftables action in between.

#[path = "nft_support/mod.rs"]
mod support;

use std::io::ErrorKind as IoKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use jailor_action::native::nft::{BlockType, NftAction, NftConfig, Ports, Protocol};
use support::{require, Netns};

const PORT: u16 = 2222;
const WAIT: Duration = Duration::from_millis(700);

/// `srv` (10.77.0.1, fd77::1) and `cli` (10.77.0.2; fd77::2 and fd77::3 in one /64,
/// fd77:0:0:1::2 in another), with routes both ways.
struct Pair {
    srv: Netns,
    cli: Netns,
}

impl Pair {
    fn new() -> Pair {
        let srv = Netns::new();
        let cli = Netns::new();
        srv.ip(&[
            "link",
            "add",
            "veth0",
            "type",
            "veth",
            "peer",
            "name",
            "veth1",
            "netns",
            cli.name(),
        ]);
        srv.ip(&["addr", "add", "10.77.0.1/24", "dev", "veth0"]);
        srv.ip(&["addr", "add", "fd77::1/64", "dev", "veth0", "nodad"]);
        srv.ip(&["link", "set", "veth0", "up"]);
        cli.ip(&["addr", "add", "10.77.0.2/24", "dev", "veth1"]);
        for a in ["fd77::2/64", "fd77::3/64", "fd77:0:0:1::2/64"] {
            cli.ip(&["addr", "add", a, "dev", "veth1", "nodad"]);
        }
        cli.ip(&["link", "set", "veth1", "up"]);
        srv.ip(&["-6", "route", "add", "fd77:0:0:1::/64", "dev", "veth0"]);
        Pair { srv, cli }
    }

    /// Connects from `source` to the server's address of the same family.
    fn connect(&self, source: &str) -> std::io::Result<()> {
        let source: IpAddr = source.parse().unwrap();
        let target: IpAddr = if source.is_ipv4() {
            "10.77.0.1".parse().unwrap()
        } else {
            "fd77::1".parse().unwrap()
        };
        self.cli.connect(
            Some(SocketAddr::new(source, 0)),
            SocketAddr::new(target, PORT),
            WAIT,
        )
    }

    fn action(&self, config: NftConfig) -> NftAction {
        let nft = NftAction::with_command(config, self.srv.nft()).unwrap();
        nft.start().unwrap();
        nft
    }
}

fn config(jail: &str, blocktype: BlockType) -> NftConfig {
    let mut c = NftConfig::new(jail).unwrap();
    c.protocol = Protocol::Tcp;
    c.ports = Ports::Ranges(vec![(PORT, PORT)]);
    c.blocktype = blocktype;
    c
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Retries a few times: the veth link and neighbour discovery may need a moment at first.
fn connects(pair: &Pair, source: &str) -> bool {
    (0..5).any(|_| pair.connect(source).is_ok())
}

#[test]
fn nft_traffic_ban_blocks_and_unban_lets_through() {
    let Some(()) = require("nft_traffic_ban_blocks_and_unban_lets_through") else {
        return;
    };
    let pair = Pair::new();
    let _listener = pair.srv.listen(PORT);
    let nft = pair.action(config("sshd", BlockType::Drop));
    for source in ["10.77.0.2", "fd77::2"] {
        assert!(connects(&pair, source), "{source} before the ban");
        nft.ban_batch([(ip(source), Some(600))]).unwrap();
        let err = pair.connect(source).unwrap_err();
        assert_eq!(err.kind(), IoKind::TimedOut, "{source} is dropped: {err}");
        nft.unban_batch([ip(source)]).unwrap();
        assert!(connects(&pair, source), "{source} after the unban");
    }
    // Stopping the jail lifts its bans.
    nft.ban_batch([(ip("10.77.0.2"), None)]).unwrap();
    assert!(pair.connect("10.77.0.2").is_err());
    nft.stop().unwrap();
    assert!(connects(&pair, "10.77.0.2"), "after stop");
}

#[test]
fn nft_traffic_reject_refuses_at_once() {
    let Some(()) = require("nft_traffic_reject_refuses_at_once") else {
        return;
    };
    let pair = Pair::new();
    let _listener = pair.srv.listen(PORT);
    let nft = pair.action(config("sshd", BlockType::RejectTcpReset));
    assert!(connects(&pair, "10.77.0.2"));
    nft.ban_batch([(ip("10.77.0.2"), Some(600)), (ip("fd77::2"), Some(600))])
        .unwrap();
    for source in ["10.77.0.2", "fd77::2"] {
        let err = pair.connect(source).unwrap_err();
        assert_eq!(err.kind(), IoKind::ConnectionRefused, "{source}: {err}");
    }
}

#[test]
fn nft_traffic_other_ports_stay_open() {
    let Some(()) = require("nft_traffic_other_ports_stay_open") else {
        return;
    };
    let pair = Pair::new();
    let _listener = pair.srv.listen(PORT);
    let mut c = config("web", BlockType::Drop);
    c.ports = Ports::Ranges(vec![(80, 80), (443, 443)]);
    let nft = pair.action(c);
    nft.ban_batch([(ip("10.77.0.2"), Some(600))]).unwrap();
    assert!(
        connects(&pair, "10.77.0.2"),
        "port {PORT} is not the jail's"
    );
}

#[test]
fn nft_traffic_prefix_ban_covers_the_64() {
    let Some(()) = require("nft_traffic_prefix_ban_covers_the_64") else {
        return;
    };
    let pair = Pair::new();
    let _listener = pair.srv.listen(PORT);
    let mut c = config("sshd", BlockType::Drop);
    c.prefix6 = Some(64);
    let nft = pair.action(c);
    for source in ["fd77::3", "fd77:0:0:1::2"] {
        assert!(connects(&pair, source), "{source} before the ban");
    }
    nft.ban_batch([(ip("fd77::2"), Some(600))]).unwrap();
    let err = pair.connect("fd77::3").unwrap_err();
    assert_eq!(
        err.kind(),
        IoKind::TimedOut,
        "fd77::3 shares the /64: {err}"
    );
    assert!(
        connects(&pair, "fd77:0:0:1::2"),
        "another /64 is not banned"
    );
    assert!(connects(&pair, "10.77.0.2"), "IPv4 is not banned");
    nft.unban_batch([ip("fd77::3")]).unwrap();
    assert!(
        connects(&pair, "fd77::2"),
        "unbanning any address of the /64 lifts it"
    );
}

#[test]
fn nft_traffic_bans_outlive_the_daemon() {
    let Some(()) = require("nft_traffic_bans_outlive_the_daemon") else {
        return;
    };
    let pair = Pair::new();
    let _listener = pair.srv.listen(PORT);
    let before = {
        // The "daemon": it bans, then dies without stopping anything (kill -9).
        let nft = pair.action(config("sshd", BlockType::Drop));
        nft.ban_batch([(ip("10.77.0.2"), Some(3))]).unwrap();
        support::objects(&pair.srv.ruleset())
    };
    let banned_at = std::time::Instant::now();
    let err = pair.connect("10.77.0.2").unwrap_err();
    assert_eq!(
        err.kind(),
        IoKind::TimedOut,
        "still dropped by the kernel: {err}"
    );

    // The restarted daemon creates nothing twice and restores the ban in one batch.
    let nft = pair.action(config("sshd", BlockType::Drop));
    nft.ban_batch([(ip("10.77.0.2"), Some(3))]).unwrap();
    assert_eq!(support::objects(&pair.srv.ruleset()), before);

    // Nobody unbans: the element times out in the kernel and traffic flows again.
    while pair.connect("10.77.0.2").is_err() {
        assert!(
            banned_at.elapsed() < Duration::from_secs(8),
            "ban never expired"
        );
    }
    assert!(
        banned_at.elapsed() >= Duration::from_secs(2),
        "expired too early"
    );
}
