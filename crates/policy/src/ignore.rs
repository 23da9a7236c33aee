//! `ignoreip`, `ignoreself` and `ignorecommand`: who is never banned.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use crate::id::{normalize, Id};
use crate::ignore_file::{Entries, IgnoreFile};

/// Name resolution, injected so the policy does no DNS of its own and tests need no network.
pub trait Resolver {
    /// The addresses `name` resolves to; empty when it does not resolve.
    fn resolve(&self, name: &str) -> Vec<IpAddr>;
}

impl<F: Fn(&str) -> Vec<IpAddr>> Resolver for F {
    fn resolve(&self, name: &str) -> Vec<IpAddr> {
        self(name)
    }
}

/// A resolver that resolves nothing (every name is then a raw id).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn resolve(&self, _name: &str) -> Vec<IpAddr> {
        Vec::new()
    }
}

/// `ignorecommand`: the daemon runs the command (with `<ip>` and the other tags substituted)
/// and says whether it exited 0.
pub trait IgnoreCommand {
    /// `Ok(true)` to ignore `id` (exit code 0), `Ok(false)` not to (exit code 1); `Err` for
    /// any other outcome, which does not ignore (the text is for the log).
    fn ignores(&mut self, id: &Id) -> Result<bool, String>;
}

/// Why an id is ignored, for the daemon's `Ignore <ip> by ...` message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IgnoreReason {
    /// One of the machine's own addresses (`ignoreself`).
    OwnAddress,
    /// An address or network of `ignoreip`.
    Listed,
    /// An address of a DNS name in `ignoreip`.
    Name(Box<str>),
    /// A raw id (an unresolvable name) of `ignoreip`, equal to the id.
    Raw,
    /// An entry of an `ignoreip` `file:` list.
    File(PathBuf),
    /// `ignorecommand` exited 0.
    Command,
}

/// One DNS name of `ignoreip` and the addresses it resolved to.
#[derive(Clone, Debug)]
struct Name {
    name: Box<str>,
    addrs: Vec<IpAddr>,
}

/// The ignore rules of one jail (fail2ban's `_inIgnoreIPList`).
///
/// Checked in fail2ban's order: the machine's own addresses (`ignoreself`), the listed
/// addresses and networks, DNS names, `file:` lists, then `ignorecommand`.
///
/// `ignoreip` entries are split on commas and white space:
/// - an IPv4 or IPv6 address, `[ipv6]` with brackets; `::ffff:a.b.c.d` counts as `a.b.c.d`;
/// - a network in CIDR form `192.0.2.0/24` or netmask form `192.0.2.0/255.255.255.0` (host bits
///   are cleared; a non-contiguous mask is not a network and is kept as a raw id);
/// - `file:/path`: a list file, re-read when its inode, size or mtime changes, looked at no
///   more than once a second;
/// - anything else is a DNS name, resolved at load through the injected [`Resolver`]; a name
///   that does not resolve is a raw id, compared literally with raw failure ids.
///
/// There is no range syntax (`a-b`), as in fail2ban.
#[derive(Clone, Debug, Default)]
pub struct IgnoreList {
    own: HashSet<IpAddr>,
    listed: Entries,
    names: Vec<Name>,
    files: Vec<IgnoreFile>,
}

impl IgnoreList {
    /// Reads an `ignoreip` value, resolving its DNS names with `resolver`.
    ///
    /// ```
    /// use jailor_policy::{Id, IgnoreList, IgnoreReason, NoResolver};
    /// let mut list = IgnoreList::parse("127.0.0.1/8 ::1, 192.0.2.0/255.255.255.0", &NoResolver);
    /// assert_eq!(list.check(&Id::parse("192.0.2.77")), Some(IgnoreReason::Listed));
    /// assert_eq!(list.check(&Id::parse("198.51.100.1")), None);
    /// ```
    pub fn parse(ignoreip: &str, resolver: &dyn Resolver) -> IgnoreList {
        let mut list = IgnoreList::default();
        for word in ignoreip
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
        {
            list.add(word, resolver);
        }
        list
    }

    /// Adds one entry (`set <jail> addignoreip`).
    pub fn add(&mut self, entry: &str, resolver: &dyn Resolver) {
        if let Some(path) = entry.strip_prefix("file:") {
            if !self.files.iter().any(|f| f.path().as_os_str() == path) {
                self.files.push(IgnoreFile::new(path.as_ref()));
            }
            return;
        }
        if let Some(id) = crate::id::parse_addr_or_net(entry) {
            self.listed.add_word(&id.to_string());
            return;
        }
        if self.names.iter().any(|n| &*n.name == entry) {
            return;
        }
        let addrs: Vec<IpAddr> = resolver.resolve(entry).into_iter().map(normalize).collect();
        if addrs.is_empty() {
            self.listed.raws.insert(entry.into());
        } else {
            self.names.push(Name {
                name: entry.into(),
                addrs,
            });
        }
    }

    /// Removes one entry as it was given (`set <jail> delignoreip`); returns whether it was
    /// there.
    pub fn remove(&mut self, entry: &str) -> bool {
        if let Some(path) = entry.strip_prefix("file:") {
            let before = self.files.len();
            self.files.retain(|f| f.path().as_os_str() != path);
            return self.files.len() != before;
        }
        match crate::id::parse_addr_or_net(entry) {
            Some(Id::Ip(ip)) => self.listed.ips.remove(&ip),
            Some(Id::Net(net)) => {
                let before = self.listed.nets.len();
                self.listed.nets.retain(|n| *n != net);
                self.listed.nets.len() != before
            }
            _ => {
                let before = self.names.len();
                self.names.retain(|n| &*n.name != entry);
                self.listed.raws.remove(entry) || self.names.len() != before
            }
        }
    }

    /// Sets the machine's own addresses for `ignoreself = true` (see
    /// [`own_addresses`](crate::own_addresses)); an empty set turns `ignoreself` off.
    pub fn set_own_addresses(&mut self, addrs: impl IntoIterator<Item = IpAddr>) {
        self.own = addrs.into_iter().map(normalize).collect();
    }

    /// Resolves the DNS names again (fail2ban caches a resolution for 5 minutes; the daemon
    /// calls this on that schedule). Names that stop resolving become raw ids and back.
    pub fn refresh_names(&mut self, resolver: &dyn Resolver) {
        let names: Vec<Box<str>> = self
            .names
            .drain(..)
            .map(|n| n.name)
            .chain(
                self.listed
                    .raws
                    .iter()
                    .filter(|r| looks_like_a_name(r))
                    .cloned(),
            )
            .collect();
        for name in names {
            self.listed.raws.remove(&name);
            self.add(&name, resolver);
        }
    }

    /// Re-reads the `file:` lists that changed, at most once a second each. Returns the
    /// errors of lists that could not be read (they count as empty), for the log.
    pub fn refresh_files(&mut self, now: Instant) -> Vec<(PathBuf, io::Error)> {
        let mut errors = Vec::new();
        for file in &mut self.files {
            if let Err(err) = file.refresh(now) {
                errors.push((file.path().to_owned(), err));
            }
        }
        errors
    }

    /// Whether `id` is ignored by `ignoreself`, `ignoreip` or a `file:` list, and why.
    /// Call [`refresh_files`](IgnoreList::refresh_files) first to see file changes.
    pub fn check(&self, id: &Id) -> Option<IgnoreReason> {
        if let Id::Ip(ip) = id {
            if self.own.contains(ip) {
                return Some(IgnoreReason::OwnAddress);
            }
            if self.listed.ips.contains(ip) {
                return Some(IgnoreReason::Listed);
            }
        }
        if self.listed.nets.iter().any(|n| id.is_in_net(n)) {
            return Some(IgnoreReason::Listed);
        }
        if let Id::Raw(raw) = id {
            if self.listed.raws.contains(raw) {
                return Some(IgnoreReason::Raw);
            }
        }
        if let Id::Ip(ip) = id {
            if let Some(name) = self.names.iter().find(|n| n.addrs.contains(ip)) {
                return Some(IgnoreReason::Name(name.name.clone()));
            }
        }
        self.files
            .iter()
            .find(|f| f.entries.contains(id))
            .map(|f| IgnoreReason::File(f.path().to_owned()))
    }

    /// The full check: [`check`](IgnoreList::check), then `ignorecommand` when one is set.
    pub fn check_with(
        &self,
        id: &Id,
        command: Option<&mut dyn IgnoreCommand>,
    ) -> Option<IgnoreReason> {
        self.check(id).or_else(|| {
            command
                .and_then(|c| c.ignores(id).ok())
                .filter(|ignored| *ignored)
                .map(|_| IgnoreReason::Command)
        })
    }

    /// The entries as `get <jail> ignoreip` lists them: addresses, networks, names, raw ids and
    /// files, each group sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut ips: Vec<&IpAddr> = self.listed.ips.iter().collect();
        ips.sort();
        let mut raws: Vec<&Box<str>> = self.listed.raws.iter().collect();
        raws.sort();
        ips.into_iter()
            .map(ToString::to_string)
            .chain(self.listed.nets.iter().map(ToString::to_string))
            .chain(self.names.iter().map(|n| n.name.to_string()))
            .chain(raws.into_iter().map(|r| r.to_string()))
            .chain(
                self.files
                    .iter()
                    .map(|f| format!("file:{}", f.path().display())),
            )
            .collect()
    }
}

/// A raw entry worth resolving again: a host name shape (letters, digits, dots, dashes).
fn looks_like_a_name(text: &str) -> bool {
    text.contains('.')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(s: &str) -> Id {
        Id::parse(s)
    }

    #[test]
    fn addresses_networks_and_netmasks() {
        let list = IgnoreList::parse(
            "192.0.2.1, 10.20.30.40/16 172.16.5.9/255.255.255.0 [2001:db8::1] 2001:db8:1::/48",
            &NoResolver,
        );
        for yes in [
            "192.0.2.1",
            "::ffff:192.0.2.1",
            "10.20.0.1",
            "10.20.255.255",
            "172.16.5.200",
            "2001:db8::1",
            "2001:db8:1:ffff::7",
            "10.20.1.0/24",
        ] {
            assert_eq!(list.check(&id(yes)), Some(IgnoreReason::Listed), "{yes}");
        }
        for no in [
            "192.0.2.2",
            "10.21.0.1",
            "172.16.6.1",
            "2001:db8::2",
            "2001:db8:2::1",
            "10.0.0.0/8",
        ] {
            assert_eq!(list.check(&id(no)), None, "{no}");
        }
        assert_eq!(
            list.entries(),
            [
                "192.0.2.1",
                "2001:db8::1",
                "10.20.0.0/16",
                "172.16.5.0/24",
                "2001:db8:1::/48"
            ]
        );
    }

    #[test]
    fn mapped_entries_become_ipv4() {
        let list = IgnoreList::parse("::ffff:198.51.100.0/120 ::ffff:203.0.113.5", &NoResolver);
        assert_eq!(list.check(&id("198.51.100.99")), Some(IgnoreReason::Listed));
        assert_eq!(list.check(&id("203.0.113.5")), Some(IgnoreReason::Listed));
        assert_eq!(list.check(&id("198.51.101.1")), None);
    }

    #[test]
    fn bad_netmask_is_not_a_network() {
        let list = IgnoreList::parse("10.0.0.0/255.0.255.0 10.0.0.0/33", &NoResolver);
        assert_eq!(list.check(&id("10.0.0.1")), None);
        assert_eq!(
            list.check(&id("10.0.0.0/255.0.255.0")),
            Some(IgnoreReason::Raw)
        );
    }

    #[test]
    fn names_resolve_at_load_unresolvable_are_raw() {
        let resolver = |name: &str| -> Vec<IpAddr> {
            match name {
                "gw.example" => vec![
                    "192.0.2.10".parse().unwrap(),
                    "::ffff:192.0.2.11".parse().unwrap(),
                ],
                _ => vec![],
            }
        };
        let mut list = IgnoreList::parse("gw.example session-7", &resolver);
        assert_eq!(
            list.check(&id("192.0.2.11")),
            Some(IgnoreReason::Name("gw.example".into()))
        );
        assert_eq!(
            list.check(&Id::Raw("session-7".into())),
            Some(IgnoreReason::Raw)
        );
        assert_eq!(list.check(&Id::Raw("gw.example".into())), None);
        // The name stops resolving: it becomes a raw id.
        list.refresh_names(&NoResolver);
        assert_eq!(list.check(&id("192.0.2.10")), None);
        assert_eq!(
            list.check(&Id::Raw("gw.example".into())),
            Some(IgnoreReason::Raw)
        );
        list.refresh_names(&resolver);
        assert!(list.check(&id("192.0.2.10")).is_some());
        assert!(list.remove("gw.example"));
        assert_eq!(list.check(&id("192.0.2.10")), None);
    }

    #[test]
    fn own_addresses_come_first() {
        let mut list = IgnoreList::parse("192.0.2.1", &NoResolver);
        list.set_own_addresses(["192.0.2.1".parse().unwrap()]);
        assert_eq!(list.check(&id("192.0.2.1")), Some(IgnoreReason::OwnAddress));
        list.set_own_addresses([]);
        assert_eq!(list.check(&id("192.0.2.1")), Some(IgnoreReason::Listed));
    }

    struct Cmd {
        calls: Vec<String>,
        answer: Result<bool, String>,
    }

    impl IgnoreCommand for Cmd {
        fn ignores(&mut self, id: &Id) -> Result<bool, String> {
            self.calls.push(id.to_string());
            self.answer.clone()
        }
    }

    #[test]
    fn command_runs_last() {
        let list = IgnoreList::parse("192.0.2.1", &NoResolver);
        let mut cmd = Cmd {
            calls: vec![],
            answer: Ok(true),
        };
        assert_eq!(
            list.check_with(&id("192.0.2.1"), Some(&mut cmd)),
            Some(IgnoreReason::Listed)
        );
        assert!(cmd.calls.is_empty());
        assert_eq!(
            list.check_with(&id("192.0.2.2"), Some(&mut cmd)),
            Some(IgnoreReason::Command)
        );
        cmd.answer = Err("exit code 2".into());
        assert_eq!(list.check_with(&id("192.0.2.3"), Some(&mut cmd)), None);
        cmd.answer = Ok(false);
        assert_eq!(list.check_with(&id("192.0.2.4"), Some(&mut cmd)), None);
        assert_eq!(cmd.calls, ["192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    }

    #[test]
    fn file_list_is_reloaded_when_changed() {
        let dir = std::env::temp_dir().join(format!("jailor-policy-ignore-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trusted.list");
        std::fs::write(
            &path,
            "# office\n192.0.2.5, 198.51.100.0/24 ; vpn\nbuild-bot # raw\n",
        )
        .unwrap();
        let mut list = IgnoreList::parse(&format!("file:{}", path.display()), &NoResolver);
        let t0 = Instant::now();
        // Not read until refreshed.
        assert_eq!(list.check(&id("192.0.2.5")), None);
        assert!(list.refresh_files(t0).is_empty());
        let by_file = Some(IgnoreReason::File(path.clone()));
        assert_eq!(list.check(&id("192.0.2.5")), by_file);
        assert_eq!(list.check(&id("198.51.100.77")), by_file);
        assert_eq!(list.check(&Id::Raw("build-bot".into())), by_file);
        assert_eq!(list.check(&Id::Raw("office".into())), None);
        assert_eq!(list.check(&Id::Raw("vpn".into())), None);

        // A different size is a change; within a second it is not looked at.
        std::fs::write(&path, "203.0.113.9\n").unwrap();
        list.refresh_files(t0 + Duration::from_millis(500));
        assert_eq!(list.check(&id("192.0.2.5")), by_file);
        list.refresh_files(t0 + Duration::from_secs(1));
        assert_eq!(list.check(&id("192.0.2.5")), None);
        assert_eq!(list.check(&id("203.0.113.9")), by_file);

        // A missing file is an error once, and empties the list.
        std::fs::remove_file(&path).unwrap();
        let errors = list.refresh_files(t0 + Duration::from_secs(2));
        assert_eq!(errors.len(), 1);
        assert!(list.refresh_files(t0 + Duration::from_secs(3)).is_empty());
        assert_eq!(list.check(&id("203.0.113.9")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
