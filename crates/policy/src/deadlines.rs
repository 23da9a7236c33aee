//! One timer structure for every deadline of the daemon.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

/// Deadlines keyed by `K` (for the daemon: jail and id of a ban to lift): a min-heap by time
/// with lazy deletion.
///
/// Each key has at most one deadline; setting it again replaces the old one. Cancelled and
/// replaced deadlines stay in the heap as stale entries, recognised by a generation number and
/// skipped when they surface; the heap is rebuilt when stale entries outnumber live ones, so
/// memory stays proportional to the live deadlines.
///
/// Costs: [`set`](Deadlines::set) O(log n), [`cancel`](Deadlines::cancel) O(1),
/// [`pop_due`](Deadlines::pop_due) O(log n) per deadline returned.
#[derive(Clone, Debug)]
pub struct Deadlines<K> {
    heap: BinaryHeap<Reverse<(i64, u64, K)>>,
    live: HashMap<K, (i64, u64)>,
    generation: u64,
}

impl<K> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines {
            heap: BinaryHeap::new(),
            live: HashMap::new(),
            generation: 0,
        }
    }
}

impl<K: Clone + Eq + Hash + Ord> Deadlines<K> {
    /// No deadlines.
    pub fn new() -> Deadlines<K> {
        Deadlines::default()
    }

    /// Sets the deadline of `key` to `at` (Unix seconds), replacing any earlier one.
    pub fn set(&mut self, key: K, at: i64) {
        self.generation += 1;
        self.live.insert(key.clone(), (at, self.generation));
        self.heap.push(Reverse((at, self.generation, key)));
        self.compact_if_sparse();
    }

    /// Removes the deadline of `key`; returns its time, `None` if it had none.
    pub fn cancel(&mut self, key: &K) -> Option<i64> {
        let (at, _) = self.live.remove(key)?;
        self.compact_if_sparse();
        Some(at)
    }

    /// The deadline of `key`, if any.
    pub fn get(&self, key: &K) -> Option<i64> {
        self.live.get(key).map(|(at, _)| *at)
    }

    /// Removes and returns every deadline at or before `now`, earliest first (ties in the
    /// order they were set).
    pub fn pop_due(&mut self, now: i64) -> Vec<(K, i64)> {
        let mut due = Vec::new();
        while let Some(Reverse((at, _, _))) = self.heap.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((at, generation, key))) = self.heap.pop() {
                if self.is_live(&key, generation) {
                    self.live.remove(&key);
                    due.push((key, at));
                }
            }
        }
        due
    }

    /// The earliest deadline, for the event loop's sleep; `None` when there is none.
    pub fn next_deadline(&mut self) -> Option<i64> {
        while let Some(Reverse((at, generation, key))) = self.heap.peek() {
            if self.is_live(key, *generation) {
                return Some(*at);
            }
            self.heap.pop();
        }
        None
    }

    /// How many keys have a deadline.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no key has a deadline.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    fn is_live(&self, key: &K, generation: u64) -> bool {
        self.live.get(key).is_some_and(|(_, g)| *g == generation)
    }

    fn compact_if_sparse(&mut self) {
        if self.heap.len() > 64 && self.heap.len() > 2 * self.live.len() {
            let live = &self.live;
            let entries = std::mem::take(&mut self.heap).into_vec();
            self.heap = entries
                .into_iter()
                .filter(|Reverse((_, g, k))| live.get(k).is_some_and(|(_, lg)| lg == g))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_up_to_now() {
        let mut d = Deadlines::new();
        d.set("c", 30);
        d.set("a", 10);
        d.set("b", 20);
        d.set("a2", 10);
        assert_eq!(d.next_deadline(), Some(10));
        assert_eq!(d.pop_due(9), vec![]);
        assert_eq!(d.pop_due(20), vec![("a", 10), ("a2", 10), ("b", 20)]);
        assert_eq!(d.next_deadline(), Some(30));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn cancel_and_reschedule() {
        let mut d = Deadlines::new();
        d.set(1, 100);
        d.set(2, 200);
        d.set(3, 300);
        assert_eq!(d.cancel(&1), Some(100));
        assert_eq!(d.cancel(&1), None);
        d.set(2, 400); // prolonged ban: the old deadline must not fire
        assert_eq!(d.next_deadline(), Some(300));
        assert_eq!(d.pop_due(350), vec![(3, 300)]);
        assert_eq!(d.get(&2), Some(400));
        assert_eq!(d.pop_due(1000), vec![(2, 400)]);
        assert!(d.is_empty());
        assert_eq!(d.next_deadline(), None);
    }

    #[test]
    fn stale_entries_are_compacted() {
        let mut d = Deadlines::new();
        for round in 0..1000 {
            d.set(7u32, round);
        }
        assert!(d.heap.len() <= 130, "{}", d.heap.len());
        assert_eq!(d.pop_due(i64::MAX), vec![(7, 999)]);
    }
}
