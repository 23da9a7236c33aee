//! The native nftables action against a real kernel, each test in its own network namespace.

#[path = "nft_support/mod.rs"]
mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use jailor_action::native::nft::{
    BatchFormat, BlockType, Hook, NftAction, NftConfig, Ports, Protocol, Services,
};
use support::{element, objects, require, Netns};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ssh_config(jail: &str) -> NftConfig {
    let services = Services::parse("ssh 22/tcp\n");
    NftConfig::from_properties(jail, [("port", "ssh"), ("blocktype", "drop")], &services).unwrap()
}

fn sorted(mut v: Vec<(String, Option<u64>)>) -> Vec<(String, Option<u64>)> {
    v.sort();
    v
}

fn elements(ns: &Netns, set: &str) -> Vec<(String, Option<u64>)> {
    sorted(ns.elements("jailor", set).iter().map(element).collect())
}

#[test]
fn nft_start_creates_sets_and_chain_once() {
    let Some(()) = require("nft_start_creates_sets_and_chain_once") else {
        return;
    };
    let ns = Netns::new();
    let nft = NftAction::with_command(ssh_config("sshd"), ns.nft()).unwrap();
    nft.start().unwrap();
    nft.ban_batch([(ip("192.0.2.1"), Some(600))]).unwrap();
    // A restart after kill -9: the same start again.
    nft.start().unwrap();
    let mut o = objects(&ns.ruleset());
    o.sort();
    let want: Vec<(String, String)> = [
        ("chain", "jail-sshd"),
        ("rule", "jail-sshd"),
        ("rule", "jail-sshd"),
        ("set", "addr4-sshd"),
        ("set", "addr6-sshd"),
        ("table", "jailor"),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .collect();
    assert_eq!(o, want);
    // The second start kept the ban.
    assert_eq!(
        elements(&ns, "addr4-sshd"),
        vec![("192.0.2.1".into(), Some(600))]
    );

    let chain = ns
        .nft_raw(&["list", "chain", "inet", "jailor", "jail-sshd"])
        .unwrap();
    assert!(chain.contains("hook input priority filter - 1"), "{chain}");
    assert!(
        chain.contains("tcp dport 22 ip saddr @addr4-sshd drop"),
        "{chain}"
    );
    assert!(
        chain.contains("tcp dport 22 ip6 saddr @addr6-sshd drop"),
        "{chain}"
    );
    let set = ns
        .nft_raw(&["list", "set", "inet", "jailor", "addr4-sshd"])
        .unwrap();
    assert!(set.contains("flags timeout"), "{set}");
    assert!(!set.contains("interval"), "{set}");
}

#[test]
fn nft_bans_carry_their_timeouts_in_both_formats() {
    let Some(()) = require("nft_bans_carry_their_timeouts_in_both_formats") else {
        return;
    };
    for format in [BatchFormat::Text, BatchFormat::Json] {
        let ns = Netns::new();
        let mut nft = NftAction::with_command(ssh_config("sshd"), ns.nft()).unwrap();
        nft.set_format(format);
        nft.start().unwrap();
        let n = nft
            .ban_batch([
                (IpNet::from(ip("192.0.2.1")), Some(600)),
                (IpNet::from(ip("192.0.2.2")), None),
                (IpNet::from(ip("::ffff:192.0.2.3")), Some(0)),
                (IpNet::from(ip("2001:db8::1")), Some(3600)),
                (IpNet::from(ip("192.0.2.1")), Some(900)),
            ])
            .unwrap();
        assert_eq!(n, 4, "{format:?}");
        assert_eq!(
            elements(&ns, "addr4-sshd"),
            vec![
                ("192.0.2.1".into(), Some(900)),
                ("192.0.2.2".into(), None),
                ("192.0.2.3".into(), Some(1)),
            ],
            "{format:?}"
        );
        assert_eq!(
            elements(&ns, "addr6-sshd"),
            vec![("2001:db8::1".into(), Some(3600))]
        );

        // A second ban is no error: older kernels keep the element's timeout, newer ones
        // take the new one. A prolonged ban gets the new one on every kernel.
        nft.ban_batch([(ip("2001:db8::1"), Some(60))]).unwrap();
        let again = elements(&ns, "addr6-sshd");
        assert!(
            again == vec![("2001:db8::1".into(), Some(3600))]
                || again == vec![("2001:db8::1".into(), Some(60))],
            "{again:?}"
        );
        nft.prolong_batch([(ip("2001:db8::1"), Some(7200)), (ip("2001:db8::2"), None)])
            .unwrap();
        assert_eq!(
            elements(&ns, "addr6-sshd"),
            vec![
                ("2001:db8::1".into(), Some(7200)),
                ("2001:db8::2".into(), None)
            ]
        );

        let listed = nft.list().unwrap();
        assert_eq!(listed.len(), 5);
        let e = listed
            .iter()
            .find(|e| e.net.addr() == ip("192.0.2.1"))
            .unwrap();
        assert_eq!(e.timeout, Some(Duration::from_secs(900)));
        assert!(e.expires.unwrap() <= Duration::from_secs(900));

        // Unban: present or not, in one transaction.
        let n = nft
            .unban_batch([ip("192.0.2.1"), ip("192.0.2.99"), ip("2001:db8::2")])
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            elements(&ns, "addr4-sshd"),
            vec![("192.0.2.2".into(), None), ("192.0.2.3".into(), Some(1))]
        );
        assert_eq!(
            elements(&ns, "addr6-sshd"),
            vec![("2001:db8::1".into(), Some(7200))]
        );
        nft.flush().unwrap();
        assert!(nft.list().unwrap().is_empty());
    }
}

#[test]
fn nft_prefix_bans_hold_the_network() {
    let Some(()) = require("nft_prefix_bans_hold_the_network") else {
        return;
    };
    let ns = Netns::new();
    let services = Services::default();
    let config = NftConfig::from_properties(
        "web",
        [
            ("banprefix6", "64"),
            ("banprefix4", "24"),
            ("port", "80,443"),
        ],
        &services,
    )
    .unwrap();
    for format in [BatchFormat::Text, BatchFormat::Json] {
        let mut nft = NftAction::with_command(config.clone(), ns.nft()).unwrap();
        nft.set_format(format);
        nft.start().unwrap();
        let n = nft
            .ban_batch([
                (ip("2001:db8:1:2:aaaa::1"), Some(600)),
                (ip("2001:db8:1:2:bbbb::2"), Some(1200)),
                (ip("198.51.100.77"), None),
            ])
            .unwrap();
        assert_eq!(n, 2, "two addresses of one /64 are one element");
        assert_eq!(
            elements(&ns, "addr6-web"),
            vec![("2001:db8:1:2::/64".into(), Some(1200))],
            "{format:?}"
        );
        assert_eq!(
            elements(&ns, "addr4-web"),
            vec![("198.51.100.0/24".into(), None)]
        );
        let set = ns
            .nft_raw(&["list", "set", "inet", "jailor", "addr6-web"])
            .unwrap();
        assert!(set.contains("flags interval,timeout"), "{set}");
        // Banning again in the same prefix, and a network, both fit the interval set.
        nft.ban_batch([
            (IpNet::from(ip("2001:db8:1:2::9")), Some(5)),
            ("2001:db8:9::/48".parse().unwrap(), Some(5)),
        ])
        .unwrap();
        assert_eq!(elements(&ns, "addr6-web").len(), 2);
        // Another address of the prefix lifts the prefix's ban.
        nft.unban_batch([ip("2001:db8:1:2::ffff"), ip("198.51.100.1")])
            .unwrap();
        assert_eq!(
            elements(&ns, "addr6-web"),
            vec![("2001:db8:9::/48".into(), Some(5))]
        );
        assert!(elements(&ns, "addr4-web").is_empty());
        nft.stop().unwrap();
    }
}

#[test]
fn nft_stop_removes_only_the_jails_objects() {
    let Some(()) = require("nft_stop_removes_only_the_jails_objects") else {
        return;
    };
    let ns = Netns::new();
    let a = NftAction::with_command(ssh_config("alpha"), ns.nft()).unwrap();
    let mut cb = NftConfig::new("beta").unwrap();
    cb.hook = Hook::Forward;
    cb.priority = 5;
    cb.protocol = Protocol::Udp;
    cb.ports = Ports::Ranges(vec![(53, 53), (5000, 5010)]);
    cb.blocktype = BlockType::Reject;
    let b = NftAction::with_command(cb, ns.nft()).unwrap();
    a.start().unwrap();
    b.start().unwrap();
    b.ban_batch([(ip("203.0.113.5"), Some(300))]).unwrap();
    let chain = ns
        .nft_raw(&["list", "chain", "inet", "jailor", "jail-beta"])
        .unwrap();
    assert!(
        chain.contains("hook forward priority filter + 5"),
        "{chain}"
    );
    assert!(
        chain.contains("udp dport { 53, 5000-5010 } ip saddr @addr4-beta reject"),
        "{chain}"
    );

    a.stop().unwrap();
    let names: Vec<String> = objects(&ns.ruleset()).into_iter().map(|(_, n)| n).collect();
    assert!(!names.iter().any(|n| n.ends_with("alpha")), "{names:?}");
    assert!(names.contains(&"addr4-beta".to_owned()), "{names:?}");
    assert_eq!(
        elements(&ns, "addr4-beta"),
        vec![("203.0.113.5".into(), Some(300))]
    );
    // Stopping twice is no error.
    a.stop().unwrap();
    b.stop().unwrap();
    assert!(
        objects(&ns.ruleset()).is_empty(),
        "the empty table is gone too"
    );
    b.stop().unwrap();
}

#[test]
fn nft_start_recreates_objects_that_do_not_fit() {
    let Some(()) = require("nft_start_recreates_objects_that_do_not_fit") else {
        return;
    };
    let ns = Netns::new();
    let plain = NftAction::with_command(ssh_config("sshd"), ns.nft()).unwrap();
    plain.start().unwrap();
    plain.ban_batch([(ip("2001:db8::1"), Some(60))]).unwrap();
    let mut c = ssh_config("sshd");
    c.prefix6 = Some(64);
    c.hook = Hook::Forward;
    let prefixed = NftAction::with_command(c, ns.nft()).unwrap();
    prefixed.start().unwrap();
    let set = ns
        .nft_raw(&["list", "set", "inet", "jailor", "addr6-sshd"])
        .unwrap();
    assert!(set.contains("interval"), "{set}");
    let chain = ns
        .nft_raw(&["list", "chain", "inet", "jailor", "jail-sshd"])
        .unwrap();
    assert!(chain.contains("hook forward"), "{chain}");
    prefixed.ban_batch([(ip("2001:db8::1"), Some(60))]).unwrap();
    assert_eq!(
        elements(&ns, "addr6-sshd"),
        vec![("2001:db8::/64".into(), Some(60))]
    );
}

#[test]
fn nft_elements_expire_in_the_kernel() {
    let Some(()) = require("nft_elements_expire_in_the_kernel") else {
        return;
    };
    let ns = Netns::new();
    let nft = NftAction::with_command(ssh_config("sshd"), ns.nft()).unwrap();
    nft.start().unwrap();
    nft.ban_batch([(ip("192.0.2.1"), Some(2)), (ip("192.0.2.2"), Some(600))])
        .unwrap();
    assert_eq!(elements(&ns, "addr4-sshd").len(), 2);
    // Nobody removes it: the kernel does, after 2 s.
    let begin = Instant::now();
    loop {
        let e = elements(&ns, "addr4-sshd");
        if e == vec![("192.0.2.2".to_owned(), Some(600))] {
            break;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(5),
            "still there: {e:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        begin.elapsed() >= Duration::from_millis(1000),
        "gone too early"
    );
}

#[test]
fn nft_errors_leave_the_sets_unchanged() {
    let Some(()) = require("nft_errors_leave_the_sets_unchanged") else {
        return;
    };
    let ns = Netns::new();
    let nft = NftAction::with_command(ssh_config("sshd"), ns.nft()).unwrap();
    // Before start there is no set: the ban fails as a whole, as an error.
    let e = nft.ban_batch([(ip("192.0.2.1"), Some(60))]).unwrap_err();
    assert!(e.to_string().contains("nft failed"), "{e}");
    nft.start().unwrap();
    // A network on a set without prefix banning is refused before nft runs.
    let e = nft
        .ban_batch([
            (IpNet::from(ip("192.0.2.1")), Some(60)),
            ("10.0.0.0/8".parse().unwrap(), Some(60)),
        ])
        .unwrap_err();
    assert!(e.to_string().contains("10.0.0.0/8"), "{e}");
    assert!(elements(&ns, "addr4-sshd").is_empty());
}
