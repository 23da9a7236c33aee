//! What the store keeps about a ban.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The `bantime` of a permanent ban (fail2ban's `bantime = -1`).
///
/// Only exactly `-1` is permanent; any other negative bantime makes a ban that is already over,
/// as in fail2ban.
pub const PERMANENT: i64 = -1;

/// Whom a ban is for: an address, or a raw id from a filter without `<HOST>` (fail2ban's
/// `<F-ID>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BanId {
    /// An IPv4 or IPv6 address. Callers normalise v4-mapped IPv6 addresses before storing.
    Ip(IpAddr),
    /// Any other id, stored as given.
    Raw(String),
}

impl BanId {
    /// Reads a stored id back: text that parses as an address is an address.
    pub fn parse(text: &str) -> BanId {
        match text.parse::<IpAddr>() {
            Ok(ip) => BanId::Ip(ip),
            Err(_) => BanId::Raw(text.to_owned()),
        }
    }
}

impl fmt::Display for BanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BanId::Ip(ip) => ip.fmt(f),
            BanId::Raw(raw) => f.write_str(raw),
        }
    }
}

impl From<IpAddr> for BanId {
    fn from(ip: IpAddr) -> BanId {
        BanId::Ip(ip)
    }
}

/// One ban of one id in one jail.
///
/// Times are Unix seconds. As in fail2ban, a ban lasts from `time_of_ban` (the time of the
/// last failure, not the moment the firewall was changed) for `bantime` seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// The jail's name.
    pub jail: String,
    /// The banned address or raw id.
    pub id: BanId,
    /// When the ban starts (Unix seconds).
    pub time_of_ban: i64,
    /// How long it lasts in seconds; [`PERMANENT`] for ever.
    pub bantime: i64,
    /// How many times this id has been banned in this jail, this ban included. The caller
    /// computes it (from [`Store::ban_stats`](crate::Store::ban_stats) + 1 under
    /// `bantime.increment`); the store keeps what it is given.
    pub ban_count: u32,
    /// How many failures led to this ban.
    pub failures: u32,
    /// The matched lines and the filter's captured fields.
    pub data: BanData,
}

impl Ban {
    /// When the ban ends (Unix seconds), or `None` for a permanent ban.
    pub fn end(&self) -> Option<i64> {
        (self.bantime != PERMANENT).then(|| self.time_of_ban.saturating_add(self.bantime))
    }

    /// Whether the ban is still in force at `now`: permanent, or ending after `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.end().is_none_or(|end| end > now)
    }
}

/// The text a ban carries: the log lines that matched and the filter's named captures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BanData {
    /// Matched log lines, oldest first. The store keeps at most the last `dbmaxmatches`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    /// Named captures of the filter (`user`, other `<F-*>` groups), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// How often an id was banned, in one jail or summed over all jails (for
/// `bantime.increment`, with or without `overalljails`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanStats {
    /// The stored ban counts, summed over the jails asked about.
    pub ban_count: u64,
    /// The latest `time_of_ban` among them.
    pub last_ban: i64,
    /// Their bantimes summed (a permanent ban counts as -1, as in fail2ban).
    pub total_bantime: i64,
}

/// The matches and failures of an id over its recorded bans (fail2ban's `<ipmatches>`,
/// `<ipjailmatches>`, `<ipfailures>`, `<ipjailfailures>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergedBans {
    /// Matched lines of the recorded bans, newest ban first, at most `dbmaxmatches`.
    pub matches: Vec<String>,
    /// Failures of the recorded bans, summed.
    pub failures: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(time_of_ban: i64, bantime: i64) -> Ban {
        Ban {
            jail: "j".into(),
            id: BanId::parse("192.0.2.1"),
            time_of_ban,
            bantime,
            ban_count: 1,
            failures: 1,
            data: BanData::default(),
        }
    }

    #[test]
    fn a_ban_ends_at_its_start_plus_bantime() {
        let b = ban(1000, 600);
        assert_eq!(b.end(), Some(1600));
        assert!(b.is_active(1599));
        assert!(!b.is_active(1600));
    }

    #[test]
    fn only_minus_one_is_permanent() {
        assert_eq!(ban(1000, PERMANENT).end(), None);
        assert!(ban(1000, PERMANENT).is_active(i64::MAX));
        assert!(!ban(1000, -2).is_active(1000));
        assert_eq!(ban(i64::MAX, 10).end(), Some(i64::MAX));
    }

    #[test]
    fn stored_ids_parse_back_by_shape() {
        assert_eq!(
            BanId::parse("2001:db8::1"),
            BanId::Ip("2001:db8::1".parse().unwrap())
        );
        assert_eq!(BanId::parse("198.51.100.4").to_string(), "198.51.100.4");
        assert_eq!(BanId::parse("user@host"), BanId::Raw("user@host".into()));
        assert_eq!(BanId::parse("1.2.3.4.5"), BanId::Raw("1.2.3.4.5".into()));
    }
}
