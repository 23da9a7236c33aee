//! Errors of the fleet crate.

use thiserror::Error;

/// Everything that can go wrong in the fleet crate.
#[derive(Debug, Error)]
pub enum FleetError {
    /// A configuration value is missing or malformed.
    #[error("fleet configuration: {0}")]
    Config(String),
    /// An event is malformed (bad name, bad address, bad JSON).
    #[error("fleet event: {0}")]
    Event(String),
    /// The broker refused or failed a request.
    #[error("{engine}: {message}")]
    Broker {
        /// `nats` or `redis`.
        engine: &'static str,
        /// What failed.
        message: String,
    },
    /// The local SQLite state failed.
    #[error("fleet store: {0}")]
    Store(#[from] rusqlite::Error),
    /// The fleet thread could not be started.
    #[error("fleet runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

impl FleetError {
    /// A NATS failure with its message.
    pub(crate) fn nats(err: impl std::fmt::Display) -> Self {
        FleetError::Broker {
            engine: "nats",
            message: err.to_string(),
        }
    }

    /// A Redis failure with its message.
    pub(crate) fn redis(err: impl std::fmt::Display) -> Self {
        FleetError::Broker {
            engine: "redis",
            message: err.to_string(),
        }
    }
}
