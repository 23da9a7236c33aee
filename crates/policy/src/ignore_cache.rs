//! `ignorecache`: remembers ignore decisions so `ignorecommand` does not run per failure.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// fail2ban's `ignorecache = key="<ip>", max-count=100, max-time=5m`: the final ignore decision
/// per key (the daemon substitutes the `key` template for each failure), kept up to
/// `max_time` and for at most `max_count` keys.
///
/// When full, expired decisions go first, then the oldest one.
#[derive(Clone, Debug)]
pub struct IgnoreCache {
    max_count: usize,
    max_time: Duration,
    decisions: HashMap<Box<str>, (bool, Instant, u64)>,
    /// Keys in the order they were stored, with the store's sequence number (stale pairs are
    /// skipped when the key was stored again since).
    order: VecDeque<(Box<str>, u64)>,
    seq: u64,
}

impl IgnoreCache {
    /// A cache of at most `max_count` decisions (at least 1), each valid for `max_time`.
    pub fn new(max_count: usize, max_time: Duration) -> IgnoreCache {
        IgnoreCache {
            max_count: max_count.max(1),
            max_time,
            decisions: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    /// The decision stored for `key`, if it is younger than `max_time` at `now`.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<bool> {
        let (ignored, at, _) = *self.decisions.get(key)?;
        if now.saturating_duration_since(at) < self.max_time {
            Some(ignored)
        } else {
            self.decisions.remove(key);
            None
        }
    }

    /// Stores the decision for `key` made at `now`.
    pub fn put(&mut self, key: &str, ignored: bool, now: Instant) {
        if !self.decisions.contains_key(key) && self.decisions.len() >= self.max_count {
            self.make_room(now);
        }
        self.seq += 1;
        self.decisions.insert(key.into(), (ignored, now, self.seq));
        self.order.push_back((key.into(), self.seq));
        // Stale order entries cannot outgrow the live ones by much.
        if self.order.len() > 2 * self.max_count + 16 {
            let decisions = &self.decisions;
            self.order
                .retain(|(k, seq)| decisions.get(k).is_some_and(|d| d.2 == *seq));
        }
    }

    /// How many decisions are stored (expired ones included until they are looked at).
    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// Forgets every decision (on reload or when `ignoreip` changes).
    pub fn clear(&mut self) {
        self.decisions.clear();
        self.order.clear();
    }

    fn make_room(&mut self, now: Instant) {
        let max_time = self.max_time;
        self.decisions
            .retain(|_, (_, at, _)| now.saturating_duration_since(*at) < max_time);
        while self.decisions.len() >= self.max_count {
            let Some((key, seq)) = self.order.pop_front() else {
                break;
            };
            if self.decisions.get(&key).is_some_and(|d| d.2 == seq) {
                self.decisions.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_expire_after_max_time() {
        let t0 = Instant::now();
        let mut cache = IgnoreCache::new(10, Duration::from_secs(300));
        cache.put("192.0.2.1", true, t0);
        cache.put("192.0.2.2", false, t0);
        assert_eq!(
            cache.get("192.0.2.1", t0 + Duration::from_secs(299)),
            Some(true)
        );
        assert_eq!(
            cache.get("192.0.2.2", t0 + Duration::from_secs(299)),
            Some(false)
        );
        assert_eq!(cache.get("192.0.2.1", t0 + Duration::from_secs(300)), None);
        assert_eq!(cache.get("192.0.2.3", t0), None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn full_cache_drops_expired_then_oldest() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut cache = IgnoreCache::new(3, s(100));
        cache.put("a", true, t0);
        cache.put("b", true, t0 + s(50));
        cache.put("c", true, t0 + s(60));
        cache.put("a", false, t0 + s(70)); // refreshed: now the newest
        cache.put("d", true, t0 + s(80)); // full: "b" is the oldest
        assert_eq!(cache.len(), 3);
        let now = t0 + s(90);
        assert_eq!(cache.get("b", now), None);
        assert_eq!(cache.get("a", now), Some(false));
        assert_eq!(cache.get("c", now), Some(true));
        // At t0+155 "c" (stored at 60) has expired and is dropped first; "a" and "d" stay.
        cache.put("e", true, t0 + s(160));
        let now = t0 + s(165);
        assert_eq!(cache.get("a", now), Some(false));
        assert_eq!(cache.get("d", now), Some(true));
        assert_eq!(cache.get("e", now), Some(true));
        for n in 0..1000 {
            cache.put("x", n % 2 == 0, now);
        }
        assert!(cache.order.len() <= 2 * 3 + 16);
    }
}
