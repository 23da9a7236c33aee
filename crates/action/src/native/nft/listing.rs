//! Reading nftables' JSON listings (`nft -j list …`).

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::{Error, ErrorKind};

/// One element of a jail's set, as the kernel holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftElement {
    /// The banned host (a full-length prefix) or network.
    pub net: IpNet,
    /// The timeout it was added with; `None` for a permanent ban.
    pub timeout: Option<Duration>,
    /// How long until the kernel removes it; `None` for a permanent ban.
    pub expires: Option<Duration>,
}

/// The objects of one table: `(kind, name)` for every chain and set (`other` for the rest).
pub(crate) fn table_objects(json: &str) -> Result<Vec<(&'static str, String)>, Error> {
    let doc: TableDoc = serde_json::from_str(json).map_err(|e| unexpected(&e.to_string()))?;
    let mut out = Vec::new();
    for item in doc.nftables {
        if let Some(c) = item.chain {
            out.push(("chain", c.name));
        }
        if let Some(s) = item.set {
            out.push(("set", s.name));
        }
        for other in [
            item.map,
            item.flowtable,
            item.counter,
            item.quota,
            item.limit,
        ]
        .into_iter()
        .flatten()
        {
            out.push(("other", other.name));
        }
    }
    Ok(out)
}

/// The items of a table listing; elements and rules are skipped without being built.
#[derive(Deserialize)]
struct TableDoc {
    nftables: Vec<TableItem>,
}

#[derive(Deserialize)]
struct TableItem {
    chain: Option<Named>,
    set: Option<Named>,
    map: Option<Named>,
    flowtable: Option<Named>,
    counter: Option<Named>,
    quota: Option<Named>,
    limit: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

/// The elements of the sets in a `nft -j list set` answer.
///
/// Read into typed values, not a JSON tree: a set of 100,000 elements would otherwise take
/// about a kilobyte each while parsing.
pub(crate) fn set_elements(json: &str) -> Result<Vec<NftElement>, Error> {
    let doc: SetDoc = serde_json::from_str(json).map_err(|e| unexpected(&e.to_string()))?;
    let mut out = Vec::new();
    for set in doc.nftables.into_iter().filter_map(|i| i.set) {
        out.reserve(set.elem.len());
        for elem in set.elem {
            let (val, timeout, expires) = match elem {
                RawElem::Plain(val) => (val, None, None),
                RawElem::Elem { elem } => (elem.val, elem.timeout, elem.expires),
            };
            out.push(NftElement {
                net: val.net().ok_or_else(|| unexpected(&format!("{val:?}")))?,
                timeout: timeout.map(Duration::from_secs),
                expires: expires.map(Duration::from_secs),
            });
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct SetDoc {
    nftables: Vec<SetItem>,
}

#[derive(Deserialize)]
struct SetItem {
    set: Option<RawSet>,
}

#[derive(Deserialize)]
struct RawSet {
    #[serde(default)]
    elem: Vec<RawElem>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawElem {
    Plain(RawVal),
    Elem { elem: RawInner },
}

#[derive(Deserialize)]
struct RawInner {
    val: RawVal,
    timeout: Option<u64>,
    expires: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawVal {
    Addr(String),
    Prefix { prefix: RawPrefix },
    Range { range: (String, String) },
}

#[derive(Debug, Deserialize)]
struct RawPrefix {
    addr: String,
    len: u8,
}

impl RawVal {
    fn net(&self) -> Option<IpNet> {
        match self {
            RawVal::Addr(s) => s.parse::<IpAddr>().ok().map(IpNet::from),
            RawVal::Prefix { prefix } => IpNet::new(prefix.addr.parse().ok()?, prefix.len).ok(),
            // An interval set may show a network as a range; keep it when it is one.
            RawVal::Range { range } => range_as_net(range.0.parse().ok()?, range.1.parse().ok()?),
        }
    }
}

fn range_as_net(lo: IpAddr, hi: IpAddr) -> Option<IpNet> {
    let (lo_bits, hi_bits, max) = match (lo, hi) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
        _ => return None,
    };
    let size = hi_bits.checked_sub(lo_bits)?.checked_add(1)?;
    if !size.is_power_of_two() || lo_bits % size != 0 {
        return None;
    }
    let len = max - size.trailing_zeros();
    IpNet::new(lo, u8::try_from(len).ok()?).ok()
}

fn unexpected(detail: &str) -> Error {
    Error::new(ErrorKind::NftOutput(detail.chars().take(200).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_element_form() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
            {"set": {"family": "inet", "name": "s", "table": "jailor", "type": "ipv6_addr",
             "flags": ["interval", "timeout"], "elem": [
                "2001:db8::1",
                {"elem": {"val": "2001:db8::2", "timeout": 600, "expires": 598}},
                {"elem": {"val": {"prefix": {"addr": "2001:db8:1::", "len": 64}}, "timeout": 60, "expires": 1}},
                {"prefix": {"addr": "2001:db8:2::", "len": 48}},
                {"range": ["10.0.0.0", "10.0.0.255"]}
             ]}}]}"#;
        let e = set_elements(json).unwrap();
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].net, "2001:db8::1/128".parse::<IpNet>().unwrap());
        assert_eq!(e[0].timeout, None);
        assert_eq!(e[1].timeout, Some(Duration::from_secs(600)));
        assert_eq!(e[1].expires, Some(Duration::from_secs(598)));
        assert_eq!(e[2].net, "2001:db8:1::/64".parse::<IpNet>().unwrap());
        assert_eq!(e[3].net, "2001:db8:2::/48".parse::<IpNet>().unwrap());
        assert_eq!(e[4].net, "10.0.0.0/24".parse::<IpNet>().unwrap());
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(set_elements("not json").is_err());
        assert!(set_elements("{}").is_err());
        assert!(set_elements(
            r#"{"nftables": [{"set": {"elem": [{"range": ["10.0.0.1", "10.0.0.5"]}]}}]}"#
        )
        .is_err());
        assert!(set_elements(r#"{"nftables": [{"set": {"elem": [42]}}]}"#).is_err());
    }

    #[test]
    fn lists_table_objects() {
        let json = r#"{"nftables": [{"table": {"name": "jailor"}},
            {"chain": {"name": "jail-a"}}, {"set": {"name": "addr4-a"}}, {"map": {"name": "m"}}]}"#;
        let o = table_objects(json).unwrap();
        assert_eq!(
            o,
            vec![
                ("chain", "jail-a".into()),
                ("set", "addr4-a".into()),
                ("other", "m".into())
            ]
        );
    }
}
