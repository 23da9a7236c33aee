//! Typed responses: what the daemon answers, before the client renders it.

use serde::{Deserialize, Serialize};

/// The daemon's answer to one [`Request`](crate::Request).
///
/// Scalar answers (`get JAIL findtime`, `set JAIL banip ...`) use [`Response::Number`],
/// [`Response::Text`], [`Response::Bool`], [`Response::List`] or [`Response::Null`], with the
/// value fail2ban's server returns for the same command; the client's
/// [`render`](crate::render) turns them into fail2ban-client's text using the request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Response {
    /// Success without a value (`start JAIL`, `stop`, `reload`, ...).
    Done,
    /// The answer to `ping`.
    Pong,
    /// A text value (`version`, `get JAIL usedns`, `get logtarget`, `flushlogs`, ...).
    Text(String),
    /// A number (`get JAIL maxretry`, a time value in seconds, a count of bans or unbans).
    Number(i64),
    /// A boolean (`get JAIL ignoreself`).
    Bool(bool),
    /// No value (fail2ban's `None`: an unset `bantime.factor`, the default `datepattern`).
    Null,
    /// A list of texts (`get JAIL ignoreip`, `failregex`, `logpath`, `actions`, `banip`, `echo`).
    List(Vec<String>),
    /// One number per asked address (`get JAIL banned IP IP...`: 1 banned, 0 not).
    Numbers(Vec<i64>),
    /// `status`: the jails.
    ServerStatus(ServerStatus),
    /// `status --all`: the jails and each jail's status.
    AllStatus {
        /// The jails.
        server: ServerStatus,
        /// Each jail's status, in the order of `server.jails`.
        jails: Vec<JailStatus>,
    },
    /// `status JAIL`.
    JailStatus(JailStatus),
    /// `status --fleet`: `None` when no `[Fleet]` engine is set.
    FleetStatus(Option<FleetStatus>),
    /// `stats`: one row per jail.
    Stats(Vec<JailStats>),
    /// `banned`: each jail's banned addresses.
    Banned(Vec<JailBans>),
    /// `banned IP...`: for each address asked, the jails banning it.
    BannedBy(Vec<Vec<String>>),
    /// `get JAIL banip --with-time`: each ban with its times, ordered by end of ban.
    BanTimes(Vec<BanEntry>),
    /// `get|set JAIL datepattern` when a pattern is set (the default detectors answer
    /// [`Response::Null`]).
    DatePattern {
        /// The pattern in use (`None` for `Epoch`, `LongEpoch`, `TAI64N`).
        pattern: Option<String>,
        /// Its name: each `%` directive as a word (`Year-Month-Day`).
        name: String,
    },
    /// `get|set JAIL ignorecache` when set (unset answers [`Response::Null`]).
    IgnoreCache(IgnoreCacheOptions),
    /// The command failed.
    Error(Failure),
}

impl Response {
    /// A failure response of `kind` with fail2ban's `message`.
    pub fn error(kind: FailureKind, message: impl Into<String>) -> Response {
        Response::Error(Failure {
            kind,
            message: message.into(),
        })
    }

    /// The failure fail2ban reports for a jail that does not exist:
    /// `Sorry but the jail 'NAME' does not exist`.
    pub fn unknown_jail(jail: &str) -> Response {
        Response::error(
            FailureKind::UnknownJail,
            format!("Sorry but the jail '{jail}' does not exist"),
        )
    }

    /// Whether this is a failure.
    pub fn is_error(&self) -> bool {
        matches!(self, Response::Error(_))
    }
}

/// A failed command: its kind and fail2ban's message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What went wrong, for programs.
    pub kind: FailureKind,
    /// What went wrong, for people (fail2ban's text where it has one).
    pub message: String,
}

/// What kind of failure a [`Failure`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The jail does not exist.
    UnknownJail,
    /// The command is not one fail2ban knows.
    InvalidCommand,
    /// A value is malformed (an address, a regex, a time value, a log level).
    InvalidValue,
    /// The configuration cannot be read (on `reload`); the running jails are unchanged.
    Config,
    /// The peer may not use the socket.
    PermissionDenied,
    /// The peer speaks another protocol version.
    VersionMismatch,
    /// A frame was over the size cap.
    TooLarge,
    /// Anything else (an action failed, an I/O error).
    Failed,
}

/// The answer to `status`: the jails, sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// The jail names, sorted.
    pub jails: Vec<String>,
}

/// The fleet's state (`status --fleet`): counters since the daemon started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetStatus {
    /// `nats` or `redis`.
    pub engine: String,
    /// This host's origin name.
    pub origin: String,
    /// Whether the publisher and the subscriber are connected to the broker.
    pub connected: bool,
    /// Local events waiting in the outbox for the broker's acknowledgement.
    pub outbox: u64,
    /// Local events the broker acknowledged.
    pub published: u64,
    /// Events received from other hosts.
    pub received: u64,
    /// Received events that changed a ban here.
    pub applied: u64,
    /// Received events refused, in total and by reason.
    pub rejected: FleetRejected,
}

/// Received fleet events refused, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRejected {
    /// All refused events (the sum of the reasons below).
    pub total: u64,
    /// The origin is not among the accepted origins.
    pub origin: u64,
    /// The address is in the allowlist.
    pub allowlist: u64,
    /// The network is wider than the minimum prefix.
    pub prefix: u64,
    /// Unsigned or badly signed by an origin this host holds a public key for.
    #[serde(default)]
    pub signature: u64,
    /// Over the origin's rate limit of bans.
    #[serde(default)]
    pub ratelimit: u64,
    /// Malformed, or not matching the subject or key it came under.
    pub invalid: u64,
}

/// One jail's status (`status JAIL`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailStatus {
    /// The jail's name.
    pub jail: String,
    /// The filter's counters and sources.
    pub filter: FilterStatus,
    /// The actions' counters and bans.
    pub actions: ActionsStatus,
}

/// The filter part of a [`JailStatus`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterStatus {
    /// Addresses with failures not yet banned.
    pub currently_failed: u64,
    /// Failures counted since the jail started.
    pub total_failed: u64,
    /// The source: log files, or journal matches for the systemd backend.
    pub source: LogSource,
}

/// Where a jail reads its lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "items", rename_all = "snake_case")]
pub enum LogSource {
    /// Log files (`File list`).
    Files(Vec<String>),
    /// The systemd journal, with these matches (`Journal matches`).
    Journal(Vec<String>),
}

impl Default for LogSource {
    fn default() -> LogSource {
        LogSource::Files(Vec::new())
    }
}

/// The actions part of a [`JailStatus`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionsStatus {
    /// Addresses banned now.
    pub currently_banned: u64,
    /// Bans since the jail started.
    pub total_banned: u64,
    /// The banned addresses (`None` for the `short` flavor).
    pub banned: Option<Vec<String>>,
    /// The `cymru` flavor's lookups of the banned addresses.
    pub cymru: Option<Cymru>,
}

/// Team Cymru's data about banned addresses (`status JAIL cymru`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cymru {
    /// Autonomous system numbers.
    pub asn: Vec<String>,
    /// Country codes.
    pub country: Vec<String>,
    /// Regional internet registries.
    pub rir: Vec<String>,
}

/// A jail's `ignorecache` (`key="<ip>", max-count=100, max-time=5m`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoreCacheOptions {
    /// The cache key template (`<ip>`).
    pub key: String,
    /// The most decisions kept.
    pub max_count: u64,
    /// How long a decision is kept, in seconds.
    pub max_time: i64,
}

/// One row of `stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailStats {
    /// The jail's name.
    pub jail: String,
    /// Its backend (`polling`, `pyinotify`, `systemd`, ...).
    pub backend: String,
    /// Addresses with failures not yet banned.
    pub failed_current: u64,
    /// Failures counted since start.
    pub failed_total: u64,
    /// Addresses banned now.
    pub banned_current: u64,
    /// Bans since start.
    pub banned_total: u64,
}

/// One jail's banned addresses (`banned`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailBans {
    /// The jail's name.
    pub jail: String,
    /// The addresses it bans.
    pub ips: Vec<String>,
}

/// One ban with its times (`get JAIL banip --with-time`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanEntry {
    /// The banned address.
    pub ip: String,
    /// When the ban started (Unix seconds).
    pub start: i64,
    /// Its duration in seconds (`-1`: forever).
    pub bantime: i64,
    /// When it ends (Unix seconds; meaningless when `bantime` is `-1`).
    pub end: i64,
}
