//! The jail's `port` value: numbers, service names and ranges, as nftables writes them.

use std::fmt;
use std::path::Path;

use crate::error::{Error, ErrorKind};

use super::config::Protocol;

/// The ports a jail's chain matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ports {
    /// Every port, and packets without ports (fail2ban's `allports`).
    All,
    /// These inclusive ranges (a single port is a range of one), sorted, merged, never empty.
    Ranges(Vec<(u16, u16)>),
}

impl Ports {
    /// Parses fail2ban's `port` syntax: a comma- or space-separated list of port numbers,
    /// service names (resolved in `services` for `protocol`) and ranges `a:b` (or `a-b`).
    /// `all`, `any` or an empty value mean every port; so does the full range `0:65535`.
    ///
    /// ```
    /// use jailor_action::native::nft::{Ports, Protocol, Services};
    ///
    /// let services = Services::parse("ssh 22/tcp\nhttp 80/tcp www\n");
    /// let ports = Ports::parse("ssh, www,8000:8080", Protocol::Tcp, &services).unwrap();
    /// assert_eq!(ports.to_string(), "22, 80, 8000-8080");
    /// ```
    pub fn parse(value: &str, protocol: Protocol, services: &Services) -> Result<Ports, Error> {
        let words: Vec<&str> = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() || words.iter().any(|w| matches!(*w, "all" | "any")) {
            return Ok(Ports::All);
        }
        let mut ranges = Vec::with_capacity(words.len());
        for word in words {
            let bad = |reason: &str| {
                Error::new(ErrorKind::InvalidProperty {
                    name: "port".into(),
                    reason: format!("{word:?}: {reason}"),
                })
            };
            let (lo, hi) = match split_range(word) {
                Some((a, b)) => (
                    resolve(a, protocol, services).ok_or_else(|| bad("unknown port"))?,
                    resolve(b, protocol, services).ok_or_else(|| bad("unknown port"))?,
                ),
                None => {
                    let p = resolve(word, protocol, services).ok_or_else(|| bad("unknown port"))?;
                    (p, p)
                }
            };
            if lo > hi {
                return Err(bad("range ends before it starts"));
            }
            ranges.push((lo, hi));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        if merged == [(0, u16::MAX)] {
            return Ok(Ports::All);
        }
        Ok(Ports::Ranges(merged))
    }
}

/// `a:b` or `a-b`; a service name may itself contain `-`, so `-` only splits two numbers.
fn split_range(word: &str) -> Option<(&str, &str)> {
    if let Some(pair) = word.split_once(':') {
        return Some(pair);
    }
    let (a, b) = word.split_once('-')?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    (numeric(a) && numeric(b)).then_some((a, b))
}

fn resolve(word: &str, protocol: Protocol, services: &Services) -> Option<u16> {
    if !word.is_empty() && word.bytes().all(|c| c.is_ascii_digit()) {
        return word.parse().ok();
    }
    services.lookup(word, protocol)
}

impl fmt::Display for Ports {
    /// nftables' set syntax without braces: `22, 80, 8000-8080`; `all` for every port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::All => f.write_str("all"),
            Ports::Ranges(ranges) => {
                for (i, (lo, hi)) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if lo == hi {
                        write!(f, "{lo}")?;
                    } else {
                        write!(f, "{lo}-{hi}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// The service names of `/etc/services` (`name port/proto aliases…`).
#[derive(Clone, Debug, Default)]
pub struct Services {
    entries: Vec<(String, u16, String)>,
}

impl Services {
    /// The system's `/etc/services`; empty (numbers only) when it cannot be read.
    pub fn system() -> Services {
        Services::load(Path::new("/etc/services")).unwrap_or_default()
    }

    /// Reads a services file.
    pub fn load(path: &Path) -> std::io::Result<Services> {
        Ok(Services::parse(&std::fs::read_to_string(path)?))
    }

    /// Parses the text of a services file; malformed lines are ignored.
    pub fn parse(text: &str) -> Services {
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            for alias in std::iter::once(name).chain(words) {
                entries.push((alias.to_owned(), port, proto.to_ascii_lowercase()));
            }
        }
        Services { entries }
    }

    /// The port of service `name` for `protocol` (any protocol's entry for
    /// [`Protocol::All`]).
    pub fn lookup(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.entries
            .iter()
            .find(|(n, _, proto)| n == name && protocol.accepts_service_proto(proto))
            .map(|(_, port, _)| *port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Services {
        Services::parse(
            "# comment\nssh\t\t22/tcp\nsmtp 25/tcp mail\nsyslog 514/udp\nhttp-alt 8080/tcp webcache\n",
        )
    }

    fn parse(v: &str, p: Protocol) -> Result<Ports, Error> {
        Ports::parse(v, p, &services())
    }

    #[test]
    fn resolves_names_numbers_and_ranges() {
        let p = parse("ssh,mail 1000:1002, 999", Protocol::Tcp).unwrap();
        assert_eq!(p, Ports::Ranges(vec![(22, 22), (25, 25), (999, 1002)]));
        assert_eq!(p.to_string(), "22, 25, 999-1002");
        assert_eq!(
            parse("http-alt", Protocol::Tcp).unwrap().to_string(),
            "8080"
        );
        assert_eq!(parse("10-20", Protocol::Tcp).unwrap().to_string(), "10-20");
        assert_eq!(
            parse("ssh:smtp", Protocol::Tcp).unwrap().to_string(),
            "22-25"
        );
    }

    #[test]
    fn protocol_selects_the_service_entry() {
        assert!(parse("syslog", Protocol::Tcp).is_err());
        assert_eq!(parse("syslog", Protocol::Udp).unwrap().to_string(), "514");
        assert_eq!(parse("syslog", Protocol::All).unwrap().to_string(), "514");
    }

    #[test]
    fn all_ports() {
        for v in ["", "all", "0:65535", " , "] {
            assert_eq!(parse(v, Protocol::Tcp).unwrap(), Ports::All, "{v:?}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for v in ["nosuch", "70000", "22:10", "22;drop", "{22}", "22:", "-1"] {
            assert!(parse(v, Protocol::Tcp).is_err(), "{v:?} accepted");
        }
    }
}
