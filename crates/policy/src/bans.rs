//! The bans of one jail: fail2ban's `BanManager`.

use std::collections::HashMap;

use crate::id::Id;

/// The `bantime` of a permanent ban. Only exactly -1 is permanent; any other negative bantime
/// makes a ban that is over before it starts, as in fail2ban.
pub const PERMANENT: i64 = -1;

/// The end of a permanent ban: fail2ban's `MAX_TIME` (`0x7FFFFFFFFFFF`).
pub const MAX_TIME: i64 = 0x7FFF_FFFF_FFFF;

/// A ban to add: who, from when, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanTicket {
    /// Whom to ban.
    pub id: Id,
    /// The time of the last failure (Unix seconds): the ban runs from here, not from now.
    pub time: i64,
    /// The ban's own length in seconds, or `None` for the jail's `bantime`.
    pub bantime: Option<i64>,
    /// How many times the id has been banned, this ban included.
    pub ban_count: u32,
    /// How many failures led to the ban.
    pub failures: u32,
    /// The matched lines, oldest first.
    pub matches: Vec<String>,
}

impl BanTicket {
    /// A ticket for `id` at `time` with the jail's bantime, one ban, no failures or lines
    /// (`set <jail> banip`).
    pub fn new(id: Id, time: i64) -> BanTicket {
        BanTicket {
            id,
            time,
            bantime: None,
            ban_count: 1,
            failures: 0,
            matches: Vec::new(),
        }
    }

    /// The ticket for a [`FailTicket`](crate::FailTicket) that reached `maxretry`.
    pub fn from_failures(ticket: crate::FailTicket) -> BanTicket {
        BanTicket {
            id: ticket.id,
            time: ticket.time,
            bantime: None,
            ban_count: 1,
            failures: ticket.failures,
            matches: ticket.matches,
        }
    }
}

/// A ban in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// The ticket as added, with `bantime` resolved to seconds (never `None`).
    pub ticket: BanTicket,
}

impl Ban {
    /// The ban's length in seconds, [`PERMANENT`] for ever.
    pub fn bantime(&self) -> i64 {
        self.ticket.bantime.unwrap_or(PERMANENT)
    }

    /// Whether the ban never ends.
    pub fn is_permanent(&self) -> bool {
        self.bantime() == PERMANENT
    }

    /// When the ban ends: last failure + bantime, or [`MAX_TIME`] when permanent.
    pub fn end(&self) -> i64 {
        end_of_ban(self.ticket.time, self.bantime())
    }

    /// Whether the ban is over at `now`: `now > end` (fail2ban's `isTimedOut`), never for a
    /// permanent ban.
    pub fn is_timed_out(&self, now: i64) -> bool {
        !self.is_permanent() && now > self.end()
    }

    /// The first whole second at which the ban is over (`end + 1`), to schedule its unban in
    /// [`Deadlines`](crate::Deadlines); `None` for a permanent ban.
    pub fn unban_due(&self) -> Option<i64> {
        (!self.is_permanent()).then(|| self.end().saturating_add(1))
    }
}

/// What [`BanBook::add`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BanOutcome {
    /// A new ban; it ends at `end` ([`MAX_TIME`] if permanent).
    Banned {
        /// When the ban ends.
        end: i64,
    },
    /// The id was banned already; nothing new to tell the actions.
    AlreadyBanned {
        /// The new end when the ticket made the ban last longer (fail2ban's prolongation).
        prolonged_to: Option<i64>,
        /// The time of the failure that started the standing ban, for the "already banned"
        /// message (fail2ban raises its level the longer a ban has stood).
        banned_since: i64,
    },
    /// The ban would already be over at `now` (fail2ban's "expired bantime"): not banned.
    Expired,
}

/// The bans of one jail, by id: fail2ban's `BanManager`.
#[derive(Clone, Debug)]
pub struct BanBook {
    bantime: i64,
    bans: HashMap<Id, Ban>,
    total: u64,
}

impl BanBook {
    /// An empty book whose tickets without their own bantime get `bantime` seconds.
    pub fn new(bantime: i64) -> BanBook {
        BanBook {
            bantime,
            bans: HashMap::new(),
            total: 0,
        }
    }

    /// The jail's bantime.
    pub fn bantime(&self) -> i64 {
        self.bantime
    }

    /// Changes the jail's bantime for later bans (`set <jail> bantime`).
    pub fn set_bantime(&mut self, bantime: i64) {
        self.bantime = bantime;
    }

    /// Bans `ticket.id` from `ticket.time` for its bantime (or the jail's).
    ///
    /// - A bantime of -1 is permanent; any other negative bantime, or an end before `now`,
    ///   gives [`BanOutcome::Expired`] and no ban.
    /// - An id banned already is not banned again. When the new ban would end later, the
    ///   standing ban is prolonged to that end (its bantime becomes
    ///   `new bantime + (new time - old time)`, or permanent).
    pub fn add(&mut self, mut ticket: BanTicket, now: i64) -> BanOutcome {
        let bantime = ticket.bantime.unwrap_or(self.bantime);
        let end = end_of_ban(ticket.time, bantime);
        if (bantime < 0 && bantime != PERMANENT) || end < now {
            return BanOutcome::Expired;
        }
        if let Some(old) = self.bans.get_mut(&ticket.id) {
            let prolonged_to = (end > old.end()).then(|| {
                old.ticket.bantime = Some(if bantime == PERMANENT {
                    PERMANENT
                } else {
                    bantime.saturating_add(ticket.time.saturating_sub(old.ticket.time))
                });
                old.end()
            });
            return BanOutcome::AlreadyBanned {
                prolonged_to,
                banned_since: old.ticket.time,
            };
        }
        ticket.bantime = Some(bantime);
        self.total += 1;
        self.bans.insert(ticket.id.clone(), Ban { ticket });
        BanOutcome::Banned { end }
    }

    /// Sets the bantime of a standing ban (after `bantime.increment` computed a longer one)
    /// and returns the new end; `None` when `id` is not banned.
    pub fn set_ban_time(&mut self, id: &Id, bantime: i64) -> Option<i64> {
        let ban = self.bans.get_mut(id)?;
        ban.ticket.bantime = Some(bantime);
        Some(ban.end())
    }

    /// Lifts the ban of `id`, returning it; `None` when `id` is not banned.
    pub fn unban(&mut self, id: &Id) -> Option<Ban> {
        self.bans.remove(id)
    }

    /// Lifts the ban of `id` only if it is over at `now` (a deadline fired; the ban may have
    /// been prolonged since the deadline was set).
    pub fn unban_if_timed_out(&mut self, id: &Id, now: i64) -> Option<Ban> {
        if self.bans.get(id)?.is_timed_out(now) {
            self.bans.remove(id)
        } else {
            None
        }
    }

    /// Lifts every ban that is over at `now`, oldest end first.
    pub fn unban_timed_out(&mut self, now: i64) -> Vec<Ban> {
        let ids: Vec<Id> = self
            .bans
            .values()
            .filter(|b| b.is_timed_out(now))
            .map(|b| b.ticket.id.clone())
            .collect();
        let mut out: Vec<Ban> = ids.iter().filter_map(|id| self.bans.remove(id)).collect();
        out.sort_by_key(|b| (b.end(), b.ticket.id.clone()));
        out
    }

    /// Lifts every ban (jail stop, `unban --all`), in id order.
    pub fn unban_all(&mut self) -> Vec<Ban> {
        let mut out: Vec<Ban> = self.bans.drain().map(|(_, b)| b).collect();
        out.sort_by(|a, b| a.ticket.id.cmp(&b.ticket.id));
        out
    }

    /// The ban of `id`, if banned.
    pub fn get(&self, id: &Id) -> Option<&Ban> {
        self.bans.get(id)
    }

    /// Whether `id` is banned.
    pub fn is_banned(&self, id: &Id) -> bool {
        self.bans.contains_key(id)
    }

    /// The bans, in id order (`get <jail> banip`).
    pub fn list(&self) -> Vec<&Ban> {
        let mut out: Vec<&Ban> = self.bans.values().collect();
        out.sort_by(|a, b| a.ticket.id.cmp(&b.ticket.id));
        out
    }

    /// "Currently banned".
    pub fn len(&self) -> usize {
        self.bans.len()
    }

    /// Whether nothing is banned.
    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
    }

    /// "Total banned": bans added since start (prolongations not counted).
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// `time + bantime`, or [`MAX_TIME`] for a permanent ban.
pub(crate) fn end_of_ban(time: i64, bantime: i64) -> i64 {
    if bantime == PERMANENT {
        MAX_TIME
    } else {
        time.saturating_add(bantime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::parse(s)
    }

    #[test]
    fn ban_ends_at_last_failure_plus_bantime() {
        let mut book = BanBook::new(600);
        let out = book.add(BanTicket::new(id("192.0.2.1"), 1000), 1030);
        assert_eq!(out, BanOutcome::Banned { end: 1600 });
        let ban = book.get(&id("192.0.2.1")).unwrap();
        assert_eq!(ban.unban_due(), Some(1601));
        assert!(!ban.is_timed_out(1600));
        assert!(ban.is_timed_out(1601));
        assert_eq!((book.len(), book.total()), (1, 1));
    }

    #[test]
    fn ban_already_over_is_not_added() {
        let mut book = BanBook::new(600);
        assert_eq!(
            book.add(BanTicket::new(id("192.0.2.1"), 1000), 1601),
            BanOutcome::Expired
        );
        // End exactly now is still a ban (fail2ban drops only `eob < now`).
        assert_eq!(
            book.add(BanTicket::new(id("192.0.2.1"), 1000), 1600),
            BanOutcome::Banned { end: 1600 }
        );
    }

    #[test]
    fn minus_one_is_permanent_other_negatives_expire() {
        let mut book = BanBook::new(PERMANENT);
        let out = book.add(BanTicket::new(id("192.0.2.1"), 1000), 5000);
        assert_eq!(out, BanOutcome::Banned { end: MAX_TIME });
        let ban = book.get(&id("192.0.2.1")).unwrap();
        assert!(ban.is_permanent());
        assert_eq!(ban.unban_due(), None);
        assert!(!ban.is_timed_out(i64::MAX));
        assert!(book.unban_timed_out(i64::MAX).is_empty());

        book.set_bantime(-2);
        // A future failure time would give an end after now: still refused.
        assert_eq!(
            book.add(BanTicket::new(id("192.0.2.2"), 9000), 5000),
            BanOutcome::Expired
        );
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn later_ticket_prolongs_a_standing_ban() {
        let mut book = BanBook::new(600);
        book.add(BanTicket::new(id("192.0.2.1"), 1000), 1000);
        // New failure at 1300: its ban would end at 1900 > 1600. bantime = 600 + 300.
        let out = book.add(BanTicket::new(id("192.0.2.1"), 1300), 1300);
        assert_eq!(
            out,
            BanOutcome::AlreadyBanned {
                prolonged_to: Some(1900),
                banned_since: 1000
            }
        );
        let ban = book.get(&id("192.0.2.1")).unwrap();
        assert_eq!(
            (ban.ticket.time, ban.bantime(), ban.end()),
            (1000, 900, 1900)
        );
        // An earlier-ending ticket changes nothing.
        let out = book.add(
            BanTicket {
                bantime: Some(60),
                ..BanTicket::new(id("192.0.2.1"), 1400)
            },
            1400,
        );
        assert_eq!(
            out,
            BanOutcome::AlreadyBanned {
                prolonged_to: None,
                banned_since: 1000
            }
        );
        // A permanent ticket makes the ban permanent.
        let out = book.add(
            BanTicket {
                bantime: Some(PERMANENT),
                ..BanTicket::new(id("192.0.2.1"), 1500)
            },
            1500,
        );
        assert!(matches!(
            out,
            BanOutcome::AlreadyBanned {
                prolonged_to: Some(MAX_TIME),
                ..
            }
        ));
        assert_eq!((book.len(), book.total()), (1, 1));
    }

    #[test]
    fn unban_paths() {
        let mut book = BanBook::new(100);
        book.add(BanTicket::new(id("192.0.2.1"), 0), 0);
        book.add(BanTicket::new(id("192.0.2.2"), 50), 50);
        book.add(BanTicket::new(id("192.0.2.3"), 10), 50);
        assert!(book.unban_if_timed_out(&id("192.0.2.1"), 100).is_none());
        let due: Vec<String> = book
            .unban_timed_out(120)
            .iter()
            .map(|b| b.ticket.id.to_string())
            .collect();
        assert_eq!(due, ["192.0.2.1", "192.0.2.3"]);
        assert_eq!(book.set_ban_time(&id("192.0.2.2"), 1000), Some(1050));
        assert!(book.unban(&id("192.0.2.2")).is_some());
        assert!(book.unban(&id("192.0.2.2")).is_none());
        assert!(book.is_empty());
        assert_eq!(book.total(), 3);
    }
}
