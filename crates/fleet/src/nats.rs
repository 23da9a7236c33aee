//! NATS JetStream: one stream `JAILOR_BANS` of subjects
//! `jailor.ban.<origin>.<jail>.<address>`, keeping the last message per subject.
//!
//! Pitfalls this follows (see the research notes): nats-server 2.9 ignores per-message
//! TTLs, so receivers enforce `exp_ms` themselves; async-nats cannot create KV buckets
//! on 2.9, so a plain stream with `max_msgs_per_subject = 1` stands in for one; every
//! publish carries `Nats-Msg-Id` so a retry after a lost ack is dropped by the server.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, message::PublishMessage, stream};
use futures_util::StreamExt;

use crate::config::FleetConfig;
use crate::engine::Item;
use crate::error::FleetError;
use crate::event::FleetEvent;

/// The stream's name.
pub const STREAM: &str = "JAILOR_BANS";
/// The stream's subjects.
pub const SUBJECTS: &str = "jailor.ban.>";

/// A connection to NATS JetStream.
pub struct NatsEngine {
    client: async_nats::Client,
    js: jetstream::Context,
    max_age: Duration,
    messages: Option<consumer::push::Ordered>,
    /// In snapshot mode: the stream's last sequence when the snapshot began.
    snapshot_until: Option<u64>,
    queue: VecDeque<Item>,
}

impl NatsEngine {
    /// Connects (user and password, NKey, credentials file, TLS and client certificate,
    /// as configured) and makes sure the stream exists.
    pub async fn connect(cfg: &FleetConfig) -> Result<Self, FleetError> {
        let mut opts = async_nats::ConnectOptions::new()
            .name(format!("jailor-{}", cfg.origin))
            .connection_timeout(Duration::from_secs(3))
            .max_reconnects(None);
        if let (Some(u), Some(p)) = (&cfg.user, &cfg.password) {
            opts = opts.user_and_password(u.clone(), p.clone());
        }
        if let Some(path) = &cfg.nkey {
            opts = opts.nkey(read_seed(path)?);
        }
        if let Some(path) = &cfg.creds {
            opts = opts
                .credentials_file(path)
                .await
                .map_err(|e| FleetError::Config(format!("creds {}: {e}", path.display())))?;
        }
        if let Some(ca) = &cfg.tls_ca {
            opts = opts.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        if cfg.tls() {
            opts = opts.require_tls(true);
        }
        let servers: Vec<async_nats::ServerAddr> = cfg
            .servers
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e| FleetError::Config(format!("server {s:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let client = opts.connect(servers).await.map_err(FleetError::nats)?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(3));
        let engine = NatsEngine {
            client,
            js,
            max_age: Duration::from_millis(cfg.max_age_ms.max(1000) as u64),
            messages: None,
            snapshot_until: None,
            queue: VecDeque::new(),
        };
        engine.ensure_stream().await?;
        Ok(engine)
    }
}

/// The NKey seed in `path`: its first line that looks like a user seed (`SU...`), so a
/// file written by `nk -gen user` works as it is.
fn read_seed(path: &std::path::Path) -> Result<String, FleetError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FleetError::Config(format!("nkey {}: {e}", path.display())))?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("SU"))
        .map(str::to_owned)
        .ok_or_else(|| FleetError::Config(format!("nkey {}: no user seed (SU...)", path.display())))
}

impl NatsEngine {
    async fn ensure_stream(&self) -> Result<stream::Stream, FleetError> {
        if let Ok(s) = self.js.get_stream(STREAM).await {
            return Ok(s);
        }
        self.js
            .create_stream(stream::Config {
                name: STREAM.into(),
                subjects: vec![SUBJECTS.into()],
                max_messages_per_subject: 1,
                max_age: self.max_age,
                duplicate_window: Duration::from_secs(120),
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(FleetError::nats)
    }

    /// Publishes with `Nats-Msg-Id` = the event id and waits for the PubAck.
    pub async fn publish(&mut self, ev: &FleetEvent) -> Result<(), FleetError> {
        let ack = self
            .js
            .send_publish(
                ev.subject(),
                PublishMessage::build()
                    .payload(ev.encode().into())
                    .message_id(&ev.id),
            )
            .await
            .map_err(FleetError::nats)?;
        ack.await.map_err(FleetError::nats)?;
        Ok(())
    }

    /// An ordered consumer from `from + 1`, or from the last message per subject.
    pub async fn subscribe(&mut self, from: Option<&str>) -> Result<bool, FleetError> {
        let mut st = self.ensure_stream().await?;
        let info = st.info().await.map_err(FleetError::nats)?;
        let last = info.state.last_sequence;
        let messages = info.state.messages;
        let start = from
            .and_then(|c| c.parse::<u64>().ok())
            .filter(|c| *c <= last);
        self.queue.clear();
        let deliver_policy = match start {
            Some(c) => {
                self.snapshot_until = None;
                consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: c + 1,
                }
            }
            None => {
                if messages == 0 {
                    self.queue.push_back(Item::SnapshotDone(last.to_string()));
                    self.snapshot_until = None;
                } else {
                    self.snapshot_until = Some(last);
                }
                consumer::DeliverPolicy::LastPerSubject
            }
        };
        let consumer = st
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                filter_subject: SUBJECTS.into(),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(FleetError::nats)?;
        self.messages = Some(consumer.messages().await.map_err(FleetError::nats)?);
        Ok(start.is_none())
    }

    /// The next event (or the end of the snapshot) within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Item>, FleetError> {
        if let Some(item) = self.queue.pop_front() {
            return Ok(Some(item));
        }
        let Some(messages) = self.messages.as_mut() else {
            return Err(FleetError::nats("not subscribed"));
        };
        let msg = match tokio::time::timeout(wait, messages.next()).await {
            // After a lost connection the consumer may be gone on the server: start
            // again from the stored cursor rather than wait on a silent subscription.
            Err(_)
                if self.client.connection_state() != async_nats::connection::State::Connected =>
            {
                return Err(FleetError::nats("connection lost"))
            }
            Err(_) => return Ok(None),
            Ok(None) => return Err(FleetError::nats("subscription ended")),
            Ok(Some(Err(e))) => return Err(FleetError::nats(e)),
            Ok(Some(Ok(m))) => m,
        };
        let (seq, pending) = match msg.info() {
            Ok(i) => (i.stream_sequence, i.pending),
            Err(e) => return Err(FleetError::nats(e)),
        };
        let cursor = seq.to_string();
        let item = match FleetEvent::decode(&msg.payload) {
            // The broker's permissions bind the subject, not the body: they must agree.
            Ok(ev) if ev.subject() == msg.subject.as_str() => Item::Event(cursor.clone(), ev),
            Ok(ev) => Item::Invalid(
                cursor.clone(),
                format!("event of {} under subject {}", ev.origin, msg.subject),
            ),
            Err(e) => Item::Invalid(cursor.clone(), e.to_string()),
        };
        if let Some(until) = self.snapshot_until {
            if seq >= until || pending == 0 {
                self.snapshot_until = None;
                self.queue.push_back(Item::SnapshotDone(cursor));
            }
        }
        Ok(Some(item))
    }
}
