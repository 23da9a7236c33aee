//! The small interface both engines offer: publish an event, subscribe from a cursor
//! (or from a snapshot of the bans in force when there is none), read what arrives.

use std::time::Duration;

use crate::config::{Engine as Kind, FleetConfig};
use crate::error::FleetError;
use crate::event::FleetEvent;
use crate::nats::NatsEngine;
use crate::redis_engine::RedisEngine;

/// Where a subscriber stands in the event log; opaque, stored as text.
pub type Cursor = String;

/// What a subscription yields.
#[derive(Debug, Clone)]
pub enum Item {
    /// An event, with the cursor just after it.
    Event(Cursor, FleetEvent),
    /// Something arrived that is not a valid event (or claims another origin than the
    /// subject or key it came under); the cursor just after it.
    Invalid(Cursor, String),
    /// The snapshot is complete: every ban in force at subscription time was yielded.
    SnapshotDone(Cursor),
}

/// A connection to one engine.
pub enum Engine {
    /// NATS JetStream.
    Nats(Box<NatsEngine>),
    /// Redis or Valkey Streams.
    Redis(RedisEngine),
}

impl Engine {
    /// Connects to the engine the configuration names.
    pub async fn connect(cfg: &FleetConfig) -> Result<Self, FleetError> {
        Ok(match cfg.engine {
            Kind::Nats => Engine::Nats(Box::new(NatsEngine::connect(cfg).await?)),
            Kind::Redis => Engine::Redis(RedisEngine::connect(cfg).await?),
        })
    }

    /// Publishes one event and waits for the broker to have stored it.
    pub async fn publish(&mut self, ev: &FleetEvent) -> Result<(), FleetError> {
        match self {
            Engine::Nats(e) => e.publish(ev).await,
            Engine::Redis(e) => e.publish(ev).await,
        }
    }

    /// Starts reading after `from`, or from a snapshot of the bans in force when `from`
    /// is `None` or no longer valid (then [`Item::SnapshotDone`] follows the snapshot).
    /// Answers whether a snapshot comes first.
    pub async fn subscribe(&mut self, from: Option<&str>) -> Result<bool, FleetError> {
        match self {
            Engine::Nats(e) => e.subscribe(from).await,
            Engine::Redis(e) => e.subscribe(from).await,
        }
    }

    /// The next item, or `None` when nothing arrived within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Item>, FleetError> {
        match self {
            Engine::Nats(e) => e.next(wait).await,
            Engine::Redis(e) => e.next(wait).await,
        }
    }
}
