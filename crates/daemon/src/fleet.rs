//! Fleet-wide bans in the daemon: the `[Fleet]` section and each jail's `fleet` mode,
//! publishing the keeper's new bans, and applying bans received from other hosts
//! through the receiving jail's own actions (with their remaining time).
//!
//! The fleet runtime runs on its own thread (`jailor_fleet::Fleet`); the keeper only
//! appends to its SQLite outbox, and received bans come back as keeper messages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};

use crate::queue::Sender as SyncSender;
use std::sync::Arc;
use std::time::Duration;

use jailor_config::{Config, Vars};
use jailor_fleet::{
    now_ms, Action, Applier, Delivery, Fleet, FleetConfig, FleetError, FleetEvent, IpNet, JailMode,
    Received,
};
use jailor_policy::{BanOutcome, BanTicket, Id, IgnoreList, NoResolver, PERMANENT};
use jailor_store::{BanData, FleetCursor, FleetRecord, Unban};

use crate::jail_counters::Registry;
use crate::keeper::{self, Keeper, ToKeeper};
use crate::logf;
use crate::worker::Job;

/// The field of a stored ban that marks it as received from the fleet (its origin), so
/// that after a restart a fleet unban may still lift it.
pub(crate) const ORIGIN_FIELD: &str = "fleet_origin";

/// The fleet as the daemon holds it: the runtime and the jails' modes.
pub(crate) struct FleetLink {
    fleet: Fleet,
    modes: HashMap<String, JailMode>,
}

impl FleetLink {
    fn mode(&self, jail: &str) -> JailMode {
        self.modes.get(jail).copied().unwrap_or_default()
    }
}

/// The options of `section` in the file set `name` (`fail2ban` or `jailor`), interpolated.
fn section(base: &Path, name: &str, section: &str) -> Vec<(String, String)> {
    let statics: Vars = Vars::default();
    let vars = Vars::default();
    let Ok(cfg) = Config::read(base, name, &statics) else {
        return Vec::new();
    };
    cfg.option_names(section)
        .into_iter()
        .filter_map(|o| {
            let v = cfg.get(section, &o, &vars).ok().flatten()?.0;
            Some((o, v))
        })
        .collect()
}

/// Each jail's `fleet` option (its own value, else `[DEFAULT]` of the jail files).
fn jail_modes(base: &Path) -> HashMap<String, JailMode> {
    let statics: Vars = Vars::default();
    let vars = Vars::default();
    let Ok(cfg) = Config::read(base, "jail", &statics) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for jail in cfg.section_names() {
        if let Ok(Some((v, _))) = cfg.get(jail, "fleet", &vars) {
            match JailMode::parse(&v) {
                Ok(m) => {
                    out.insert(jail.to_owned(), m);
                }
                Err(e) => logf!(ERROR, "fail2ban.configreader", "[{jail}] {e}"),
            }
        }
    }
    out
}

/// This host's name, reduced to what an origin may hold.
fn host_name() -> String {
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let short: String = name
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if short.is_empty() {
        "localhost".into()
    } else {
        short
    }
}

/// Where the fleet keeps its outbox: `[Fleet] dbfile`, else beside the store. (Received
/// bans and the cursor are in the store itself.)
fn db_path(options: &[(String, String)], dbfile: &str) -> PathBuf {
    if let Some((_, v)) = options.iter().find(|(k, _)| k == "dbfile") {
        return PathBuf::from(v);
    }
    match Path::new(dbfile).parent() {
        Some(dir) if !matches!(dbfile, ":memory:" | "None" | "") => {
            dir.join("jailor-fleet.sqlite3")
        }
        _ => std::env::temp_dir().join(format!("jailor-fleet-{}.sqlite3", std::process::id())),
    }
}

/// Starts the fleet when the configuration sets an engine, and hands it to the keeper.
pub(crate) fn start(
    base: &Path,
    dbfile: &str,
    to_keeper: &SyncSender<ToKeeper>,
    registry: &Registry,
) {
    let name = if base.join("jailor.conf").is_file() {
        "jailor"
    } else {
        "fail2ban"
    };
    let options = section(base, name, "Fleet");
    let cfg = match FleetConfig::from_options(
        options.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &host_name(),
    ) {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            logf!(ERROR, "fail2ban.server", "[Fleet] {e}: fleet bans are off");
            return;
        }
    };
    let engine = cfg.engine.name();
    let origin = cfg.origin.clone();
    let applier = Box::new(KeeperApplier {
        to_keeper: to_keeper.clone(),
    });
    match Fleet::start_with(cfg, &db_path(&options, dbfile), applier) {
        Ok(fleet) => {
            logf!(INFO, "fail2ban.server", "Fleet: {engine} as {origin}");
            registry.set_fleet(fleet.stats_reader());
            let link = Arc::new(FleetLink {
                fleet,
                modes: jail_modes(base),
            });
            let _ = to_keeper.send(ToKeeper::Control(Box::new(move |k: &mut Keeper| {
                k.fleet = Some(link);
            })));
        }
        Err(e) => logf!(ERROR, "fail2ban.server", "Fleet cannot start: {e}"),
    }
}

fn net_of(id: &Id) -> Option<IpNet> {
    match id {
        Id::Ip(ip) => Some(IpNet::from(*ip)),
        Id::Net(n) => jailor_fleet::parse_addr(&n.to_string()).ok(),
        Id::Raw(_) => None,
    }
}

fn id_of(addr: &IpNet) -> Id {
    if addr.prefix_len() == addr.max_prefix_len() {
        Id::ip(addr.addr())
    } else {
        Id::parse(&addr.to_string())
    }
}

/// After the keeper announced a new local ban: queue it for the fleet (not one that came
/// from the fleet, and only from a jail that publishes).
pub(crate) fn published(k: &Keeper, jail: &str, id: &Id) {
    let Some(link) = k.fleet.as_ref() else { return };
    if !link.mode(jail).publishes() || k.from_fleet.contains(&(jail.to_owned(), id.clone())) {
        return;
    }
    let Some(ban) = k.jails.get(jail).and_then(|st| st.book.get(id)) else {
        return;
    };
    let Some(addr) = net_of(id) else { return };
    let exp = (!ban.is_permanent()).then(|| ban.end().saturating_mul(1000));
    if let Err(e) = link.fleet.publish(jail, addr, Action::Ban, exp) {
        logf!(ERROR, "fail2ban.server", "[{jail}] fleet outbox: {e}");
    }
}

/// After a manual unban of a local ban: lift it on the other hosts too.
pub(crate) fn unpublished(k: &Keeper, jail: &str, id: &Id) {
    let Some(link) = k.fleet.as_ref() else { return };
    if !link.mode(jail).publishes() || k.from_fleet.contains(&(jail.to_owned(), id.clone())) {
        return;
    }
    if let Some(addr) = net_of(id) {
        if let Err(e) = link.fleet.publish(jail, addr, Action::Unban, None) {
            logf!(ERROR, "fail2ban.server", "[{jail}] fleet outbox: {e}");
        }
    }
}

/// Applies a ban or unban received from the fleet, on the keeper's thread.
fn received(k: &mut Keeper, r: Received) {
    let Some(link) = k.fleet.clone() else { return };
    if !link.mode(&r.jail).receives() {
        return;
    }
    let Some(st) = k.jails.get_mut(&r.jail) else {
        return;
    };
    let id = id_of(&r.addr);
    let jail = r.jail.clone();
    let now = keeper::now();
    if !r.ban {
        if !k.from_fleet.remove(&(jail.clone(), id.clone())) {
            return; // never lift a ban this host decided itself
        }
        let Some(ban) = st.book.unban(&id) else {
            return;
        };
        k.deadlines.cancel(&(jail.clone(), id.clone()));
        k.batch.unban(Unban::One {
            jail: jail.clone(),
            id: keeper::ban_id(&id),
        });
        logf!(
            NOTICE,
            "fail2ban.actions",
            "[{jail}] Unban {id} (fleet: {})",
            r.origin
        );
        if let Some(ticket) = keeper::action_ticket(&ban, None, false) {
            let c = keeper::counters(st);
            keeper::dispatch(st, Job::Unban(Box::new(ticket), c));
        }
        return;
    }
    if IgnoreList::parse(&st.settings.ignoreip, &NoResolver)
        .check(&id)
        .is_some()
    {
        logf!(
            INFO,
            "fail2ban.filter",
            "[{jail}] Ignore {id} from the fleet by ignoreip"
        );
        return;
    }
    let bantime = match r.exp_ms {
        None => PERMANENT,
        Some(exp) => {
            let left = (exp - now.saturating_mul(1000) + 999) / 1000;
            if left <= 0 {
                return;
            }
            left
        }
    };
    if st.book.is_banned(&id) {
        return;
    }
    let ticket = BanTicket {
        id: id.clone(),
        time: now,
        bantime: Some(bantime),
        ban_count: 1,
        failures: 0,
        matches: Vec::new(),
    };
    if let BanOutcome::Banned { .. } = st.book.add(ticket, now) {
        logf!(
            INFO,
            "fail2ban.actions",
            "[{jail}] Fleet ban {id} from {}",
            r.origin
        );
        k.batch.ban(jailor_store::Ban {
            jail: jail.clone(),
            id: keeper::ban_id(&id),
            time_of_ban: now,
            bantime,
            ban_count: 1,
            failures: 0,
            data: BanData {
                matches: Vec::new(),
                fields: [(ORIGIN_FIELD.to_owned(), r.origin.clone())]
                    .into_iter()
                    .collect(),
            },
        });
        k.from_fleet.insert((jail.clone(), id.clone()));
        k.announce_ban(jail, id);
    }
}

/// The daemon's side of the fleet's receiving: each delivery runs on the keeper's
/// thread, where the fleet records, the engine's cursor and the jail bans they cause go
/// into one batch, committed as one transaction. A crash before that commit loses all of
/// it, and the next start reads the same events again from the stored cursor.
struct KeeperApplier {
    to_keeper: SyncSender<ToKeeper>,
}

/// `JAILOR_TEST_FLEET_CRASH=before-commit` (a test hook): the process aborts when a
/// delivery that changes bans is about to be committed, as a `kill -9` would hit it.
fn crash_before_commit() -> bool {
    static HOOK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HOOK.get_or_init(|| {
        std::env::var("JAILOR_TEST_FLEET_CRASH").is_ok_and(|v| v == "before-commit")
    })
}

fn gone(what: &str) -> FleetError {
    FleetError::Runtime(std::io::Error::other(format!("the keeper {what}")))
}

impl KeeperApplier {
    /// Runs `call` on the keeper's thread and waits for its answer, giving up when the
    /// fleet stops (the keeper may be the one stopping it).
    fn call<T: Send + 'static>(
        &self,
        stopping: &AtomicBool,
        call: impl FnOnce(&mut Keeper) -> T + Send + 'static,
    ) -> Result<T, FleetError> {
        let (tx, rx) = mpsc::channel();
        let mut msg = ToKeeper::Control(Box::new(move |k: &mut Keeper| {
            let _ = tx.send(call(k));
        }));
        loop {
            match self.to_keeper.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if !stopping.load(Ordering::SeqCst) => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return Err(gone("is not running")),
            }
        }
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(v) => return Ok(v),
                Err(RecvTimeoutError::Timeout) if !stopping.load(Ordering::SeqCst) => {}
                Err(_) => return Err(gone("did not answer")),
            }
        }
    }
}

impl Applier for KeeperApplier {
    fn cursor(
        &mut self,
        engine: &str,
        stopping: &AtomicBool,
    ) -> Result<Option<String>, FleetError> {
        let engine = engine.to_owned();
        self.call(stopping, move |k| {
            keeper::lock(&k.store).fleet_cursor(&engine)
        })?
        .map_err(|e| gone(&format!("cannot read the fleet cursor: {e}")))
    }

    fn apply(&mut self, delivery: Delivery, stopping: &AtomicBool) -> Result<u64, FleetError> {
        self.call(stopping, move |k| apply_delivery(k, delivery))?
            .map_err(|e| gone(&format!("cannot apply fleet events: {e}")))
    }

    fn purge(&mut self, _before_ms: i64) -> Result<(), FleetError> {
        // The store's own purge (dbpurgeage) drops old fleet records with old bans.
        Ok(())
    }
}

/// (origin, jail, address) of a fleet record.
type RecordKey = (String, String, String);

fn record_of(ev: &FleetEvent) -> FleetRecord {
    FleetRecord {
        origin: ev.origin.clone(),
        jail: ev.jail.clone(),
        addr: ev.addr.to_string(),
        ts_ms: ev.ts_ms,
        id: ev.id.clone(),
        banned: ev.act == Action::Ban,
        exp_ms: ev.exp_ms,
    }
}

/// Whether an origin other than `origin` still bans `jail` and `addr` (the records of
/// this delivery, not committed yet, win over the stored ones).
fn banned_elsewhere(
    k: &Keeper,
    latest: &HashMap<RecordKey, FleetRecord>,
    (origin, jail, addr): (&str, &str, &str),
    now: i64,
) -> Result<bool, String> {
    let stored = keeper::lock(&k.store)
        .fleet_records(Some((jail, addr)))
        .map_err(|e| e.to_string())?;
    let mut others: HashMap<String, bool> = stored
        .into_iter()
        .filter(|r| r.origin != origin)
        .map(|r| (r.origin.clone(), r.in_force(now)))
        .collect();
    for ((o, j, a), r) in latest {
        if o != origin && j == jail && a == addr {
            others.insert(o.clone(), r.in_force(now));
        }
    }
    Ok(others.values().any(|b| *b))
}

/// Applies one delivery on the keeper's thread and commits it with the keeper's batch.
fn apply_delivery(k: &mut Keeper, d: Delivery) -> Result<u64, String> {
    let now = now_ms();
    let mut latest: HashMap<RecordKey, FleetRecord> = HashMap::new();
    let mut changed = 0;
    for ev in &d.events {
        let rec = record_of(ev);
        let key = (rec.origin.clone(), rec.jail.clone(), rec.addr.clone());
        let prev = match latest.get(&key) {
            Some(r) => Some(r.clone()),
            None => keeper::lock(&k.store)
                .fleet_records(Some((&rec.jail, &rec.addr)))
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|r| r.origin == rec.origin),
        };
        if prev.is_some_and(|p| !p.older_than(ev.ts_ms, &ev.id)) {
            continue; // a replay, a duplicate or an older event: changes nothing
        }
        k.batch.fleet_record(rec.clone());
        latest.insert(key, rec.clone());
        changed += 1;
        let r = jailor_fleet::received(ev, now);
        if r.ban || !banned_elsewhere(k, &latest, (&rec.origin, &rec.jail, &rec.addr), now)? {
            received(k, r);
        }
    }
    if let Some(seen) = d.snapshot {
        // What the fleet no longer holds is over: forget it, and lift it here.
        let all = keeper::lock(&k.store)
            .fleet_records(None)
            .map_err(|e| e.to_string())?;
        for r in all {
            let key = (r.origin.clone(), r.jail.clone(), r.addr.clone());
            if seen.contains(&format!("{}:{}|{}", r.origin, r.jail, r.addr))
                || latest.contains_key(&key)
            {
                continue;
            }
            k.batch.fleet_forget(&r.origin, &r.jail, &r.addr);
            let was_banned = r.in_force(now);
            let mut over = r.clone();
            over.banned = false;
            latest.insert(key, over);
            if !was_banned || banned_elsewhere(k, &latest, (&r.origin, &r.jail, &r.addr), now)? {
                continue;
            }
            if let Ok(addr) = jailor_fleet::parse_addr(&r.addr) {
                received(
                    k,
                    Received {
                        origin: r.origin.clone(),
                        jail: r.jail.clone(),
                        addr,
                        ban: false,
                        exp_ms: r.exp_ms,
                    },
                );
            }
        }
    }
    if let Some(cursor) = d.cursor {
        k.batch.fleet_cursor(FleetCursor {
            engine: d.engine.to_owned(),
            cursor,
        });
    }
    if changed > 0 && crash_before_commit() {
        std::process::abort();
    }
    if k.commit() {
        Ok(changed)
    } else {
        Err("the store did not commit".into())
    }
}

/// The answer to `status --fleet` from the fleet's counters.
pub(crate) fn status(s: jailor_fleet::StatsSnapshot) -> jailor_proto::FleetStatus {
    jailor_proto::FleetStatus {
        engine: s.engine,
        origin: s.origin,
        connected: s.connected,
        outbox: s.outbox,
        published: s.published,
        received: s.received,
        applied: s.applied,
        rejected: jailor_proto::FleetRejected {
            total: s.rejected,
            origin: s.rejected_origin,
            allowlist: s.rejected_allowlist,
            prefix: s.rejected_prefix,
            signature: s.rejected_signature,
            ratelimit: s.rejected_ratelimit,
            invalid: s.invalid,
        },
    }
}
