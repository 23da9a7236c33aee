//! Captured hosts → addresses, networks or raw ids.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureId {
    /// One address (IPv4-mapped IPv6 is normalised to IPv4).
    Addr(IpAddr),
    /// A network (from `<CIDR>`/`<SUBNET>` with a prefix shorter than the family's).
    Net(IpNet),
    /// A raw id (`<F-ID>`, or a name with `usedns = raw`).
    Raw(String),
}

impl FailureId {
    /// The address, if this id is one.
    pub fn addr(&self) -> Option<IpAddr> {
        match self {
            FailureId::Addr(a) => Some(*a),
            _ => None,
        }
    }
}

impl fmt::Display for FailureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureId::Addr(a) => a.fmt(f),
            FailureId::Net(n) => n.fmt(f),
            FailureId::Raw(r) => f.write_str(r),
        }
    }
}

/// IPv4 dotted quad; leading zeros are accepted (`010.1.1.1` = 10.1.1.1), as by `inet_aton`-style
/// parsers fail2ban relies on, but every part must be ≤ 255. Exactly four parts of one to
/// three ASCII digits, separated by single dots; parsed by hand in one pass (this runs once
/// per captured address, and the split-and-parse version cost ~1 k instructions).
fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    // Shortest "1.2.3.4", longest "255.255.255.255".
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, o) in octets.iter_mut().enumerate() {
        let mut value: u32 = 0;
        let start = i;
        // At most three digits are read: a fourth is then not the expected dot.
        while i - start < 3 {
            match b.get(i) {
                Some(&c) if c.is_ascii_digit() => {
                    value = value * 10 + u32::from(c - b'0');
                    i += 1;
                }
                _ => break,
            }
        }
        if i == start || value > 255 {
            return None;
        }
        *o = value as u8;
        if k < 3 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// The split-and-parse IPv4 parser `parse_v4` replaced: the oracle of its test.
#[cfg(test)]
fn parse_v4_split(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// Parses an address as captured: optional `[...]`, IPv4, IPv6 (IPv4-mapped → IPv4).
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t);
    if let Some(v4) = parse_v4(t) {
        return Some(IpAddr::V4(v4));
    }
    let v6: Ipv6Addr = t.parse().ok()?;
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    })
}

/// An address with an optional prefix length (`cidr` group). A full-length or missing
/// prefix gives the address; a shorter one the (masked) network; a bad prefix or an
/// unparsable address gives the raw text.
pub fn parse_host(text: &str, cidr: Option<&str>) -> FailureId {
    let Some(ip) = parse_ip(text) else {
        return FailureId::Raw(text.to_owned());
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let Some(cidr) = cidr.filter(|c| !c.is_empty()) else {
        return FailureId::Addr(ip);
    };
    match cidr.parse::<u8>() {
        Ok(p) if p >= max => FailureId::Addr(ip),
        Ok(p) => match IpNet::new(ip, p) {
            Ok(n) => FailureId::Net(n.trunc()),
            Err(_) => FailureId::Raw(format!("{text}/{cidr}")),
        },
        Err(_) => FailureId::Raw(format!("{text}/{cidr}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_v6_mapped_brackets() {
        assert_eq!(parse_ip("192.0.2.1"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            parse_ip("010.000.002.001"),
            Some("10.0.2.1".parse().unwrap())
        );
        assert_eq!(parse_ip("256.1.1.1"), None);
        assert_eq!(parse_ip("1.2.3"), None);
        assert_eq!(
            parse_ip("2001:db8::1"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            parse_ip("[2001:db8::1]"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            parse_ip("::ffff:192.0.2.7"),
            Some("192.0.2.7".parse().unwrap())
        );
        assert_eq!(
            parse_ip("::ffff:c000:207"),
            Some("192.0.2.7".parse().unwrap())
        );
        assert_eq!(parse_ip("example.com"), None);
        assert_eq!(parse_ip("[1.2.3.4"), None);
    }

    /// The hand parser gives the split parser's answer on every combination of edge-case
    /// parts (3 to 5 of them) and on pseudo-random strings over digits, dots and a few others.
    #[test]
    fn hand_v4_agrees_with_split_parser() {
        let parts = [
            "", "0", "00", "000", "0000", "1", "01", "001", "9", "25", "99", "199", "249", "250",
            "255", "0255", "256", "260", "300", "999", "1000", "a", " 1", "1 ", "+1", "-1", "١",
            "12a", "0x1",
        ];
        let mut checked = 0usize;
        let mut accepted = 0usize;
        let mut check = |s: &str| {
            let want = parse_v4_split(s);
            assert_eq!(parse_v4(s), want, "{s:?}");
            checked += 1;
            accepted += usize::from(want.is_some());
        };
        for a in parts {
            for b in parts {
                for c in parts {
                    check(&format!("{a}.{b}.{c}"));
                    for d in parts {
                        check(&format!("{a}.{b}.{c}.{d}"));
                        check(&format!("{a}.{b}.{c}.{d}."));
                        check(&format!(".{a}.{b}.{c}.{d}"));
                        check(&format!("{a}.{b}.{c}..{d}"));
                    }
                }
            }
        }
        for d in parts {
            for e in parts {
                check(&format!("1.2.3.{d}.{e}"));
            }
        }
        // A small xorshift generator: reproducible strings up to 20 bytes.
        let alphabet = b"0123456789..........1255:abf x";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300_000 {
            let len = (next() % 21) as usize;
            let s: String = (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                .collect();
            check(&s);
        }
        // Every valid address written with any of 0-2 leading zeros per part is accepted.
        for _ in 0..50_000 {
            let octets: Vec<u8> = (0..4).map(|_| (next() % 256) as u8).collect();
            let s = octets
                .iter()
                .map(|o| {
                    let zeros = (next() % 3) as usize;
                    let text = format!("{}{o}", "0".repeat(zeros));
                    if text.len() > 3 {
                        o.to_string()
                    } else {
                        text
                    }
                })
                .collect::<Vec<_>>()
                .join(".");
            check(&s);
        }
        assert!(checked > 1_000_000, "{checked}");
        assert!(accepted > 50_000, "{accepted}");
    }

    #[test]
    fn cidr() {
        assert_eq!(
            parse_host("192.0.2.77", Some("24")),
            FailureId::Net("192.0.2.0/24".parse().unwrap())
        );
        assert_eq!(
            parse_host("192.0.2.77", Some("32")),
            FailureId::Addr("192.0.2.77".parse().unwrap())
        );
        assert_eq!(
            parse_host("2001:db8::5", Some("64")),
            FailureId::Net("2001:db8::/64".parse().unwrap())
        );
        assert_eq!(
            parse_host("2001:db8::5", None),
            FailureId::Addr("2001:db8::5".parse().unwrap())
        );
        assert_eq!(
            parse_host("1.2.3.4", Some("99999")),
            FailureId::Raw("1.2.3.4/99999".into())
        );
        assert_eq!(parse_host("host-x", None), FailureId::Raw("host-x".into()));
        assert_eq!(
            FailureId::Net("10.0.0.0/8".parse().unwrap()).to_string(),
            "10.0.0.0/8"
        );
    }
}
