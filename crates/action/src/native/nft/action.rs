//! [`NftAction`]: one jail's table objects and the transactions that change them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use ipnet::IpNet;

use crate::error::{Error, ErrorKind};

use super::command::NftCommand;
use super::config::NftConfig;
use super::listing::{self, NftElement};
use super::ports::Ports;
use super::script::{self, BatchFormat, Element, ElementOp};

/// Serialises the table-level steps (creation, removal of the last jail's objects) of all
/// jails of this process, so one jail's stop never deletes the table another is filling.
static TABLE_LOCK: Mutex<()> = Mutex::new(());

/// One jail's native nftables action: its sets, its chain, and batched bans.
///
/// Every method runs `nft` once (stop: a listing, then one transaction), and every change is
/// one transaction: it is applied whole or not at all.
#[derive(Clone, Debug)]
pub struct NftAction {
    config: NftConfig,
    nft: NftCommand,
    format: BatchFormat,
}

impl NftAction {
    /// The action for `config`, run with the system's `nft`.
    pub fn new(config: NftConfig) -> Result<NftAction, Error> {
        NftAction::with_command(config, NftCommand::system())
    }

    /// The action for `config`, run with `nft` (for example [`NftCommand::in_netns`]).
    pub fn with_command(config: NftConfig, nft: NftCommand) -> Result<NftAction, Error> {
        // The fields are public: check again what `NftConfig`'s constructors check.
        NftConfig::new(&config.jail)?;
        NftConfig::new(&config.table).map_err(|_| {
            Error::new(ErrorKind::InvalidProperty {
                name: "table".into(),
                reason: format!("{:?} is not a valid table name", config.table),
            })
        })?;
        let prefix_ok = |p: Option<u8>, max: u8| p.is_none_or(|p| p > 0 && p < max);
        if !prefix_ok(config.prefix4, 32) || !prefix_ok(config.prefix6, 128) {
            return Err(Error::new(ErrorKind::InvalidProperty {
                name: "banprefix".into(),
                reason: "a prefix must be 1..31 (IPv4) or 1..127 (IPv6)".into(),
            }));
        }
        if matches!(&config.ports, Ports::Ranges(r) if r.is_empty()) {
            return Err(Error::new(ErrorKind::InvalidProperty {
                name: "port".into(),
                reason: "no port".into(),
            }));
        }
        Ok(NftAction {
            config,
            nft,
            format: BatchFormat::default(),
        })
    }

    /// Writes element batches in `format` from now on.
    pub fn set_format(&mut self, format: BatchFormat) {
        self.format = format;
    }

    /// The configuration.
    pub fn config(&self) -> &NftConfig {
        &self.config
    }

    /// Creates the table, the jail's two sets and its chain with its rules. Idempotent: after
    /// a crash, starting again reuses what exists, keeps the sets' elements, and replaces the
    /// rules instead of adding them twice.
    ///
    /// When existing objects do not fit the configuration (a set created without the
    /// `interval` flag before prefix banning was turned on, a chain at another hook), they
    /// are removed and created anew, empty: restore the bans afterwards.
    pub fn start(&self) -> Result<(), Error> {
        let _table = TABLE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let script = script::start(&self.config);
        match self.nft.run_script(script.as_bytes(), false) {
            Ok(_) => Ok(()),
            Err(first) => {
                if self.remove_objects(false).is_err() {
                    return Err(first);
                }
                self.nft.run_script(script.as_bytes(), false).map(drop)
            }
        }
    }

    /// Bans in one transaction: each target (an address, or a network where prefix banning
    /// allows it) with its remaining ban time in seconds (`None`: permanent). Returns the
    /// number of set elements written (addresses of one banned prefix share one).
    ///
    /// An element already in the set is no error; whether it keeps its timeout or takes the
    /// new one depends on the kernel (recent kernels take the new one). Use
    /// [`prolong_batch`] to replace it on every kernel. Use this for the startup restore too: the whole store is one transaction.
    ///
    /// [`prolong_batch`]: NftAction::prolong_batch
    pub fn ban_batch<T: Into<IpNet>>(
        &self,
        bans: impl IntoIterator<Item = (T, Option<u64>)>,
    ) -> Result<usize, Error> {
        self.apply(ElementOp::Add, bans)
    }

    /// Like [`ban_batch`](NftAction::ban_batch), but every element ends with the given
    /// timeout, whether it was in the set or not (a ban time made longer).
    pub fn prolong_batch<T: Into<IpNet>>(
        &self,
        bans: impl IntoIterator<Item = (T, Option<u64>)>,
    ) -> Result<usize, Error> {
        self.apply(ElementOp::Replace, bans)
    }

    /// Unbans in one transaction. A target not in the set is no error. With prefix banning,
    /// unbanning an address lifts the ban of its whole prefix.
    pub fn unban_batch<T: Into<IpNet>>(
        &self,
        targets: impl IntoIterator<Item = T>,
    ) -> Result<usize, Error> {
        self.apply(ElementOp::Remove, targets.into_iter().map(|t| (t, None)))
    }

    /// Removes every element of the jail's sets (fail2ban's `actionflush`).
    pub fn flush(&self) -> Result<(), Error> {
        self.nft
            .run_script(script::flush(&self.config).as_bytes(), false)
            .map(drop)
    }

    /// Removes the jail's chain and sets, and the table when nothing else is left in it.
    /// Objects that do not exist are no error.
    pub fn stop(&self) -> Result<(), Error> {
        let _table = TABLE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        self.remove_objects(true)
    }

    /// The elements of the jail's two sets, as the kernel holds them (expired ones are not
    /// listed).
    pub fn list(&self) -> Result<Vec<NftElement>, Error> {
        let mut all = Vec::new();
        for set in [self.config.set4(), self.config.set6()] {
            let json = self
                .nft
                .run(&["-j", "list", "set", "inet", &self.config.table, &set])?;
            all.extend(listing::set_elements(&json)?);
        }
        Ok(all)
    }

    /// The set element a ban of `target` writes: the address itself, or its network when
    /// prefix banning is on for its family (`banprefix4`, `banprefix6`). IPv4-mapped IPv6
    /// addresses become IPv4. A network is refused for a family without prefix banning,
    /// whose set holds addresses only.
    pub fn element_for(&self, target: impl Into<IpNet>) -> Result<IpNet, Error> {
        let net = canonical(target.into());
        let (prefix, max) = match net {
            IpNet::V4(_) => (self.config.prefix4, 32),
            IpNet::V6(_) => (self.config.prefix6, 128),
        };
        match prefix {
            Some(p) if net.prefix_len() > p => IpNet::new(net.addr(), p)
                .map(|n| n.trunc())
                .map_err(|_| invalid(&net)),
            Some(_) => Ok(net.trunc()),
            None if net.prefix_len() == max => Ok(net),
            None => Err(invalid(&net)),
        }
    }

    fn apply<T: Into<IpNet>>(
        &self,
        op: ElementOp,
        items: impl IntoIterator<Item = (T, Option<u64>)>,
    ) -> Result<usize, Error> {
        let mut v4: Vec<Element> = Vec::new();
        let mut v6: Vec<Element> = Vec::new();
        let mut seen: HashMap<IpNet, (bool, usize)> = HashMap::new();
        for (target, timeout) in items {
            let net = self.element_for(target)?;
            // nftables rejects a timeout of 0; a ban with no time left still gets a second.
            let timeout = timeout.map(|t| t.max(1));
            let list = if net.addr().is_ipv4() {
                &mut v4
            } else {
                &mut v6
            };
            match seen.get(&net) {
                // Two targets in one prefix: one element, with the longer ban.
                Some(&(is4, i)) => {
                    let list = if is4 { &mut v4 } else { &mut v6 };
                    let slot = &mut list[i].1;
                    *slot = match (*slot, timeout) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                None => {
                    seen.insert(net, (net.addr().is_ipv4(), list.len()));
                    list.push((net, timeout));
                }
            }
        }
        let count = v4.len() + v6.len();
        if count == 0 {
            return Ok(0);
        }
        let sets = [(self.config.set4(), &v4), (self.config.set6(), &v6)];
        let (bytes, json) = match self.format {
            BatchFormat::Text => {
                let mut s = String::with_capacity(count * 40);
                for (set, elements) in sets.iter().filter(|(_, e)| !e.is_empty()) {
                    script::elements_text(&mut s, &self.config, set, op, elements);
                }
                (s.into_bytes(), false)
            }
            BatchFormat::Json => {
                let mut items = String::with_capacity(count * 60);
                for (set, elements) in sets.iter().filter(|(_, e)| !e.is_empty()) {
                    script::elements_json(&mut items, &self.config, set, op, elements);
                }
                (script::json_document(&items).into_bytes(), true)
            }
        };
        self.nft.run_script(&bytes, json)?;
        Ok(count)
    }

    /// Deletes what exists of the jail's objects, and the table when `table_if_empty` and
    /// nothing else is in it.
    fn remove_objects(&self, table_if_empty: bool) -> Result<(), Error> {
        let c = &self.config;
        let json = match self
            .nft
            .run(&["-j", "-t", "list", "table", "inet", &c.table])
        {
            Ok(json) => json,
            // No table: nothing to remove.
            Err(e) if matches!(e.kind(), ErrorKind::Nft(m) if m.contains("No such file")) => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let objects = listing::table_objects(&json)?;
        let (chain, set4, set6) = (c.chain(), c.set4(), c.set6());
        let has_chain = objects.iter().any(|(k, n)| *k == "chain" && *n == chain);
        let sets: Vec<String> = [set4, set6]
            .into_iter()
            .filter(|s| objects.iter().any(|(k, n)| *k == "set" && n == s))
            .collect();
        let ours = usize::from(has_chain) + sets.len();
        let table_too = table_if_empty && objects.len() == ours;
        if ours == 0 && !table_too {
            return Ok(());
        }
        let script = script::stop(c, has_chain, &sets, table_too);
        self.nft.run_script(script.as_bytes(), false).map(drop)
    }
}

fn canonical(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.addr().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            if let Ok(n) = IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96) {
                return n;
            }
        }
    }
    net
}

fn invalid(net: &IpNet) -> Error {
    Error::new(ErrorKind::InvalidAddress(format!(
        "{net}: a network needs prefix banning (banprefix4/banprefix6) on this jail"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(prefix4: Option<u8>, prefix6: Option<u8>) -> NftAction {
        let mut c = NftConfig::new("t").unwrap();
        c.prefix4 = prefix4;
        c.prefix6 = prefix6;
        NftAction::with_command(c, NftCommand::new("/nonexistent", ["x"])).unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn elements_follow_the_prefix_setting() {
        let a = action(Some(24), Some(64));
        assert_eq!(
            a.element_for(net("192.0.2.77/32")).unwrap(),
            net("192.0.2.0/24")
        );
        assert_eq!(
            a.element_for(net("2001:db8:1:2:3::9/128")).unwrap(),
            net("2001:db8:1:2::/64")
        );
        assert_eq!(a.element_for(net("10.1.2.3/8")).unwrap(), net("10.0.0.0/8"));
        let ip: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(a.element_for(ip).unwrap(), net("192.0.2.0/24"));
        let b = action(None, None);
        assert_eq!(b.element_for(ip).unwrap(), net("192.0.2.1/32"));
        assert!(b.element_for(net("10.0.0.0/8")).is_err());
    }

    #[test]
    fn invalid_configs_are_refused() {
        let mut c = NftConfig::new("t").unwrap();
        c.jail = "a b".into();
        assert!(NftAction::new(c).is_err());
        let mut c = NftConfig::new("t").unwrap();
        c.prefix6 = Some(128);
        assert!(NftAction::new(c).is_err());
        let mut c = NftConfig::new("t").unwrap();
        c.table = "x;y".into();
        assert!(NftAction::new(c).is_err());
        let mut c = NftConfig::new("t").unwrap();
        c.ports = Ports::Ranges(vec![]);
        assert!(NftAction::new(c).is_err());
    }

    #[test]
    fn a_missing_nft_is_an_error_not_a_panic() {
        let e = action(None, None)
            .ban_batch([(net("192.0.2.1/32"), Some(5))])
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Nft(_)), "{e}");
        assert_eq!(
            action(None, None)
                .ban_batch(Vec::<(IpNet, Option<u64>)>::new())
                .unwrap(),
            0
        );
    }
}
