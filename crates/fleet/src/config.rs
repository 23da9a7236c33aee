//! The `[Fleet]` section: which engine, where, as whom, and the receiver policy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ed25519_dalek::{SigningKey, VerifyingKey};
use ipnet::IpNet;

use crate::error::FleetError;
use crate::event::{parse_addr, valid_name};
use crate::sign;

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
    /// NATS: a file holding this host's NKey seed (`SU...`).
    pub nkey: Option<PathBuf>,
    /// NATS: a credentials file (user JWT and NKey seed).
    pub creds: Option<PathBuf>,
    /// TLS: the CA certificate (PEM) the server's certificate must chain to.
    pub tls_ca: Option<PathBuf>,
    /// TLS: this host's client certificate (PEM), for mutual TLS.
    pub tls_cert: Option<PathBuf>,
    /// TLS: the private key (PEM) of [`FleetConfig::tls_cert`].
    pub tls_key: Option<PathBuf>,
    /// The private key this host signs its events with.
    pub signing_key: Option<SigningKey>,
    /// Per origin, the public key its events must be signed with.
    pub keys: BTreeMap<String, VerifyingKey>,
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
    /// The most bans accepted per origin per window of publication time; `None` (the
    /// default) for no limit.
    pub rate_limit: Option<RateLimit>,
    /// How long the broker keeps events (ms): the longest fleet bantime.
    pub max_age_ms: i64,
}

/// The per-origin rate limit of received bans: `ratelimit = BANS/SECONDS` in `[Fleet]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The most bans accepted from one origin within one window.
    pub max: u32,
    /// The length of a window (ms), counted on the events' publication time.
    pub window_ms: i64,
}

impl RateLimit {
    /// Parses `BANS/TIME` (`100/60`, `100/1m`); empty or `off` for no limit. Both
    /// numbers must be positive.
    pub fn parse(value: &str) -> Result<Option<Self>, FleetError> {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || {
            FleetError::Config(format!(
                "ratelimit {value:?}: use BANS/SECONDS, e.g. 100/60"
            ))
        };
        let (max, window) = value.split_once('/').ok_or_else(bad)?;
        let max: u32 = max.trim().parse().map_err(|_| bad())?;
        let window_s = seconds(window.trim()).map_err(|_| bad())?;
        let window_ms = window_s.checked_mul(1000).ok_or_else(bad)?;
        if max == 0 || window_ms <= 0 {
            return Err(bad());
        }
        Ok(Some(RateLimit { max, window_ms }))
    }
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
            nkey: None,
            creds: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            signing_key: None,
            keys: BTreeMap::new(),
            origin: origin.to_owned(),
            origins: Vec::new(),
            admins: Vec::new(),
            allowlist: Vec::new(),
            min_prefix_v4: 24,
            min_prefix_v6: 64,
            max_bantime_ms: None,
            rate_limit: None,
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
                "nkey" => cfg.nkey = file(name, value)?,
                "creds" => cfg.creds = file(name, value)?,
                "tls_ca" | "tlsca" => cfg.tls_ca = file(name, value)?,
                "tls_cert" | "tlscert" => cfg.tls_cert = file(name, value)?,
                "tls_key" | "tlskey" => cfg.tls_key = file(name, value)?,
                "signing_key" | "signingkey" => {
                    cfg.signing_key = match file(name, value)? {
                        Some(path) => Some(sign::load_signing_key(&path)?),
                        None => None,
                    }
                }
                "keys" => sign::parse_keys(list(value).iter().map(String::as_str), &mut cfg.keys)?,
                "keys_file" | "keysfile" => {
                    if let Some(path) = file(name, value)? {
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            FleetError::Config(format!("{name} {}: {e}", path.display()))
                        })?;
                        sign::parse_keys(text.lines(), &mut cfg.keys)?;
                    }
                }
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
                "ratelimit" | "rate_limit" => cfg.rate_limit = RateLimit::parse(value)?,
                "maxage" => cfg.max_age_ms = seconds(value)? * 1000,
                _ => {}
            }
        }
        let Some(engine) = engine else {
            return Ok(None);
        };
        cfg.engine = engine;
        if cfg.tls_cert.is_some() != cfg.tls_key.is_some() {
            return Err(FleetError::Config(
                "tls_cert and tls_key go together".into(),
            ));
        }
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

impl FleetConfig {
    /// Whether the connection to the broker must use TLS: a `tls://` or `rediss://`
    /// server, or any `tls_` option.
    pub fn tls(&self) -> bool {
        self.tls_ca.is_some()
            || self.tls_cert.is_some()
            || self
                .servers
                .iter()
                .any(|s| s.starts_with("tls://") || s.starts_with("rediss://"))
    }
}

/// A file option: its path, which must be readable now (so that a typo is reported at
/// start rather than as a refused connection later); empty for none.
fn file(name: &str, value: &str) -> Result<Option<PathBuf>, FleetError> {
    if value.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(value);
    std::fs::File::open(&path).map_err(|e| FleetError::Config(format!("{name} {value}: {e}")))?;
    Ok(Some(path))
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

    #[test]
    fn ratelimit_is_parsed_and_bad_values_are_refused() {
        let parse =
            |v: &str| FleetConfig::from_options([("engine", "nats"), ("ratelimit", v)], "h");
        let cfg = FleetConfig::from_options([("engine", "nats")], "h")
            .expect("ok")
            .expect("some");
        assert_eq!(cfg.rate_limit, None, "off by default");
        let cfg = parse("100/60").expect("ok").expect("some");
        assert_eq!(
            cfg.rate_limit,
            Some(RateLimit {
                max: 100,
                window_ms: 60_000
            })
        );
        let cfg = parse(" 5 / 1h ").expect("ok").expect("some");
        assert_eq!(cfg.rate_limit.map(|r| r.window_ms), Some(3_600_000));
        assert_eq!(parse("off").expect("ok").expect("some").rate_limit, None);
        for bad in [
            "x/0", "100/0", "0/60", "x/60", "100", "100/x", "-1/60", "100/-5", "/60",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credential_files_must_exist_and_tls_cert_needs_its_key() {
        let dir = tempfile::tempdir().expect("dir");
        let seed = dir.path().join("a.nk");
        std::fs::write(&seed, "SU...\n").expect("write");
        let seed = seed.display().to_string();
        let missing = dir.path().join("missing").display().to_string();
        let opts = |extra: Vec<(&'static str, String)>| {
            let mut v: Vec<(String, String)> = vec![("engine".into(), "nats".into())];
            v.extend(extra.into_iter().map(|(k, x)| (k.to_owned(), x)));
            v
        };
        let parse = |v: &[(String, String)]| {
            FleetConfig::from_options(v.iter().map(|(k, x)| (k.as_str(), x.as_str())), "h")
        };
        let cfg = parse(&opts(vec![("nkey", seed.clone())]))
            .expect("ok")
            .expect("some");
        assert_eq!(cfg.nkey.as_deref(), Some(std::path::Path::new(&seed)));
        assert!(!cfg.tls());
        assert!(parse(&opts(vec![("nkey", missing.clone())])).is_err());
        assert!(parse(&opts(vec![("tls_cert", seed.clone())])).is_err());
        let tls = parse(&opts(vec![("tls_ca", seed.clone())]))
            .expect("ok")
            .expect("some");
        assert!(tls.tls());
        assert!(parse(&opts(vec![("signing_key", seed.clone())])).is_err());
        assert!(parse(&opts(vec![("keys", "a:short".into())])).is_err());
    }
}
