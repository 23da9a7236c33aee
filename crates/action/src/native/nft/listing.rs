//! Reading nftables' JSON listings (`nft -j list …`).

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

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

/// The objects of one table: `(kind, name)` for every chain and set.
pub(crate) fn table_objects(json: &str) -> Result<Vec<(&'static str, String)>, Error> {
    let mut out = Vec::new();
    for item in items(json)? {
        for kind in [
            "chain",
            "set",
            "map",
            "flowtable",
            "counter",
            "quota",
            "ct helper",
            "limit",
        ] {
            if let Some(name) = item
                .get(kind)
                .and_then(|o| o.get("name"))
                .and_then(Value::as_str)
            {
                let kind = if kind == "chain" {
                    "chain"
                } else if kind == "set" {
                    "set"
                } else {
                    "other"
                };
                out.push((kind, name.to_owned()));
            }
        }
    }
    Ok(out)
}

/// The elements of the sets in a `nft -j list set` answer.
pub(crate) fn set_elements(json: &str) -> Result<Vec<NftElement>, Error> {
    let mut out = Vec::new();
    for item in items(json)? {
        let Some(elems) = item
            .get("set")
            .and_then(|s| s.get("elem"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        out.reserve(elems.len());
        for elem in elems {
            out.push(element(elem).ok_or_else(|| unexpected(&elem.to_string()))?);
        }
    }
    Ok(out)
}

fn items(json: &str) -> Result<Vec<Value>, Error> {
    let value: Value = serde_json::from_str(json).map_err(|e| unexpected(&e.to_string()))?;
    match value {
        Value::Object(mut map) => match map.remove("nftables") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(unexpected("no \"nftables\" array")),
        },
        _ => Err(unexpected("not a JSON object")),
    }
}

fn element(value: &Value) -> Option<NftElement> {
    let secs = |v: Option<&Value>| v.and_then(Value::as_u64).map(Duration::from_secs);
    match value.get("elem") {
        Some(inner) => Some(NftElement {
            net: net(inner.get("val")?)?,
            timeout: secs(inner.get("timeout")),
            expires: secs(inner.get("expires")),
        }),
        None => Some(NftElement {
            net: net(value)?,
            timeout: None,
            expires: None,
        }),
    }
}

fn net(value: &Value) -> Option<IpNet> {
    if let Some(s) = value.as_str() {
        return s.parse::<IpAddr>().ok().map(IpNet::from);
    }
    if let Some(p) = value.get("prefix") {
        let addr: IpAddr = p.get("addr")?.as_str()?.parse().ok()?;
        let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
        return IpNet::new(addr, len).ok();
    }
    if let Some(r) = value.get("range").and_then(Value::as_array) {
        // An interval set may show a network as a range; keep it when it is one.
        let lo: IpAddr = r.first()?.as_str()?.parse().ok()?;
        let hi: IpAddr = r.get(1)?.as_str()?.parse().ok()?;
        return range_as_net(lo, hi);
    }
    None
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
