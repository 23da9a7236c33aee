//! jailor's native actions in the daemon: `banaction = jailor-nftables[…]`.
//!
//! A jail action whose file name is `jailor-nftables` runs as
//! [`NftAction`](jailor_action::native::nft::NftAction) in Rust, never through the `action.d`
//! file of that name (which only documents its arguments and serves fail2ban itself):
//!
//! - at jail start, the table, the jail's sets and its chain are created (idempotent, so a
//!   restart after `kill -9` creates nothing twice and keeps the kernel's elements);
//! - bans already queued for the worker (above all the store's bans restored at start) go in
//!   one `nft` transaction, each element with its remaining ban time as its kernel timeout,
//!   so a ban expires on time even when the daemon is gone;
//! - an unban deletes the element; the jail's stop removes its chain and sets.
//!
//! A failed transaction is followed by a start (which re-creates what is missing, fail2ban's
//! `actionrepair`) and one retry; the ban is recorded by the keeper whatever happens.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use jailor_action::native::nft::{is_native_nftables, NftAction, NftConfig, Services};
use jailor_action::{ActionSpec, Address, Ticket};

use crate::logf;

/// One action of a jail, as its worker runs it.
#[derive(Debug, Clone)]
pub enum JailAction {
    /// An `action.d` definition, run through `jailor-action`'s command runner.
    Commands(ActionSpec),
    /// The native nftables action (`jailor-nftables`).
    Nftables {
        /// The action's name inside its jail (`actname`), for the log.
        actname: String,
        /// The sets, chain and rule the action keeps.
        config: NftConfig,
    },
}

impl JailAction {
    /// Whether the action can show a ban's matched lines (`<matches>`, `<ipmatches>`,
    /// `<ipjailmatches>`, `<raw-ticket>` in a command or a property it may substitute).
    /// Only then does the jail keep matched lines per address: a flood of addresses that
    /// never get banned would otherwise hold a log line each in memory for nothing.
    pub fn uses_matches(&self) -> bool {
        match self {
            JailAction::Commands(spec) => spec
                .properties
                .iter()
                .any(|(_, v)| v.contains("matches>") || v.contains("raw-ticket>")),
            JailAction::Nftables { .. } => false,
        }
    }

    /// The action of jail `jail` for the configuration reader's `spec`: native when its file
    /// is `jailor-nftables`, else the commands and properties as the command runner takes
    /// them. An error is one line for the log.
    pub fn from_config(jail: &str, spec: &jailor_config::ActionSpec) -> Result<JailAction, String> {
        if is_native_nftables(&spec.file) {
            // `type = allports` (the `banaction_allports` spelling): every port of the
            // protocol, whatever `port` the jail names.
            let allports = spec.properties.get("type").map(|t| t.trim()) == Some("allports");
            let properties = spec
                .properties
                .iter()
                .filter(|(k, _)| !(allports && k.as_str() == "port"))
                .map(|(k, v)| (k.as_str(), v.as_str()));
            let config = NftConfig::from_properties(jail, properties, &Services::system())
                .map_err(|e| format!("action '{}': {e}", spec.actname))?;
            return Ok(JailAction::Nftables {
                actname: spec.actname.clone(),
                config,
            });
        }
        let props = spec
            .commands
            .iter()
            .chain(spec.properties.iter())
            .map(|(k, v)| (k.clone(), v.clone()));
        Ok(JailAction::Commands(ActionSpec::new(&spec.actname, props)))
    }

    /// The action's name inside its jail.
    pub fn name(&self) -> &str {
        match self {
            JailAction::Commands(spec) => &spec.actname,
            JailAction::Nftables { actname, .. } => actname,
        }
    }
}

/// A started native nftables action of one jail's worker.
pub(crate) struct NativeNft {
    jail: String,
    actname: String,
    nft: NftAction,
}

impl NativeNft {
    /// Builds and starts the action. A failed start is logged and the action kept: the next
    /// ban starts it again before its retry.
    pub(crate) fn start(jail: &str, actname: &str, config: NftConfig) -> Option<NativeNft> {
        let nft = match NftAction::new(config) {
            Ok(nft) => nft,
            Err(e) => {
                logf!(
                    ERROR,
                    "fail2ban.actions",
                    "Failed to initialize action '{actname}' of jail '{jail}': {e}"
                );
                return None;
            }
        };
        let native = NativeNft {
            jail: jail.to_owned(),
            actname: actname.to_owned(),
            nft,
        };
        if let Err(e) = native.nft.start() {
            native.log_failure("start", &e);
        }
        Some(native)
    }

    /// Bans `tickets` in at most two transactions: restored bans replace any element the
    /// kernel still holds (so each ends with exactly its remaining time), new bans add theirs.
    pub(crate) fn ban(&self, tickets: &[Ticket]) {
        let now = now();
        let (restored, fresh): (Vec<&Ticket>, Vec<&Ticket>) =
            tickets.iter().partition(|t| t.restored);
        for (what, list) in [("restore", restored), ("ban", fresh)] {
            if list.is_empty() {
                continue;
            }
            let elements: Vec<(IpNet, Option<u64>)> = list
                .iter()
                .map(|t| (target(&t.address), remaining(t, now)))
                .collect();
            self.retried(what, || {
                if what == "restore" {
                    self.nft.prolong_batch(elements.iter().copied())
                } else {
                    self.nft.ban_batch(elements.iter().copied())
                }
            });
        }
    }

    /// Unbans `tickets` in one transaction.
    pub(crate) fn unban(&self, tickets: &[&Ticket]) {
        let targets: Vec<IpNet> = tickets.iter().map(|t| target(&t.address)).collect();
        if let Err(e) = self.nft.unban_batch(targets) {
            self.log_failure("unban", &e);
        }
    }

    /// Removes the jail's chain and sets (with their elements), and the table when empty.
    pub(crate) fn stop(&self) {
        if let Err(e) = self.nft.stop() {
            self.log_failure("stop", &e);
        }
    }

    /// Runs `f`; after a failure, starts the action again (re-creating what is missing) and
    /// retries once.
    fn retried(&self, what: &str, f: impl Fn() -> Result<usize, jailor_action::Error>) {
        let Err(first) = f() else { return };
        logf!(
            WARNING,
            "fail2ban.actions",
            "[{}] action '{}': {what} failed ({first}); starting it again and retrying",
            self.jail,
            self.actname
        );
        let retry = self.nft.start().and_then(|()| f());
        if let Err(e) = retry {
            self.log_failure(what, &e);
        }
    }

    fn log_failure(&self, what: &str, e: &jailor_action::Error) {
        logf!(
            ERROR,
            "fail2ban.actions",
            "Failed to execute {what} jail '{}' action '{}': {e}",
            self.jail,
            self.actname
        );
    }
}

/// The set element for a ban: the address, or the network a ticket names.
fn target(address: &Address) -> IpNet {
    let ip: IpAddr = address.ip();
    match address.prefix() {
        Some(p) => IpNet::new(ip, p).unwrap_or_else(|_| IpNet::from(ip)),
        None => IpNet::from(ip),
    }
}

/// The ban time left at `now` in whole seconds, rounded up (`None`: permanent). A ban whose
/// time is over still gets the kernel's shortest timeout: the keeper's unban follows.
fn remaining(ticket: &Ticket, now: f64) -> Option<u64> {
    if ticket.bantime < 0 {
        return None;
    }
    let left = ticket.time + ticket.bantime as f64 - now;
    Some(if left.is_finite() && left > 1.0 {
        left.ceil() as u64
    } else {
        1
    })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(ip: &str, time: f64, bantime: i64) -> Ticket {
        let mut t = Ticket::new(ip.parse().unwrap(), time);
        t.bantime = bantime;
        t
    }

    #[test]
    fn only_actions_that_show_matched_lines_need_them() {
        let action = |cmd: &str| {
            JailAction::Commands(ActionSpec::new("a", [("actionban", cmd), ("name", "sshd")]))
        };
        assert!(!action("echo ban <ip> >> /tmp/x").uses_matches());
        assert!(action("printf %s <matches> | mail root").uses_matches());
        assert!(action("echo <ipjailmatches>").uses_matches());
        assert!(action("echo <raw-ticket>").uses_matches());
        // Through a property the command substitutes when it runs.
        let spec = ActionSpec::new("a", [("actionban", "echo <lines>"), ("lines", "<matches>")]);
        assert!(JailAction::Commands(spec).uses_matches());
    }

    #[test]
    fn remaining_time_counts_from_the_ban_not_from_now() {
        assert_eq!(
            remaining(&ticket("192.0.2.1", 1000.0, 600), 1100.0),
            Some(500)
        );
        assert_eq!(
            remaining(&ticket("192.0.2.1", 1000.0, 600), 1100.5),
            Some(500)
        );
        assert_eq!(
            remaining(&ticket("192.0.2.1", 1000.0, 600), 1599.2),
            Some(1)
        );
        assert_eq!(
            remaining(&ticket("192.0.2.1", 1000.0, 600), 9999.0),
            Some(1)
        );
        assert_eq!(remaining(&ticket("192.0.2.1", 1000.0, -1), 9999.0), None);
    }

    #[test]
    fn targets_keep_networks() {
        let t = ticket("10.1.0.0/16", 0.0, 1);
        assert_eq!(target(&t.address), "10.1.0.0/16".parse::<IpNet>().unwrap());
        let t = ticket("2001:db8::7", 0.0, 1);
        assert_eq!(
            target(&t.address),
            "2001:db8::7/128".parse::<IpNet>().unwrap()
        );
    }

    fn config_action(file: &str, properties: &[(&str, &str)]) -> jailor_config::ActionSpec {
        jailor_config::ActionSpec {
            actname: file.to_owned(),
            file: file.to_owned(),
            properties: properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_native_name_selects_the_native_action() {
        let spec = config_action(
            "jailor-nftables",
            &[
                ("port", "22,2222"),
                ("blocktype", "drop"),
                ("banprefix6", "64"),
            ],
        );
        match JailAction::from_config("sshd", &spec).unwrap() {
            JailAction::Nftables { actname, config } => {
                assert_eq!(actname, "jailor-nftables");
                assert_eq!(config.jail, "sshd");
                assert_eq!(config.ports.to_string(), "22, 2222");
                assert_eq!(config.prefix6, Some(64));
            }
            other => panic!("not native: {other:?}"),
        }
        let spec = config_action("jailor-nftables", &[("port", "22"), ("type", "allports")]);
        match JailAction::from_config("sshd", &spec).unwrap() {
            JailAction::Nftables { config, .. } => {
                assert_eq!(config.ports, jailor_action::native::nft::Ports::All)
            }
            other => panic!("not native: {other:?}"),
        }
        let spec = config_action("nftables", &[("port", "22")]);
        assert!(matches!(
            JailAction::from_config("sshd", &spec).unwrap(),
            JailAction::Commands(_)
        ));
    }

    #[test]
    fn bad_native_arguments_are_a_jail_error() {
        let spec = config_action("jailor-nftables", &[("blocktype", "explode")]);
        let e = JailAction::from_config("sshd", &spec).unwrap_err();
        assert!(e.contains("jailor-nftables"), "{e}");
        let spec = config_action("jailor-nftables", &[]);
        assert!(JailAction::from_config("bad name", &spec).is_err());
    }
}
