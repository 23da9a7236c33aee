//! The server: start-up, jails, signals, reload and a clean stop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::queue::Sender as SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::ban_history::StoreHistory;
use jailor_action::ActionRunner;
use jailor_config::{JailSpec, Loader, ServerSpec};
use jailor_store::{DbFile, ErrorKind as StoreErrorKind, Store, StoreOptions};
use jailor_tail::StopHandle;

use crate::error::{Error, ErrorKind};
use crate::jail_counters::{JailCounters, Registry};
use crate::keeper::{self, ToKeeper};
use crate::logf;
use crate::logging::{self, Level, Target};
use crate::notify::{Notifier, StartGate};
use crate::settings::{JailSettings, MAX_TRACKED_OPTION};
use crate::{jail_prep, lazy_filter, reader, worker};

/// `jailor server`'s options, with fail2ban-server's meanings.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `-c DIR`: the configuration folder.
    pub conf: PathBuf,
    /// `-f`: stay in the foreground (the default is to go to the background, `-b`).
    pub foreground: bool,
    /// `-s SOCKET`: the control socket (default: `socket` of `fail2ban.conf`).
    pub socket: Option<PathBuf>,
    /// `-p PIDFILE` (default: `pidfile` of `fail2ban.conf`).
    pub pidfile: Option<PathBuf>,
    /// `-x`: remove a stale socket file instead of refusing to start.
    pub force: bool,
    /// `--logtarget`: overrides `logtarget`.
    pub logtarget: Option<String>,
    /// `--loglevel`: overrides `loglevel`.
    pub loglevel: Option<String>,
    /// `--metrics ADDR`: serve Prometheus metrics on `ADDR` (overrides `metrics` of
    /// `fail2ban.conf`; `off` disables them).
    pub metrics: Option<String>,
}

/// The name of jailor's own database, used beside fail2ban's when `dbfile` names that one.
pub const JAILOR_DB: &str = "jailor.sqlite3";

/// Runs the server until SIGTERM or SIGINT. Returns an error only when it cannot start.
pub fn run(opts: &ServerOptions) -> Result<(), Error> {
    crate::memory::tune_allocator();
    let loader = Loader::new(&opts.conf);
    let mut cfg = loader.read_all().map_err(ErrorKind::Config)?;
    let (level, target) = log_settings(&cfg.server, opts)?;
    let socket = opts
        .socket
        .clone()
        .unwrap_or_else(|| PathBuf::from(&cfg.server.socket));
    // Bound before going to the background, so "already running" is seen; a stale socket
    // of a dead server is replaced (so `-x` has nothing left to do).
    let control = crate::control::bind(&socket)?;
    let registry = Arc::new(Registry::default());
    // Bound before going to the background too, so a taken port is seen.
    let metrics = match opts.metrics.as_deref().or(cfg.server.metrics.as_deref()) {
        None => None,
        Some(addr) => match crate::metrics::bind(addr) {
            Ok(l) => l,
            Err(e) => {
                // The socket was bound for nothing: leave no file that looks like a daemon.
                let _ = std::fs::remove_file(control.path());
                return Err(e);
            }
        },
    };
    // Check the log target before leaving the terminal, so an error is still seen.
    logging::set_syslog_socket(&cfg.server.syslogsocket);
    logging::configure(level, &target)?;
    if !opts.foreground {
        nix::unistd::daemon(true, false)
            .map_err(|e| ErrorKind::System(format!("cannot go to the background: {e}")))?;
        logging::configure(level, &target)?;
    }
    logging::install_tracing();
    let pidfile = opts
        .pidfile
        .clone()
        .unwrap_or_else(|| PathBuf::from(&cfg.server.pidfile));
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|e| ErrorKind::System(format!("cannot install signal handlers: {e}")))?;
    logf!(
        INFO,
        "fail2ban.server",
        "Starting jailor v{} (fail2ban {} compatible)",
        env!("CARGO_PKG_VERSION"),
        jailor_config::FAIL2BAN_VERSION
    );
    write_pidfile(&pidfile)?;
    for w in &cfg.warnings {
        logf!(WARNING, "fail2ban.configreader", "{w}");
    }
    // A new file is created while the jails start: it holds nothing they need to wait for.
    let store = Arc::new(Mutex::new(open_store(&cfg.server, true)));
    let purge_age = jailor_config::parse_time(&cfg.server.dbpurgeage)
        .map(|t| t as i64)
        .unwrap_or(86_400);
    let (to_keeper, keeper_thread) = keeper::spawn(store.clone(), purge_age)
        .map_err(|e| ErrorKind::System(format!("cannot start the keeper thread: {e}")))?;
    let mut server = Server {
        notifier: Arc::new(Notifier::from_env()),
        base: opts.conf.clone(),
        opts: opts.clone(),
        store,
        to_keeper,
        runner: ActionRunner::default(),
        jails: Vec::new(),
        log: (level, target),
        live: crate::control::LiveOptions::from_spec(&cfg.server),
        registry: registry.clone(),
    };
    registry.set_runner(server.runner.clone());
    if let Some(listener) = metrics {
        crate::metrics::serve(listener, registry)?;
    }
    let (events, inbox) = mpsc::channel();
    let control = crate::control::serve(control, &events, signals)?;
    // The jail specs move into the running jails (a copy each, and the original's drop, was
    // ~0.1 M instructions a jail).
    let jails = std::mem::take(&mut cfg.jails);
    let started = server.start_jails(&cfg.server, jails);
    // After the jails registered: a received ban needs its jail.
    crate::fleet::start(
        &opts.conf,
        &cfg.server.dbfile,
        &server.to_keeper,
        &server.registry,
    );
    logf!(INFO, "fail2ban.server", "Server ready");
    let status = format!("READY=1\nSTATUS={} jail(s) running", server.jails.len());
    // Once the jails started and their first rounds are done, the start's scratch memory
    // (free in the heap) and code are not needed again: the main thread gives them back.
    let settle_tx = events.clone();
    let settle: Box<dyn FnOnce() + Send> = Box::new(move || {
        let _ = settle_tx.send(crate::control::Event::Started);
    });
    server
        .notifier
        .send_when_started_then(started, status, Some(settle));
    drop(events);
    server.serve(&inbox);
    logf!(INFO, "fail2ban.server", "Shutdown in progress...");
    server.notifier.send("STOPPING=1");
    control.shutdown();
    drop(inbox);
    server.stop_all();
    let _ = server.to_keeper.send(ToKeeper::Shutdown);
    let _ = keeper_thread.join();
    // Only our own pidfile: after `restart` a new server may have written its pid already.
    let ours =
        std::fs::read_to_string(&pidfile).is_ok_and(|p| p.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(&pidfile);
    }
    logf!(INFO, "fail2ban.server", "Exiting jailor");
    Ok(())
}

fn log_settings(server: &ServerSpec, opts: &ServerOptions) -> Result<(Level, Target), Error> {
    let level_text = opts.loglevel.as_deref().unwrap_or(&server.loglevel);
    let level = Level::parse(level_text)
        .ok_or_else(|| ErrorKind::Logging(format!("unknown loglevel {level_text:?}")))?;
    let target = Target::parse(opts.logtarget.as_deref().unwrap_or(&server.logtarget));
    Ok((level, target))
}

fn write_pidfile(path: &Path) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| {
        ErrorKind::Io {
            what: format!("writing the pidfile {}", path.display()),
            source,
        }
        .into()
    })
}

/// Opens the store `dbfile` names. jailor never writes into fail2ban's own database: for
/// fail2ban's file it uses [`JAILOR_DB`] in the same folder. With `background`, a file that
/// does not exist yet is created by a helper thread (see [`Store::open_in_background`]).
pub(crate) fn open_store(server: &ServerSpec, background: bool) -> Store {
    let options = StoreOptions {
        max_matches: match server.dbmaxmatches {
            Some(Some(n)) if n >= 0 => n as usize,
            _ => StoreOptions::DEFAULT_MAX_MATCHES,
        },
        ..StoreOptions::default()
    };
    let path = match DbFile::parse(&server.dbfile) {
        DbFile::Disabled => return Store::disabled(),
        DbFile::Memory => {
            return Store::open_in_memory_with(options).unwrap_or_else(|e| {
                logf!(ERROR, "fail2ban.database", "{e}; nothing will be stored");
                Store::disabled()
            })
        }
        DbFile::Path(p) => p,
    };
    let ours = path.with_file_name(JAILOR_DB);
    let mut target = path.clone();
    if path.file_name().is_some_and(|n| n == "fail2ban.sqlite3") {
        logf!(
            NOTICE,
            "fail2ban.database",
            "dbfile {} is fail2ban's database; jailor keeps its own state in {}",
            path.display(),
            ours.display()
        );
        target = ours.clone();
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let opened = match background {
        true => Store::open_in_background(&target, options.clone()),
        false => Store::open_with(&target, options.clone()),
    };
    match opened {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), StoreErrorKind::ForeignDatabase { fail2ban: true }) => {
            logf!(
                NOTICE,
                "fail2ban.database",
                "{} is fail2ban's database; jailor keeps its own state in {}",
                target.display(),
                ours.display()
            );
            Store::open_with(&ours, options).unwrap_or_else(|e| {
                logf!(ERROR, "fail2ban.database", "{e}; nothing will be stored");
                Store::disabled()
            })
        }
        Err(e) => {
            logf!(ERROR, "fail2ban.database", "{e}; nothing will be stored");
            Store::disabled()
        }
    }
}

/// `maxtrackedaddresses` of a jail: its own value (or `[DEFAULT]` of the jail files), else
/// `[Definition]` of the server's file. Both were read with the rest of the configuration.
pub(crate) fn max_tracked_value(server: &ServerSpec, spec: &JailSpec) -> Option<String> {
    spec.option(MAX_TRACKED_OPTION)
        .map(str::to_owned)
        .or_else(|| server.maxtrackedaddresses.clone())
}

pub(crate) struct RunningJail {
    pub(crate) spec: JailSpec,
    pub(crate) settings: Arc<JailSettings>,
    /// Its counters, shared with its threads.
    pub(crate) stats: Arc<JailCounters>,
    pub(crate) max_tracked: Option<String>,
    stop: StopHandle,
    reader: JoinHandle<()>,
    worker: JoinHandle<()>,
}

pub(crate) struct Server {
    pub(crate) base: PathBuf,
    opts: ServerOptions,
    pub(crate) store: Arc<Mutex<Store>>,
    pub(crate) to_keeper: SyncSender<ToKeeper>,
    runner: ActionRunner,
    pub(crate) jails: Vec<RunningJail>,
    /// The log level and target in force (`get|set loglevel`).
    pub(crate) log: (Level, Target),
    /// `dbfile`, `dbpurgeage`, `dbmaxmatches`, `syslogsocket` in force.
    pub(crate) live: crate::control::LiveOptions,
    /// systemd's readiness socket (`Type=notify`), when run by systemd.
    notifier: Arc<Notifier>,
    /// The running jails' counters, for the metrics endpoint.
    pub(crate) registry: Arc<Registry>,
}

impl Server {
    /// Starts every valid jail; returns, per jail started, what tells when it is reading.
    fn start_jails(
        &mut self,
        server: &ServerSpec,
        jails: Vec<Result<JailSpec, jailor_config::JailError>>,
    ) -> Vec<mpsc::Receiver<()>> {
        let _batch = lazy_filter::CheckBatch::begin();
        let jails: Vec<_> = jails
            .into_iter()
            .map(|j| {
                j.map(|spec| {
                    let max_tracked = max_tracked_value(server, &spec);
                    (spec, max_tracked)
                })
            })
            .collect();
        // Computed on two threads before the first jail starts; the jails then start (and
        // log) in order, as they would one by one.
        let specs: Vec<_> = jails
            .iter()
            .flatten()
            .map(|(spec, max_tracked)| (spec, max_tracked.as_deref()))
            .collect();
        let mut prepared = jail_prep::prepare_all(&specs).into_iter();
        let mut started = Vec::new();
        for j in jails {
            match j {
                Ok((spec, max_tracked)) => {
                    // One result per valid jail, by construction.
                    let Some(prep) = prepared.next() else { break };
                    started.extend(self.start_prepared(spec, max_tracked, None, prep))
                }
                Err(e) => logf!(
                    ERROR,
                    "fail2ban.configreader",
                    "{}",
                    e.config_error_message()
                ),
            }
        }
        started
    }

    /// Starts one jail. Returns what receives `()` once its reader started (or is dropped
    /// when it ends without starting); `None` when the jail could not be built.
    /// `stats` carries the counters of the same jail restarted for a changed setting (its
    /// counters go on); `None` starts anew.
    pub(crate) fn start_jail(
        &mut self,
        spec: JailSpec,
        max_tracked: Option<String>,
        stats: Option<Arc<JailCounters>>,
    ) -> Option<mpsc::Receiver<()>> {
        let prep = jail_prep::prepare(&spec, max_tracked.as_deref());
        self.start_prepared(spec, max_tracked, stats, prep)
    }

    /// [`Server::start_jail`] with what [`jail_prep::prepare`] computed for `spec`.
    fn start_prepared(
        &mut self,
        spec: JailSpec,
        max_tracked: Option<String>,
        stats: Option<Arc<JailCounters>>,
        prep: jail_prep::Prepared,
    ) -> Option<mpsc::Receiver<()>> {
        let stats = stats.unwrap_or_default();
        // Failures tracked by the previous reader are gone.
        JailCounters::set(&stats.failed_current, 0);
        let name = &spec.name;
        logf!(INFO, "fail2ban.jail", "Creating new jail '{name}'");
        let (settings, det) = match prep {
            Ok(p) => p,
            Err(e) => {
                logf!(ERROR, "fail2ban.jail", "Jail '{name}' skipped: {e}");
                return None;
            }
        };
        for w in &settings.warnings {
            logf!(WARNING, "fail2ban.jail", "[{name}] {w}");
        }
        let built = det.and_then(|det| {
            reader::build(
                settings.clone(),
                det,
                self.store.clone(),
                self.to_keeper.clone(),
                stats.clone(),
            )
        });
        let (reader, tailer) = match built {
            Ok(r) => r,
            Err(e) => {
                logf!(ERROR, "fail2ban.jail", "Jail '{name}' skipped: {e}");
                return None;
            }
        };
        let journal = settings.journal.clone();
        let kept = settings.clone();
        logf!(
            INFO,
            "fail2ban.jail",
            "Jail '{name}' uses {}",
            match tailer.backend() {
                _ if journal.is_some() => "systemd {}",
                jailor_tail::Backend::Inotify => "pyinotify",
                _ => "poller",
            }
        );
        let stop = tailer.stop_handle();
        let (worker_tx, worker) = match worker::spawn(
            name,
            settings.actions.clone(),
            self.runner.clone(),
            stats.clone(),
            Arc::new(StoreHistory::new(self.store.clone())),
        ) {
            Ok(w) => w,
            Err(e) => {
                logf!(ERROR, "fail2ban.jail", "Jail '{name}' skipped: {e}");
                return None;
            }
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        let (gate, started) = StartGate::new(ready_rx);
        let _ = self.to_keeper.send(ToKeeper::Register {
            settings: settings.clone(),
            stats: stats.clone(),
            worker: worker_tx,
            ready: ready_tx,
        });
        let spawned = std::thread::Builder::new()
            .name(format!("reader-{name}"))
            .stack_size(crate::memory::THREAD_STACK)
            .spawn(move || match journal {
                Some(j) => crate::journal_source::run(reader, tailer, j, gate),
                None => reader.run(tailer, gate),
            });
        match spawned {
            Ok(reader) => {
                self.registry.insert(name, stats.clone());
                self.jails.push(RunningJail {
                    spec,
                    settings: kept,
                    stats,
                    max_tracked,
                    stop,
                    reader,
                    worker,
                });
                Some(started)
            }
            Err(e) => {
                logf!(ERROR, "fail2ban.jail", "Jail '{name}' skipped: {e}");
                let (done_tx, done_rx) = mpsc::channel();
                let _ = self.to_keeper.send(ToKeeper::Unregister {
                    jail: name.clone(),
                    done: done_tx,
                });
                let _ = done_rx.recv();
                let _ = worker.join();
                None
            }
        }
    }

    pub(crate) fn stop_jail(&mut self, j: RunningJail) {
        let name = j.spec.name.clone();
        j.stop.stop();
        let _ = j.reader.join();
        let (done_tx, done_rx) = mpsc::channel();
        let _ = self.to_keeper.send(ToKeeper::Unregister {
            jail: name.clone(),
            done: done_tx,
        });
        let _ = done_rx.recv();
        let _ = j.worker.join();
        self.registry.remove(&name);
        logf!(NOTICE, "fail2ban.jail", "Jail '{name}' stopped");
    }

    pub(crate) fn stop_all(&mut self) {
        // Readers first, all at once, so no new ban starts while actions are flushed.
        for j in &self.jails {
            j.stop.stop();
        }
        while let Some(j) = self.jails.pop() {
            self.stop_jail(j);
        }
    }

    /// SIGHUP and `reload`: reads the configuration again. Jails whose settings did not
    /// change go on untouched; changed ones restart (bans and positions come back from the
    /// store); a broken configuration keeps everything as it is and is returned. `strict`
    /// (the control socket's reload) also refuses a configuration with a broken jail.
    pub(crate) fn reload(&mut self, strict: bool) -> Result<(), String> {
        logf!(INFO, "fail2ban.server", "Reload all jails");
        self.notifier.reloading();
        let mut started = Vec::new();
        let checked = Loader::new(&self.base)
            .read_all()
            .map_err(|e| e.to_string())
            .and_then(|cfg| match strict {
                true => crate::control::check_jails(&cfg).map(|()| cfg),
                false => Ok(cfg),
            });
        let cfg = match checked {
            Ok(c) => c,
            Err(e) => {
                logf!(
                    ERROR,
                    "fail2ban.server",
                    "Reload failed, the running jails are kept: {e}"
                );
                self.notifier.send("READY=1");
                return Err(e);
            }
        };
        match log_settings(&cfg.server, &self.opts) {
            Ok((level, target)) => {
                if let Err(e) = logging::configure(level, &target) {
                    logf!(ERROR, "fail2ban.server", "{e}");
                }
                self.log = (level, target);
            }
            Err(e) => logf!(ERROR, "fail2ban.server", "{e}"),
        }
        let ok: Vec<&JailSpec> = cfg.jails.iter().filter_map(|j| j.as_ref().ok()).collect();
        let tracked: HashMap<&str, Option<String>> = ok
            .iter()
            .map(|s| (s.name.as_str(), max_tracked_value(&cfg.server, s)))
            .collect();
        let tracked = |name: &str| tracked.get(name).cloned().flatten();
        let running = std::mem::take(&mut self.jails);
        let mut keep = Vec::new();
        for mut j in running {
            let same = ok
                .iter()
                .any(|s| **s == j.spec && tracked(&s.name) == j.max_tracked);
            // Only options fail2ban changes in a running jail differ: changed in place.
            let live = ok.iter().find(|s| {
                tracked(&s.name) == j.max_tracked
                    && crate::control::only_live_options_differ(&j.spec, s)
            });
            if same {
                keep.push(j);
            } else if let Some(spec) = live.filter(|s| self.update_in_place(&mut j, s)) {
                logf!(INFO, "fail2ban.jail", "[{}] Changed in place", spec.name);
                keep.push(j);
            } else {
                self.stop_jail(j);
            }
        }
        self.jails = keep;
        let _batch = lazy_filter::CheckBatch::begin();
        for j in &cfg.jails {
            match j {
                Ok(spec) => {
                    if !self.jails.iter().any(|r| r.spec.name == spec.name) {
                        started.extend(self.start_jail(spec.clone(), tracked(&spec.name), None));
                    }
                }
                Err(e) => logf!(
                    ERROR,
                    "fail2ban.configreader",
                    "{}",
                    e.config_error_message()
                ),
            }
        }
        crate::memory::release_free_memory();
        logf!(INFO, "fail2ban.server", "Reload finished");
        let status = format!("READY=1\nSTATUS={} jail(s) running", self.jails.len());
        self.notifier.send_when_started(started, status);
        Ok(())
    }
}
