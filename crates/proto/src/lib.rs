//! jailor's control protocol: how `jailor client` (and `fail2ban-client` scripts through it)
//! talks to the daemon.
//!
//! * [`Request`]: one typed variant per `fail2ban-client` command, parsed from its command
//!   words by [`Request::from_words`] with fail2ban's error texts.
//! * [`Response`]: typed answers; [`render`] turns them into fail2ban-client's human output,
//!   [`render::json`] into the `--json` envelope.
//! * Framing ([`frame`]): 4-byte big-endian length + JSON, capped
//!   ([`MAX_REQUEST_FRAME`]), after a version handshake ([`Hello`]).
//! * [`ControlServer`]: binds the socket (mode 0600, stale socket replaced, live daemon
//!   refused), checks each peer's credentials and runs the daemon's [`Handler`] on a thread
//!   per connection. [`Client`]: connects and sends requests.
//!
//! The wire format and the `--json` shapes are documented in `PROTOCOL.md` beside this crate.
//!
//! ```no_run
//! use std::sync::Arc;
//! use jailor_proto::{Client, ControlServer, Request, Response};
//!
//! let server = ControlServer::bind("/run/jailor/jailor.sock", 0)?
//!     .spawn(Arc::new(|req: Request| match req {
//!         Request::Ping => Response::Pong,
//!         _ => Response::error(jailor_proto::FailureKind::InvalidCommand, "Invalid command"),
//!     }))?;
//! let mut client = Client::connect(server.path(), None)?;
//! assert_eq!(client.send(&Request::Ping)?, Response::Pong);
//! # Ok::<(), jailor_proto::Error>(())
//! ```
#![deny(missing_docs)]

mod client;
mod error;
pub mod frame;
pub mod render;
mod request;
mod response;
mod server;
mod words;

pub use client::Client;
pub use error::{Error, ErrorKind};
pub use frame::{Hello, Refusal, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, PROTOCOL_VERSION};
pub use render::render;
pub use request::{
    BanTimeOption, Flavor, JailQuery, JailSetting, Request, ServerOption, ServerSetting,
};
pub use response::{
    ActionsStatus, BanEntry, Cymru, Failure, FailureKind, FilterStatus, FleetRejected, FleetStatus,
    IgnoreCacheOptions, JailBans, JailStats, JailStatus, LogSource, Response, ServerStatus,
};
pub use server::{ControlServer, Handler, RunningServer};
pub use words::{INVALID_COMMAND, INVALID_GET, LOG_LEVELS, SHORT_COMMAND};
