//! Action workers: one thread per jail runs its actions, so a slow or hanging action delays
//! only that jail's later action calls, never matching, the store or another jail.

use std::collections::BTreeMap;
use std::sync::mpsc;

use crate::queue::{self, Receiver, Sender as SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use jailor_action::{
    Action, ActionRunner, BanContext, BanHistory, JailInfo, Outcome, Skip, Ticket,
};

use crate::ban_helpers::{run_bans, BanHelpers, BanResults};
use crate::ban_history::StoreHistory;
use crate::jail_counters::JailCounters;
use crate::logf;
use crate::native::{JailAction, NativeNft};

/// How many jobs wait for a jail's worker before the keeper holds them back itself.
pub(crate) const QUEUE: usize = 1024;

/// At most this many bans of one batch run their actions at once (the runner bounds the
/// processes of all jails together as well).
const PARALLEL_BANS: usize = 4;

/// What a worker is asked to do, in order.
pub(crate) enum Job {
    /// Ban (run `actionban` of every action), with the jail's counters.
    Ban(Box<Ticket>, Counters),
    /// Unban.
    Unban(Box<Ticket>, Counters),
    /// Everything queued before is done: answer.
    Ready(mpsc::Sender<()>),
    /// Flush (or unban each ban), `actionstop` in reverse order, answer, and end.
    Stop(mpsc::Sender<()>),
    /// One action's method called by hand (`set JAIL action ACT METHOD`).
    Call(Box<Call>),
    /// A command action with a property changed (`set JAIL action ACT PROPERTY VALUE`):
    /// it replaces the action of the same name and keeps its state; answers whether it did.
    Replace(
        Box<jailor_action::ActionSpec>,
        mpsc::Sender<Result<(), String>>,
    ),
}

/// An action method called by hand: `start`, `stop`, `flush`, `reload` (no ticket) or
/// `ban`, `unban`, `reban`, `prolong` (with one). Only that action runs it; the jail's bans
/// are not changed, as with fail2ban.
pub(crate) struct Call {
    /// The action's name.
    pub action: String,
    /// The method.
    pub method: String,
    /// The address the ban methods act on.
    pub ticket: Option<Ticket>,
    /// Where the result goes: `Ok(true)` for the methods fail2ban answers `True` from,
    /// `Ok(false)` for those it answers `None` from, or the failure's text.
    pub reply: mpsc::Sender<Result<bool, String>>,
}

/// The jail's counters at the time of a job (`<jail.banned>`...).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub banned: u64,
    pub banned_total: u64,
}

/// Starts the worker of `jail`: builds and starts its actions (`actionstart`), then runs jobs.
pub(crate) fn spawn(
    jail: &str,
    specs: Vec<JailAction>,
    runner: ActionRunner,
    stats: Arc<JailCounters>,
    history: Arc<StoreHistory>,
) -> std::io::Result<(SyncSender<Job>, JoinHandle<()>)> {
    let (tx, rx) = queue::bounded(QUEUE);
    let name = jail.to_owned();
    let handle = std::thread::Builder::new()
        .name(format!("actions-{jail}"))
        .stack_size(crate::memory::THREAD_STACK)
        .spawn(move || Worker::new(name, &specs, &runner, stats, history).run(rx))?;
    Ok((tx, handle))
}

struct Worker {
    jail: String,
    /// Shared with the batch's helper threads while a batch runs.
    actions: Vec<Arc<Action>>,
    /// Native nftables actions: bans reach them in batches.
    native: Vec<NativeNft>,
    epochs: Vec<u64>,
    /// Bans in force, by address text: for re-bans after a repair and for the final unban.
    held: BTreeMap<String, Ticket>,
    /// Threads that run a batch's bans beside this one.
    helpers: BanHelpers,
    /// Counts failed action commands.
    stats: Arc<JailCounters>,
    /// Runs the commands of actions replaced later (`Job::Replace`).
    runner: ActionRunner,
    /// The store's record of bans, for `<ipmatches>` and friends.
    history: Arc<StoreHistory>,
}

impl Worker {
    fn new(
        jail: String,
        specs: &[JailAction],
        runner: &ActionRunner,
        stats: Arc<JailCounters>,
        history: Arc<StoreHistory>,
    ) -> Worker {
        let mut actions = Vec::new();
        let mut native = Vec::new();
        for spec in specs {
            let spec = match spec {
                JailAction::Commands(spec) => spec,
                JailAction::Nftables { actname, config } => {
                    native.extend(NativeNft::start(&jail, actname, config.clone()));
                    continue;
                }
            };
            match Action::new(spec, runner) {
                Ok(a) => actions.push(Arc::new(a)),
                Err(e) => logf!(
                    ERROR,
                    "fail2ban.actions",
                    "Failed to initialize action '{}' of jail '{jail}': {e}",
                    spec.actname
                ),
            }
        }
        for a in &actions {
            match a.start() {
                Ok(_) => {}
                Err(e) => logf!(
                    ERROR,
                    "fail2ban.actions",
                    "Failed to start jail '{jail}' action '{}': {e}",
                    a.name()
                ),
            }
        }
        let epochs = actions.iter().map(|a| a.epoch()).collect();
        let helpers = BanHelpers::new(&jail);
        Worker {
            jail,
            actions,
            native,
            epochs,
            held: BTreeMap::new(),
            helpers,
            stats,
            runner: runner.clone(),
            history,
        }
    }

    fn run(mut self, rx: Receiver<Job>) {
        let mut next = None;
        while let Some(job) = next.take().or_else(|| rx.recv().ok()) {
            match job {
                Job::Ban(ticket, counters) => {
                    // Every ban already queued (the store's restored bans at start, a burst)
                    // goes to the native actions as one transaction.
                    let mut batch = vec![(*ticket, counters)];
                    while let Ok(job) = rx.try_recv() {
                        match job {
                            Job::Ban(t, c) => batch.push((*t, c)),
                            other => {
                                next = Some(other);
                                break;
                            }
                        }
                    }
                    self.ban_batch(batch);
                }
                Job::Unban(ticket, counters) => self.unban(&ticket, counters),
                Job::Ready(done) => {
                    let _ = done.send(());
                }
                Job::Stop(done) => {
                    self.stop();
                    let _ = done.send(());
                    return;
                }
                Job::Call(call) => {
                    let result = self.call(&call);
                    let _ = call.reply.send(result);
                }
                Job::Replace(spec, reply) => {
                    let _ = reply.send(self.replace(&spec));
                }
            }
        }
        // The keeper went away without a stop (it should not): still stop the actions.
        self.stop();
    }

    fn replace(&mut self, spec: &jailor_action::ActionSpec) -> Result<(), String> {
        let Some(i) = self.actions.iter().position(|a| a.name() == spec.actname) else {
            return Err(format!("no running command action {}", spec.actname));
        };
        let new = Action::new(spec, &self.runner).map_err(|e| e.to_string())?;
        new.carry_state_from(&self.actions[i]);
        self.epochs[i] = new.epoch();
        self.actions[i] = Arc::new(new);
        Ok(())
    }

    fn call(&self, call: &Call) -> Result<bool, String> {
        let Some(a) = self.actions.iter().find(|a| a.name() == call.action) else {
            return Err(format!(
                "action {} of jail {} does not take method calls (a native action, or it failed to start)",
                call.action, self.jail
            ));
        };
        let info = self.info(Counters::default());
        let ctx = self.context(&info);
        let jail = &self.jail;
        let name = a.name();
        let failed = |verb: &str, e: jailor_action::Error| {
            JailCounters::add(&self.stats.action_errors, 1);
            format!("Error {verb} action Jail('{jail}')/{name}: {e}")
        };
        let ticket = || {
            call.ticket.as_ref().ok_or_else(|| {
                format!(
                    "{}() missing 1 required positional argument: 'aInfo'",
                    call.method
                )
            })
        };
        match call.method.as_str() {
            "start" => a.start().map(|_| true).map_err(|e| failed("starting", e)),
            "stop" => a.stop().map(|_| true).map_err(|e| failed("stopping", e)),
            "flush" => a.flush().map(|_| true).map_err(|e| failed("flushing", e)),
            "reload" => a.reload().map(|_| true).map_err(|e| failed("reloading", e)),
            "ban" => a
                .ban(ticket()?, &ctx)
                .map(|_| false)
                .map_err(|e| failed("banning", e)),
            "unban" => a
                .unban(ticket()?, &ctx)
                .map(|_| false)
                .map_err(|e| failed("unbanning", e)),
            "reban" => a
                .reban(ticket()?, &ctx)
                .map(|_| false)
                .map_err(|e| failed("rebanning", e)),
            "prolong" => a
                .prolong(ticket()?, &ctx)
                .map(|_| false)
                .map_err(|e| failed("prolonging", e)),
            other => Err(format!("'CommandAction' object has no method '{other}'")),
        }
    }

    fn info(&self, c: Counters) -> JailInfo {
        let mut info = JailInfo::new(&self.jail);
        info.banned = c.banned;
        info.banned_total = c.banned_total;
        info
    }

    fn ban_batch(&mut self, batch: Vec<(Ticket, Counters)>) {
        if !self.native.is_empty() {
            let tickets: Vec<Ticket> = batch.iter().map(|(t, _)| t.clone()).collect();
            for n in &self.native {
                n.ban(&tickets);
            }
        }
        if batch.len() == 1 || self.actions.is_empty() {
            for (ticket, counters) in batch {
                let results = self.run_bans(&ticket, counters);
                self.finish_ban(ticket, counters, results);
            }
            return;
        }
        // Independent bans: each still runs every action's `actionban`, several at a time.
        let done = self.helpers.run(
            self.actions.clone(),
            Arc::clone(&self.history),
            batch,
            PARALLEL_BANS - 1,
        );
        for (ticket, counters, results) in done {
            self.finish_ban(ticket, counters, results);
        }
    }

    /// Runs `actionban` of every action for one ticket; returns each action's result.
    fn run_bans(&self, ticket: &Ticket, counters: Counters) -> BanResults {
        run_bans(&self.jail, &self.actions, &self.history, ticket, counters)
    }

    /// Reports the results of a ticket's bans, re-bans after a repair and holds the ticket.
    fn finish_ban(&mut self, ticket: Ticket, counters: Counters, results: BanResults) {
        let info = self.info(counters);
        for (i, result) in results {
            self.report("ban", i, &ticket, result);
            let history = Arc::clone(&self.history);
            let ctx = BanContext::new(&info).with_history(&*history);
            self.reban_if_repaired(i, &ctx);
        }
        self.held.insert(ticket.address.to_string(), ticket);
    }

    fn context<'a>(&'a self, info: &'a JailInfo) -> BanContext<'a> {
        let history: &dyn BanHistory = &*self.history;
        BanContext::new(info).with_history(history)
    }

    fn unban(&mut self, ticket: &Ticket, counters: Counters) {
        let info = self.info(counters);
        let history = Arc::clone(&self.history);
        let ctx = BanContext::new(&info).with_history(&*history);
        let held = self.held.remove(&ticket.address.to_string());
        let ticket = held.as_ref().unwrap_or(ticket);
        for n in &self.native {
            n.unban(&[ticket]);
        }
        for i in 0..self.actions.len() {
            let result = self.actions[i].unban(ticket, &ctx);
            self.report("unban", i, ticket, result);
        }
    }

    /// After a repair the action's state was rebuilt: ban again what it held (fail2ban's
    /// ban epoch).
    fn reban_if_repaired(&mut self, i: usize, ctx: &BanContext<'_>) {
        let epoch = self.actions[i].epoch();
        if epoch <= self.epochs[i] {
            return;
        }
        self.epochs[i] = epoch;
        let tickets: Vec<Ticket> = self.held.values().cloned().collect();
        for t in &tickets {
            let result = self.actions[i].reban(t, ctx);
            self.report("reban", i, t, result);
        }
    }

    fn report(
        &self,
        what: &str,
        i: usize,
        ticket: &Ticket,
        result: Result<Outcome, jailor_action::Error>,
    ) {
        let action = self.actions[i].name();
        let jail = &self.jail;
        match result {
            Ok(Outcome::Recovered(r)) => logf!(
                WARNING,
                "fail2ban.actions",
                "[{jail}] action '{action}': {} — invariant check failed, environment restored, {what} {} retried",
                r.failure,
                ticket.address
            ),
            Ok(_) => {}
            Err(e) => {
                JailCounters::add(&self.stats.action_errors, 1);
                logf!(
                    ERROR,
                    "fail2ban.actions",
                    "Failed to execute {what} jail '{jail}' action '{action}' info '{ticket}': {e}"
                )
            }
        }
    }

    fn stop(&mut self) {
        let jail = self.jail.clone();
        let counters = Counters::default();
        let info = self.info(counters);
        let ctx = self.context(&info);
        for a in &self.actions {
            match a.flush() {
                Ok(Outcome::Skipped(Skip::NotDefined)) => {
                    for t in self.held.values() {
                        if let Err(e) = a.unban(t, &ctx) {
                            logf!(
                                ERROR,
                                "fail2ban.actions",
                                "Failed to execute unban jail '{jail}' action '{}' info '{t}': {e}",
                                a.name()
                            );
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => logf!(
                    ERROR,
                    "fail2ban.actions",
                    "Failed to flush bans in jail '{jail}' action '{}': {e}",
                    a.name()
                ),
            }
        }
        self.held.clear();
        for n in self.native.iter().rev() {
            n.stop();
        }
        for a in self.actions.iter().rev() {
            if let Err(e) = a.stop() {
                logf!(
                    ERROR,
                    "fail2ban.actions",
                    "Failed to stop jail '{jail}' action '{}': {e}",
                    a.name()
                );
            }
        }
    }
}
