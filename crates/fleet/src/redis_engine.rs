//! Redis or Valkey Streams: a stream per origin (`jailor:events:<origin>`, so an ACL
//! can bind a host to its own stream) plus one key per ban in force
//! (`jailor:ban:<origin>:<jail>|<address>`) that expires by itself (`PXAT`).
//!
//! The client's default response timeout (500 ms) is shorter than a blocking `XREAD`,
//! so the connection used for reading is given a longer one.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, IntoConnectionInfo, Value};

use crate::config::FleetConfig;
use crate::engine::Item;
use crate::error::FleetError;
use crate::event::{now_ms, valid_name, Action, FleetEvent};

const EVENTS: &str = "jailor:events:";
const BANS: &str = "jailor:ban:";
/// How often new origins' streams are looked for.
const DISCOVER_EVERY: Duration = Duration::from_secs(1);

/// A connection to Redis or Valkey.
pub struct RedisEngine {
    conn: MultiplexedConnection,
    max_age_ms: i64,
    /// Per origin, the id of the last entry read.
    cursors: BTreeMap<String, String>,
    discovered: Option<Instant>,
    subscribed: bool,
    queue: VecDeque<Item>,
}

/// An entry id as numbers, for comparison (`0` when it does not parse).
fn id_key(id: &str) -> (u64, u64) {
    let mut parts = id.splitn(2, '-');
    let ms = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let seq = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (ms, seq)
}

/// The server's address with the ACL user and password when configured, and
/// `TCP_NODELAY`.
fn connection_info(cfg: &FleetConfig, url: &str) -> Result<redis::ConnectionInfo, FleetError> {
    let info = url.into_connection_info().map_err(FleetError::redis)?;
    let mut settings = info.redis_settings().clone();
    if let Some(u) = &cfg.user {
        settings = settings.set_username(u);
    }
    if let Some(p) = &cfg.password {
        settings = settings.set_password(p);
    }
    // Without TCP_NODELAY a small write waiting behind an unacknowledged one meets the
    // peer's delayed ACK: ~40 ms steps in the fleet's end-to-end latency.
    let tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true);
    Ok(info.set_redis_settings(settings).set_tcp_settings(tcp))
}

/// A client over TLS (`rediss://`; a `redis://` URL is upgraded when `tls_` options are
/// set), trusting `tls_ca` when given and presenting `tls_cert` when given.
fn tls_client(cfg: &FleetConfig, url: &str) -> Result<redis::Client, FleetError> {
    let url = match url.strip_prefix("redis://") {
        Some(rest) => format!("rediss://{rest}"),
        None => url.to_owned(),
    };
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| FleetError::Config(format!("{}: {e}", p.display())))
    };
    let client_tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        _ => None,
    };
    let root_cert = cfg.tls_ca.as_deref().map(read).transpose()?;
    redis::Client::build_with_tls(
        connection_info(cfg, &url)?,
        redis::TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(FleetError::redis)
}

impl RedisEngine {
    /// Connects to the first server, with the ACL user and password, TLS and client
    /// certificate when configured.
    pub async fn connect(cfg: &FleetConfig) -> Result<Self, FleetError> {
        let url = cfg
            .servers
            .first()
            .ok_or_else(|| FleetError::Config("no redis server".into()))?;
        let client = if cfg.tls() {
            tls_client(cfg, url)?
        } else {
            redis::Client::open(connection_info(cfg, url)?).map_err(FleetError::redis)?
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(FleetError::redis)?;
        Ok(RedisEngine {
            conn,
            max_age_ms: cfg.max_age_ms.max(1000),
            cursors: BTreeMap::new(),
            discovered: None,
            subscribed: false,
            queue: VecDeque::new(),
        })
    }

    /// Sets (or deletes) the ban's key, then appends to the origin's stream.
    ///
    /// Deliberately not a `MULTI`/`EXEC` transaction: Redis up to 7.x re-checks ACLs
    /// at `EXEC` while it replays its AOF, and with `user default off` (the usual ACL
    /// set-up) it refuses every transaction there, so whatever was published before
    /// a crash vanished on restart (redis/redis#14541, fixed in 8.x). Two plain
    /// commands are safe here: the outbox resends both until both succeeded, the key is
    /// idempotent, and a stream entry read twice changes nothing (last writer wins).
    pub async fn publish(&mut self, ev: &FleetEvent) -> Result<(), FleetError> {
        let body = ev.encode();
        let key = format!("{BANS}{}", ev.key());
        let mut pipe = redis::pipe();
        match (ev.act, ev.exp_ms) {
            (Action::Ban, Some(exp)) => {
                pipe.cmd("SET")
                    .arg(&key)
                    .arg(&body)
                    .arg("PXAT")
                    .arg(exp.max(1))
                    .ignore();
            }
            (Action::Ban, None) => {
                pipe.cmd("SET").arg(&key).arg(&body).ignore();
            }
            (Action::Unban, _) => {
                pipe.cmd("DEL").arg(&key).ignore();
            }
        }
        let min_id = (now_ms() - self.max_age_ms).max(0);
        pipe.cmd("XADD")
            .arg(format!("{EVENTS}{}", ev.origin))
            .arg("MINID")
            .arg("~")
            .arg(min_id)
            .arg("*")
            .arg("e")
            .arg(&body)
            .ignore();
        pipe.query_async::<()>(&mut self.conn)
            .await
            .map_err(FleetError::redis)
    }

    fn cursor_text(&self) -> String {
        self.cursors
            .iter()
            .map(|(o, id)| format!("{o}={id}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn scan(&mut self, pattern: &str) -> Result<Vec<String>, FleetError> {
        let mut out = Vec::new();
        let mut at: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(at)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut self.conn)
                .await
                .map_err(FleetError::redis)?;
            out.extend(keys);
            if next == 0 {
                return Ok(out);
            }
            at = next;
        }
    }

    /// Adds the streams of origins not known yet (read from their start).
    async fn discover(&mut self) -> Result<(), FleetError> {
        for key in self.scan(&format!("{EVENTS}*")).await? {
            let origin = &key[EVENTS.len()..];
            if valid_name(origin) && !self.cursors.contains_key(origin) {
                self.cursors.insert(origin.to_owned(), "0".into());
            }
        }
        self.discovered = Some(Instant::now());
        Ok(())
    }

    async fn tip(&mut self, origin: &str) -> Result<Option<String>, FleetError> {
        let v: Value = redis::cmd("XREVRANGE")
            .arg(format!("{EVENTS}{origin}"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn)
            .await
            .map_err(FleetError::redis)?;
        let reply: redis::streams::StreamRangeReply =
            redis::from_redis_value(v).map_err(FleetError::redis)?;
        Ok(reply.ids.first().map(|e| e.id.clone()))
    }

    /// Reads after the stored ids, or takes a snapshot of the ban keys when there are
    /// none or a stream is behind them (it was recreated).
    pub async fn subscribe(&mut self, from: Option<&str>) -> Result<bool, FleetError> {
        self.queue.clear();
        self.cursors.clear();
        self.subscribed = true;
        let mut valid = from.is_some_and(|c| !c.is_empty());
        if let Some(c) = from {
            for part in c.split(',').filter(|p| !p.is_empty()) {
                match part.split_once('=') {
                    Some((o, id)) if valid_name(o) => {
                        self.cursors.insert(o.to_owned(), id.to_owned());
                    }
                    _ => valid = false,
                }
            }
        }
        if valid {
            let origins: Vec<String> = self.cursors.keys().cloned().collect();
            for o in origins {
                let tip = self.tip(&o).await?;
                let stored = self.cursors.get(&o).map(|s| id_key(s)).unwrap_or_default();
                if tip.map_or(stored > (0, 0), |t| id_key(&t) < stored) {
                    valid = false;
                }
            }
        }
        if valid {
            self.discover().await?;
            return Ok(false);
        }
        // Snapshot: the tips first, then the keys; what is appended in between is read
        // again afterwards, which is harmless (last writer wins).
        self.cursors.clear();
        self.discover().await?;
        let origins: Vec<String> = self.cursors.keys().cloned().collect();
        for o in origins {
            let tip = self.tip(&o).await?.unwrap_or_else(|| "0".into());
            self.cursors.insert(o, tip);
        }
        let keys = self.scan(&format!("{BANS}*")).await?;
        for chunk in keys.chunks(500) {
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(chunk)
                .query_async(&mut self.conn)
                .await
                .map_err(FleetError::redis)?;
            for (key, value) in chunk.iter().zip(values) {
                let Some(body) = value else { continue };
                // Snapshot items carry no cursor: it is stored with SnapshotDone.
                self.queue.push_back(match FleetEvent::decode(&body) {
                    Ok(ev) if format!("{BANS}{}", ev.key()) == *key => {
                        Item::Event(String::new(), ev)
                    }
                    Ok(ev) => Item::Invalid(
                        String::new(),
                        format!("event of {} under key {key}", ev.origin),
                    ),
                    Err(e) => Item::Invalid(String::new(), e.to_string()),
                });
            }
        }
        self.queue.push_back(Item::SnapshotDone(self.cursor_text()));
        Ok(true)
    }

    /// The next item within `wait` (a blocking `XREAD` over every origin's stream).
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Item>, FleetError> {
        if let Some(item) = self.queue.pop_front() {
            return Ok(Some(item));
        }
        if !self.subscribed {
            return Err(FleetError::redis("not subscribed"));
        }
        if self
            .discovered
            .is_none_or(|t| t.elapsed() >= DISCOVER_EVERY)
        {
            self.discover().await?;
        }
        if self.cursors.is_empty() {
            tokio::time::sleep(wait.min(DISCOVER_EVERY)).await;
            return Ok(None);
        }
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(1000);
        // No BLOCK for a zero wait (the subscriber filling a batch): Redis 7.0 notices a
        // short BLOCK's timeout only at its next cron tick (up to 100 ms at hz 10), which
        // delayed every received ban by that much.
        let block = wait.min(Duration::from_secs(1)).as_millis() as u64;
        if block > 0 {
            cmd.arg("BLOCK").arg(block);
        }
        cmd.arg("STREAMS");
        for o in self.cursors.keys() {
            cmd.arg(format!("{EVENTS}{o}"));
        }
        for id in self.cursors.values() {
            cmd.arg(id);
        }
        let reply: Option<StreamReadReply> = cmd
            .query_async(&mut self.conn)
            .await
            .map_err(FleetError::redis)?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        for stream in reply.keys {
            let origin = stream
                .key
                .get(EVENTS.len()..)
                .unwrap_or_default()
                .to_owned();
            for entry in stream.ids {
                self.cursors.insert(origin.clone(), entry.id.clone());
                let cursor = self.cursor_text();
                let body = match entry.map.get("e") {
                    Some(Value::BulkString(b)) => b.clone(),
                    _ => {
                        self.queue
                            .push_back(Item::Invalid(cursor, "entry without e".into()));
                        continue;
                    }
                };
                self.queue.push_back(match FleetEvent::decode(&body) {
                    // The ACL binds the stream, not the body: they must agree.
                    Ok(ev) if ev.origin == origin => Item::Event(cursor, ev),
                    Ok(ev) => Item::Invalid(
                        cursor,
                        format!("event of {} in the stream of {origin}", ev.origin),
                    ),
                    Err(e) => Item::Invalid(cursor, e.to_string()),
                });
            }
        }
        Ok(self.queue.pop_front())
    }
}
