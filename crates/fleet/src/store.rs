//! The fleet's own SQLite state: the outbox of events not yet acknowledged, the cursor,
//! and the fleet bans applied here (last writer wins per key).

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::FleetError;
use crate::event::{Action, FleetEvent};

/// One open connection to the fleet database.
pub(crate) struct FleetStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cursor (
    engine TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet_bans (
    key TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    id TEXT NOT NULL,
    banned INTEGER NOT NULL,
    exp_ms INTEGER,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS fleet_bans_target ON fleet_bans (target);
";

impl FleetStore {
    /// Opens (and creates) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, FleetError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(FleetStore { conn })
    }

    /// Queues an event for the broker.
    pub(crate) fn enqueue(&self, ev: &FleetEvent) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT INTO outbox (body) VALUES (?1)",
            params![ev.encode()],
        )?;
        Ok(())
    }

    /// The oldest `limit` queued events with their row numbers.
    pub(crate) fn pending(&self, limit: usize) -> Result<Vec<(i64, FleetEvent)>, FleetError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, body FROM outbox ORDER BY seq LIMIT ?1")?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, body) = row?;
            match FleetEvent::decode(&body) {
                Ok(ev) => out.push((seq, ev)),
                // A row we cannot read would block the queue for ever: drop it.
                Err(_) => self.sent(seq)?,
            }
        }
        Ok(out)
    }

    /// Removes an acknowledged (or obsolete) event from the outbox.
    pub(crate) fn sent(&self, seq: i64) -> Result<(), FleetError> {
        self.conn
            .execute("DELETE FROM outbox WHERE seq = ?1", params![seq])?;
        Ok(())
    }

    /// How many events wait in the outbox.
    pub(crate) fn depth(&self) -> Result<u64, FleetError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// The stored cursor of `engine`.
    pub(crate) fn cursor(&self, engine: &str) -> Result<Option<String>, FleetError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM cursor WHERE engine = ?1",
                params![engine],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Applies received events (last writer wins per key, ordered by time then id) and
    /// stores the cursor in the same transaction. Answers the events that changed a key.
    pub(crate) fn apply(
        &mut self,
        engine: &str,
        events: &[FleetEvent],
        cursor: Option<&str>,
    ) -> Result<Vec<FleetEvent>, FleetError> {
        let tx = self.conn.transaction()?;
        let mut changed = Vec::new();
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO fleet_bans (key, target, ts_ms, id, banned, exp_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(key) DO UPDATE SET ts_ms = excluded.ts_ms, id = excluded.id,
                     banned = excluded.banned, exp_ms = excluded.exp_ms, body = excluded.body
                 WHERE excluded.ts_ms > fleet_bans.ts_ms
                    OR (excluded.ts_ms = fleet_bans.ts_ms AND excluded.id > fleet_bans.id)",
            )?;
            for ev in events {
                let banned = ev.act == Action::Ban;
                let row = params![
                    ev.key(),
                    target(ev),
                    ev.ts_ms,
                    ev.id,
                    banned,
                    ev.exp_ms,
                    ev.encode()
                ];
                if up.execute(row)? > 0 {
                    changed.push(ev.clone());
                }
            }
        }
        if let Some(c) = cursor {
            tx.execute(
                "INSERT INTO cursor (engine, value) VALUES (?1, ?2)
                 ON CONFLICT(engine) DO UPDATE SET value = excluded.value",
                params![engine, c],
            )?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// After a snapshot: forgets the fleet bans the snapshot did not hold and answers
    /// them (those still in force must be lifted here).
    pub(crate) fn retain(&mut self, seen: &HashSet<String>) -> Result<Vec<FleetEvent>, FleetError> {
        let tx = self.conn.transaction()?;
        let mut gone = Vec::new();
        {
            let mut stmt = tx.prepare("SELECT key, body FROM fleet_bans")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for row in rows {
                let (key, body) = row?;
                if !seen.contains(&key) {
                    if let Ok(ev) = FleetEvent::decode(&body) {
                        gone.push(ev);
                    }
                    tx.execute("DELETE FROM fleet_bans WHERE key = ?1", params![key])?;
                }
            }
        }
        tx.commit()?;
        Ok(gone)
    }

    /// Whether another origin's ban of the same jail and address is still in force.
    pub(crate) fn banned_elsewhere(
        &self,
        ev: &FleetEvent,
        now_ms: i64,
    ) -> Result<bool, FleetError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM fleet_bans WHERE target = ?1 AND key <> ?2 AND banned = 1
             AND (exp_ms IS NULL OR exp_ms > ?3)",
            params![target(ev), ev.key(), now_ms],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Drops records whose ban ended long ago (they only guard against stale replays).
    pub(crate) fn purge(&self, before_ms: i64) -> Result<(), FleetError> {
        self.conn.execute(
            "DELETE FROM fleet_bans WHERE ts_ms < ?1 AND exp_ms IS NOT NULL AND exp_ms < ?1",
            params![before_ms],
        )?;
        Ok(())
    }
}

/// What a fleet ban applies to here, whatever its origin: `<jail>|<address>`.
fn target(ev: &FleetEvent) -> String {
    format!("{}|{}", ev.jail, ev.addr)
}
