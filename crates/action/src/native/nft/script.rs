//! The nftables transactions jailor sends, as text (`nft -f -`) or JSON (`nft -j -f -`).
//!
//! Everything written here comes from a validated [`NftConfig`] (names of letters, digits and
//! `_.-`, numbers, keywords) or from an [`IpNet`] formatted by Rust: no text from a log ever
//! reaches `nft`.

use std::fmt::Write as _;

use ipnet::IpNet;

use super::config::{BlockType, NftConfig, Protocol};
use super::ports::Ports;

/// Elements per `add element` line of a text batch: nftables parses shorter lines faster
/// than one line of megabytes, and they are still one transaction.
const ELEMENTS_PER_LINE: usize = 2048;

/// How batches of elements are written for `nft`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchFormat {
    /// nftables' own syntax, through `nft -f -` (measured faster, see the crate's
    /// `nft_bulk` bench; the default).
    #[default]
    Text,
    /// nftables' JSON schema, through `nft -j -f -`.
    Json,
}

/// One element of a set: the (masked) network or host, and its timeout in seconds
/// (`None`: permanent).
pub(crate) type Element = (IpNet, Option<u64>);

/// What to do with a batch of elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElementOp {
    /// Add; an element already present keeps its timeout or takes the new one (by kernel).
    Add,
    /// Add, remove, add again: present or not, each element ends with the new timeout.
    Replace,
    /// Add (without timeout), then remove: present or not, each element ends absent, and the
    /// transaction never fails on an absent element.
    Remove,
}

/// The idempotent creation of the jail's table, sets and chain, with its rules replaced.
pub(crate) fn start(c: &NftConfig) -> String {
    let t = &c.table;
    let mut s = String::with_capacity(1024);
    let _ = writeln!(s, "add table inet {t}");
    for (set, kind, prefix) in [
        (c.set4(), "ipv4_addr", c.prefix4),
        (c.set6(), "ipv6_addr", c.prefix6),
    ] {
        let flags = if prefix.is_some() {
            "interval, timeout"
        } else {
            "timeout"
        };
        let _ = writeln!(
            s,
            "add set inet {t} {set} {{ type {kind}; flags {flags}; }}"
        );
    }
    let chain = c.chain();
    let _ = writeln!(
        s,
        "add chain inet {t} {chain} {{ type filter hook {} priority {}; policy accept; }}",
        c.hook, c.priority
    );
    // Replacing the rules makes a second start (after a kill -9) add nothing twice.
    let _ = writeln!(s, "flush chain inet {t} {chain}");
    let matcher = packet_match(c.protocol, &c.ports);
    let verdict = match (c.blocktype, c.protocol) {
        (BlockType::RejectTcpReset, Protocol::Tcp) => BlockType::RejectTcpReset.verdict(),
        (BlockType::RejectTcpReset, _) => BlockType::Reject.verdict(),
        (b, _) => b.verdict(),
    };
    for (family, set) in [("ip", c.set4()), ("ip6", c.set6())] {
        let _ = writeln!(
            s,
            "add rule inet {t} {chain} {matcher}{family} saddr @{set} {verdict}"
        );
    }
    s
}

/// The part of a rule before the address match: protocol and ports.
fn packet_match(protocol: Protocol, ports: &Ports) -> String {
    match (protocol.keyword(), ports) {
        (None, Ports::All) => String::new(),
        (Some(p), Ports::All) => format!("meta l4proto {p} "),
        (Some(p), ports) => format!("{p} dport {{ {ports} }} "),
        (None, ports) => format!("meta l4proto {{ tcp, udp, sctp }} th dport {{ {ports} }} "),
    }
}

/// Removes what exists of the jail's objects; `table_too` when nothing else is in the table.
pub(crate) fn stop(c: &NftConfig, chain: bool, sets: &[String], table_too: bool) -> String {
    let t = &c.table;
    let mut s = String::new();
    if table_too {
        let _ = writeln!(s, "delete table inet {t}");
        return s;
    }
    if chain {
        let _ = writeln!(s, "flush chain inet {t} {}", c.chain());
        let _ = writeln!(s, "delete chain inet {t} {}", c.chain());
    }
    for set in sets {
        let _ = writeln!(s, "delete set inet {t} {set}");
    }
    s
}

/// Empties both sets of the jail.
pub(crate) fn flush(c: &NftConfig) -> String {
    format!(
        "flush set inet {t} {}\nflush set inet {t} {}\n",
        c.set4(),
        c.set6(),
        t = c.table
    )
}

/// A text transaction applying `op` to the elements of `set`.
pub(crate) fn elements_text(
    out: &mut String,
    c: &NftConfig,
    set: &str,
    op: ElementOp,
    elements: &[Element],
) {
    let mut line = |verb: &str, with_timeout: bool| {
        for chunk in elements.chunks(ELEMENTS_PER_LINE) {
            let _ = write!(out, "{verb} element inet {} {set} {{ ", c.table);
            for (i, (net, timeout)) in chunk.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_net(out, net);
                if let (true, Some(secs)) = (with_timeout, timeout) {
                    let _ = write!(out, " timeout {secs}s");
                }
            }
            out.push_str(" }\n");
        }
    };
    match op {
        ElementOp::Add => line("add", true),
        ElementOp::Replace => {
            line("add", false);
            line("delete", false);
            line("add", true);
        }
        ElementOp::Remove => {
            line("add", false);
            line("delete", false);
        }
    }
}

fn write_net(out: &mut String, net: &IpNet) {
    if net.prefix_len() == net.max_prefix_len() {
        let _ = write!(out, "{}", net.addr());
    } else {
        let _ = write!(out, "{net}");
    }
}

/// The JSON commands applying `op` to the elements of `set`, appended to `out` as items of
/// the `"nftables"` array (each preceded by a comma when `out` already holds one).
///
/// Written by hand rather than through a JSON tree: names are validated identifiers and
/// values are addresses and numbers, none needing escapes, and a tree of 100,000 elements
/// would cost a hundred megabytes.
pub(crate) fn elements_json(
    out: &mut String,
    c: &NftConfig,
    set: &str,
    op: ElementOp,
    elements: &[Element],
) {
    let mut push = |verb: &str, with_timeout: bool| {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"{verb}":{{"element":{{"family":"inet","table":"{}","name":"{set}","elem":["#,
            c.table
        );
        for (i, (net, timeout)) in elements.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let timeout = timeout.filter(|_| with_timeout);
            if timeout.is_some() {
                out.push_str(r#"{"elem":{"val":"#);
            }
            if net.prefix_len() == net.max_prefix_len() {
                let _ = write!(out, r#""{}""#, net.addr());
            } else {
                let _ = write!(
                    out,
                    r#"{{"prefix":{{"addr":"{}","len":{}}}}}"#,
                    net.network(),
                    net.prefix_len()
                );
            }
            if let Some(secs) = timeout {
                let _ = write!(out, r#","timeout":{secs}}}}}"#);
            }
        }
        out.push_str("]}}}");
    };
    match op {
        ElementOp::Add => push("add", true),
        ElementOp::Replace => {
            push("add", false);
            push("delete", false);
            push("add", true);
        }
        ElementOp::Remove => {
            push("add", false);
            push("delete", false);
        }
    }
}

/// Wraps the items written by [`elements_json`] into the document `nft -j` reads.
pub(crate) fn json_document(items: &str) -> String {
    format!(r#"{{"nftables":[{items}]}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::nft::config::Hook;
    use serde_json::{json, Value};

    fn config() -> NftConfig {
        let mut c = NftConfig::new("sshd").unwrap();
        c.protocol = Protocol::Tcp;
        c.ports = Ports::Ranges(vec![(22, 22), (2200, 2299)]);
        c
    }

    #[test]
    fn start_creates_everything_idempotently() {
        let mut c = config();
        c.hook = Hook::Forward;
        c.prefix6 = Some(64);
        c.blocktype = BlockType::RejectTcpReset;
        let s = start(&c);
        assert_eq!(
            s,
            "add table inet jailor\n\
             add set inet jailor addr4-sshd { type ipv4_addr; flags timeout; }\n\
             add set inet jailor addr6-sshd { type ipv6_addr; flags interval, timeout; }\n\
             add chain inet jailor jail-sshd { type filter hook forward priority -1; policy accept; }\n\
             flush chain inet jailor jail-sshd\n\
             add rule inet jailor jail-sshd tcp dport { 22, 2200-2299 } ip saddr @addr4-sshd reject with tcp reset\n\
             add rule inet jailor jail-sshd tcp dport { 22, 2200-2299 } ip6 saddr @addr6-sshd reject with tcp reset\n"
        );
    }

    #[test]
    fn protocol_and_ports_matchers() {
        let r = Ports::Ranges(vec![(53, 53)]);
        assert_eq!(packet_match(Protocol::All, &Ports::All), "");
        assert_eq!(
            packet_match(Protocol::Udp, &Ports::All),
            "meta l4proto udp "
        );
        assert_eq!(packet_match(Protocol::Udp, &r), "udp dport { 53 } ");
        assert_eq!(
            packet_match(Protocol::All, &r),
            "meta l4proto { tcp, udp, sctp } th dport { 53 } "
        );
        let mut c = config();
        c.protocol = Protocol::Udp;
        c.blocktype = BlockType::RejectTcpReset;
        assert!(start(&c).contains("@addr4-sshd reject\n"));
    }

    #[test]
    fn element_batches() {
        let c = config();
        let e: Vec<Element> = vec![
            ("192.0.2.1/32".parse().unwrap(), Some(600)),
            ("2001:db8::/64".parse().unwrap(), None),
        ];
        let mut s = String::new();
        elements_text(&mut s, &c, "x", ElementOp::Add, &e);
        assert_eq!(
            s,
            "add element inet jailor x { 192.0.2.1 timeout 600s, 2001:db8::/64 }\n"
        );
        s.clear();
        elements_text(&mut s, &c, "x", ElementOp::Remove, &e[..1]);
        assert_eq!(
            s,
            "add element inet jailor x { 192.0.2.1 }\ndelete element inet jailor x { 192.0.2.1 }\n"
        );
        s.clear();
        elements_text(&mut s, &c, "x", ElementOp::Replace, &e[..1]);
        assert_eq!(s.lines().count(), 3);
        assert!(s.ends_with("add element inet jailor x { 192.0.2.1 timeout 600s }\n"));

        let mut j = String::new();
        elements_json(&mut j, &c, "x", ElementOp::Add, &e);
        elements_json(&mut j, &c, "x", ElementOp::Remove, &e[..1]);
        let doc: Value = serde_json::from_str(&json_document(&j)).unwrap();
        assert_eq!(
            doc,
            json!({"nftables": [{"add": {"element": {"family": "inet", "table": "jailor", "name": "x", "elem": [
                {"elem": {"val": "192.0.2.1", "timeout": 600}},
                {"prefix": {"addr": "2001:db8::", "len": 64}},
            ]}}},
            {"add": {"element": {"family": "inet", "table": "jailor", "name": "x", "elem": ["192.0.2.1"]}}},
            {"delete": {"element": {"family": "inet", "table": "jailor", "name": "x", "elem": ["192.0.2.1"]}}},
            ]})
        );
    }

    #[test]
    fn long_batches_are_split_into_lines() {
        let c = config();
        let e: Vec<Element> = (0..5000u32)
            .map(|i| {
                (
                    IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(i))),
                    Some(1),
                )
            })
            .collect();
        let mut s = String::new();
        elements_text(&mut s, &c, "x", ElementOp::Add, &e);
        assert_eq!(s.lines().count(), 3);
        assert_eq!(s.matches("timeout").count(), 5000);
    }
}
