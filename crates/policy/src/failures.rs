//! The failures of one jail: fail2ban's `FailManager`, with a cap on memory.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::id::Id;

/// fail2ban's default `findtime` in seconds (10 minutes).
pub const DEFAULT_FINDTIME: i64 = 600;
/// fail2ban's `FailManager` default `maxretry` (jail.conf sets 5 for its jails).
pub const DEFAULT_MAXRETRY: u32 = 3;
/// fail2ban's default `maxmatches`.
pub const DEFAULT_MAXMATCHES: usize = 5;
/// jailor's default bound on the ids one jail tracks at a time.
///
/// At about 64 bytes per id without matched lines (see [`FailureWindow`]) this is under 100 MB
/// even with the table's slack.
pub const DEFAULT_MAX_TRACKED: usize = 1_000_000;

/// The settings of a [`FailureWindow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowConfig {
    /// `findtime`: the window in seconds over which failures are counted.
    pub findtime: i64,
    /// `maxretry`: the failure count at which an id is banned.
    pub maxretry: u32,
    /// `maxmatches`: how many matched lines an id keeps (the newest); 0 keeps none.
    pub maxmatches: usize,
    /// jailor's bound on tracked ids; past it the least recently failing id is dropped.
    pub max_tracked: usize,
}

impl Default for WindowConfig {
    fn default() -> WindowConfig {
        WindowConfig {
            findtime: DEFAULT_FINDTIME,
            maxretry: DEFAULT_MAXRETRY,
            maxmatches: DEFAULT_MAXMATCHES,
            max_tracked: DEFAULT_MAX_TRACKED,
        }
    }
}

/// What an id has done: fail2ban's `FailTicket`, handed out when the id reaches `maxretry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailTicket {
    /// Whom the failures are from.
    pub id: Id,
    /// The start of the window the rate estimate covers (fail2ban's `firstTime`).
    pub first_time: i64,
    /// The time of the latest failure (Unix seconds); a ban starts here.
    pub time: i64,
    /// The failure count fail2ban compares with `maxretry` (a rate estimate, see
    /// [`FailureWindow::add`]).
    pub retry: u32,
    /// How many failures were added, without the rate adjustment (fail2ban's `failures`).
    pub failures: u32,
    /// The newest matched lines, oldest first, at most `maxmatches`.
    pub matches: Vec<String>,
}

/// What [`FailureWindow::add`] did with a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    /// Counted; the id has `retry` failures, fewer than `maxretry`.
    Counted {
        /// The id's failure count after this failure.
        retry: u32,
    },
    /// The id reached `maxretry`: it is no longer tracked, and here is its ticket to ban.
    Ban(FailTicket),
}

/// Counters for `fail2ban-client status <jail>` and for jailor's own health output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// "Currently failed": ids tracked now.
    pub current: usize,
    /// "Total failed": failures added since start.
    pub total: u64,
    /// Ids dropped to stay under `max_tracked` (jailor only).
    pub evicted: u64,
}

/// The matched lines of one id, packed into one buffer: each line is its length (4 bytes,
/// little-endian) then its text. A million ids with one line each then cost two small heap
/// blocks apiece, not three (list, its buffer, the line). The buffer is boxed once more so
/// that a [`Slot`] holds a thin pointer (8 bytes, not 16): most ids of a flood keep no lines
/// at all (`maxmatches = 0` when no action uses them) and should not pay for the room.
#[derive(Debug)]
struct MatchList(Box<Box<[u8]>>);

impl MatchList {
    /// Packs `lines`; `None` when there are none.
    fn pack<'a>(lines: impl Iterator<Item = &'a str> + Clone) -> Option<MatchList> {
        let size: usize = lines.clone().map(|l| 4 + l.len()).sum();
        if size == 0 {
            return None;
        }
        let mut buf = Vec::with_capacity(size);
        for line in lines {
            // A line over 4 GiB cannot come from a capped reader; cut it rather than wrap.
            let len = u32::try_from(line.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&line.as_bytes()[..len as usize]);
        }
        Some(MatchList(Box::new(buf.into_boxed_slice())))
    }

    /// The lines, oldest first.
    fn lines(&self) -> impl Iterator<Item = &str> + Clone {
        let mut rest: &[u8] = &self.0[..];
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = (u32::from_le_bytes(*len) as usize).min(tail.len());
            let (line, tail) = tail.split_at(len);
            rest = tail;
            // Packed from `&str`, cut only at a length that fits: valid unless cut mid-char.
            Some(std::str::from_utf8(line).unwrap_or_default())
        })
    }

    fn len(&self) -> usize {
        self.lines().count()
    }
}

/// No slot: the end of the recency list.
const NIL: u32 = u32::MAX;

/// One tracked id. Kept small: 64 bytes on 64-bit targets (checked by a test), so a million
/// tracked addresses take about 64 MB plus the index (5 bytes a bucket) and their lines.
#[derive(Debug)]
struct Slot {
    id: Id,
    first_time: i64,
    time: i64,
    retry: u32,
    failures: u32,
    /// One packed block; an id without matched lines (`maxmatches = 0`) has none.
    matches: Option<MatchList>,
    /// Neighbours in the recency list (least recently failing first).
    prev: u32,
    next: u32,
}

/// The failures of one jail, per id: fail2ban's `FailManager`.
///
/// # The count is a rate estimate
///
/// As in fail2ban, an id's count is not the number of failures in the last `findtime`
/// seconds. When a failure arrives later than the id's last one and the id's window start
/// (`first_time`) lies more than `findtime` back, the count is rescaled to the rate over the
/// elapsed time, `retry = round(retry / (t - first_time) * findtime)` (round half to even, as
/// Python's `round`), and the window start moves to `t - findtime`. Then the failure adds its
/// weight. A failure not later than the id's last one is counted without adjustment.
///
/// # Bounded memory
///
/// At most [`WindowConfig::max_tracked`] ids are tracked. A new id past the bound drops the
/// id whose latest failure is the least recent, and [`WindowStats::evicted`] counts it.
/// Lookup, insertion and eviction are O(1); [`cleanup`](FailureWindow::cleanup) is one pass over
/// a dense array, skipped when nothing can be stale.
pub struct FailureWindow {
    config: WindowConfig,
    slots: Vec<Slot>,
    index: HashTable<u32>,
    hasher: std::hash::RandomState,
    head: u32,
    tail: u32,
    total: u64,
    evicted: u64,
    /// No tracked id's latest failure is older than this: lets `cleanup` return early.
    oldest: i64,
}

impl FailureWindow {
    /// An empty window with these settings. A `max_tracked` of 0 is taken as 1.
    pub fn new(config: WindowConfig) -> FailureWindow {
        FailureWindow {
            config: WindowConfig {
                max_tracked: config.max_tracked.clamp(1, NIL as usize - 1),
                ..config
            },
            slots: Vec::new(),
            index: HashTable::new(),
            // SipHash with a random key: ids are chosen by attackers.
            hasher: std::hash::RandomState::new(),
            head: NIL,
            tail: NIL,
            total: 0,
            evicted: 0,
            oldest: i64::MAX,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &WindowConfig {
        &self.config
    }

    /// Changes the settings (`set <jail> findtime|maxretry|maxmatches`). Tracked ids keep
    /// their counts; a lower `max_tracked` drops the least recently failing ids at once, and a
    /// lower `maxmatches` trims their lines.
    pub fn set_config(&mut self, config: WindowConfig) {
        let max_tracked = config.max_tracked.clamp(1, NIL as usize - 1);
        self.config = WindowConfig {
            max_tracked,
            ..config
        };
        while self.slots.len() > max_tracked {
            self.evict_oldest();
        }
        let keep = self.config.maxmatches;
        for slot in &mut self.slots {
            trim(&mut slot.matches, keep);
        }
    }

    /// Adds one failure of `id` at `time` with its matched lines, counting it `weight` times
    /// (1 normally; more for a repeat offender, see
    /// [`repeat_offender_weight`](crate::repeat_offender_weight)).
    ///
    /// Returns [`Added::Ban`] with the id's ticket when its count reaches `maxretry`; the id
    /// is then forgotten, so one run of failures gives exactly one ban.
    pub fn add(&mut self, id: &Id, time: i64, matched: &[&str], weight: u32) -> Added {
        self.total += 1;
        let hash = self.hasher.hash_one(id);
        let found = self
            .index
            .find(hash, |&i| self.slots[i as usize].id == *id)
            .copied();
        let retry = match found {
            Some(i) => {
                let findtime = self.config.findtime;
                let maxmatches = self.config.maxmatches;
                let slot = &mut self.slots[i as usize];
                adjust_time(slot, time, findtime);
                slot.retry = slot.retry.saturating_add(weight);
                slot.failures = slot.failures.saturating_add(1);
                push_matches(&mut slot.matches, matched, maxmatches);
                let retry = slot.retry;
                self.touch(i);
                retry
            }
            None => {
                if self.slots.len() >= self.config.max_tracked {
                    self.evict_oldest();
                }
                let mut matches = None;
                push_matches(&mut matches, matched, self.config.maxmatches);
                let retry = weight.max(1);
                self.insert(
                    hash,
                    Slot {
                        id: id.clone(),
                        first_time: time,
                        time,
                        retry,
                        failures: 1,
                        matches,
                        prev: NIL,
                        next: NIL,
                    },
                );
                retry
            }
        };
        self.oldest = self.oldest.min(time);
        if retry >= self.config.maxretry {
            if let Some(ticket) = self.remove(id) {
                return Added::Ban(ticket);
            }
        }
        Added::Counted { retry }
    }

    /// The current state of `id`, if tracked.
    pub fn get(&self, id: &Id) -> Option<FailTicket> {
        self.find(id).map(|i| ticket(&self.slots[i as usize]))
    }

    /// Stops tracking `id` and returns its ticket (for a manual ban, or an unban that forgets).
    pub fn remove(&mut self, id: &Id) -> Option<FailTicket> {
        let i = self.find(id)?;
        let slot = self.remove_slot(i);
        Some(into_ticket(slot))
    }

    /// Drops ids whose latest failure is at or before `now - findtime` (fail2ban runs this
    /// every few seconds). Returns how many were dropped.
    pub fn cleanup(&mut self, now: i64) -> usize {
        let limit = now.saturating_sub(self.config.findtime);
        if self.oldest > limit {
            return 0;
        }
        let before = self.slots.len();
        let stale = self.slots.iter().filter(|s| s.time <= limit).count();
        if stale == before {
            self.clear();
            return before;
        }
        if stale > before / 4 {
            // Many to drop: one rebuild beats removing them one by one.
            self.rebuild(before - stale, |s| s.time > limit);
            return stale;
        }
        let mut oldest = i64::MAX;
        let mut i = 0;
        while i < self.slots.len() {
            if self.slots[i].time <= limit {
                // The last slot moves into `i`: look at `i` again.
                self.remove_slot(i as u32);
            } else {
                oldest = oldest.min(self.slots[i].time);
                i += 1;
            }
        }
        self.oldest = oldest;
        self.release_slack();
        before - self.slots.len()
    }

    /// Forgets every id (the counters stay) and frees their memory.
    pub fn clear(&mut self) {
        self.slots = Vec::new();
        self.index = HashTable::new();
        self.head = NIL;
        self.tail = NIL;
        self.oldest = i64::MAX;
    }

    /// How many ids are tracked.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no id is tracked.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> WindowStats {
        WindowStats {
            current: self.slots.len(),
            total: self.total,
            evicted: self.evicted,
        }
    }

    /// The tracked tickets, least recently failing first.
    pub fn tickets(&self) -> impl Iterator<Item = FailTicket> + '_ {
        let mut at = self.head;
        std::iter::from_fn(move || {
            let slot = self.slots.get(at as usize)?;
            at = slot.next;
            Some(ticket(slot))
        })
    }

    /// Gives memory back after a flood has passed.
    fn release_slack(&mut self) {
        if self.slots.capacity() > 2 * self.slots.len() + 1024 {
            self.slots.shrink_to_fit();
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index
                .shrink_to_fit(|&j| hasher.hash_one(&slots[j as usize].id));
        }
    }

    /// Keeps the slots for which `keep` is true, in recency order, and rebuilds the index.
    fn rebuild(&mut self, survivors: usize, keep: impl Fn(&Slot) -> bool) {
        let mut old: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let mut at = self.head;
        let mut slots = Vec::with_capacity(survivors);
        while let Some(slot) = old.get_mut(at as usize).and_then(Option::take) {
            at = slot.next;
            if keep(&slot) {
                slots.push(slot);
            }
        }
        drop(old);
        let n = slots.len() as u32;
        self.oldest = i64::MAX;
        for (i, slot) in (0u32..).zip(slots.iter_mut()) {
            slot.prev = if i == 0 { NIL } else { i - 1 };
            slot.next = if i + 1 == n { NIL } else { i + 1 };
            self.oldest = self.oldest.min(slot.time);
        }
        self.head = if n == 0 { NIL } else { 0 };
        self.tail = n.checked_sub(1).unwrap_or(NIL);
        self.index = HashTable::with_capacity(slots.len());
        for (i, slot) in (0u32..).zip(slots.iter()) {
            let hash = self.hasher.hash_one(&slot.id);
            let hasher = &self.hasher;
            let all = &slots;
            self.index
                .insert_unique(hash, i, |&j| hasher.hash_one(&all[j as usize].id));
        }
        self.slots = slots;
    }

    fn find(&self, id: &Id) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.index
            .find(hash, |&i| self.slots[i as usize].id == *id)
            .copied()
    }

    fn insert(&mut self, hash: u64, slot: Slot) {
        let i = self.slots.len() as u32;
        self.slots.push(slot);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, i, |&j| hasher.hash_one(&slots[j as usize].id));
        self.link_back(i);
    }

    fn evict_oldest(&mut self) {
        if self.head != NIL {
            self.remove_slot(self.head);
            self.evicted += 1;
        }
    }

    /// Removes slot `i`, moving the last slot into its place.
    fn remove_slot(&mut self, i: u32) -> Slot {
        self.unlink(i);
        let hash = self.hasher.hash_one(&self.slots[i as usize].id);
        if let Ok(entry) = self.index.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        let last = (self.slots.len() - 1) as u32;
        let slot = self.slots.swap_remove(i as usize);
        if i != last {
            // The former last slot now lives at `i`: repoint its neighbours and its index entry.
            let moved = &self.slots[i as usize];
            let (prev, next) = (moved.prev, moved.next);
            let hash = self.hasher.hash_one(&moved.id);
            if prev == NIL {
                self.head = i;
            } else {
                self.slots[prev as usize].next = i;
            }
            if next == NIL {
                self.tail = i;
            } else {
                self.slots[next as usize].prev = i;
            }
            if let Some(at) = self.index.find_mut(hash, |&j| j == last) {
                *at = i;
            }
        }
        slot
    }

    /// Moves slot `i` to the most recent end.
    fn touch(&mut self, i: u32) {
        if self.tail != i {
            self.unlink(i);
            self.link_back(i);
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = &self.slots[i as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let s = &mut self.slots[i as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    fn link_back(&mut self, i: u32) {
        let tail = self.tail;
        {
            let s = &mut self.slots[i as usize];
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.head = i;
        } else {
            self.slots[tail as usize].next = i;
        }
        self.tail = i;
    }
}

impl std::fmt::Debug for FailureWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureWindow")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// fail2ban's `adjustTime`: rescales the count to the rate over the elapsed time when the
/// window start lies more than `findtime` back.
fn adjust_time(slot: &mut Slot, t: i64, findtime: i64) {
    if t <= slot.time {
        return;
    }
    if slot.first_time < t.saturating_sub(findtime) {
        // Same operation order as Python: retry / (t - firstTime) * findtime.
        let elapsed = t.saturating_sub(slot.first_time) as f64;
        let scaled = (f64::from(slot.retry) / elapsed * findtime as f64).round_ties_even();
        // `as` saturates: a negative findtime gives 0, never a wrap.
        slot.retry = scaled as u32;
        slot.first_time = t.saturating_sub(findtime);
    }
    slot.time = t;
}

fn push_matches(matches: &mut Option<MatchList>, new: &[&str], keep: usize) {
    if keep == 0 || new.is_empty() {
        return;
    }
    let skip = new.len().saturating_sub(keep);
    let new = new[skip..].iter().copied();
    let old = matches.as_ref().map_or(0, MatchList::len);
    let drop = (old + new.len()).saturating_sub(keep);
    let packed = match matches {
        Some(list) => MatchList::pack(list.lines().skip(drop).chain(new)),
        None => MatchList::pack(new),
    };
    *matches = packed;
}

fn trim(matches: &mut Option<MatchList>, keep: usize) {
    let Some(list) = matches else {
        return;
    };
    let n = list.len();
    if n > keep {
        *matches = MatchList::pack(list.lines().skip(n - keep));
    }
}

fn ticket(slot: &Slot) -> FailTicket {
    FailTicket {
        id: slot.id.clone(),
        first_time: slot.first_time,
        time: slot.time,
        retry: slot.retry,
        failures: slot.failures,
        matches: slot
            .matches
            .iter()
            .flat_map(MatchList::lines)
            .map(str::to_string)
            .collect(),
    }
}

fn into_ticket(slot: Slot) -> FailTicket {
    FailTicket {
        matches: slot
            .matches
            .iter()
            .flat_map(MatchList::lines)
            .map(str::to_string)
            .collect(),
        id: slot.id,
        first_time: slot.first_time,
        time: slot.time,
        retry: slot.retry,
        failures: slot.failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(findtime: i64, maxretry: u32) -> FailureWindow {
        FailureWindow::new(WindowConfig {
            findtime,
            maxretry,
            ..WindowConfig::default()
        })
    }

    fn ip(s: &str) -> Id {
        Id::parse(s)
    }

    #[test]
    fn packed_lines_keep_text_and_order() {
        let mut w = FailureWindow::new(WindowConfig {
            maxretry: 10,
            maxmatches: 3,
            ..WindowConfig::default()
        });
        let a = Id::parse("192.0.2.7");
        w.add(&a, 1, &["", "zwölf – ünïcode"], 1);
        w.add(&a, 2, &["x y"], 1);
        assert_eq!(w.get(&a).unwrap().matches, ["", "zwölf – ünïcode", "x y"]);
        w.add(&a, 3, &["last"], 1);
        assert_eq!(
            w.get(&a).unwrap().matches,
            ["zwölf – ünïcode", "x y", "last"]
        );
        w.set_config(WindowConfig {
            maxretry: 10,
            maxmatches: 1,
            ..WindowConfig::default()
        });
        assert_eq!(w.remove(&a).unwrap().matches, ["last"]);
    }

    #[test]
    fn slot_stays_64_bytes() {
        // 24 (id) + 8 + 8 + 4 + 4 + 8 (thin pointer to the packed matches) + 4 + 4 (links).
        assert_eq!(std::mem::size_of::<Id>(), 24);
        assert!(
            std::mem::size_of::<Slot>() <= 64,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }

    #[test]
    fn adjust_time_is_a_rate_estimate() {
        // findtime 600, failures at 0, 300, 900, 1000 (worked by hand):
        //   t=0:    new, retry 1, first 0
        //   t=300:  first 0 >= -300, no rescale; retry 2
        //   t=900:  first 0 < 300: retry = round(2/900*600) = round(1.33) = 1, first 300; +1 = 2
        //   t=1000: first 300 < 400: retry = round(2/700*600) = round(1.71) = 2, first 400; +1 = 3
        // An exact sliding window (400, 1000] would hold only 2 failures.
        let mut w = window(600, 10);
        let a = ip("192.0.2.1");
        let mut retries = vec![];
        for t in [0, 300, 900, 1000] {
            match w.add(&a, t, &[], 1) {
                Added::Counted { retry } => retries.push(retry),
                Added::Ban(_) => panic!("no ban below maxretry"),
            }
        }
        assert_eq!(retries, [1, 2, 2, 3]);
        let t = w.get(&a).unwrap();
        assert_eq!((t.first_time, t.time, t.failures), (400, 1000, 4));
    }

    #[test]
    fn adjust_time_rounds_half_to_even() {
        // retry 1 over 1200 s with findtime 600 is 0.5: Python's round gives 0, not 1.
        let mut w = window(600, 10);
        let a = ip("192.0.2.1");
        w.add(&a, 0, &[], 1);
        assert_eq!(w.add(&a, 1200, &[], 1), Added::Counted { retry: 1 });
        // 3 over 1200 s is 1.5 -> 2 (even); then +1.
        let b = ip("192.0.2.2");
        w.add(&b, 0, &[], 1);
        w.add(&b, 0, &[], 1);
        w.add(&b, 0, &[], 1);
        assert_eq!(w.add(&b, 1200, &[], 1), Added::Counted { retry: 3 });
    }

    #[test]
    fn failures_out_of_order_are_counted_without_adjustment() {
        let mut w = window(600, 10);
        let a = ip("192.0.2.1");
        w.add(&a, 5000, &[], 1);
        assert_eq!(w.add(&a, 100, &[], 1), Added::Counted { retry: 2 });
        assert_eq!(w.get(&a).unwrap().time, 5000);
    }

    #[test]
    fn maxretry_is_reached_exactly_once() {
        let mut w = window(600, 3);
        let a = ip("2001:db8::1");
        let outcomes: Vec<bool> = (0..7)
            .map(|t| matches!(w.add(&a, t, &["line"], 1), Added::Ban(_)))
            .collect();
        // Bans at the 3rd and 6th failure: the ban forgets the id, which starts over.
        assert_eq!(outcomes, [false, false, true, false, false, true, false]);
        assert_eq!(w.len(), 1);
        assert_eq!(w.stats().total, 7);
    }

    #[test]
    fn ban_ticket_carries_last_time_and_newest_matches() {
        let mut w = FailureWindow::new(WindowConfig {
            maxretry: 4,
            maxmatches: 2,
            ..WindowConfig::default()
        });
        let a = ip("198.51.100.7");
        for (t, line) in [(10, "a"), (20, "b"), (30, "c")] {
            w.add(&a, t, &[line], 1);
        }
        let Added::Ban(ticket) = w.add(&a, 40, &["d"], 1) else {
            panic!("4th failure bans")
        };
        assert_eq!(ticket.time, 40);
        assert_eq!(ticket.first_time, 10);
        assert_eq!(ticket.retry, 4);
        assert_eq!(ticket.failures, 4);
        assert_eq!(ticket.matches, ["c", "d"]);
        assert!(w.is_empty());
    }

    #[test]
    fn maxmatches_zero_keeps_no_lines() {
        let mut w = FailureWindow::new(WindowConfig {
            maxmatches: 0,
            ..WindowConfig::default()
        });
        let a = ip("198.51.100.7");
        w.add(&a, 1, &["x"], 1);
        assert!(w.get(&a).unwrap().matches.is_empty());
    }

    #[test]
    fn weight_counts_a_failure_several_times() {
        let mut w = window(600, 5);
        let a = ip("192.0.2.9");
        assert_eq!(w.add(&a, 1, &[], 3), Added::Counted { retry: 3 });
        assert!(matches!(w.add(&a, 2, &[], 2), Added::Ban(t) if t.retry == 5 && t.failures == 2));
    }

    #[test]
    fn cleanup_drops_ids_at_or_before_now_minus_findtime() {
        let mut w = window(600, 10);
        w.add(&ip("192.0.2.1"), 100, &[], 1);
        w.add(&ip("192.0.2.2"), 400, &[], 1);
        w.add(&ip("192.0.2.3"), 401, &[], 1);
        assert_eq!(w.cleanup(699), 0); // limit 99
        assert_eq!(w.cleanup(1000), 2); // limit 400: 100 and 400 go, 401 stays
        assert_eq!(w.len(), 1);
        assert!(w.get(&ip("192.0.2.3")).is_some());
        assert_eq!(w.cleanup(1001), 1);
        assert!(w.is_empty());
    }

    #[test]
    fn cleanup_of_a_few_keeps_order_and_lookups() {
        let mut w = window(600, 10);
        for n in 0..10 {
            // 10.0.0.3 and 10.0.0.6 fail early; the rest late.
            let t = if n == 3 || n == 6 { 0 } else { 1000 + n };
            w.add(&ip(&format!("10.0.0.{n}")), t, &[], 1);
        }
        assert_eq!(w.cleanup(1000), 2);
        let order: Vec<String> = w.tickets().map(|t| t.id.to_string()).collect();
        let expected: Vec<String> = [0, 1, 2, 4, 5, 7, 8, 9]
            .iter()
            .map(|n| format!("10.0.0.{n}"))
            .collect();
        assert_eq!(order, expected);
        for n in expected {
            assert_eq!(w.get(&ip(&n)).unwrap().id.to_string(), n);
        }
        // Many stale at once takes the rebuild path, with the same result.
        assert_eq!(w.cleanup(1606), 5);
        let order: Vec<String> = w.tickets().map(|t| t.id.to_string()).collect();
        assert_eq!(order, ["10.0.0.7", "10.0.0.8", "10.0.0.9"]);
        assert_eq!(
            w.add(&ip("10.0.0.8"), 1610, &[], 1),
            Added::Counted { retry: 2 }
        );
    }

    #[test]
    fn cap_evicts_the_least_recently_failing_id() {
        let mut w = FailureWindow::new(WindowConfig {
            max_tracked: 3,
            maxretry: 100,
            ..WindowConfig::default()
        });
        let ids: Vec<Id> = (1..=4).map(|n| ip(&format!("10.0.0.{n}"))).collect();
        w.add(&ids[0], 1, &[], 1);
        w.add(&ids[1], 2, &[], 1);
        w.add(&ids[2], 3, &[], 1);
        w.add(&ids[0], 4, &[], 1); // 10.0.0.1 is now the most recent
        w.add(&ids[3], 5, &[], 1); // evicts 10.0.0.2
        assert_eq!(w.len(), 3);
        assert_eq!(w.stats().evicted, 1);
        assert!(w.get(&ids[1]).is_none());
        assert_eq!(w.get(&ids[0]).unwrap().retry, 2);
        let order: Vec<String> = w.tickets().map(|t| t.id.to_string()).collect();
        assert_eq!(order, ["10.0.0.3", "10.0.0.1", "10.0.0.4"]);
    }

    #[test]
    fn lowering_the_cap_evicts_at_once() {
        let mut w = window(600, 100);
        for n in 0..10 {
            w.add(&ip(&format!("10.0.0.{n}")), n, &["l"], 1);
        }
        w.set_config(WindowConfig {
            max_tracked: 4,
            maxmatches: 0,
            maxretry: 100,
            findtime: 600,
        });
        assert_eq!(w.len(), 4);
        assert_eq!(w.stats().evicted, 6);
        assert!(w.get(&ip("10.0.0.9")).unwrap().matches.is_empty());
        assert!(w.get(&ip("10.0.0.5")).is_none());
    }

    #[test]
    fn raw_ids_and_mapped_addresses() {
        let mut w = window(600, 2);
        w.add(&ip("::ffff:192.0.2.1"), 1, &[], 1);
        assert!(matches!(w.add(&ip("192.0.2.1"), 2, &[], 1), Added::Ban(_)));
        w.add(&Id::Raw("session-42".into()), 1, &[], 1);
        assert_eq!(w.get(&Id::Raw("session-42".into())).unwrap().retry, 1);
    }
}
