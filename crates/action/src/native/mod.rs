//! jailor's own actions, run in Rust instead of through `action.d` commands: nftables sets
//! ([`nft`]) and mail over SMTP ([`mail`]).

pub mod mail;
pub mod nft;
