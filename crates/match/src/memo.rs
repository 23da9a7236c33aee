//! An exact memo of the failregex search on a line's content.
//!
//! What the failregexes find on a haystack (which of them match, their groups' spans) is a
//! function of the haystack's bytes alone when no ignoreregex runs between them, and the
//! failregexes search the prefregex's content as a haystack of its own. Brute-force logs
//! repeat the same messages (one attacker's `authentication failure` lines differ only in
//! the pid the prefregex strips), so a small cache keyed by the content's bytes skips the
//! set and capture searches for them.
//!
//! The cache is set-associative with a fixed number of slots and a key cap, so its memory
//! is bounded; a key is found only when its bytes are equal (the hash only picks the set).
//! The hash is seeded per process: contents are attacker-chosen, and a chosen collision can
//! at worst evict entries (a miss costs a hash and a copy, never a wrong answer).

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, TryLockError};

/// Sets of the cache at most (a power of two).
const SETS: usize = 1024;
/// Sets of a new cache: a quiet filter (a daemon's jail) keeps a small one; it grows
/// fourfold each time it has been filled twice over, up to [`SETS`].
const FIRST_SETS: usize = 64;
/// Slots per set (the least recently used one is replaced).
const WAYS: usize = 4;
/// Longest haystack kept (bytes): longer ones are searched every time.
pub(crate) const MAX_KEY: usize = 256;
/// A group that did not take part (spans are stored as `u16`: keys are short).
const NONE: u16 = u16::MAX;

/// A thread's handle on a filter's memo ([`SharedMemo`], inside [`crate::Scratch`]): the
/// threads searching for one filter share its entries (each sees the others' blocks, and
/// one attacker's repeats are far apart), each with its own copy of the entry it found.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    shared: SharedMemo,
    /// The last entry found, copied out of the table.
    hits: Vec<(usize, usize)>,
    spans: Vec<[u16; 2]>,
    /// Lookups and hits so far (reported by benchmarks).
    lookups: u64,
    found: u64,
}

/// The table itself, one per filter; empty until first used. Threads never wait for it:
/// a lookup or insert that finds it locked is skipped (a miss costs a search, never a
/// wrong answer).
#[derive(Debug, Default, Clone)]
pub(crate) struct SharedMemo(Arc<Mutex<Table>>);

impl SharedMemo {
    /// A handle for one thread.
    pub(crate) fn handle(&self) -> Memo {
        Memo {
            shared: self.clone(),
            hits: Vec::new(),
            spans: Vec::new(),
            lookups: 0,
            found: 0,
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    /// The filter the entries belong to (a scratch may be moved to another filter).
    owner: u64,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Slot>,
    /// Entries stored since the table last grew.
    stored: usize,
    /// Lookups and inserts so far (the slots' `used` stamps).
    clock: u64,
}

impl Table {
    /// Sets now (a power of two).
    fn sets(&self) -> usize {
        self.slots.len() / WAYS
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// 0: empty (a real hash of 0 is stored as 1).
    hash: u64,
    /// When it was last used (the table's clock): the least recently used of a set goes.
    used: u64,
    key: Vec<u8>,
    /// Per hit: the failregex and its first group's index in `spans`.
    hits: Vec<(usize, usize)>,
    spans: Vec<[u16; 2]>,
}

/// A lookup's answer ([`Memo::lookup`]).
pub(crate) enum Lookup<'m> {
    /// The recorded result: `(failregex, groups)` per hit, each hit's groups as spans.
    Found(Entry<'m>),
    /// Not kept: search, then [`Memo::insert`] with this hash.
    Missing(u64),
}

/// A recorded search result.
pub(crate) struct Entry<'m> {
    hits: &'m [(usize, usize)],
    spans: &'m [[u16; 2]],
}

impl<'m> Entry<'m> {
    /// Each hit: the failregex's index and its groups' spans (relative to the haystack).
    pub(crate) fn hits(
        &self,
    ) -> impl Iterator<Item = (usize, impl Iterator<Item = Option<(usize, usize)>> + 'm)> + 'm {
        let (hits, all) = (self.hits, self.spans);
        hits.iter().enumerate().map(move |(n, &(idx, from))| {
            let to = hits.get(n + 1).map_or(all.len(), |h| h.1);
            let spans = all
                .get(from..to)
                .unwrap_or(&[])
                .iter()
                .map(|s| (s[0] != NONE).then_some((usize::from(s[0]), usize::from(s[1]))));
            (idx, spans)
        })
    }
}

impl Memo {
    /// Looks `key` up among the entries of filter `owner` (forgetting another filter's).
    pub(crate) fn lookup(&mut self, owner: u64, key: &[u8]) -> Lookup<'_> {
        self.lookups += 1;
        let mut t = match self.shared.0.try_lock() {
            Ok(t) => t,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            // Another thread is at it: search (and keep nothing) rather than wait.
            Err(TryLockError::WouldBlock) => return Lookup::Missing(0),
        };
        let t = &mut *t;
        if t.owner != owner {
            t.owner = owner;
            t.slots.iter_mut().for_each(|s| s.hash = 0);
        }
        if t.slots.is_empty() {
            t.slots.resize_with(FIRST_SETS * WAYS, Slot::default);
        }
        let hash = t.hasher.hash_one(key).max(1);
        let set = (hash as usize) & (t.sets() - 1);
        t.clock += 1;
        let now = t.clock;
        let ways = &mut t.slots[set * WAYS..(set + 1) * WAYS];
        let Some(slot) = ways.iter_mut().find(|s| s.hash == hash && s.key == key) else {
            return Lookup::Missing(hash);
        };
        slot.used = now;
        self.hits.clear();
        self.hits.extend_from_slice(&slot.hits);
        self.spans.clear();
        self.spans.extend_from_slice(&slot.spans);
        self.found += 1;
        Lookup::Found(Entry {
            hits: &self.hits,
            spans: &self.spans,
        })
    }

    /// Records the search result for `key` (which [`Memo::lookup`] did not find, giving
    /// `hash`): `hits` are `(failregex, index of its first group in spans)`. Results with a
    /// span that does not fit are not kept, nor any while another thread holds the table.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        hits: impl Iterator<Item = (usize, usize)>,
        spans: &[Option<(usize, usize)>],
    ) {
        if key.len() > MAX_KEY || hash == 0 {
            return;
        }
        let fits = |v: usize| u16::try_from(v).ok().filter(|v| *v != NONE);
        let mut t = match self.shared.0.try_lock() {
            Ok(t) => t,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if t.slots.is_empty() {
            return;
        }
        t.stored += 1;
        if t.stored > 2 * t.slots.len() && t.sets() < SETS {
            // Churning: a bigger table (the old entries are dropped).
            let sets = (t.sets() * 4).min(SETS);
            t.slots = Vec::new();
            t.slots.resize_with(sets * WAYS, Slot::default);
            t.stored = 0;
        }
        let set = (hash as usize) & (t.sets() - 1);
        t.clock += 1;
        let now = t.clock;
        let ways = &mut t.slots[set * WAYS..(set + 1) * WAYS];
        // The least recently used slot is replaced (no entry moves).
        let Some(slot) = ways.iter_mut().min_by_key(|s| s.used) else {
            return;
        };
        slot.used = now;
        slot.hash = 0;
        slot.key.clear();
        slot.key.extend_from_slice(key);
        slot.hits.clear();
        slot.hits.extend(hits);
        slot.spans.clear();
        for s in spans {
            match s {
                None => slot.spans.push([NONE, NONE]),
                Some((a, b)) => match (fits(*a), fits(*b)) {
                    (Some(a), Some(b)) => slot.spans.push([a, b]),
                    _ => return,
                },
            }
        }
        slot.hash = hash;
    }

    /// Lookups and hits so far.
    #[allow(dead_code)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.lookups, self.found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Replayed = Vec<(usize, Vec<Option<(usize, usize)>>)>;

    fn replay(m: &mut Memo, owner: u64, key: &[u8]) -> Option<Replayed> {
        match m.lookup(owner, key) {
            Lookup::Found(e) => Some(e.hits().map(|(i, s)| (i, s.collect())).collect()),
            Lookup::Missing(_) => None,
        }
    }

    #[test]
    fn finds_only_equal_keys_of_the_same_owner() {
        let mut m = Memo::default();
        let Lookup::Missing(h) = m.lookup(7, b"abc\n") else {
            panic!("empty memo found a key");
        };
        let spans = [Some((0, 3)), None, Some((1, 2)), Some((0, 4))];
        m.insert(h, b"abc\n", [(2, 0), (5, 3)].into_iter(), &spans);
        assert_eq!(
            replay(&mut m, 7, b"abc\n"),
            Some(vec![
                (2, vec![Some((0, 3)), None, Some((1, 2))]),
                (5, vec![Some((0, 4))])
            ])
        );
        assert_eq!(replay(&mut m, 7, b"abd\n"), None);
        // Another filter's entries are forgotten.
        assert_eq!(replay(&mut m, 8, b"abc\n"), None);
        assert_eq!(replay(&mut m, 7, b"abc\n"), None);
        // A result with no hit is kept too.
        let Lookup::Missing(h) = m.lookup(7, b"zz\n") else {
            panic!();
        };
        m.insert(h, b"zz\n", std::iter::empty(), &[]);
        assert_eq!(replay(&mut m, 7, b"zz\n"), Some(vec![]));
    }

    #[test]
    fn memory_is_bounded_and_long_keys_are_not_kept() {
        let mut m = Memo::default();
        let long = vec![b'a'; MAX_KEY + 1];
        let Lookup::Missing(h) = m.lookup(1, &long) else {
            panic!();
        };
        m.insert(h, &long, [(0, 0)].into_iter(), &[Some((0, 1))]);
        assert_eq!(replay(&mut m, 1, &long), None);
        for i in 0..10 * SETS * WAYS {
            let key = format!("line {i}\n");
            if let Lookup::Missing(h) = m.lookup(1, key.as_bytes()) {
                m.insert(
                    h,
                    key.as_bytes(),
                    [(0, 0)].into_iter(),
                    &[Some((0, key.len()))],
                );
            }
        }
        assert_eq!(m.shared.0.lock().unwrap().slots.len(), SETS * WAYS);
        // The most recent keys are still there, with their own spans.
        let key = format!("line {}\n", 10 * SETS * WAYS - 1);
        assert_eq!(
            replay(&mut m, 1, key.as_bytes()),
            Some(vec![(0, vec![Some((0, key.len()))])])
        );
        let (lookups, found) = m.counts();
        assert!(lookups > found && found >= 1);
    }

    #[test]
    fn handles_share_entries_and_never_wait_for_a_held_table() {
        let shared = SharedMemo::default();
        let (mut a, mut b) = (shared.handle(), shared.handle());
        let Lookup::Missing(h) = a.lookup(3, b"k\n") else {
            panic!();
        };
        a.insert(h, b"k\n", [(1, 0)].into_iter(), &[Some((0, 2))]);
        // Another thread's handle finds what this one stored.
        assert_eq!(
            replay(&mut b, 3, b"k\n"),
            Some(vec![(1, vec![Some((0, 2))])])
        );
        let held = shared.0.lock().unwrap();
        // While the table is held, a lookup misses without a hash to store under, and an
        // insert is dropped.
        assert!(matches!(b.lookup(3, b"k\n"), Lookup::Missing(0)));
        b.insert(0, b"x\n", std::iter::empty(), &[]);
        drop(held);
        assert_eq!(replay(&mut b, 3, b"x\n"), None);
        assert_eq!(b.counts(), (3, 1));
    }
}
