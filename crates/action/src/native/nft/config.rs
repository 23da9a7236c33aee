//! What one jail's native nftables objects look like: [`NftConfig`] and its parts.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

use super::ports::{Ports, Services};

/// The table jailor uses unless told otherwise (`inet jailor`).
pub const DEFAULT_TABLE: &str = "jailor";

/// The chain priority unless told otherwise: just before the usual `filter` chains (0), as
/// fail2ban's own nftables action does.
pub const DEFAULT_PRIORITY: i32 = -1;

/// Longest jail or table name jailor accepts (nftables allows 255 bytes per name, and the
/// set and chain names add a short prefix).
const MAX_NAME: usize = 200;

/// One jail's native nftables configuration.
///
/// Build it with [`NftConfig::new`] and adjust the public fields, or from a jail's
/// `banaction = jailor-nftables[…]` arguments with [`NftConfig::from_properties`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftConfig {
    /// The jail's name: letters, digits, `_`, `.` and `-` only (it becomes part of nftables
    /// object names).
    pub jail: String,
    /// The table, in family `inet` (default [`DEFAULT_TABLE`]).
    pub table: String,
    /// The ports whose packets are blocked.
    pub ports: Ports,
    /// The protocol whose packets are blocked.
    pub protocol: Protocol,
    /// What happens to a blocked packet.
    pub blocktype: BlockType,
    /// The hook of the jail's chain (default `input`; `forward` for containers).
    pub hook: Hook,
    /// The priority of the jail's chain (default [`DEFAULT_PRIORITY`]).
    pub priority: i32,
    /// Ban the IPv4 network of this prefix length instead of the address (`banprefix4`).
    pub prefix4: Option<u8>,
    /// Ban the IPv6 network of this prefix length instead of the address (`banprefix6`).
    pub prefix6: Option<u8>,
}

impl NftConfig {
    /// A configuration for `jail` that drops every packet of a banned address (all ports, all
    /// protocols) at the input hook, with no prefix banning.
    pub fn new(jail: &str) -> Result<NftConfig, Error> {
        check_name("jail", jail)?;
        Ok(NftConfig {
            jail: jail.to_owned(),
            table: DEFAULT_TABLE.to_owned(),
            ports: Ports::All,
            protocol: Protocol::All,
            blocktype: BlockType::Drop,
            hook: Hook::Input,
            priority: DEFAULT_PRIORITY,
            prefix4: None,
            prefix6: None,
        })
    }

    /// A configuration from a jail's action properties, the way fail2ban's client sends them
    /// (`port`, `protocol`, `blocktype`, `chain_hook`, `chain_priority`, `banprefix4`,
    /// `banprefix6`, `table`); other properties are ignored. Port names are resolved in
    /// `services`.
    ///
    /// Defaults are fail2ban's jail defaults where it has them: `port` all ports, `protocol`
    /// `tcp`, `blocktype` `reject`.
    ///
    /// ```
    /// use jailor_action::native::nft::{NftConfig, Services};
    ///
    /// let services = Services::parse("ssh 22/tcp\n");
    /// let c = NftConfig::from_properties(
    ///     "sshd",
    ///     [("port", "ssh"), ("blocktype", "drop"), ("banprefix6", "64")],
    ///     &services,
    /// )
    /// .unwrap();
    /// assert_eq!(c.ports.to_string(), "22");
    /// assert_eq!(c.prefix6, Some(64));
    /// ```
    pub fn from_properties<'a>(
        jail: &str,
        properties: impl IntoIterator<Item = (&'a str, &'a str)>,
        services: &Services,
    ) -> Result<NftConfig, Error> {
        let mut config = NftConfig::new(jail)?;
        config.protocol = Protocol::Tcp;
        config.blocktype = BlockType::Reject;
        let mut port = None;
        for (name, value) in properties {
            let value = value.trim();
            let invalid = |reason: String| {
                Error::new(ErrorKind::InvalidProperty {
                    name: name.to_owned(),
                    reason,
                })
            };
            match name {
                "port" => port = Some(value.to_owned()),
                "protocol" => config.protocol = value.parse()?,
                "blocktype" => config.blocktype = value.parse()?,
                "chain_hook" => config.hook = value.parse()?,
                "chain_priority" => config.priority = parse_priority(value)?,
                "table" => {
                    check_name("table", value)?;
                    config.table = value.to_owned();
                }
                "banprefix4" | "banprefix6" => {
                    let max = if name == "banprefix4" { 32 } else { 128 };
                    let prefix = match value.parse::<u8>() {
                        Ok(p) if p <= max && p > 0 => p,
                        _ => return Err(invalid(format!("{value:?} is not a prefix 1..={max}"))),
                    };
                    // A full-length prefix is the address itself: no network, no interval set.
                    let prefix = (prefix < max).then_some(prefix);
                    if name == "banprefix4" {
                        config.prefix4 = prefix;
                    } else {
                        config.prefix6 = prefix;
                    }
                }
                _ => {}
            }
        }
        // Port names depend on the protocol, which may come after the port.
        if let Some(port) = port {
            config.ports = Ports::parse(&port, config.protocol, services)?;
        }
        Ok(config)
    }

    /// [`from_properties`](NftConfig::from_properties) with the properties of an
    /// [`ActionSpec`](crate::ActionSpec) (the jail's action, as the client sends it).
    pub fn from_spec(
        jail: &str,
        spec: &crate::ActionSpec,
        services: &Services,
    ) -> Result<NftConfig, Error> {
        NftConfig::from_properties(
            jail,
            spec.properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            services,
        )
    }

    /// The name of the jail's IPv4 set.
    pub fn set4(&self) -> String {
        format!("addr4-{}", self.jail)
    }

    /// The name of the jail's IPv6 set.
    pub fn set6(&self) -> String {
        format!("addr6-{}", self.jail)
    }

    /// The name of the jail's chain.
    pub fn chain(&self) -> String {
        format!("jail-{}", self.jail)
    }
}

/// Names become nftables identifiers: keep them to characters that need no quoting and can
/// never be read as a keyword once prefixed.
fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::InvalidProperty {
            name: what.to_owned(),
            reason: format!(
                "{:?} is not a name of letters, digits, '_', '.' and '-'",
                name.chars().take(80).collect::<String>()
            ),
        }))
    }
}

/// `-1`, `10`, or a standard nftables priority name with an offset (`filter - 1`, `raw+5`).
fn parse_priority(value: &str) -> Result<i32, Error> {
    let invalid = || {
        Error::new(ErrorKind::InvalidProperty {
            name: "chain_priority".into(),
            reason: format!("{value:?} is not a number or a priority name (filter - 1)"),
        })
    };
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(n) = compact.parse::<i32>() {
        return Ok(n);
    }
    let split = compact.find(['+', '-']).unwrap_or(compact.len());
    let (name, offset) = compact.split_at(split);
    let base: i32 = match name {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "filter" => 0,
        "security" => 50,
        "srcnat" => 100,
        _ => return Err(invalid()),
    };
    let offset = match offset {
        "" => 0,
        o => o.parse::<i32>().map_err(|_| invalid())?,
    };
    base.checked_add(offset).ok_or_else(invalid)
}

/// The protocol whose packets a jail blocks (`protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// SCTP only.
    Sctp,
    /// Every protocol: with ports, TCP, UDP and SCTP on those ports; without, every packet.
    All,
}

impl Protocol {
    /// The nftables keyword (`tcp`, `udp`, `sctp`); `None` for [`Protocol::All`].
    pub fn keyword(self) -> Option<&'static str> {
        match self {
            Protocol::Tcp => Some("tcp"),
            Protocol::Udp => Some("udp"),
            Protocol::Sctp => Some("sctp"),
            Protocol::All => None,
        }
    }

    pub(crate) fn accepts_service_proto(self, proto: &str) -> bool {
        self.keyword().is_none_or(|k| k == proto)
    }
}

impl FromStr for Protocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Protocol, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Ok(Protocol::Sctp),
            "all" | "any" | "" => Ok(Protocol::All),
            _ => Err(invalid_value("protocol", s, "tcp, udp, sctp or all")),
        }
    }
}

/// What happens to a packet from a banned address (`blocktype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockType {
    /// Dropped silently: the sender waits for its timeout.
    Drop,
    /// Rejected with an ICMP(v6) "port unreachable" (nftables' `reject`).
    Reject,
    /// Rejected with a TCP reset for TCP, ICMP(v6) otherwise.
    RejectTcpReset,
}

impl BlockType {
    /// The verdict in nftables' syntax.
    pub fn verdict(self) -> &'static str {
        match self {
            BlockType::Drop => "drop",
            BlockType::Reject => "reject",
            BlockType::RejectTcpReset => "reject with tcp reset",
        }
    }
}

impl FromStr for BlockType {
    type Err = Error;

    /// `drop`, `reject`, or `reject with tcp reset`; fail2ban's iptables spellings
    /// `DROP`, `REJECT` and `REJECT --reject-with tcp-reset` too.
    fn from_str(s: &str) -> Result<BlockType, Error> {
        let words: Vec<String> = s.split_whitespace().map(str::to_ascii_lowercase).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["drop"] => Ok(BlockType::Drop),
            ["reject"] => Ok(BlockType::Reject),
            ["reject", "with", "tcp", "reset"] | ["reject", "--reject-with", "tcp-reset"] => {
                Ok(BlockType::RejectTcpReset)
            }
            _ => Err(invalid_value("blocktype", s, "drop or reject")),
        }
    }
}

/// The netfilter hook of a jail's chain (`chain_hook`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Packets before routing.
    Prerouting,
    /// Packets for this host (the default).
    Input,
    /// Packets routed through this host (containers, VMs behind it).
    Forward,
    /// Packets from this host.
    Output,
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
        })
    }
}

impl FromStr for Hook {
    type Err = Error;

    fn from_str(s: &str) -> Result<Hook, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "prerouting" => Ok(Hook::Prerouting),
            "input" => Ok(Hook::Input),
            "forward" => Ok(Hook::Forward),
            "output" => Ok(Hook::Output),
            _ => Err(invalid_value(
                "chain_hook",
                s,
                "prerouting, input, forward or output",
            )),
        }
    }
}

fn invalid_value(name: &str, value: &str, expected: &str) -> Error {
    Error::new(ErrorKind::InvalidProperty {
        name: name.to_owned(),
        reason: format!(
            "{:?} is not one of {expected}",
            value.chars().take(80).collect::<String>()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jail_names_are_restricted() {
        for ok in ["sshd", "nginx-http-auth", "a.b_c", "3proxy"] {
            assert!(NftConfig::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ssh d",
            "a;b",
            "x}",
            "-x",
            "\"q\"",
            "a\nb",
            &"x".repeat(201),
        ] {
            assert!(NftConfig::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn properties() {
        let s = Services::parse("ssh 22/tcp\ndomain 53/udp\n");
        let c = NftConfig::from_properties(
            "dns",
            [
                ("port", "domain"),
                ("protocol", "udp"),
                ("blocktype", "REJECT --reject-with tcp-reset"),
                ("chain_hook", "forward"),
                ("chain_priority", "filter - 5"),
                ("banprefix4", "24"),
                ("banprefix6", "128"),
                ("table", "other"),
                ("name", "ignored"),
            ],
            &s,
        )
        .unwrap();
        assert_eq!(c.ports, Ports::Ranges(vec![(53, 53)]));
        assert_eq!(c.protocol, Protocol::Udp);
        assert_eq!(c.blocktype, BlockType::RejectTcpReset);
        assert_eq!(c.hook, Hook::Forward);
        assert_eq!(c.priority, -5);
        assert_eq!(c.prefix4, Some(24));
        assert_eq!(c.prefix6, None);
        assert_eq!(c.table, "other");
        assert_eq!(
            (c.set4(), c.set6(), c.chain()),
            ("addr4-dns".into(), "addr6-dns".into(), "jail-dns".into())
        );
        let spec =
            crate::ActionSpec::new("jailor-nftables", [("port", "ssh"), ("protocol", "tcp")]);
        let e = NftConfig::from_spec("sshd", &spec, &s).unwrap();
        assert_eq!(e.ports.to_string(), "22");
        let d = NftConfig::from_properties("sshd", [], &s).unwrap();
        assert_eq!(
            (d.protocol, d.blocktype, d.ports),
            (Protocol::Tcp, BlockType::Reject, Ports::All)
        );
    }

    #[test]
    fn bad_properties() {
        let s = Services::default();
        for (k, v) in [
            ("protocol", "icmp; drop"),
            ("blocktype", "accept"),
            ("chain_hook", "ingress"),
            ("chain_priority", "filter * 2"),
            ("chain_priority", "nat"),
            ("banprefix4", "33"),
            ("banprefix6", "0"),
            ("banprefix6", "x"),
            ("table", "a b"),
            ("port", "ssh"),
        ] {
            assert!(
                NftConfig::from_properties("j", [(k, v)], &s).is_err(),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn priorities() {
        assert_eq!(parse_priority("-1").unwrap(), -1);
        assert_eq!(parse_priority("raw+5").unwrap(), -295);
        assert_eq!(parse_priority("security").unwrap(), 50);
    }
}
