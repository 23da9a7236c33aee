//! What a ban is about: the ticket, the jail, and where the extra tags come from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::address::Address;

/// One ban (or unban) as the actions see it: fail2ban's `BanTicket`.
///
/// Only [`address`](Ticket::address) is trusted enough to be written into a command. Every
/// text here that came from a log (`fid`, `matches`, `data`) reaches a command only as a
/// shell variable.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Ticket {
    /// The banned address or network: `<ip>`, `<family>`, `<ip-rev>`, `<ip-host>`.
    pub address: Address,
    /// The failure id when it is not the address itself (a filter's `<F-ID>`): `<fid>`.
    pub fid: Option<String>,
    /// The time of the last failure, in Unix seconds: `<time>`.
    pub time: f64,
    /// The ban's length in seconds (-1: permanent): `<bantime>`.
    pub bantime: i64,
    /// How many times this address was banned before, this ban included: `<bancount>`.
    pub bancount: u32,
    /// The number of failures that led to the ban: `<failures>`.
    pub failures: u32,
    /// The matched log lines: `<matches>`, joined with newlines.
    pub matches: Vec<String>,
    /// The ban was restored from the database at start: `<restored>`.
    pub restored: bool,
    /// The filter's named groups (`<F-USER>` → key `user`; `F-ID` is `fid`, `F-PORT` is
    /// `fport`), with lower-case keys: `<F-*>` tags.
    pub data: BTreeMap<String, String>,
}

impl Ticket {
    /// A ticket for `address` with its last failure at `time`, one failure, no matches, a ban
    /// count of 1 and a ban time of 600 s (fail2ban's default); set the other fields as needed.
    pub fn new(address: Address, time: f64) -> Ticket {
        Ticket {
            address,
            fid: None,
            time,
            bantime: 600,
            bancount: 1,
            failures: 1,
            matches: Vec::new(),
            restored: false,
            data: BTreeMap::new(),
        }
    }
}

impl fmt::Display for Ticket {
    /// fail2ban's `<raw-ticket>` text: `BanTicket: ip=… time=… bantime=… bancount=…
    /// #attempts=… matches=[…]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BanTicket: ip={} time={} bantime={} bancount={} #attempts={} matches={:?}",
            self.fid
                .as_deref()
                .map_or_else(|| self.address.to_string(), str::to_owned),
            python_float(self.time),
            self.bantime,
            self.bancount,
            self.failures,
            self.matches
        )
    }
}

/// A float as Python's `str()` writes it: `1700000000.0`, `1700000000.25`.
pub(crate) fn python_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// The jail's counters at the time of the command: `<jail.*>` tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JailInfo {
    /// The jail's name: `<jail.name>`.
    pub name: String,
    /// Addresses banned now: `<jail.banned>`.
    pub banned: u64,
    /// Bans since start: `<jail.banned_total>`.
    pub banned_total: u64,
    /// Addresses with failures now: `<jail.found>`.
    pub found: u64,
    /// Failures since start: `<jail.found_total>`.
    pub found_total: u64,
}

impl JailInfo {
    /// Counters of zero for the jail `name`.
    pub fn new(name: &str) -> JailInfo {
        JailInfo {
            name: name.to_owned(),
            ..JailInfo::default()
        }
    }
}

/// The ban history behind `<ipmatches>`, `<ipjailmatches>`, `<ipfailures>` and
/// `<ipjailfailures>` (the daemon answers from its store). Asked only when a command uses
/// one of these tags.
pub trait BanHistory: Send + Sync {
    /// Every matched line stored for `address`, in `jail` only or (`None`) in all jails.
    fn matches(&self, address: &Address, jail: Option<&str>) -> Vec<String>;
    /// The failure count stored for `address`, in `jail` only or (`None`) in all jails.
    fn failures(&self, address: &Address, jail: Option<&str>) -> u64;
}

/// Reverse DNS for `<ip-host>`. jailor resolves nothing unless one is given
/// ([`RunnerOptions::resolver`](crate::RunnerOptions::resolver)); without one `<ip-host>` is
/// empty. A PTR record is controlled by whoever owns the address, so the name is treated as
/// untrusted text.
pub trait Resolver: Send + Sync {
    /// The host name for `ip`, or `None`.
    fn reverse(&self, ip: IpAddr) -> Option<String>;
}

/// What a per-ticket command may look at besides the ticket.
#[derive(Clone, Copy)]
pub struct BanContext<'a> {
    /// The jail's counters.
    pub jail: &'a JailInfo,
    /// The ban history, if the daemon keeps one.
    pub history: Option<&'a dyn BanHistory>,
}

impl<'a> BanContext<'a> {
    /// A context with the jail's counters and no history.
    pub fn new(jail: &'a JailInfo) -> BanContext<'a> {
        BanContext {
            jail,
            history: None,
        }
    }

    /// The same context with a ban history.
    pub fn with_history(self, history: &'a dyn BanHistory) -> BanContext<'a> {
        BanContext {
            history: Some(history),
            ..self
        }
    }
}

impl fmt::Debug for BanContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BanContext")
            .field("jail", &self.jail)
            .field("history", &self.history.is_some())
            .finish()
    }
}
