//! The validated address a ban is about.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};
use crate::family::Family;

/// An IP address or a CIDR network: the only kind of `<ip>` jailor will put into a command.
///
/// Parsing is strict: `1.2.3.4`, `2001:db8::1`, `10.0.0.0/8`, `2001:db8::/32`. An IPv4-mapped
/// IPv6 address (`::ffff:1.2.3.4`) becomes the IPv4 address, as fail2ban does. Host bits of a
/// network are cleared (`10.1.2.3/8` is `10.0.0.0/8`). Because an `Address` only ever renders
/// as digits, dots, colons, hex letters and `/`, it is safe to inline into a shell script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    ip: IpAddr,
    prefix: Option<u8>,
}

impl Address {
    /// A single host address.
    pub fn host(ip: IpAddr) -> Address {
        Address {
            ip: canonical(ip),
            prefix: None,
        }
    }

    /// A network: `prefix` must be at most 32 (IPv4) or 128 (IPv6). A full-length prefix gives
    /// the host address itself.
    pub fn network(ip: IpAddr, prefix: u8) -> Result<Address, Error> {
        let ip = canonical(ip);
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(Error::new(ErrorKind::InvalidAddress(format!(
                "{ip}/{prefix}"
            ))));
        }
        if prefix == max {
            return Ok(Address::host(ip));
        }
        let ip = match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        };
        Ok(Address {
            ip,
            prefix: Some(prefix),
        })
    }

    /// The address (the network address for a network).
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The prefix length of a network, `None` for a host.
    pub fn prefix(&self) -> Option<u8> {
        self.prefix
    }

    /// `inet4` or `inet6`.
    pub fn family(&self) -> Family {
        if self.ip.is_ipv4() {
            Family::Inet4
        } else {
            Family::Inet6
        }
    }

    /// fail2ban's `<ip-rev>`: the address in reverse-DNS order with a trailing dot, for
    /// example `4.3.2.1.` for `1.2.3.4`, or 32 reversed nibbles for IPv6. For a network it is
    /// the network address's.
    pub fn reversed(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.{}.", o[3], o[2], o[1], o[0])
            }
            IpAddr::V6(v6) => {
                let mut out = String::with_capacity(64);
                let bits = u128::from(v6);
                for i in 0..32 {
                    let nibble = ((bits >> (4 * i)) & 0xf) as u32;
                    out.push(char::from_digit(nibble, 16).unwrap_or('0'));
                    out.push('.');
                }
                out
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses stand for their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Address, Error> {
        let bad = || Error::new(ErrorKind::InvalidAddress(s.chars().take(80).collect()));
        match s.split_once('/') {
            None => s.parse::<IpAddr>().map(Address::host).map_err(|_| bad()),
            Some((ip, prefix)) => {
                let ip = ip.parse::<IpAddr>().map_err(|_| bad())?;
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let prefix = prefix.parse::<u8>().map_err(|_| bad())?;
                Address::network(ip, prefix).map_err(|_| bad())
            }
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            None => write!(f, "{}", self.ip),
            Some(p) => write!(f, "{}/{p}", self.ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_and_networks() {
        let a: Address = "1.2.3.4".parse().unwrap();
        assert_eq!(a.to_string(), "1.2.3.4");
        assert_eq!(a.family(), Family::Inet4);
        let n: Address = "10.1.2.3/8".parse().unwrap();
        assert_eq!(n.to_string(), "10.0.0.0/8");
        let m: Address = "::ffff:1.2.3.4".parse().unwrap();
        assert_eq!(m.to_string(), "1.2.3.4");
        let h: Address = "2001:db8::1/128".parse().unwrap();
        assert_eq!(h.to_string(), "2001:db8::1");
        assert_eq!(h.family(), Family::Inet6);
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "1.2.3.4; rm -rf /",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4/+8",
            "$(id)",
            "host.example.com",
            "1.2.3.4 ",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn reverses_for_dns() {
        let a: Address = "1.2.3.4".parse().unwrap();
        assert_eq!(a.reversed(), "4.3.2.1.");
        let b: Address = "2001:db8::1".parse().unwrap();
        let r = b.reversed();
        assert!(r.starts_with("1.0.0.0."), "{r}");
        assert!(r.ends_with("8.b.d.0.1.0.0.2."), "{r}");
        assert_eq!(r.len(), 64);
    }
}
