//! Whom a failure or a ban is about.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// A failure id: an address, a network, or a raw string id (fail2ban's `<F-ID>` from a filter
/// without `<HOST>`).
///
/// Addresses are normalised on the way in: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`)
/// becomes the IPv4 address, so both spellings count as one attacker, as in fail2ban.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    /// One IPv4 or IPv6 address (never v4-mapped).
    Ip(IpAddr),
    /// A network (host bits cleared).
    Net(IpNet),
    /// Any other id, compared literally.
    Raw(Box<str>),
}

impl Id {
    /// Reads an id: an address (brackets around IPv6 allowed), a CIDR network or a
    /// `address/netmask` network, else the text itself as a raw id.
    ///
    /// ```
    /// use jailor_policy::Id;
    /// assert_eq!(Id::parse("::ffff:192.0.2.1"), Id::parse("192.0.2.1"));
    /// assert_eq!(Id::parse("10.1.2.3/255.255.0.0").to_string(), "10.1.0.0/16");
    /// assert_eq!(Id::parse("user@example"), Id::Raw("user@example".into()));
    /// ```
    pub fn parse(text: &str) -> Id {
        parse_addr_or_net(text).unwrap_or_else(|| Id::Raw(text.into()))
    }

    /// The id for an address, normalising a v4-mapped IPv6 address to IPv4.
    pub fn ip(ip: IpAddr) -> Id {
        Id::Ip(normalize(ip))
    }

    /// The address, when this id is one.
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Id::Ip(ip) => Some(*ip),
            _ => None,
        }
    }

    /// Whether this id lies in `net`: an address inside it, or a network no wider than it
    /// and inside it (fail2ban's `isInNet`).
    pub fn is_in_net(&self, net: &IpNet) -> bool {
        match self {
            Id::Ip(ip) => net.contains(ip),
            Id::Net(own) => net.contains(own),
            Id::Raw(_) => false,
        }
    }
}

impl From<IpAddr> for Id {
    fn from(ip: IpAddr) -> Id {
        Id::ip(ip)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Ip(ip) => ip.fmt(f),
            Id::Net(net) => net.fmt(f),
            Id::Raw(raw) => f.write_str(raw),
        }
    }
}

/// Turns `::ffff:a.b.c.d` into `a.b.c.d`; other addresses are returned as they are.
pub(crate) fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Parses an address, `[v6]`, `addr/prefix` or `addr/netmask`; `None` for anything else.
pub(crate) fn parse_addr_or_net(text: &str) -> Option<Id> {
    let text = text.trim();
    let (addr, suffix) = match text.split_once('/') {
        Some((a, s)) => (a, Some(s)),
        None => (text, None),
    };
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let ip: IpAddr = addr.parse().ok()?;
    let Some(suffix) = suffix else {
        return Some(Id::Ip(normalize(ip)));
    };
    let prefix = prefix_len(ip, suffix)?;
    let net = match (ip, to_v4(ip)) {
        // A v4-mapped network ::ffff:a.b.c.d/n (n >= 96) is the IPv4 network a.b.c.d/(n-96).
        (IpAddr::V6(_), Some(v4)) if prefix >= 96 => IpNet::new(IpAddr::V4(v4), prefix - 96),
        _ => IpNet::new(ip, prefix),
    }
    .ok()?;
    Some(Id::Net(net.trunc()))
}

fn to_v4(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        IpAddr::V4(_) => None,
    }
}

/// A prefix length from `24` or from a contiguous netmask `255.255.255.0` (or an IPv6 mask).
/// A non-contiguous mask is refused: it cannot be a prefix, and guessing could ignore too much.
fn prefix_len(ip: IpAddr, suffix: &str) -> Option<u8> {
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
        let n: u8 = suffix.parse().ok()?;
        return (n <= max).then_some(n);
    }
    let mask: IpAddr = suffix.parse().ok()?;
    let bits: u128 = match (ip, mask) {
        (IpAddr::V4(_), IpAddr::V4(m)) => u128::from(u32::from(m)) << 96,
        (IpAddr::V6(_), IpAddr::V6(m)) => u128::from(m),
        _ => return None,
    };
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) != 0 {
        return None;
    }
    u8::try_from(ones).ok().filter(|n| *n <= max)
}
