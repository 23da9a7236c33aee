//! Fleet-wide bans over an existing engine.
//!
//! A ban on one host is published as a [`FleetEvent`] to a broker (NATS JetStream by
//! default, Redis/Valkey Streams as the second engine) and applied by the other hosts
//! through their own jails. This crate holds the event format, the small engine
//! interface ([`Engine`]), both engines, the receiver policy, and the runtime
//! ([`Fleet`]) that runs on its own thread: an SQLite outbox resent until the broker
//! acknowledges it, and a subscriber that commits its cursor in the same transaction
//! as the bans it applied.

mod applier;
mod config;
mod engine;
mod error;
mod event;
mod nats;
mod policy;
mod redis_engine;
mod runtime;
mod sign;
mod stats;
mod store;

pub use applier::{received, Applier, Delivery, LocalApplier};
pub use config::{Engine as EngineKind, FleetConfig, JailMode, RateLimit};
pub use engine::{Cursor, Engine, Item};
pub use error::FleetError;
pub use event::{now_ms, parse_addr, valid_name, Action, FleetEvent};
pub use ipnet::IpNet;
pub use nats::NatsEngine;
pub use policy::{Policy, Verdict};
pub use redis_engine::RedisEngine;
pub use runtime::{Fleet, Received, Sink};
pub use sign::{load_signing_key, parse_public_key, public_key_text};
pub use stats::{FleetStats, StatsReader, StatsSnapshot};
