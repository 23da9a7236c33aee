//! The map and set types the configuration is held in.
//!
//! Reading a configuration looks names up in these tens of thousands of times (every
//! `%(name)s`, every `<tag>`, every option of every section of every file), and the keys come
//! from the administrator's files, not from the network: foldhash's quality hash does that in
//! a fraction of SipHash's time, still seeded per process.

/// An insertion-ordered map (fail2ban keeps the files' order), hashed with foldhash.
pub type Map<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;

/// A set hashed with foldhash.
pub type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// An unordered map hashed with foldhash.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
