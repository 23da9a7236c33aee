//! `get|set dbfile|dbpurgeage|dbmaxmatches|syslogsocket`: the daemon-wide options besides
//! the log level and target, changed live as fail2ban changes them.
//!
//! `dbpurgeage` goes to the keeper's next purge, `dbmaxmatches` to the store's next commit,
//! `syslogsocket` re-opens a `SYSLOG` log target at once. `dbfile` changes only while no
//! jail runs (fail2ban refuses it otherwise); the new database is opened and the old one
//! closed. With the database disabled, the `db*` options answer `None` as fail2ban's do.

use jailor_config::ServerSpec;
use jailor_proto::{FailureKind, Response, ServerOption, ServerSetting};
use jailor_store::{DbFile, StoreOptions};

use super::invalid;
use crate::logf;
use crate::logging::{self, Target};
use crate::server::{open_store, Server};

/// The options' values in force (they start as `fail2ban.conf` sets them).
#[derive(Debug, Clone)]
pub(crate) struct LiveOptions {
    /// `dbfile` as set (`None` disables the database).
    dbfile: String,
    /// `dbpurgeage` in seconds.
    dbpurgeage: i64,
    /// `dbmaxmatches`.
    dbmaxmatches: i64,
    /// `syslogsocket`: `auto` or a path.
    syslogsocket: String,
}

impl LiveOptions {
    /// The values `fail2ban.conf` sets.
    pub(crate) fn from_spec(server: &ServerSpec) -> LiveOptions {
        LiveOptions {
            dbfile: server.dbfile.clone(),
            dbpurgeage: jailor_config::parse_time(&server.dbpurgeage)
                .map(|t| t as i64)
                .unwrap_or(86_400),
            dbmaxmatches: match server.dbmaxmatches {
                Some(Some(n)) => n,
                _ => StoreOptions::DEFAULT_MAX_MATCHES as i64,
            },
            syslogsocket: server.syslogsocket.clone(),
        }
    }

    fn db_enabled(&self) -> bool {
        !matches!(DbFile::parse(&self.dbfile), DbFile::Disabled)
    }
}

impl Server {
    /// `get dbfile|dbpurgeage|dbmaxmatches|syslogsocket`.
    pub(super) fn get_server_option(&self, option: ServerOption) -> Response {
        let live = &self.live;
        match option {
            ServerOption::LogLevel => Response::Text(self.log.0.name()),
            ServerOption::LogTarget => self.get_server_log_target(),
            ServerOption::SyslogSocket => Response::Text(live.syslogsocket.clone()),
            _ if !live.db_enabled() => Response::Null,
            ServerOption::DbFile => Response::Text(live.dbfile.clone()),
            ServerOption::DbPurgeAge => Response::Number(live.dbpurgeage),
            ServerOption::DbMaxMatches => Response::Number(live.dbmaxmatches),
            _ => Response::Null,
        }
    }

    /// `set dbfile|dbpurgeage|dbmaxmatches|syslogsocket VALUE`; answers as `get` does.
    pub(super) fn set_server_option(&mut self, setting: ServerSetting) -> Response {
        let option = setting.option();
        match setting {
            ServerSetting::SyslogSocket(value) => {
                logging::set_syslog_socket(&value);
                self.live.syslogsocket = value;
                if self.log.1 == Target::Syslog {
                    if let Err(e) = logging::configure(self.log.0, &self.log.1) {
                        return Response::error(FailureKind::Failed, e.to_string());
                    }
                }
            }
            // fail2ban answers None and keeps nothing while the database is disabled.
            ServerSetting::DbPurgeAge(_) | ServerSetting::DbMaxMatches(_)
                if !self.live.db_enabled() =>
            {
                return Response::Null
            }
            ServerSetting::DbPurgeAge(text) => {
                let age = match jailor_config::parse_time(&text) {
                    Ok(t) => t as i64,
                    Err(e) => return invalid(format!("Invalid dbpurgeage {text:?}: {e}")),
                };
                if self.keeper(move |k| k.set_purge_age(age)).is_none() {
                    return super::stopping();
                }
                self.live.dbpurgeage = age;
            }
            ServerSetting::DbMaxMatches(n) => {
                let kept = usize::try_from(n).unwrap_or(usize::MAX);
                self.lock_store().set_max_matches(kept);
                self.live.dbmaxmatches = i64::try_from(n).unwrap_or(i64::MAX);
            }
            ServerSetting::DbFile(path) => {
                if !self.jails.is_empty() {
                    return Response::error(
                        FailureKind::Failed,
                        "Cannot change database when there are jails present",
                    );
                }
                // Only these two fields are read by `open_store`.
                let spec = ServerSpec {
                    dbfile: path.clone(),
                    dbmaxmatches: Some(Some(self.live.dbmaxmatches)),
                    loglevel: String::new(),
                    logtarget: String::new(),
                    syslogsocket: String::new(),
                    socket: String::new(),
                    pidfile: String::new(),
                    allowipv6: String::new(),
                    dbpurgeage: String::new(),
                    stacksize: None,
                    metrics: None,
                    maxtrackedaddresses: None,
                    warnings: Vec::new(),
                };
                // Created now: the answer names a file that exists.
                let store = open_store(&spec, false);
                *self.lock_store() = store;
                logf!(INFO, "fail2ban.server", "Database set to {path}");
                self.live.dbfile = path;
            }
            // The log level and target are set by the caller.
            _ => {}
        }
        self.get_server_option(option)
    }

    fn lock_store(&self) -> std::sync::MutexGuard<'_, jailor_store::Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}
