//! The control requests that change which jails run or what a jail reads and does:
//! `start|stop|reload JAIL`, `set JAIL addlogpath|dellogpath|addfailregex|delfailregex|
//! addignoreregex|delignoreregex|addaction|delaction|action`, and the `get JAIL` queries about
//! a jail's filter and actions.
//!
//! A change of the filter, the files or the actions restarts that jail alone: its bans come
//! back from the store, its logs resume at their stored positions and its counters go on.
//! Every change is checked (settings, regexes compiled) before the running jail is touched,
//! so a refused change leaves it as it was.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jailor_config::{JailSpec, Loader, LogPath};
use jailor_proto::{BanTimeOption, FailureKind, JailQuery, JailSetting, Response};

use super::{invalid, stopping};
use crate::jail_counters::JailCounters;
use crate::logf;
use crate::server::{max_tracked_value, RunningJail, Server};
use crate::settings::JailSettings;

/// How long a request waits for a (re)started jail to start reading.
const START_WAIT: Duration = Duration::from_secs(60);

/// The methods of a command action (`get JAIL actionmethods ACTION`), which
/// `set JAIL action ACTION METHOD [JSON]` calls.
const ACTION_METHODS: [&str; 8] = [
    "ban", "flush", "prolong", "reban", "reload", "start", "stop", "unban",
];

/// How long `set JAIL action ACTION METHOD` waits for the action (its commands have their
/// own timeouts; this only bounds a worker stuck behind a long queue).
const CALL_WAIT: Duration = Duration::from_secs(600);

/// The backends `add JAIL BACKEND` takes (fail2ban's list).
const BACKENDS: [&str; 5] = ["auto", "pyinotify", "gamin", "polling", "systemd"];

/// fail2ban's answer for an action the jail does not have (the text of its KeyError).
fn unknown_action(action: &str) -> Response {
    Response::error(
        FailureKind::InvalidValue,
        format!("'Invalid Action name: {action}'"),
    )
}

/// Checks that `spec` can run: its settings and its filter's regexes.
fn check(spec: &JailSpec, max_tracked: Option<&str>) -> Result<Arc<JailSettings>, String> {
    let settings = JailSettings::from_spec(spec, max_tracked)?;
    jailor_match::Filter::new(settings.filter.clone()).map_err(|e| e.to_string())?;
    Ok(Arc::new(settings))
}

fn files(spec: &JailSpec) -> Vec<String> {
    spec.logpaths
        .iter()
        .flat_map(|l| l.files.iter().map(|f| f.display().to_string()))
        .collect()
}

impl Server {
    fn position(&self, jail: &str) -> Option<usize> {
        self.jails.iter().position(|j| j.spec.name == jail)
    }

    /// Starts `spec` and waits until its reader runs; `counters` go on from a previous run.
    fn start_and_wait(
        &mut self,
        spec: &JailSpec,
        max_tracked: Option<String>,
        counters: Option<Arc<JailCounters>>,
    ) -> Response {
        match self.start_jail(spec.clone(), max_tracked, counters) {
            Some(started) => {
                // Dropped without a message when the reader ends early: answer anyway.
                let _ = started.recv_timeout(START_WAIT);
                Response::Done
            }
            None => Response::error(
                FailureKind::Failed,
                format!("the jail '{}' could not start (see the log)", spec.name),
            ),
        }
    }

    /// Restarts running jail `i` with `spec`, which was checked; its counters go on.
    fn restart_with(&mut self, i: usize, spec: JailSpec) -> Response {
        let old = self.jails.remove(i);
        let max_tracked = old.max_tracked.clone();
        let counters = old.stats.clone();
        self.stop_jail(old);
        self.start_and_wait(&spec, max_tracked, Some(counters))
    }

    /// Checks `spec` for running jail `i`, restarts the jail with it and answers `answer`
    /// of the new spec; a spec that cannot run is refused with `refuse(error)`.
    fn change_spec(
        &mut self,
        i: usize,
        spec: JailSpec,
        what: &str,
        refuse: impl FnOnce(String) -> Response,
        answer: impl FnOnce(&JailSpec) -> Response,
    ) -> Response {
        if let Err(e) = check(&spec, self.jails[i].max_tracked.as_deref()) {
            return refuse(e);
        }
        let name = spec.name.clone();
        let reply = answer(&spec);
        match self.restart_with(i, spec) {
            Response::Done => {
                logf!(INFO, "fail2ban.jail", "[{name}] {what}");
                reply
            }
            failure => failure,
        }
    }

    /// Restarts jail `i` with a filter or reading option changed (`what = value`).
    fn filter_option(
        &mut self,
        i: usize,
        spec: JailSpec,
        what: &str,
        value: &str,
        answer: impl FnOnce(&JailSpec) -> Response,
    ) -> Response {
        let refused = format!("Invalid value for {what} {value:?}");
        self.change_spec(
            i,
            spec,
            &format!("Set {what} = {value}"),
            |e| invalid(format!("{refused}: {e}")),
            answer,
        )
    }

    /// `start JAIL`: a running jail answers at once (as fail2ban's); a jail of the
    /// configuration that is not running (stopped by `stop JAIL`) starts.
    pub(super) fn start_request(&mut self, jail: &str) -> Response {
        if self.position(jail).is_some() {
            return Response::Done;
        }
        let cfg = match Loader::new(&self.base).read_all() {
            Ok(c) => c,
            Err(e) => return Response::error(FailureKind::Config, e.to_string()),
        };
        let spec = match cfg.jails.iter().find(|j| match j {
            Ok(s) => s.name == jail,
            Err(e) => e.jail == jail,
        }) {
            None => return Response::unknown_jail(jail),
            Some(Err(e)) => return Response::error(FailureKind::Config, e.config_error_message()),
            Some(Ok(spec)) => spec.clone(),
        };
        let tracked = max_tracked_value(&cfg.server, &spec);
        if let Err(e) = check(&spec, tracked.as_deref()) {
            return Response::error(FailureKind::Config, format!("jail '{jail}': {e}"));
        }
        self.start_and_wait(&spec, tracked, None)
    }

    /// `add JAIL [BACKEND]`: a new jail with fail2ban's defaults, no log file, no filter
    /// regex and no action, which `set JAIL addlogpath|addfailregex|addaction ...` then
    /// fills (each restarting it). It starts at once (fail2ban waits for `start JAIL`; with
    /// nothing to read and nothing to match, a running empty jail does nothing either).
    pub(super) fn add_request(&mut self, jail: &str, backend: &str) -> Response {
        let name = jailor_config::extract_options(backend)
            .map(|(n, _)| n)
            .unwrap_or_else(|_| backend.to_owned());
        if !BACKENDS.contains(&name.as_str()) {
            return invalid(format!(
                "Unknown backend {name}. Must be among ['pyinotify', 'gamin', 'polling', 'systemd'] or 'auto'"
            ));
        }
        if jail.is_empty() || jail.chars().any(|c| c.is_control() || c == '/') {
            return invalid(format!("Invalid jail name {jail:?}"));
        }
        if self.position(jail).is_some() {
            return Response::error(
                FailureKind::InvalidValue,
                format!("Jail '{jail}' already exists"),
            );
        }
        let mut spec = JailSpec::default();
        spec.name = jail.to_owned();
        spec.backend = backend.to_owned();
        spec.filter = Some(jailor_config::FilterSpec {
            name: jail.to_owned(),
            ..jailor_config::FilterSpec::default()
        });
        if let Err(e) = check(&spec, None) {
            return invalid(format!("jail '{jail}': {e}"));
        }
        match self.start_and_wait(&spec, None, None) {
            Response::Done => {
                logf!(INFO, "fail2ban.server", "Added jail {jail} ({backend})");
                Response::Done
            }
            failure => failure,
        }
    }

    /// `stop JAIL` stops one jail (its bans are lifted by its actions' stop, and kept in the
    /// store); `stop --all` every jail, the daemon goes on.
    pub(super) fn stop_request(&mut self, jail: Option<&str>) -> Response {
        match jail {
            None => {
                self.stop_all();
                Response::Done
            }
            Some(name) => match self.position(name) {
                None => Response::unknown_jail(name),
                Some(i) => {
                    let j = self.jails.remove(i);
                    self.stop_jail(j);
                    Response::Done
                }
            },
        }
    }

    /// `reload JAIL`: reads the configuration again and updates that jail only. A jail
    /// whose configuration did not change goes on untouched (unless `restart`); a changed one
    /// restarts (bans and positions kept, counters reset only by `restart`); one that is
    /// not running starts. A configuration that cannot run leaves the jail as it was.
    pub(super) fn reload_one(
        &mut self,
        jail: &str,
        restart: bool,
        unban: bool,
        if_exists: bool,
    ) -> Response {
        logf!(INFO, "fail2ban.server", "Reload jail '{jail}'");
        let cfg = match Loader::new(&self.base).read_all() {
            Ok(c) => c,
            Err(e) => return Response::error(FailureKind::Config, e.to_string()),
        };
        let found = cfg.jails.iter().find(|j| match j {
            Ok(s) => s.name == jail,
            Err(e) => e.jail == jail,
        });
        let spec = match found {
            None if if_exists => return Response::Done,
            None => {
                return Response::error(
                    FailureKind::Config,
                    format!("Failed during configuration: No section: '{jail}'"),
                )
            }
            Some(Err(e)) => return Response::error(FailureKind::Config, e.config_error_message()),
            Some(Ok(spec)) => spec.clone(),
        };
        let tracked = max_tracked_value(&cfg.server, &spec);
        if let Err(e) = check(&spec, tracked.as_deref()) {
            logf!(
                ERROR,
                "fail2ban.server",
                "Reload of '{jail}' failed, the running jail is kept: {e}"
            );
            return Response::error(FailureKind::Config, format!("jail '{jail}': {e}"));
        }
        if unban {
            let name = jail.to_owned();
            let done = self.keeper(move |k| {
                let ids = super::banned_ids(k, &name);
                super::unban(k, &name, &ids, false);
                k.commit();
            });
            if done.is_none() {
                return stopping();
            }
        }
        let Some(i) = self.position(jail) else {
            return self.start_and_wait(&spec, tracked, None);
        };
        let same = self.jails[i].spec == spec && self.jails[i].max_tracked == tracked;
        if same && !restart {
            return Response::Done;
        }
        if !restart
            && self.jails[i].max_tracked == tracked
            && super::only_live_options_differ(&self.jails[i].spec, &spec)
        {
            let mut j = self.jails.remove(i);
            let changed = self.update_in_place(&mut j, &spec);
            self.jails.insert(i, j);
            if changed {
                logf!(INFO, "fail2ban.jail", "[{jail}] Changed in place");
                return Response::Done;
            }
        }
        let old = self.jails.remove(i);
        let counters = (!restart).then(|| old.stats.clone());
        self.stop_jail(old);
        self.start_and_wait(&spec, tracked, counters)
    }

    /// The `set JAIL ...` changes that restart the jail; `None` for the other settings.
    pub(super) fn edit_jail(&mut self, jail: &str, setting: &JailSetting) -> Option<Response> {
        let i = self.position(jail)?;
        let mut spec = self.jails[i].spec.clone();
        let response = match setting {
            JailSetting::AddLogPath { path, tail } => {
                if !Path::new(path).exists() {
                    return Some(invalid(format!(
                        "[Errno 2] No such file or directory: '{path}'"
                    )));
                }
                if files(&spec).iter().any(|f| f == path) {
                    return Some(Response::List(files(&spec)));
                }
                spec.logpaths.push(LogPath {
                    pattern: path.clone(),
                    tail: *tail,
                    files: vec![PathBuf::from(path)],
                });
                self.change_spec(i, spec, &format!("Added logfile: {path}"), invalid, |s| {
                    Response::List(files(s))
                })
            }
            JailSetting::DelLogPath { path } => {
                let before = spec.logpaths.len();
                spec.logpaths
                    .retain(|l| l.pattern != *path && l.files != [PathBuf::from(path)]);
                if spec.logpaths.len() == before {
                    // fail2ban answers the list unchanged.
                    return Some(Response::List(files(&spec)));
                }
                self.change_spec(i, spec, &format!("Removed logfile: {path}"), invalid, |s| {
                    Response::List(files(s))
                })
            }
            JailSetting::AddFailRegex { value } | JailSetting::AddIgnoreRegex { value } => {
                let fail = matches!(setting, JailSetting::AddFailRegex { .. });
                let filter = spec.filter.as_mut()?;
                let list = if fail {
                    &mut filter.failregex
                } else {
                    &mut filter.ignoreregex
                };
                list.push(value.clone());
                let shown = value.clone();
                self.change_spec(
                    i,
                    spec,
                    &format!("Added regex: {value}"),
                    |e| {
                        invalid(format!(
                            "Unable to compile regular expression '{shown}':\n{e}"
                        ))
                    },
                    |s| regex_list(s, fail),
                )
            }
            JailSetting::DelFailRegex { index } | JailSetting::DelIgnoreRegex { index } => {
                let fail = matches!(setting, JailSetting::DelFailRegex { .. });
                let filter = spec.filter.as_mut()?;
                let list = if fail {
                    &mut filter.failregex
                } else {
                    &mut filter.ignoreregex
                };
                if *index >= list.len() {
                    // fail2ban logs the bad index and answers the list unchanged.
                    return Some(regex_list(&spec, fail));
                }
                list.remove(*index);
                self.change_spec(i, spec, &format!("Removed regex {index}"), invalid, |s| {
                    regex_list(s, fail)
                })
            }
            JailSetting::AddAction { action, python } => {
                if python.is_some() {
                    return Some(Response::error(
                        FailureKind::Failed,
                        "Python actions are not supported by jailor",
                    ));
                }
                let (file, args) = match jailor_config::extract_options(action) {
                    Ok(x) => x,
                    Err(e) => return Some(invalid(e.to_string())),
                };
                // An action of the configuration's action.d; else, as fail2ban, an empty one
                // whose commands `set JAIL action NAME actionban ...` then sets.
                let a = Loader::new(&self.base)
                    .load_action(&file, &args, jail)
                    .unwrap_or_else(|_| jailor_config::ActionSpec {
                        actname: file.clone(),
                        file: file.clone(),
                        ..jailor_config::ActionSpec::default()
                    });
                if spec.actions.iter().any(|x| x.actname == a.actname) {
                    return Some(Response::error(
                        FailureKind::InvalidValue,
                        format!("Action {} already exists in jail {jail}", a.actname),
                    ));
                }
                let name = a.actname.clone();
                spec.actions.push(a);
                self.change_spec(i, spec, &format!("Added action {name}"), invalid, |_| {
                    Response::Text(name.clone())
                })
            }
            JailSetting::DelAction { action } => {
                let Some(k) = spec.actions.iter().position(|a| a.actname == *action) else {
                    return Some(unknown_action(action));
                };
                spec.actions.remove(k);
                self.change_spec(
                    i,
                    spec,
                    &format!("Removed action {action}"),
                    invalid,
                    |_| Response::Null,
                )
            }
            JailSetting::Action { action, key, value } => {
                if !spec.actions.iter().any(|a| a.actname == *action) {
                    return Some(unknown_action(action));
                }
                if ACTION_METHODS.contains(&key.as_str()) {
                    return Some(self.call_action(jail, action, key, value.as_deref()));
                }
                // A property without a value: fail2ban's short-command answer.
                let Some(value) = value else {
                    return Some(Response::error(
                        FailureKind::InvalidCommand,
                        jailor_proto::SHORT_COMMAND,
                    ));
                };
                let Some(a) = spec.actions.iter_mut().find(|a| a.actname == *action) else {
                    return Some(unknown_action(action));
                };
                if key.starts_with("action") {
                    a.commands.insert(key.clone(), value.clone());
                } else {
                    a.properties.insert(key.clone(), value.clone());
                }
                self.action_property(i, spec, action, key, value)
            }
            JailSetting::Idle { on } => {
                let j = &self.jails[i];
                j.stats
                    .idle
                    .store(*on, std::sync::atomic::Ordering::Relaxed);
                logf!(
                    INFO,
                    "fail2ban.jail",
                    "[{jail}] Jail is {}",
                    if *on { "in idle" } else { "not idle" }
                );
                Response::Bool(*on)
            }
            JailSetting::Attempt { ip, failures } => {
                let id = match jailor_policy::Id::parse(ip) {
                    id @ (jailor_policy::Id::Ip(_) | jailor_policy::Id::Net(_)) => id,
                    jailor_policy::Id::Raw(_) => {
                        return Some(invalid(format!("'{ip}' is not a valid IP address")))
                    }
                };
                self.jails[i].stats.post_attempt(id, failures.clone());
                Response::Number(1)
            }
            JailSetting::DatePattern { value } => {
                spec.filter.as_mut()?.datepattern = Some(value.clone()).filter(|v| !v.is_empty());
                self.filter_option(i, spec, "datepattern", value, date_pattern)
            }
            JailSetting::UseDns { value } => {
                spec.filter.as_mut()?.usedns = Some(value.clone());
                let v = value.clone();
                self.filter_option(i, spec, "usedns", value, |_| Response::Text(v))
            }
            JailSetting::MaxLines { value } => {
                spec.filter.as_mut()?.maxlines_raw = Some(value.to_string());
                let n = i64::try_from(*value).unwrap_or(i64::MAX);
                self.filter_option(i, spec, "maxlines", &value.to_string(), |_| {
                    Response::Number(n)
                })
            }
            JailSetting::PrefRegex { value } => {
                spec.filter.as_mut()?.prefregex = Some(value.clone()).filter(|v| !v.is_empty());
                let v = value.clone();
                self.filter_option(i, spec, "prefregex", value, |_| Response::Text(v))
            }
            JailSetting::LogTimeZone { value } => {
                spec.options.insert("logtimezone".into(), value.clone());
                let v = value.clone();
                self.filter_option(i, spec, "logtimezone", value, |_| Response::Text(v))
            }
            JailSetting::LogEncoding { value } => {
                spec.options.insert("logencoding".into(), value.clone());
                let v = value.clone();
                self.filter_option(i, spec, "logencoding", value, |_| Response::Text(v))
            }
            JailSetting::AddJournalMatch { values } | JailSetting::DelJournalMatch { values } => {
                let add = matches!(setting, JailSetting::AddJournalMatch { .. });
                let filter = spec.filter.as_mut()?;
                // `+` separates alternatives, each a list of FIELD=value words.
                let groups: Vec<Vec<String>> = values
                    .split(|w| w == "+")
                    .filter(|g| !g.is_empty())
                    .map(<[String]>::to_vec)
                    .collect();
                if add {
                    filter.journalmatch.extend(groups);
                } else {
                    filter.journalmatch.retain(|m| !groups.contains(m));
                }
                let shown = values.join(" ");
                self.filter_option(i, spec, "journalmatch", &shown, |s| {
                    Response::List(
                        s.filter
                            .as_ref()
                            .map(|f| f.journalmatch.iter().map(|m| m.join(" ")).collect())
                            .unwrap_or_default(),
                    )
                })
            }
            _ => return None,
        };
        Some(response)
    }

    /// `set JAIL action ACTION PROPERTY VALUE` with `spec` already changed: the running
    /// command action is replaced by the changed one on the jail's action thread, keeping
    /// what it started and banned, as fail2ban changes the property of the running action
    /// (no restart of the jail). A native action restarts the jail instead.
    fn action_property(
        &mut self,
        i: usize,
        spec: JailSpec,
        action: &str,
        key: &str,
        value: &str,
    ) -> Response {
        let what = format!("Set action {action} {key}");
        let shown = value.to_owned();
        let settings = match check(&spec, self.jails[i].max_tracked.as_deref()) {
            Ok(s) => s,
            Err(e) => return invalid(e),
        };
        let changed = settings.actions.iter().find_map(|a| match a {
            crate::native::JailAction::Commands(s) if s.actname == action => Some(s.clone()),
            _ => None,
        });
        let Some(changed) = changed else {
            return self.change_spec(i, spec, &what, invalid, |_| Response::Text(shown));
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let name = spec.name.clone();
        let for_keeper = settings.clone();
        let queued = self.keeper(move |k| match k.jails.get_mut(&name) {
            Some(st) => {
                st.settings = for_keeper;
                let job = crate::worker::Job::Replace(Box::new(changed), tx);
                crate::keeper::dispatch(st, job);
                true
            }
            None => false,
        });
        match queued {
            None => return stopping(),
            Some(false) => return Response::unknown_jail(&spec.name),
            Some(true) => {}
        }
        match rx.recv_timeout(CALL_WAIT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return invalid(e),
            Err(_) => {
                return Response::error(
                    FailureKind::Failed,
                    format!("action {action} did not take {key} in time"),
                )
            }
        }
        let jail = spec.name.clone();
        let j = &mut self.jails[i];
        j.spec = spec;
        j.settings = settings;
        logf!(INFO, "fail2ban.jail", "[{jail}] {what}");
        Response::Text(shown)
    }

    /// `set JAIL action ACTION METHOD [JSONKWARGS]`: runs one method of one action on the
    /// jail's action thread, as fail2ban does. `ban`, `unban`, `reban` and `prolong` take
    /// `{"aInfo": {"ip": ADDRESS, ...}}`; the others no argument. Answers `True` (start, stop,
    /// flush, reload) or `None` (the ban methods), or the action's failure.
    fn call_action(
        &mut self,
        jail: &str,
        action: &str,
        method: &str,
        kwargs: Option<&str>,
    ) -> Response {
        let ticket = match method_ticket(method, kwargs) {
            Ok(t) => t,
            Err(e) => return invalid(e),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let call = crate::worker::Call {
            action: action.to_owned(),
            method: method.to_owned(),
            ticket,
            reply: tx,
        };
        let name = jail.to_owned();
        let queued = self.keeper(move |k| match k.jails.get_mut(&name) {
            Some(st) => {
                crate::keeper::dispatch(st, crate::worker::Job::Call(Box::new(call)));
                true
            }
            None => false,
        });
        match queued {
            None => return stopping(),
            Some(false) => return Response::unknown_jail(jail),
            Some(true) => {}
        }
        logf!(
            INFO,
            "fail2ban.actions",
            "[{jail}] Call of action {action}.{method}"
        );
        match rx.recv_timeout(CALL_WAIT) {
            Ok(Ok(true)) => Response::Bool(true),
            Ok(Ok(false)) => Response::Null,
            Ok(Err(e)) => Response::error(FailureKind::Failed, e),
            Err(_) => Response::error(
                FailureKind::Failed,
                format!("action {action} did not answer {method} in time"),
            ),
        }
    }

    /// The `get JAIL ...` queries about the filter and the actions; `None` for the others.
    pub(super) fn query_jail(j: &RunningJail, query: &JailQuery) -> Option<Response> {
        let spec = &j.spec;
        let filter = spec.filter.as_ref();
        let action = |name: &str| spec.actions.iter().find(|a| a.actname == name);
        Some(match query {
            JailQuery::Action {
                action: name,
                property,
            } => match action(name) {
                None => unknown_action(name),
                Some(a) => match a
                    .commands
                    .get(property)
                    .or_else(|| a.properties.get(property))
                    .or_else(|| a.options.get(property))
                {
                    Some(v) => Response::Text(v.clone()),
                    None if property == "actname" => Response::Text(a.actname.clone()),
                    None => invalid(format!(
                        "'CommandAction' object has no attribute '{property}'"
                    )),
                },
            },
            JailQuery::ActionProperties { action: name } => match action(name) {
                None => unknown_action(name),
                Some(a) => {
                    let mut keys: Vec<String> = a
                        .commands
                        .keys()
                        .chain(a.properties.keys())
                        .chain(a.options.keys())
                        .cloned()
                        .chain(["actname".to_owned()])
                        .collect();
                    keys.sort();
                    keys.dedup();
                    Response::List(keys)
                }
            },
            JailQuery::ActionMethods { action: name } => match action(name) {
                None => unknown_action(name),
                Some(_) => Response::List(ACTION_METHODS.iter().map(|m| m.to_string()).collect()),
            },
            JailQuery::PrefRegex => {
                Response::Text(filter.and_then(|f| f.prefregex.clone()).unwrap_or_default())
            }
            JailQuery::UseDns => Response::Text(
                filter
                    .and_then(|f| f.usedns.clone())
                    .unwrap_or_else(|| "warn".into()),
            ),
            JailQuery::MaxLines => {
                Response::Number(filter.and_then(|f| f.maxlines()).flatten().unwrap_or(1))
            }
            JailQuery::JournalMatch => Response::List(
                filter
                    .map(|f| f.journalmatch.iter().map(|m| m.join(" ")).collect())
                    .unwrap_or_default(),
            ),
            JailQuery::LogEncoding => Response::Text(match spec.option("logencoding") {
                None => "UTF-8".into(),
                Some(e) if e.eq_ignore_ascii_case("auto") => "UTF-8".into(),
                Some(e) => e.to_owned(),
            }),
            JailQuery::BanTimeExtra { option } => {
                let word = option.as_word();
                match option {
                    BanTimeOption::Increment | BanTimeOption::OverallJails => {
                        match spec.flag(word) {
                            Some(b) => Response::Bool(b),
                            None => Response::Bool(false),
                        }
                    }
                    _ => match spec.option(word) {
                        Some(v) if !v.trim().is_empty() => Response::Text(v.to_owned()),
                        _ => Response::Null,
                    },
                }
            }
            JailQuery::IgnoreCache => match spec.option("ignorecache") {
                Some(text) => match crate::ignore_cmd::parse_ignore_cache(text) {
                    Ok(Some(c)) => Response::IgnoreCache(c),
                    Ok(None) => Response::Null,
                    Err(e) => invalid(e),
                },
                None => Response::Null,
            },
            JailQuery::DatePattern => date_pattern(spec),
            JailQuery::Idle => Response::Bool(j.stats.is_idle()),
            _ => return None,
        })
    }
}

/// The ticket a method call acts on, from its JSON keyword arguments: the ban methods need
/// `{"aInfo": {"ip": ADDRESS}}` (optional `bantime`, `failures`, `time`); the others take
/// no argument. The address is validated like `banip`'s.
fn method_ticket(
    method: &str,
    kwargs: Option<&str>,
) -> Result<Option<jailor_action::Ticket>, String> {
    let args: serde_json::Map<String, serde_json::Value> = match kwargs {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str(text).map_err(|e| e.to_string())? {
            serde_json::Value::Object(m) => m,
            _ => return Err(format!("{method}() argument after ** must be a mapping")),
        },
    };
    let takes_info = matches!(method, "ban" | "unban" | "reban" | "prolong");
    if let Some(k) = args.keys().find(|k| !(takes_info && *k == "aInfo")) {
        return Err(format!(
            "{method}() got an unexpected keyword argument '{k}'"
        ));
    }
    let Some(info) = args.get("aInfo") else {
        return Ok(None);
    };
    let ip = info
        .get("ip")
        .and_then(|v| v.as_str())
        .ok_or_else(|| "aInfo needs an 'ip'".to_owned())?;
    let id = match jailor_policy::Id::parse(ip) {
        id @ (jailor_policy::Id::Ip(_) | jailor_policy::Id::Net(_)) => id,
        jailor_policy::Id::Raw(_) => return Err(format!("'{ip}' is not a valid IP address")),
    };
    let address =
        crate::keeper::address(&id).ok_or_else(|| format!("'{ip}' is not a valid IP address"))?;
    let now = crate::keeper::now();
    let mut t = jailor_action::Ticket::new(
        address,
        info.get("time")
            .and_then(|v| v.as_f64())
            .unwrap_or(now as f64),
    );
    if let Some(b) = info.get("bantime").and_then(|v| v.as_i64()) {
        t.bantime = b;
    }
    if let Some(f) = info.get("failures").and_then(|v| v.as_u64()) {
        t.failures = u32::try_from(f).unwrap_or(u32::MAX);
    }
    Ok(Some(t))
}

/// `get JAIL datepattern`: the pattern and its name, as fail2ban shows them.
fn date_pattern(spec: &JailSpec) -> Response {
    let pattern = spec.filter.as_ref().and_then(|f| f.datepattern.as_deref());
    match pattern.and_then(jailor_date::describe_pattern) {
        Some(n) => Response::DatePattern {
            pattern: n.pattern,
            name: n.name,
        },
        None => Response::Null,
    }
}

fn regex_list(spec: &JailSpec, fail: bool) -> Response {
    Response::List(
        spec.filter
            .as_ref()
            .map(|f| {
                if fail {
                    f.failregex.clone()
                } else {
                    f.ignoreregex.clone()
                }
            })
            .unwrap_or_default(),
    )
}
