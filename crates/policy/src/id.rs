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

    /// Appends the id as its `Display` writes it (an address without `fmt`: a log line
    /// made by hand uses this).
    pub fn push_to(&self, out: &mut String) {
        match self {
            Id::Ip(ip) => with_spelled(*ip, |text| out.push_str(text)),
            Id::Net(net) => {
                use std::fmt::Write as _;
                // Writing into a String cannot fail.
                let _ = write!(out, "{net}");
            }
            Id::Raw(raw) => out.push_str(raw),
        }
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
            // Spelled out by hand: the daemon logs an address with every failure found, and
            // the standard library's `Display` goes through `fmt` once per field.
            Id::Ip(ip) => with_spelled(*ip, |text| f.pad(text)),
            Id::Net(net) => net.fmt(f),
            Id::Raw(raw) => f.write_str(raw),
        }
    }
}

/// Calls `f` with `ip` spelled by [`spell`].
fn with_spelled<R>(ip: IpAddr, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 39];
    let n = spell(ip, &mut buf);
    // Only ASCII digits, hex digits, '.' and ':' were written.
    f(std::str::from_utf8(&buf[..n]).unwrap_or_default())
}

/// Writes `ip` as the standard library's `Display` does (RFC 5952 for IPv6: lowercase, the
/// first longest run of two or more zero groups as `::`, `::ffff:a.b.c.d` for mapped
/// addresses) into `out`; returns the length.
fn spell(ip: IpAddr, out: &mut [u8; 39]) -> usize {
    let mut n = 0;
    let mut put = |b: u8, n: &mut usize| {
        out[*n] = b;
        *n += 1;
    };
    let v4 = |octets: [u8; 4], put: &mut dyn FnMut(u8, &mut usize), n: &mut usize| {
        for (i, o) in octets.into_iter().enumerate() {
            if i > 0 {
                put(b'.', n);
            }
            if o >= 100 {
                put(b'0' + o / 100, n);
            }
            if o >= 10 {
                put(b'0' + o / 10 % 10, n);
            }
            put(b'0' + o % 10, n);
        }
    };
    match ip {
        IpAddr::V4(a) => v4(a.octets(), &mut put, &mut n),
        IpAddr::V6(a) => {
            let g = a.segments();
            if let Some(m) = a.to_ipv4_mapped() {
                for &b in b"::ffff:" {
                    put(b, &mut n);
                }
                v4(m.octets(), &mut put, &mut n);
                return n;
            }
            // The first longest run of zero groups, if at least two long.
            let (mut best, mut best_len, mut run, mut run_len) = (0, 0, 0, 0);
            for (i, &x) in g.iter().enumerate() {
                if x == 0 {
                    if run_len == 0 {
                        run = i;
                    }
                    run_len += 1;
                    if run_len > best_len {
                        (best, best_len) = (run, run_len);
                    }
                } else {
                    run_len = 0;
                }
            }
            let hex = |x: u16, put: &mut dyn FnMut(u8, &mut usize), n: &mut usize| {
                let mut started = false;
                for shift in [12, 8, 4, 0] {
                    let d = ((x >> shift) & 0xf) as u8;
                    if d != 0 || started || shift == 0 {
                        started = true;
                        put(if d < 10 { b'0' + d } else { b'a' + d - 10 }, n);
                    }
                }
            };
            let mut i = 0;
            while i < 8 {
                if best_len >= 2 && i == best {
                    put(b':', &mut n);
                    put(b':', &mut n);
                    i += best_len;
                    continue;
                }
                if i > 0 && !(best_len >= 2 && i == best + best_len) {
                    put(b':', &mut n);
                }
                hex(g[i], &mut put, &mut n);
                i += 1;
            }
        }
    }
    n
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Every spelling agrees with the standard library's, padding included.
    #[test]
    fn addresses_are_spelled_as_the_standard_library_does() {
        let mut addrs: Vec<IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.9.100",
            "::",
            "::1",
            "1::",
            "1:0:0:2:0:0:0:3",
            "1:0:0:2:0:0:3:4",
            "0:0:1:0:0:1:0:0",
            "1:0:1:0:1:0:1:0",
            "2001:db8::ff00:42:8329",
            "fe80::1:0:0:0",
            "::ffff:192.0.2.1",
            "::192.0.2.1",
            "64:ff9b::192.0.2.1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        // Pseudo-random addresses with many zero groups and small values.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let g: [u16; 8] = std::array::from_fn(|i| match (x >> (i * 5)) & 3 {
                0 | 1 => 0,
                2 => ((x >> (i * 7)) & 0xff) as u16,
                _ => (x >> (i * 8)) as u16,
            });
            addrs.push(IpAddr::V6(Ipv6Addr::from(g)));
            addrs.push(IpAddr::V4(Ipv4Addr::from((x >> 11) as u32)));
        }
        for ip in addrs {
            let id = Id::Ip(ip);
            assert_eq!(id.to_string(), ip.to_string());
            assert_eq!(format!("{id:>42}|"), format!("{ip:>42}|"));
        }
    }
}
