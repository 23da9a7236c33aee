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

/// Sets of the cache (a power of two).
const SETS: usize = 256;
/// Slots per set (most recently used first).
const WAYS: usize = 2;
/// Longest haystack kept (bytes): longer ones are searched every time.
pub(crate) const MAX_KEY: usize = 256;
/// A group that did not take part (spans are stored as `u16`: keys are short).
const NONE: u16 = u16::MAX;

/// The memo (one per thread, inside [`crate::Scratch`]); empty until first used.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// The filter the entries belong to (a scratch may be moved to another filter).
    owner: u64,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Slot>,
    /// Lookups and hits so far (reported by benchmarks).
    lookups: u64,
    found: u64,
}

#[derive(Debug, Default)]
struct Slot {
    /// 0: empty (a real hash of 0 is stored as 1).
    hash: u64,
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
    slot: &'m Slot,
}

impl<'m> Entry<'m> {
    /// Each hit: the failregex's index and its groups' spans (relative to the haystack).
    pub(crate) fn hits(
        &self,
    ) -> impl Iterator<Item = (usize, impl Iterator<Item = Option<(usize, usize)>> + 'm)> + 'm {
        let slot = self.slot;
        slot.hits.iter().enumerate().map(move |(n, &(idx, from))| {
            let to = slot.hits.get(n + 1).map_or(slot.spans.len(), |h| h.1);
            let spans = slot
                .spans
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
        if self.owner != owner {
            self.owner = owner;
            self.slots.iter_mut().for_each(|s| s.hash = 0);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SETS * WAYS, Slot::default);
        }
        self.lookups += 1;
        let hash = self.hasher.hash_one(key).max(1);
        let set = (hash as usize) & (SETS - 1);
        let ways = &mut self.slots[set * WAYS..(set + 1) * WAYS];
        let Some(w) = ways.iter().position(|s| s.hash == hash && s.key == key) else {
            return Lookup::Missing(hash);
        };
        // Most recently used first.
        ways[..=w].rotate_right(1);
        self.found += 1;
        Lookup::Found(Entry { slot: &ways[0] })
    }

    /// Records the search result for `key` (which [`Memo::lookup`] did not find, giving
    /// `hash`): `hits` are `(failregex, index of its first group in spans)`. Results with a
    /// span that does not fit are not kept.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        hits: impl Iterator<Item = (usize, usize)>,
        spans: &[Option<(usize, usize)>],
    ) {
        if key.len() > MAX_KEY || self.slots.is_empty() {
            return;
        }
        let fits = |v: usize| u16::try_from(v).ok().filter(|v| *v != NONE);
        let set = (hash as usize) & (SETS - 1);
        let ways = &mut self.slots[set * WAYS..(set + 1) * WAYS];
        // The least recently used slot becomes the first.
        ways.rotate_right(1);
        let Some(slot) = ways.first_mut() else {
            return;
        };
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
        assert_eq!(m.slots.len(), SETS * WAYS);
        // The most recent keys are still there, with their own spans.
        let key = format!("line {}\n", 10 * SETS * WAYS - 1);
        assert_eq!(
            replay(&mut m, 1, key.as_bytes()),
            Some(vec![(0, vec![Some((0, key.len()))])])
        );
        let (lookups, found) = m.counts();
        assert!(lookups > found && found >= 1);
    }
}
