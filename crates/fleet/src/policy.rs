//! The receiver policy: what a host refuses to apply from the fleet, whatever the broker
//! let through.

use crate::config::FleetConfig;
use crate::event::{Action, FleetEvent};

/// Why an event is not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it.
    Accept,
    /// This host's own event: nothing to do.
    Own,
    /// Refused: the origin is not among the accepted origins.
    UnknownOrigin,
    /// Refused: the address is in the allowlist.
    Allowlisted,
    /// Refused: the network is wider than the minimum prefix allows.
    TooBroad,
    /// Refused: this host holds a public key for the origin, and the event is unsigned
    /// or its signature does not verify.
    BadSignature,
}

/// The receiver policy, built from the configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: FleetConfig,
}

impl Policy {
    /// The policy of `cfg`.
    pub fn new(cfg: &FleetConfig) -> Self {
        Policy { cfg: cfg.clone() }
    }

    /// Decides about one event. Unbans are checked for origin and signature only:
    /// lifting a ban is never more dangerous than keeping it.
    pub fn check(&self, ev: &FleetEvent) -> Verdict {
        let cfg = &self.cfg;
        if ev.origin == cfg.origin {
            return Verdict::Own;
        }
        if !cfg.origins.is_empty() && !cfg.origins.contains(&ev.origin) {
            return Verdict::UnknownOrigin;
        }
        if let Some(key) = cfg.keys.get(&ev.origin) {
            if !crate::sign::verify(ev, key) {
                return Verdict::BadSignature;
            }
        }
        if ev.act == Action::Unban {
            return Verdict::Accept;
        }
        if cfg
            .allowlist
            .iter()
            .any(|a| a.contains(&ev.addr) || ev.addr.contains(a))
        {
            return Verdict::Allowlisted;
        }
        let min = if ev.addr.addr().is_ipv4() {
            cfg.min_prefix_v4
        } else {
            cfg.min_prefix_v6
        };
        if ev.addr.prefix_len() < min && !cfg.admins.contains(&ev.origin) {
            return Verdict::TooBroad;
        }
        Verdict::Accept
    }

    /// The end of a received ban after the cap on fleet bantimes.
    pub fn capped_exp(&self, exp_ms: Option<i64>, now_ms: i64) -> Option<i64> {
        match (exp_ms, self.cfg.max_bantime_ms) {
            (None, Some(cap)) => Some(now_ms.saturating_add(cap)),
            (Some(e), Some(cap)) => Some(e.min(now_ms.saturating_add(cap))),
            (e, None) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Engine;
    use crate::event::parse_addr;

    fn ev(origin: &str, addr: &str) -> FleetEvent {
        FleetEvent::new(
            origin,
            "sshd",
            parse_addr(addr).expect("addr"),
            Action::Ban,
            None,
        )
        .expect("event")
    }

    #[test]
    fn allowlist_prefix_and_origin_are_enforced() {
        let mut cfg = FleetConfig::new(Engine::Nats, vec![], "b");
        cfg.origins = vec!["a".into(), "admin".into()];
        cfg.admins = vec!["admin".into()];
        cfg.allowlist = vec![parse_addr("192.0.2.0/28").expect("net")];
        let p = Policy::new(&cfg);
        assert_eq!(p.check(&ev("a", "198.18.0.1")), Verdict::Accept);
        assert_eq!(p.check(&ev("b", "198.18.0.1")), Verdict::Own);
        assert_eq!(p.check(&ev("x", "198.18.0.1")), Verdict::UnknownOrigin);
        assert_eq!(p.check(&ev("a", "192.0.2.5")), Verdict::Allowlisted);
        assert_eq!(
            p.check(&ev("a", "192.0.0.0/16")),
            Verdict::Allowlisted,
            "covers the allowlist"
        );
        assert_eq!(p.check(&ev("a", "198.18.0.0/16")), Verdict::TooBroad);
        assert_eq!(p.check(&ev("admin", "198.18.0.0/16")), Verdict::Accept);
        assert_eq!(p.check(&ev("a", "2001:db8::/48")), Verdict::TooBroad);
        assert_eq!(p.check(&ev("a", "2001:db8::/64")), Verdict::Accept);
    }

    #[test]
    fn an_origin_with_a_key_must_sign() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let mut cfg = FleetConfig::new(Engine::Nats, vec![], "b");
        cfg.keys.insert("a".into(), key.verifying_key());
        let p = Policy::new(&cfg);
        let mut e = ev("a", "198.18.0.1");
        assert_eq!(p.check(&e), Verdict::BadSignature, "unsigned");
        e.sign(&ed25519_dalek::SigningKey::from_bytes(&[4; 32]));
        assert_eq!(p.check(&e), Verdict::BadSignature, "wrong key");
        e.sign(&key);
        assert_eq!(p.check(&e), Verdict::Accept);
        e.act = Action::Unban;
        assert_eq!(p.check(&e), Verdict::BadSignature, "a changed field");
        assert_eq!(
            p.check(&ev("c", "198.18.0.1")),
            Verdict::Accept,
            "no key for c"
        );
    }
}
