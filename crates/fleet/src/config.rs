//! The `[Fleet]` section: which engine, where, as whom, and the receiver policy.

use ipnet::IpNet;

use crate::error::FleetError;
use crate::event::{parse_addr, valid_name};

/// Which broker carries the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// NATS JetStream (the default).
    Nats,
    /// Redis or Valkey Streams.
    Redis,
}

impl Engine {
    /// The name used in configuration and status.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Nats => "nats",
            Engine::Redis => "redis",
        }
    }
}

/// What a jail does with the fleet (`fleet = off | publish | receive | both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JailMode {
    /// Neither publishes nor receives.
    Off,
    /// Publishes its own bans only.
    Publish,
    /// Applies bans from other hosts only.
    Receive,
    /// Both (the default once an engine is set).
    #[default]
    Both,
}

impl JailMode {
    /// Parses a jail's `fleet` option.
    pub fn parse(text: &str) -> Result<Self, FleetError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" | "no" | "false" | "0" => Ok(JailMode::Off),
            "publish" => Ok(JailMode::Publish),
            "receive" => Ok(JailMode::Receive),
            "both" | "on" | "yes" | "true" | "1" => Ok(JailMode::Both),
            other => Err(FleetError::Config(format!(
                "fleet = {other:?}: expected off, publish, receive or both"
            ))),
        }
    }

    /// Whether the jail's bans are published.
    pub fn publishes(self) -> bool {
        matches!(self, JailMode::Publish | JailMode::Both)
    }

    /// Whether the jail applies bans from the fleet.
    pub fn receives(self) -> bool {
        matches!(self, JailMode::Receive | JailMode::Both)
    }
}

/// Everything the fleet runtime needs from the configuration.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The broker.
    pub engine: Engine,
    /// Server URLs (`nats://host:port`, `redis://host:port`).
    pub servers: Vec<String>,
    /// User name at the broker (NATS user, Redis ACL user).
    pub user: Option<String>,
    /// Password at the broker.
    pub password: Option<String>,
    /// This host's name in the fleet.
    pub origin: String,
    /// Origins whose events are accepted; empty accepts every origin.
    pub origins: Vec<String>,
    /// Origins allowed to ban networks wider than the minimum prefix.
    pub admins: Vec<String>,
    /// Addresses never banned from the fleet.
    pub allowlist: Vec<IpNet>,
    /// The widest IPv4 network accepted from a non-admin origin.
    pub min_prefix_v4: u8,
    /// The widest IPv6 network accepted from a non-admin origin.
    pub min_prefix_v6: u8,
    /// The longest remaining bantime applied from the fleet (ms); `None` for no cap.
    pub max_bantime_ms: Option<i64>,
    /// How long the broker keeps events (ms): the longest fleet bantime.
    pub max_age_ms: i64,
}

/// Seven days, the default retention of the event stream.
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

impl FleetConfig {
    /// A configuration with defaults for everything but the engine, servers and origin.
    pub fn new(engine: Engine, servers: Vec<String>, origin: &str) -> Self {
        FleetConfig {
            engine,
            servers,
            user: None,
            password: None,
            origin: origin.to_owned(),
            origins: Vec::new(),
            admins: Vec::new(),
            allowlist: Vec::new(),
            min_prefix_v4: 24,
            min_prefix_v6: 64,
            max_bantime_ms: None,
            max_age_ms: WEEK_MS,
        }
    }

    /// Reads the `[Fleet]` options (name, value); `None` when no engine is set.
    ///
    /// `default_origin` (the host name) is used when `origin` is not given.
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
        default_origin: &str,
    ) -> Result<Option<Self>, FleetError> {
        let mut engine = None;
        let mut cfg = FleetConfig::new(Engine::Nats, Vec::new(), default_origin);
        for (name, value) in options {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "engine" => {
                    engine = match value.to_ascii_lowercase().as_str() {
                        "" | "off" | "none" => None,
                        "nats" => Some(Engine::Nats),
                        "redis" | "valkey" => Some(Engine::Redis),
                        other => {
                            return Err(FleetError::Config(format!("unknown engine {other:?}")))
                        }
                    }
                }
                "servers" => cfg.servers = list(value),
                "user" => cfg.user = Some(value.to_owned()).filter(|v| !v.is_empty()),
                "password" => cfg.password = Some(value.to_owned()).filter(|v| !v.is_empty()),
                "origin" => cfg.origin = value.to_owned(),
                "origins" => cfg.origins = list(value),
                "admins" => cfg.admins = list(value),
                "allowlist" => {
                    cfg.allowlist = list(value)
                        .iter()
                        .map(|a| parse_addr(a))
                        .collect::<Result<_, _>>()?
                }
                "minprefix4" | "min_prefix_v4" => cfg.min_prefix_v4 = prefix(value, 32)?,
                "minprefix6" | "min_prefix_v6" => cfg.min_prefix_v6 = prefix(value, 128)?,
                "maxbantime" => cfg.max_bantime_ms = Some(seconds(value)? * 1000),
                "maxage" => cfg.max_age_ms = seconds(value)? * 1000,
                _ => {}
            }
        }
        let Some(engine) = engine else {
            return Ok(None);
        };
        cfg.engine = engine;
        if cfg.servers.is_empty() {
            cfg.servers.push(match engine {
                Engine::Nats => "nats://127.0.0.1:4222".into(),
                Engine::Redis => "redis://127.0.0.1:6379".into(),
            });
        }
        if !valid_name(&cfg.origin) {
            return Err(FleetError::Config(format!(
                "origin {:?}: use letters, digits, '_' and '-' only",
                cfg.origin
            )));
        }
        Ok(Some(cfg))
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn prefix(value: &str, max: u8) -> Result<u8, FleetError> {
    value
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= max)
        .ok_or_else(|| FleetError::Config(format!("prefix length {value:?}: 0 to {max}")))
}

/// Seconds, with fail2ban's suffixes for the common cases (`600`, `10m`, `1h`, `7d`, `1w`).
fn seconds(value: &str) -> Result<i64, FleetError> {
    let bad = || FleetError::Config(format!("time value {value:?}"));
    let (digits, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let mul = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(mul).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_engine_means_no_fleet_and_a_bad_origin_is_refused() {
        assert!(FleetConfig::from_options([("servers", "nats://x:1")], "h")
            .expect("ok")
            .is_none());
        let cfg = FleetConfig::from_options(
            [
                ("engine", "redis"),
                ("allowlist", "10.0.0.0/8, 192.0.2.1"),
                ("maxage", "2d"),
            ],
            "host-1",
        )
        .expect("ok")
        .expect("some");
        assert_eq!(cfg.engine, Engine::Redis);
        assert_eq!(cfg.servers, ["redis://127.0.0.1:6379"]);
        assert_eq!(cfg.allowlist.len(), 2);
        assert_eq!(cfg.max_age_ms, 2 * 86_400_000);
        assert!(FleetConfig::from_options([("engine", "nats"), ("origin", "a.b")], "h").is_err());
        assert!(FleetConfig::from_options([("engine", "mqtt")], "h").is_err());
        assert_eq!(JailMode::parse("receive").expect("mode"), JailMode::Receive);
        assert!(JailMode::parse("sometimes").is_err());
    }
}
