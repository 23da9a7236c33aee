//! jailor's native nftables action: `banaction = jailor-nftables`.
//!
//! # Selecting it
//!
//! A jail selects it with `banaction = jailor-nftables` (or `action = jailor-nftables[…]`),
//! with the usual arguments: `port`, `protocol` (`tcp`, `udp`, `sctp`, `all`), `blocktype`
//! (`drop`, `reject`, `reject with tcp reset`), and jailor's own `chain_hook` (`input`,
//! `forward`, …), `chain_priority` (a number or `filter - 1`), `banprefix4`, `banprefix6`,
//! `table`. No `action.d` file needs to back the name (the configuration reader accepts it
//! without one, as in fail2ban's own `/etc/fail2ban`): the daemon recognises it with
//! [`is_native_nftables`] and never runs a file's commands, and builds the action with
//! [`NftConfig::from_properties`] from the jail's values and the arguments, then
//! [`NftAction::new`].
//!
//! # What it creates
//!
//! One table `inet jailor` shared by all jails; per jail, two sets `addr4-<jail>`
//! (`ipv4_addr`) and `addr6-<jail>` (`ipv6_addr`) with `flags timeout` (plus `interval` for
//! a family with prefix banning), and a chain `jail-<jail>` (`type filter hook input
//! priority -1; policy accept`) with one rule per family dropping or rejecting packets from
//! the set's members to the jail's ports. Every element carries its own `timeout` (its
//! remaining ban time; none for a permanent ban), so the kernel lifts bans on time even when
//! the daemon is dead.
//!
//! # Batches
//!
//! Bans, unbans and the startup restore are each one `nft -f -` transaction, however many
//! addresses they hold. Text ([`BatchFormat::Text`], the default) and JSON
//! ([`BatchFormat::Json`]) are both supported; the `nft_bulk` bench measures them. Text is
//! the faster: 100,000 bans took 0.6–1.0 s as text and 1.1–1.5 s as JSON (nft 1.0.6, kernel
//! 6.18, a busy 2-core machine), with jailor's RSS under 25 MB; most of the time is nft's.
//!
//! # Safety
//!
//! `nft` runs without a shell. Names in its input come from a validated [`NftConfig`];
//! addresses are [`IpNet`](ipnet::IpNet) values formatted by Rust.
//!
//! # Example
//!
//! ```no_run
//! use jailor_action::native::nft::{NftAction, NftConfig, Services};
//!
//! let config = NftConfig::from_properties(
//!     "sshd",
//!     [("port", "ssh"), ("blocktype", "drop"), ("banprefix6", "64")],
//!     &Services::system(),
//! )?;
//! let nft = NftAction::new(config)?;
//! nft.start()?;
//! let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
//! nft.ban_batch([(ip, Some(600))])?;
//! nft.unban_batch([ip])?;
//! nft.stop()?;
//! # Ok::<(), jailor_action::Error>(())
//! ```

mod action;
mod command;
mod config;
mod listing;
mod ports;
mod script;

pub use action::NftAction;
pub use command::{NftCommand, DEFAULT_NFT_TIMEOUT};
pub use config::{BlockType, Hook, NftConfig, Protocol, DEFAULT_PRIORITY, DEFAULT_TABLE};
pub use listing::NftElement;
pub use ports::{Ports, Services};
pub use script::BatchFormat;

/// The `banaction` name of the native nftables action.
pub const NATIVE_NFTABLES: &str = "jailor-nftables";

/// Whether an action file name (what precedes `[…]` in `action = name[…]`) selects the native
/// nftables action instead of an `action.d` file.
pub fn is_native_nftables(action_file: &str) -> bool {
    action_file.trim() == NATIVE_NFTABLES
}

#[cfg(test)]
mod tests {
    #[test]
    fn recognises_its_name() {
        assert!(super::is_native_nftables("jailor-nftables"));
        assert!(!super::is_native_nftables("nftables"));
        assert!(!super::is_native_nftables("jailor-nftables-multiport"));
    }
}
