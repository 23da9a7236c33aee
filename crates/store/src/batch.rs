//! A set of changes the store applies in one transaction.

use crate::{Ban, BanId, FleetCursor, FleetRecord, JournalCursor, LogPosition};

/// Changes that are committed together or not at all.
///
/// The daemon gathers the bans it decided on and the log positions those decisions were read
/// up to, and hands them over in one batch: after a crash, the store holds either both or
/// neither, so a line is never forgotten and never counted twice. Changes apply in the order
/// they were added.
///
/// ```
/// use jailor_store::{Ban, BanData, BanId, Batch, Store};
///
/// let mut store = Store::open_in_memory()?;
/// let mut batch = Batch::new();
/// batch.ban(Ban {
///     jail: "sshd".into(),
///     id: BanId::Ip("192.0.2.7".parse().unwrap()),
///     time_of_ban: 1_700_000_000,
///     bantime: 600,
///     ban_count: 1,
///     failures: 5,
///     data: BanData::default(),
/// });
/// store.commit(&batch)?;
/// assert_eq!(store.current_bans(1_700_000_100)?.len(), 1);
/// # Ok::<(), jailor_store::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub(crate) changes: Vec<Change>,
}

/// One change of a [`Batch`].
#[derive(Clone, Debug)]
pub(crate) enum Change {
    Ban(Ban),
    Unban(Unban),
    Position(LogPosition),
    Cursor(JournalCursor),
    FleetRecord(FleetRecord),
    FleetForget {
        origin: String,
        jail: String,
        addr: String,
    },
    FleetCursor(FleetCursor),
}

/// Which ban records an unban deletes.
///
/// Deleting a record also forgets its ban count, as fail2ban's manual unban does. A ban that
/// simply ran out needs no unban: its record stays until purged and keeps counting for
/// `bantime.increment`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unban {
    /// One id in one jail (`set <jail> unbanip <ip>`).
    One {
        /// The jail.
        jail: String,
        /// The id.
        id: BanId,
    },
    /// One id in every jail (`unban <ip>`).
    Everywhere(BanId),
    /// Every id of one jail (`unban --all` for a jail).
    Jail(String),
    /// Every record (`unban --all`).
    All,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Records a ban, replacing the jail's record for the same id.
    pub fn ban(&mut self, ban: Ban) -> &mut Batch {
        self.changes.push(Change::Ban(ban));
        self
    }

    /// Deletes ban records.
    pub fn unban(&mut self, unban: Unban) -> &mut Batch {
        self.changes.push(Change::Unban(unban));
        self
    }

    /// Records how far a jail has read a log file, replacing the previous position.
    pub fn position(&mut self, position: LogPosition) -> &mut Batch {
        self.changes.push(Change::Position(position));
        self
    }

    /// Records how far a jail has read the journal, replacing the previous cursor.
    pub fn journal_cursor(&mut self, cursor: JournalCursor) -> &mut Batch {
        self.changes.push(Change::Cursor(cursor));
        self
    }

    /// Records the latest fleet event applied for its (origin, jail, address).
    pub fn fleet_record(&mut self, record: FleetRecord) -> &mut Batch {
        self.changes.push(Change::FleetRecord(record));
        self
    }

    /// Forgets the fleet record of (origin, jail, address) (gone from the fleet's snapshot).
    pub fn fleet_forget(&mut self, origin: &str, jail: &str, addr: &str) -> &mut Batch {
        self.changes.push(Change::FleetForget {
            origin: origin.to_owned(),
            jail: jail.to_owned(),
            addr: addr.to_owned(),
        });
        self
    }

    /// Records where the fleet engine's subscriber stands, replacing the previous cursor.
    pub fn fleet_cursor(&mut self, cursor: FleetCursor) -> &mut Batch {
        self.changes.push(Change::FleetCursor(cursor));
        self
    }

    /// The number of changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Removes every change, keeping the allocation for the next batch.
    pub fn clear(&mut self) {
        self.changes.clear();
    }
}
