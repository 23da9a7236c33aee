//! The machine's own addresses, for `ignoreself`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::id::normalize;
use crate::ignore::Resolver;

/// The machine's own addresses, as fail2ban's `ignoreself` sees them: every interface address
/// (`getifaddrs`), the loopback addresses, and what `localhost` and the host name (as given,
/// and its short form before the first dot) resolve to through `resolver`. Sorted, without
/// duplicates.
///
/// This reads the system's interface list and host name: call it at start and on reload, not
/// per failure.
pub fn own_addresses(resolver: &dyn Resolver) -> Vec<IpAddr> {
    let mut addrs = interface_addresses();
    addrs.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    addrs.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    let mut names = vec!["localhost".to_owned()];
    if let Ok(host) = nix::unistd::gethostname() {
        if let Some(host) = host.to_str().filter(|h| !h.is_empty()) {
            names.push(host.to_owned());
            if let Some((short, _)) = host.split_once('.') {
                names.push(short.to_owned());
            }
        }
    }
    for name in &names {
        addrs.extend(resolver.resolve(name));
    }
    let mut addrs: Vec<IpAddr> = addrs.into_iter().map(normalize).collect();
    addrs.sort();
    addrs.dedup();
    addrs
}

/// The addresses of all interfaces; empty when `getifaddrs` fails.
pub fn interface_addresses() -> Vec<IpAddr> {
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    list.filter_map(|ifa| {
        let addr = ifa.address?;
        if let Some(v4) = addr.as_sockaddr_in() {
            Some(IpAddr::V4(v4.ip()))
        } else {
            addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_loopback_and_resolved_host_names() {
        let host = nix::unistd::gethostname().unwrap();
        let host = host.to_str().unwrap().to_owned();
        let resolver = move |name: &str| -> Vec<IpAddr> {
            if name == host {
                vec!["203.0.113.77".parse().unwrap()]
            } else if name == "localhost" {
                vec!["::ffff:127.0.0.1".parse().unwrap()]
            } else {
                vec![]
            }
        };
        let own = own_addresses(&resolver);
        assert!(own.contains(&"127.0.0.1".parse().unwrap()));
        assert!(own.contains(&"::1".parse().unwrap()));
        assert!(own.contains(&"203.0.113.77".parse().unwrap()));
        assert!(own.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
    }

    #[test]
    fn interfaces_include_loopback() {
        // Every Linux network namespace has `lo` with 127.0.0.1 (unless it is down and
        // unconfigured, which a test machine's is not).
        let addrs = interface_addresses();
        if addrs.is_empty() {
            jailor_testkit::skip::<()>("interfaces_include_loopback", "getifaddrs gave nothing");
            return;
        }
        assert!(addrs.iter().any(|a| a.is_loopback()), "{addrs:?}");
    }
}
