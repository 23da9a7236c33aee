//! The ban event shared over the fleet: what it holds, how it is validated, and the
//! names it gets on each engine.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::FleetError;

/// Format version written in every event.
pub const VERSION: u32 = 1;

/// Longest origin or jail name accepted.
const MAX_NAME: usize = 64;

/// Whether an event bans or lifts a ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The address is banned until `exp_ms` (or for ever when `exp_ms` is `None`).
    Ban,
    /// The ban is lifted (a tombstone on the same key).
    Unban,
}

/// One ban or unban, as published by its origin host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetEvent {
    /// Format version ([`VERSION`]).
    pub v: u32,
    /// Unique id (`<origin>:<ms>:<n>`), used for broker-side de-duplication.
    pub id: String,
    /// The publishing host's name.
    pub origin: String,
    /// The jail that banned.
    pub jail: String,
    /// The banned address or network, canonical (host bits cleared).
    pub addr: IpNet,
    /// Ban or unban.
    pub act: Action,
    /// When the origin decided, in ms since the epoch.
    pub ts_ms: i64,
    /// When the ban ends, in ms since the epoch; `None` for a permanent ban.
    pub exp_ms: Option<i64>,
    /// Ed25519 signature (base64) by the origin's key over every other field, when the
    /// origin signs (`[Fleet] signing_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// Counter that keeps ids unique within one process and millisecond.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether a host or jail name may travel: `[A-Za-z0-9_-]`, 1 to 64 characters (it
/// becomes one token of a NATS subject and part of a Redis key).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses an address or network (`192.0.2.7`, `2001:db8::/64`) into its canonical form.
pub fn parse_addr(text: &str) -> Result<IpNet, FleetError> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| FleetError::Event(format!("not an address or network: {text:?}")))
}

impl FleetEvent {
    /// A new event from this host, stamped now, with a fresh id.
    pub fn new(
        origin: &str,
        jail: &str,
        addr: IpNet,
        act: Action,
        exp_ms: Option<i64>,
    ) -> Result<Self, FleetError> {
        let ts_ms = now_ms();
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let event = FleetEvent {
            v: VERSION,
            id: format!("{origin}:{ts_ms}:{}:{n}", std::process::id()),
            origin: origin.to_owned(),
            jail: jail.to_owned(),
            addr: addr.trunc(),
            act,
            ts_ms,
            exp_ms: if act == Action::Unban {
                Some(ts_ms)
            } else {
                exp_ms
            },
            sig: None,
        };
        event.validate()?;
        Ok(event)
    }

    /// Checks what a receiver must not trust: names, canonical address, id.
    pub fn validate(&self) -> Result<(), FleetError> {
        if self.v != VERSION {
            return Err(FleetError::Event(format!("unknown version {}", self.v)));
        }
        if !valid_name(&self.origin) {
            return Err(FleetError::Event(format!("bad origin {:?}", self.origin)));
        }
        if !valid_name(&self.jail) {
            return Err(FleetError::Event(format!("bad jail {:?}", self.jail)));
        }
        if self.addr != self.addr.trunc() {
            return Err(FleetError::Event(format!(
                "address not canonical: {}",
                self.addr
            )));
        }
        if self.id.is_empty() || self.id.len() > 200 || self.id.chars().any(char::is_control) {
            return Err(FleetError::Event("bad id".into()));
        }
        if self.sig.as_ref().is_some_and(|s| s.len() > 200) {
            return Err(FleetError::Event("bad signature".into()));
        }
        Ok(())
    }

    /// Decodes and validates an event received from the broker.
    pub fn decode(bytes: &[u8]) -> Result<Self, FleetError> {
        let event: FleetEvent =
            serde_json::from_slice(bytes).map_err(|e| FleetError::Event(e.to_string()))?;
        event.validate()?;
        Ok(event)
    }

    /// Signs the event with the origin's private key (see the `sign` module).
    pub fn sign(&mut self, key: &ed25519_dalek::SigningKey) {
        crate::sign::sign(self, key);
    }

    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Whether the ban is in force at `now_ms`.
    pub fn in_force(&self, now_ms: i64) -> bool {
        self.act == Action::Ban && self.exp_ms.is_none_or(|exp| exp > now_ms)
    }

    /// The address as one subject token: `.` and `:` become `_`, `/` becomes `-`.
    pub fn addr_token(&self) -> String {
        self.addr
            .to_string()
            .chars()
            .map(|c| match c {
                '.' | ':' => '_',
                '/' => '-',
                c => c,
            })
            .collect()
    }

    /// The key that identifies what this event is about: (origin, jail, address).
    pub fn key(&self) -> String {
        format!("{}:{}|{}", self.origin, self.jail, self.addr)
    }

    /// The NATS subject: `jailor.ban.<origin>.<jail>.<address token>`.
    pub fn subject(&self) -> String {
        format!(
            "jailor.ban.{}.{}.{}",
            self.origin,
            self.jail,
            self.addr_token()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_canonical_and_tokens_are_subject_safe() {
        let net = parse_addr("192.0.2.77/24").expect("network");
        assert_eq!(net.to_string(), "192.0.2.0/24");
        let host = parse_addr("2001:db8::1").expect("address");
        assert_eq!(host.to_string(), "2001:db8::1/128");
        assert!(parse_addr("192.0.2.1; rm -rf /").is_err());
        let ev =
            FleetEvent::new("a", "sshd", host, Action::Ban, Some(now_ms() + 1000)).expect("event");
        assert_eq!(ev.subject(), "jailor.ban.a.sshd.2001_db8__1-128");
    }

    #[test]
    fn names_that_would_break_a_subject_are_refused() {
        let addr = parse_addr("192.0.2.1").expect("address");
        for bad in ["", "a.b", "a b", "a*", ">", "é"] {
            assert!(
                FleetEvent::new(bad, "sshd", addr, Action::Ban, None).is_err(),
                "{bad}"
            );
            assert!(
                FleetEvent::new("a", bad, addr, Action::Ban, None).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn decode_rejects_a_non_canonical_network_and_roundtrips_a_good_one() {
        let ev = FleetEvent::new(
            "a",
            "sshd",
            parse_addr("198.18.0.0/15").expect("net"),
            Action::Unban,
            None,
        )
        .expect("event");
        assert_eq!(FleetEvent::decode(&ev.encode()).expect("decode"), ev);
        assert_eq!(ev.exp_ms, Some(ev.ts_ms), "an unban is a tombstone");
        let bad = String::from_utf8(ev.encode())
            .expect("utf8")
            .replace("198.18.0.0/15", "198.18.0.1/15");
        assert!(FleetEvent::decode(bad.as_bytes()).is_err());
    }
}
