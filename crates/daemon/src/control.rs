//! The daemon's side of the control socket: `jailor client`'s requests, answered.
//!
//! A request arrives on a connection thread of [`jailor_proto::ControlServer`]. Only `ping`,
//! `echo`, `version`, `sleep` and `stop` are answered there; every other request goes to the
//! main thread as an [`Event`], in one queue with the signals, so requests, SIGHUP and
//! SIGTERM never race each other over the jails. Bans and unbans then go through the keeper
//! (as a closure run on its thread), the same path as bans found in the logs: the store
//! records them and the jail's actions run.

mod jail;
mod server_options;

pub(crate) use server_options::LiveOptions;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use jailor_config::{Configuration, JailSpec};
use jailor_policy::{FailTicket, Id};
use jailor_proto::{
    ActionsStatus, BanEntry, FailureKind, FilterStatus, Handler, JailBans, JailQuery, JailSetting,
    JailStats, JailStatus, LogSource, Request, Response, ServerSetting, ServerStatus,
};
use jailor_store::Unban;

use crate::error::{Error, ErrorKind};
use crate::jail_counters::JailCounters;
use crate::keeper::{action_ticket, ban_id, counters, dispatch, now, Candidate, Keeper, ToKeeper};
use crate::logf;
use crate::logging::{self, Level};
use crate::server::{RunningJail, Server};
use crate::settings::JailSettings;
use crate::worker::Job;

/// What the main thread waits for.
pub(crate) enum Event {
    /// A signal (SIGHUP reloads, the others stop).
    Signal(i32),
    /// `jailor client stop`, sent after its answer.
    Stop,
    /// A request for the main thread, with where its answer goes.
    Control(Request, Sender<Response>),
    /// Every jail started: a second later the start's scratch memory and code are given back.
    Started,
}

/// How long after the jails started their first rounds are surely done (and the start's
/// memory can go).
const SETTLE_AFTER: Duration = Duration::from_secs(1);

/// How long `stop` waits after answering, so the answer is written before the exit begins.
const STOP_DELAY: Duration = Duration::from_millis(100);
/// The longest `sleep` a client may ask for.
const MAX_SLEEP: f64 = 60.0;

/// Creates the control socket (mode 0600, owned by the server's user).
pub(crate) fn bind(socket: &Path) -> Result<jailor_proto::ControlServer, Error> {
    let uid = nix::unistd::geteuid().as_raw();
    jailor_proto::ControlServer::bind(socket, uid).map_err(|e| match e.kind() {
        jailor_proto::ErrorKind::AlreadyRunning(p) => ErrorKind::SocketExists(p.clone()).into(),
        _ => ErrorKind::System(format!(
            "cannot create the control socket {}: {e}",
            socket.display()
        ))
        .into(),
    })
}

/// Starts serving the socket and forwarding signals, both into `events`.
pub(crate) fn serve(
    control: jailor_proto::ControlServer,
    events: &Sender<Event>,
    mut signals: signal_hook::iterator::Signals,
) -> Result<jailor_proto::RunningServer, Error> {
    let tx = events.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in signals.forever() {
                if tx.send(Event::Signal(s)).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| ErrorKind::System(format!("cannot start the signal thread: {e}")))?;
    let handler = ControlHandler {
        events: events.clone(),
    };
    control
        .spawn(Arc::new(handler))
        .map_err(|e| ErrorKind::System(format!("cannot serve the control socket: {e}")).into())
}

/// Refuses a configuration with a jail that cannot run, naming it (for `reload`).
pub(crate) fn check_jails(cfg: &Configuration) -> Result<(), String> {
    for j in &cfg.jails {
        match j {
            Ok(spec) => {
                JailSettings::from_spec(spec, None)
                    .map_err(|e| format!("jail '{}': {e}", spec.name))?;
            }
            Err(e) => return Err(e.config_error_message()),
        }
    }
    Ok(())
}

struct ControlHandler {
    events: Sender<Event>,
}

impl Handler for ControlHandler {
    fn handle(&self, request: Request) -> Response {
        match request {
            Request::Ping => Response::Pong,
            Request::Echo { words } => Response::List(words),
            Request::Version => Response::Text(env!("CARGO_PKG_VERSION").into()),
            Request::Sleep { seconds } => {
                if seconds.is_finite() && seconds > 0.0 {
                    std::thread::sleep(Duration::from_secs_f64(seconds.min(MAX_SLEEP)));
                }
                Response::Done
            }
            Request::Stop => {
                let tx = self.events.clone();
                let spawned = std::thread::Builder::new()
                    .name("stop".into())
                    .spawn(move || {
                        std::thread::sleep(STOP_DELAY);
                        let _ = tx.send(Event::Stop);
                    });
                match spawned {
                    Ok(_) => Response::Done,
                    Err(e) => Response::error(FailureKind::Failed, format!("cannot stop: {e}")),
                }
            }
            other => {
                let (tx, rx) = mpsc::channel();
                if self.events.send(Event::Control(other, tx)).is_err() {
                    return stopping();
                }
                rx.recv().unwrap_or_else(|_| stopping())
            }
        }
    }
}

fn stopping() -> Response {
    Response::error(FailureKind::Failed, "the server is shutting down")
}

fn unsupported(what: &str) -> Response {
    Response::error(
        FailureKind::Failed,
        format!("{what} is not supported by jailor yet"),
    )
}

fn invalid(message: impl Into<String>) -> Response {
    Response::error(FailureKind::InvalidValue, message)
}

/// Parses the addresses of `banip`/`unbanip`/`unban`: addresses or networks.
fn parse_ids(ips: &[String]) -> Result<Vec<Id>, String> {
    ips.iter()
        .map(|text| match Id::parse(text) {
            id @ (Id::Ip(_) | Id::Net(_)) => Ok(id),
            Id::Raw(_) => Err(format!("'{text}' is not a valid IP address")),
        })
        .collect()
}

impl Server {
    /// Waits for signals and requests until a stop.
    pub(crate) fn serve(&mut self, inbox: &Receiver<Event>) {
        let mut settle_at: Option<std::time::Instant> = None;
        loop {
            let event = match settle_at {
                None => inbox.recv().ok(),
                Some(at) => match inbox
                    .recv_timeout(at.saturating_duration_since(std::time::Instant::now()))
                {
                    Ok(event) => Some(event),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        settle_at = None;
                        // On this thread, which then only waits in `recv`: the code a
                        // thread's exit runs (that of the thread that saw the jails start)
                        // would be mapped back for good.
                        crate::memory::release_free_memory();
                        crate::memory::release_startup_code();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => None,
                },
            };
            let Some(event) = event else {
                return;
            };
            match event {
                Event::Signal(signal_hook::consts::SIGHUP) => {
                    let _ = self.reload(false);
                }
                Event::Signal(_) | Event::Stop => return,
                Event::Control(request, reply) => {
                    let _ = reply.send(self.control(request));
                }
                Event::Started => settle_at = Some(std::time::Instant::now() + SETTLE_AFTER),
            }
        }
    }

    /// Runs `call` on the keeper's thread and returns its result.
    fn keeper<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Keeper) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        let boxed = Box::new(move |k: &mut Keeper| {
            let _ = tx.send(call(k));
        });
        self.to_keeper.send(ToKeeper::Control(boxed)).ok()?;
        rx.recv().ok()
    }

    fn jail(&self, name: &str) -> Option<&RunningJail> {
        self.jails.iter().find(|j| j.spec.name == name)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.jails.iter().map(|j| j.spec.name.clone()).collect();
        names.sort();
        names
    }

    /// Answers one request on the main thread.
    fn control(&mut self, request: Request) -> Response {
        match request {
            Request::Ping => Response::Pong,
            Request::Echo { words } => Response::List(words),
            Request::Version => Response::Text(env!("CARGO_PKG_VERSION").into()),
            Request::ServerStatus => Response::Text("Server ready".into()),
            Request::Status { all: false, .. } => Response::ServerStatus(ServerStatus {
                jails: self.names(),
            }),
            Request::Status { all: true, flavor } => {
                let names = self.names();
                let mut jails = Vec::new();
                for n in &names {
                    match self.jail_status(n, flavor) {
                        Response::JailStatus(s) => jails.push(s),
                        other => return other,
                    }
                }
                Response::AllStatus {
                    server: ServerStatus { jails: names },
                    jails,
                }
            }
            Request::JailStatus { jail, flavor } => self.jail_status(&jail, flavor),
            Request::FleetStatus => {
                Response::FleetStatus(self.registry.fleet().map(crate::fleet::status))
            }
            Request::Stats => {
                let rows = self.names().into_iter().map(|n| {
                    let j = self.jail(&n);
                    let backend = j.map(|j| j.spec.backend.clone());
                    let failed = j.map_or((0, 0), |j| {
                        (
                            JailCounters::get(&j.stats.failed_current),
                            JailCounters::get(&j.stats.failed_total),
                        )
                    });
                    (n, backend.unwrap_or_default(), failed)
                });
                let rows: Vec<(String, String, (u64, u64))> = rows.collect();
                self.keeper(move |k| {
                    rows.into_iter()
                        .map(|(jail, backend, (failed_current, failed_total))| {
                            let (cur, total) = k
                                .jails
                                .get(&jail)
                                .map_or((0, 0), |st| (st.book.len() as u64, st.book.total()));
                            JailStats {
                                jail,
                                backend,
                                banned_current: cur,
                                banned_total: total,
                                failed_current,
                                failed_total,
                            }
                        })
                        .collect()
                })
                .map_or_else(stopping, Response::Stats)
            }
            Request::Banned { ips } => self.banned(ips),
            Request::Unban { ips, all } => {
                let ids = match parse_ids(&ips) {
                    Ok(ids) => ids,
                    Err(m) => return invalid(m),
                };
                self.keeper(move |k| {
                    let names: Vec<String> = k.jails.keys().cloned().collect();
                    let mut n = 0;
                    for jail in names {
                        let ids = match all {
                            true => banned_ids(k, &jail),
                            false => ids.clone(),
                        };
                        n += unban(k, &jail, &ids, all);
                    }
                    if all {
                        k.batch.unban(Unban::All);
                    }
                    k.commit();
                    Response::Number(n)
                })
                .unwrap_or_else(stopping)
            }
            Request::Reload {
                jail,
                restart,
                unban,
                all: _,
                if_exists,
            } => match jail {
                Some(j) => self.reload_one(&j, restart, unban, if_exists),
                None => self.reload_request(None, restart, unban),
            },
            Request::Restart { unban } => self.reload_request(None, true, unban),
            Request::SetJail { jail, setting } => {
                if self.jail(&jail).is_none() {
                    return Response::unknown_jail(&jail);
                }
                if let Some(r) = self.edit_jail(&jail, &setting) {
                    return r;
                }
                self.set_jail(&jail, setting)
            }
            Request::GetJail { jail, query } => match self.jail(&jail) {
                None => Response::unknown_jail(&jail),
                Some(j) => self.answer_query(j, query),
            },
            Request::GetServer { option } => self.get_server_option(option),
            Request::SetServer { setting } => match setting {
                ServerSetting::LogLevel(text) => match Level::parse(&text) {
                    None => invalid(format!("Invalid log level {text:?}")),
                    Some(level) => match logging::configure(level, &self.log.1) {
                        Ok(()) => {
                            self.log.0 = level;
                            Response::Text(level.name())
                        }
                        Err(e) => Response::error(FailureKind::Failed, e.to_string()),
                    },
                },
                ServerSetting::LogTarget(text) => {
                    let target = logging::Target::parse(&text);
                    match logging::configure(self.log.0, &target) {
                        Ok(()) => {
                            self.log.1 = target;
                            self.get_server_log_target()
                        }
                        Err(e) => Response::error(FailureKind::Failed, e.to_string()),
                    }
                }
                other => self.set_server_option(other),
            },
            Request::Stop => Response::Done,
            Request::Sleep { .. } => Response::Done,
            Request::StartJail { jail } => self.start_request(&jail),
            Request::StopJail { jail } => self.stop_request(jail.as_deref()),
            Request::AddJail { jail, backend } => self.add_request(&jail, &backend),
            Request::FlushLogs => match logging::configure(self.log.0, &self.log.1) {
                // The file is opened again: a rotated log goes on in a new file.
                Ok(()) => Response::Text(match self.log.1 {
                    logging::Target::File(_) => "rolled over".into(),
                    _ => "flushed".into(),
                }),
                Err(e) => Response::error(FailureKind::Failed, e.to_string()),
            },
            _ => unsupported("this command"),
        }
    }

    /// `get logtarget`: the target in force.
    fn get_server_log_target(&self) -> Response {
        Response::Text(match &self.log.1 {
            logging::Target::Stdout => "STDOUT".into(),
            logging::Target::Stderr => "STDERR".into(),
            logging::Target::Syslog => "SYSLOG".into(),
            logging::Target::File(p) => p.display().to_string(),
        })
    }

    fn jail_status(&self, name: &str, flavor: jailor_proto::Flavor) -> Response {
        let Some(j) = self.jail(name) else {
            return Response::unknown_jail(name);
        };
        let source = match &j.settings.journal {
            Some(_) => LogSource::Journal(
                j.spec
                    .option("journalmatch")
                    .map(|m| m.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
            ),
            None => LogSource::Files(
                j.spec
                    .logpaths
                    .iter()
                    .flat_map(|l| l.files.iter().map(|f| f.display().to_string()))
                    .collect(),
            ),
        };
        let jail = name.to_owned();
        let short = matches!(flavor, jailor_proto::Flavor::Short);
        // jailor makes no DNS lookups for a status (the design allows DNS only where
        // `usedns` asks): the Team Cymru lists say `error`, as fail2ban's do when it cannot
        // look them up.
        let cymru = matches!(flavor, jailor_proto::Flavor::Cymru).then(|| {
            let failed = vec!["error".to_owned()];
            jailor_proto::Cymru {
                asn: failed.clone(),
                country: failed.clone(),
                rir: failed,
            }
        });
        let currently_failed = JailCounters::get(&j.stats.failed_current);
        let total_failed = JailCounters::get(&j.stats.failed_total);
        self.keeper(move |k| {
            let st = k.jails.get(&jail);
            let ips: Vec<String> = st.map_or_else(Vec::new, |st| {
                st.book
                    .list()
                    .iter()
                    .map(|b| b.ticket.id.to_string())
                    .collect()
            });
            Response::JailStatus(JailStatus {
                jail,
                filter: FilterStatus {
                    currently_failed,
                    total_failed,
                    source,
                },
                actions: ActionsStatus {
                    currently_banned: st.map_or(0, |s| s.book.len() as u64),
                    total_banned: st.map_or(0, |s| s.book.total()),
                    banned: (!short).then_some(ips),
                    cymru,
                },
            })
        })
        .unwrap_or_else(stopping)
    }

    fn banned(&self, ips: Vec<String>) -> Response {
        let names = self.names();
        self.keeper(move |k| {
            if ips.is_empty() {
                let list = names
                    .into_iter()
                    .map(|jail| JailBans {
                        ips: banned_ids(k, &jail).iter().map(Id::to_string).collect(),
                        jail,
                    })
                    .collect();
                return Response::Banned(list);
            }
            let by = ips
                .iter()
                .map(|ip| {
                    let id = Id::parse(ip);
                    names
                        .iter()
                        .filter(|n| k.jails.get(*n).is_some_and(|st| st.book.is_banned(&id)))
                        .cloned()
                        .collect()
                })
                .collect();
            Response::BannedBy(by)
        })
        .unwrap_or_else(stopping)
    }

    fn reload_request(&mut self, jail: Option<&str>, restart: bool, unban_first: bool) -> Response {
        if unban_first {
            let only = jail.map(str::to_owned);
            let _ = self.keeper(move |k| {
                let names: Vec<String> = k.jails.keys().cloned().collect();
                for n in names
                    .into_iter()
                    .filter(|n| only.as_ref().is_none_or(|o| o == n))
                {
                    let ids = banned_ids(k, &n);
                    unban(k, &n, &ids, false);
                }
                k.commit();
            });
        }
        if restart {
            // Stopped jails start again from the configuration (bans come back from the store).
            let stop: Vec<usize> = (0..self.jails.len())
                .filter(|i| jail.is_none_or(|j| self.jails[*i].spec.name == j))
                .collect();
            if let Err(e) = check_config(&self.base) {
                return Response::error(FailureKind::Config, e);
            }
            for i in stop.into_iter().rev() {
                let j = self.jails.remove(i);
                self.stop_jail(j);
            }
        }
        match self.reload(true) {
            Ok(()) => Response::Done,
            Err(e) => Response::error(FailureKind::Config, e),
        }
    }

    fn get_jail(&self, j: &RunningJail, query: JailQuery) -> Response {
        let s = &j.settings;
        match query {
            JailQuery::Banned { ips } => {
                let jail = j.spec.name.clone();
                self.keeper(move |k| {
                    let st = k.jails.get(&jail);
                    if ips.is_empty() {
                        return Response::List(
                            banned_ids(k, &jail).iter().map(Id::to_string).collect(),
                        );
                    }
                    Response::Numbers(
                        ips.iter()
                            .map(|ip| {
                                i64::from(st.is_some_and(|st| st.book.is_banned(&Id::parse(ip))))
                            })
                            .collect(),
                    )
                })
                .unwrap_or_else(stopping)
            }
            JailQuery::BanIp { with_time, .. } => {
                let jail = j.spec.name.clone();
                self.keeper(move |k| {
                    let Some(st) = k.jails.get(&jail) else {
                        return Response::List(Vec::new());
                    };
                    if !with_time {
                        return Response::List(
                            st.book
                                .list()
                                .iter()
                                .map(|b| b.ticket.id.to_string())
                                .collect(),
                        );
                    }
                    let mut out: Vec<BanEntry> = st
                        .book
                        .list()
                        .iter()
                        .map(|b| BanEntry {
                            ip: b.ticket.id.to_string(),
                            start: b.ticket.time,
                            bantime: b.bantime(),
                            end: b.end(),
                        })
                        .collect();
                    out.sort_by_key(|e| e.end);
                    Response::BanTimes(out)
                })
                .unwrap_or_else(stopping)
            }
            JailQuery::FindTime => Response::Number(s.findtime),
            JailQuery::BanTime => Response::Number(s.bantime),
            JailQuery::MaxRetry => Response::Number(i64::from(s.maxretry)),
            JailQuery::MaxMatches => Response::Number(s.maxmatches as i64),
            JailQuery::IgnoreIp => Response::List(j.spec.ignoreip()),
            JailQuery::IgnoreSelf => Response::Bool(s.ignoreself),
            JailQuery::IgnoreCommand => match &s.ignorecommand {
                Some(c) => Response::Text(c.clone()),
                None => Response::Null,
            },
            JailQuery::LogPath => Response::List(
                j.spec
                    .logpaths
                    .iter()
                    .flat_map(|l| l.files.iter().map(|f| f.display().to_string()))
                    .collect(),
            ),
            JailQuery::Actions => {
                Response::List(j.spec.actions.iter().map(|a| a.actname.clone()).collect())
            }
            JailQuery::FailRegex => match &j.spec.filter {
                Some(f) => Response::List(f.failregex.clone()),
                None => Response::List(Vec::new()),
            },
            JailQuery::IgnoreRegex => match &j.spec.filter {
                Some(f) => Response::List(f.ignoreregex.clone()),
                None => Response::List(Vec::new()),
            },
            JailQuery::LogTimeZone => match &s.logtimezone {
                Some(p) => Response::Text(p.clone()),
                None => Response::Null,
            },
            other => unsupported(&format!("get JAIL {other:?}")),
        }
    }

    fn set_jail(&mut self, jail: &str, setting: JailSetting) -> Response {
        match setting {
            JailSetting::BanIp { ips } => {
                let ids = match parse_ids(&ips) {
                    Ok(ids) => ids,
                    Err(m) => return invalid(m),
                };
                let jail = jail.to_owned();
                self.keeper(move |k| Response::Number(ban(k, &jail, ids)))
                    .unwrap_or_else(stopping)
            }
            JailSetting::UnbanIp { ips, report_absent } => {
                let ids = match parse_ids(&ips) {
                    Ok(ids) => ids,
                    Err(m) => return invalid(m),
                };
                let jail = jail.to_owned();
                self.keeper(move |k| {
                    if report_absent {
                        let st = k.jails.get(&jail);
                        if let Some(id) = ids
                            .iter()
                            .find(|id| !st.is_some_and(|st| st.book.is_banned(id)))
                        {
                            return invalid(format!("{id} is not banned"));
                        }
                    }
                    let n = unban(k, &jail, &ids, false);
                    k.commit();
                    Response::Number(n)
                })
                .unwrap_or_else(stopping)
            }
            JailSetting::FindTime { value } => {
                self.change_live(jail, "findtime", value, JailQuery::FindTime)
            }
            JailSetting::BanTime { value } => {
                self.change_live(jail, "bantime", value, JailQuery::BanTime)
            }
            JailSetting::MaxRetry { value } => {
                self.change_live(jail, "maxretry", value.to_string(), JailQuery::MaxRetry)
            }
            JailSetting::MaxMatches { value } => {
                self.change_live(jail, "maxmatches", value.to_string(), JailQuery::MaxMatches)
            }
            JailSetting::IgnoreSelf { value } => {
                self.change_live(jail, "ignoreself", value.to_string(), JailQuery::IgnoreSelf)
            }
            JailSetting::IgnoreCommand { value } => {
                self.change_live(jail, "ignorecommand", value, JailQuery::IgnoreCommand)
            }
            JailSetting::IgnoreCache { value } => {
                match crate::ignore_cmd::parse_ignore_cache(&value) {
                    Err(e) => invalid(e),
                    Ok(_) => self.change_live(jail, "ignorecache", value, JailQuery::IgnoreCache),
                }
            }
            JailSetting::BanTimeExtra { option, value } => self.change_live(
                jail,
                option.as_word(),
                value,
                JailQuery::BanTimeExtra { option },
            ),
            JailSetting::AddIgnoreIp { values } | JailSetting::DelIgnoreIp { values }
                if values.is_empty() =>
            {
                invalid("no address given")
            }
            JailSetting::AddIgnoreIp { values } => {
                let mut list = self
                    .jail(jail)
                    .map(|j| j.spec.ignoreip())
                    .unwrap_or_default();
                for v in values {
                    if !list.contains(&v) {
                        list.push(v);
                    }
                }
                self.change_live(jail, "ignoreip", list.join(" "), JailQuery::IgnoreIp)
            }
            JailSetting::DelIgnoreIp { values } => {
                let mut list = self
                    .jail(jail)
                    .map(|j| j.spec.ignoreip())
                    .unwrap_or_default();
                list.retain(|v| !values.contains(v));
                self.change_live(jail, "ignoreip", list.join(" "), JailQuery::IgnoreIp)
            }
            other => unsupported(&format!("set JAIL {other:?}")),
        }
    }

    /// Changes one option of a running jail in place, as fail2ban does for the options that
    /// only the failure window, the ignore list and the ban book use (findtime, bantime,
    /// maxretry, maxmatches, ignoreip, ignoreself, ignorecommand, bantime.*): no restart,
    /// so tracked failures, bans and log positions stay. The reader takes the new settings
    /// before it counts its next failure; the keeper's ban book before its next ban. A value
    /// the jail cannot run with is refused and changes nothing.
    fn change_live(
        &mut self,
        jail: &str,
        option: &str,
        value: String,
        query: JailQuery,
    ) -> Response {
        let Some(i) = self.jails.iter().position(|j| j.spec.name == jail) else {
            return Response::unknown_jail(jail);
        };
        let mut spec: JailSpec = self.jails[i].spec.clone();
        spec.options.insert(option.to_owned(), value.clone());
        let max_tracked = self.jails[i].max_tracked.clone();
        let settings = match JailSettings::from_spec(&spec, max_tracked.as_deref()) {
            Ok(s) => Arc::new(s),
            Err(e) => return invalid(format!("Invalid value for {option} {value:?}: {e}")),
        };
        let name = jail.to_owned();
        let for_keeper = settings.clone();
        let applied = self.keeper(move |k| {
            if let Some(st) = k.jails.get_mut(&name) {
                st.book.set_bantime(for_keeper.bantime);
                st.settings = for_keeper;
            }
        });
        if applied.is_none() {
            return stopping();
        }
        let j = &mut self.jails[i];
        j.stats.post_settings(settings.clone());
        j.spec = spec;
        j.settings = settings;
        logf!(INFO, "fail2ban.jail", "[{jail}] Set {option} = {value}");
        self.answer_query(&self.jails[i], query)
    }

    /// Gives running jail `j` the settings of `spec` without a restart (see
    /// [`only_live_options_differ`]); false when `spec` cannot run (nothing changed then).
    pub(crate) fn update_in_place(&self, j: &mut RunningJail, spec: &JailSpec) -> bool {
        let Ok(settings) = JailSettings::from_spec(spec, j.max_tracked.as_deref()) else {
            return false;
        };
        let settings = Arc::new(settings);
        let name = spec.name.clone();
        let for_keeper = settings.clone();
        let applied = self.keeper(move |k| {
            if let Some(st) = k.jails.get_mut(&name) {
                st.book.set_bantime(for_keeper.bantime);
                st.settings = for_keeper;
            }
        });
        if applied.is_none() {
            return false;
        }
        j.stats.post_settings(settings.clone());
        j.spec = spec.clone();
        j.settings = settings;
        true
    }

    /// Answers `get JAIL ...` for a running jail.
    fn answer_query(&self, j: &RunningJail, query: JailQuery) -> Response {
        match Self::query_jail(j, &query) {
            Some(r) => r,
            None => self.get_jail(j, query),
        }
    }
}

/// The jail options a running jail takes in place (the failure window, the ignore list and
/// the ban book read them; nothing else does).
const LIVE_OPTIONS: [&str; 14] = [
    "findtime",
    "bantime",
    "maxretry",
    "maxmatches",
    "ignoreip",
    "ignoreself",
    "ignorecommand",
    "bantime.increment",
    "bantime.factor",
    "bantime.formula",
    "bantime.multipliers",
    "bantime.maxtime",
    "bantime.rndtime",
    "bantime.overalljails",
];

/// Whether `old` and `new` (the same jail) differ only in [`LIVE_OPTIONS`] (and where
/// options are written), so a reload can change the running jail in place.
pub(crate) fn only_live_options_differ(old: &JailSpec, new: &JailSpec) -> bool {
    if old.name != new.name {
        return false;
    }
    let strip = |s: &JailSpec| {
        let mut s = s.clone();
        s.options.retain(|k, _| !LIVE_OPTIONS.contains(&k.as_str()));
        s.origins.clear();
        s.warnings.clear();
        s
    };
    strip(old) == strip(new)
}

/// Reads and checks the configuration without changing anything.
fn check_config(base: &Path) -> Result<(), String> {
    let cfg = jailor_config::Loader::new(base)
        .read_all()
        .map_err(|e| e.to_string())?;
    check_jails(&cfg)
}

fn banned_ids(k: &Keeper, jail: &str) -> Vec<Id> {
    k.jails.get(jail).map_or_else(Vec::new, |st| {
        st.book.list().iter().map(|b| b.ticket.id.clone()).collect()
    })
}

/// Bans `ids` in `jail` as a found ban is banned; answers how many were not banned yet.
fn ban(k: &mut Keeper, jail: &str, ids: Vec<Id>) -> i64 {
    let now = now();
    let name: Arc<str> = Arc::from(jail);
    let mut n = 0;
    for id in ids {
        let Some(st) = k.jails.get(jail) else {
            break;
        };
        if st.book.is_banned(&id) {
            continue;
        }
        let ticket = FailTicket {
            id: id.clone(),
            first_time: now,
            time: now,
            retry: st.settings.maxretry,
            failures: st.settings.maxretry,
            matches: Vec::new(),
        };
        k.candidate(Candidate {
            jail: name.clone(),
            ticket,
            fid: None,
            data: BTreeMap::new(),
            more: false,
        });
        if k.jails.get(jail).is_some_and(|st| st.book.is_banned(&id)) {
            n += 1;
        }
    }
    k.commit();
    n
}

/// Unbans `ids` in `jail` (runs `actionunban`, forgets the records unless `keep_records`
/// because the caller deletes them wholesale); answers how many were banned. The caller
/// commits.
fn unban(k: &mut Keeper, jail: &str, ids: &[Id], keep_records: bool) -> i64 {
    let Some(st) = k.jails.get_mut(jail) else {
        return 0;
    };
    let mut n = 0;
    let mut lifted = Vec::new();
    for id in ids {
        let Some(ban) = st.book.unban(id) else {
            continue;
        };
        n += 1;
        JailCounters::add(&st.stats.unbans, 1);
        lifted.push(id);
        k.deadlines.cancel(&(jail.to_owned(), id.clone()));
        if !keep_records {
            k.batch.unban(Unban::One {
                jail: jail.to_owned(),
                id: ban_id(id),
            });
        }
        logf!(NOTICE, "fail2ban.actions", "[{jail}] Unban {id}");
        let extra = st.extra.remove(id);
        if let Some(ticket) = action_ticket(&ban, extra.as_ref(), false) {
            let c = counters(st);
            dispatch(st, Job::Unban(Box::new(ticket), c));
        }
    }
    for id in lifted {
        crate::fleet::unpublished(k, jail, id);
        k.from_fleet.remove(&(jail.to_owned(), id.clone()));
    }
    n
}
