//! The receiver policy: what a host refuses to apply from the fleet, whatever the broker
//! let through.

use std::collections::HashMap;

use crate::config::FleetConfig;
use crate::event::{now_ms, Action, FleetEvent};

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
    /// Refused: the origin already had its `ratelimit` of bans accepted within the
    /// window of the event's publication time.
    RateLimited,
}

/// One origin's count of accepted bans in its latest window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The window's number: publication time (ms) divided by the window length.
    index: i64,
    /// Bans accepted in it.
    count: u32,
}

/// The receiver policy, built from the configuration.
///
/// The per-origin rate limit (`ratelimit = BANS/SECONDS`) counts bans in fixed windows of
/// the events' own publication time (`ts_ms`), not of their arrival: a host that restarts
/// or joins replays hours of old events at once, and those, published over many windows,
/// are accepted, while a burst of more than BANS bans published within one window is
/// refused beyond the limit. A publication time in the future counts as the receiver's
/// now, so an origin cannot move itself into fresh windows ahead of time; an event older
/// than the origin's latest window (out of order) counts against that latest window. The
/// state is one small counter per origin, created only for events that passed every other
/// check (so never for an origin that is not accepted). Unbans are never limited.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: FleetConfig,
    windows: HashMap<String, Window>,
}

impl Policy {
    /// The policy of `cfg`.
    pub fn new(cfg: &FleetConfig) -> Self {
        Policy {
            cfg: cfg.clone(),
            windows: HashMap::new(),
        }
    }

    /// Decides about one event received now; see [`Policy::check_at`].
    pub fn check(&mut self, ev: &FleetEvent) -> Verdict {
        self.check_at(ev, now_ms())
    }

    /// Decides about one event received at `now_ms`. Unbans are checked for origin and
    /// signature only: lifting a ban is never more dangerous than keeping it. An accepted
    /// ban counts against its origin's rate limit.
    pub fn check_at(&mut self, ev: &FleetEvent, now_ms: i64) -> Verdict {
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
        if let Some(limit) = cfg.rate_limit {
            let index = ev.ts_ms.min(now_ms).div_euclid(limit.window_ms.max(1));
            let w = self
                .windows
                .entry(ev.origin.clone())
                .or_insert(Window { index, count: 0 });
            if index > w.index {
                *w = Window { index, count: 0 };
            }
            if w.count >= limit.max {
                return Verdict::RateLimited;
            }
            w.count += 1;
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
    use crate::config::{Engine, RateLimit};
    use crate::event::parse_addr;
    use crate::stats::FleetStats;

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
        let mut p = Policy::new(&cfg);
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
        let mut p = Policy::new(&cfg);
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

    fn at(origin: &str, addr: &str, act: Action, ts_ms: i64) -> FleetEvent {
        let mut e = ev(origin, addr);
        e.act = act;
        e.ts_ms = ts_ms;
        e
    }

    fn limited(max: u32, window_s: i64) -> Policy {
        let mut cfg = FleetConfig::new(Engine::Nats, vec![], "b");
        cfg.origins = vec!["a".into(), "c".into()];
        cfg.rate_limit = Some(RateLimit {
            max,
            window_ms: window_s * 1000,
        });
        Policy::new(&cfg)
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_burst_over_the_limit_is_refused_and_the_next_window_accepted() {
        let mut p = limited(3, 60);
        let start = NOW - NOW % 60_000 - 600_000;
        let verdicts: Vec<_> = (0..5)
            .map(|i| p.check_at(&at("a", "198.18.0.1", Action::Ban, start + i), NOW))
            .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Accept,
                Verdict::Accept,
                Verdict::Accept,
                Verdict::RateLimited,
                Verdict::RateLimited
            ]
        );
        assert_eq!(
            p.check_at(&at("c", "198.18.0.1", Action::Ban, start), NOW),
            Verdict::Accept,
            "another origin has its own count"
        );
        assert_eq!(
            p.check_at(&at("a", "198.18.0.2", Action::Unban, start), NOW),
            Verdict::Accept,
            "unbans are never limited"
        );
        assert_eq!(
            p.check_at(&at("a", "198.18.0.9", Action::Ban, start + 30_000), NOW),
            Verdict::RateLimited,
            "out of order, still the same window"
        );
        assert_eq!(
            p.check_at(&at("a", "198.18.0.9", Action::Ban, start + 60_000), NOW),
            Verdict::Accept,
            "the next window"
        );
        for _ in 0..2 {
            assert_eq!(
                p.check_at(&at("a", "198.18.0.9", Action::Ban, start + 1), NOW),
                Verdict::Accept,
                "an older window counts against the latest"
            );
        }
        assert_eq!(
            p.check_at(&at("a", "198.18.0.9", Action::Ban, start + 60_001), NOW),
            Verdict::RateLimited,
            "the latest window is full"
        );
        assert_eq!(p.windows.len(), 2, "one counter per accepted origin");
    }

    #[test]
    fn the_limited_verdict_is_counted_as_rejected() {
        let stats = FleetStats::default();
        let mut p = limited(1, 60);
        for i in 0..3 {
            let v = p.check_at(&at("a", "198.18.0.1", Action::Ban, NOW - 1000 + i), NOW);
            if v != Verdict::Accept {
                crate::runtime::reject(&stats, v);
            }
        }
        let s = stats.snapshot("nats", "b");
        assert_eq!((s.rejected, s.rejected_ratelimit), (2, 2));
        assert_eq!(s.rejected_prefix, 0);
    }

    #[test]
    fn a_replay_spread_over_hours_is_accepted() {
        let mut p = limited(2, 60);
        // Six hours of old bans from a host that restarted, two a minute, all arriving now.
        for i in 0..720 {
            let ts = NOW - 6 * 3_600_000 + i * 30_000;
            assert_eq!(
                p.check_at(&at("a", "198.18.0.1", Action::Ban, ts), NOW),
                Verdict::Accept,
                "event {i}"
            );
        }
        // Events stamped in the future count as now: no fresh windows ahead of time.
        let mut p = limited(2, 60);
        let verdicts: Vec<_> = (1..=3)
            .map(|i| {
                p.check_at(
                    &at("a", "198.18.0.1", Action::Ban, NOW + i * 3_600_000),
                    NOW,
                )
            })
            .collect();
        assert_eq!(
            verdicts,
            [Verdict::Accept, Verdict::Accept, Verdict::RateLimited]
        );
    }

    #[test]
    fn unset_means_unlimited_and_refused_origins_get_no_counter() {
        let mut cfg = FleetConfig::new(Engine::Nats, vec![], "b");
        cfg.origins = vec!["a".into()];
        let mut p = Policy::new(&cfg);
        for i in 0..10_000 {
            assert_eq!(
                p.check_at(
                    &at("a", "198.18.0.1", Action::Ban, NOW - 5000 + i % 100),
                    NOW
                ),
                Verdict::Accept
            );
        }
        assert!(p.windows.is_empty());
        let mut p = limited(1, 60);
        for i in 0..100 {
            let origin = format!("x{i}");
            assert_eq!(
                p.check_at(&at(&origin, "198.18.0.1", Action::Ban, NOW), NOW),
                Verdict::UnknownOrigin
            );
        }
        assert_eq!(
            p.check_at(&at("a", "198.18.0.0/16", Action::Ban, NOW), NOW),
            Verdict::TooBroad
        );
        assert!(p.windows.is_empty(), "{:?}", p.windows);
        for _ in 0..5 {
            assert_eq!(
                p.check_at(&at("a", "198.18.0.1", Action::Unban, NOW), NOW),
                Verdict::Accept
            );
        }
    }
}
