//! Fleet-wide bans in the daemon: the `[Fleet]` section and each jail's `fleet` mode,
//! publishing the keeper's new bans, and applying bans received from other hosts
//! through the receiving jail's own actions (with their remaining time).
//!
//! The fleet runtime runs on its own thread (`jailor_fleet::Fleet`); the keeper only
//! appends to its SQLite outbox, and received bans come back as keeper messages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use indexmap::IndexMap;
use jailor_config::{Config, Vars};
use jailor_fleet::{Action, Fleet, FleetConfig, IpNet, JailMode, Received};
use jailor_policy::{BanOutcome, BanTicket, Id, IgnoreList, NoResolver, PERMANENT};
use jailor_store::{BanData, Unban};

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
    let statics: IndexMap<String, String> = IndexMap::new();
    let vars = Vars::new();
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
    let statics: IndexMap<String, String> = IndexMap::new();
    let vars = Vars::new();
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

/// Where the fleet keeps its outbox and cursor: `[Fleet] dbfile`, else beside the store.
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
    let tx = to_keeper.clone();
    let sink = Box::new(move |r: Received| {
        // Blocks the fleet thread (never the readers) while the keeper is busy.
        let _ = tx.send(ToKeeper::Control(Box::new(move |k: &mut Keeper| {
            received(k, r)
        })));
    });
    match Fleet::start(cfg, &db_path(&options, dbfile), sink) {
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
            invalid: s.invalid,
        },
    }
}
