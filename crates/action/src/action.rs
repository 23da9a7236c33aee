//! One action of one jail: its commands, flags and lifecycle (fail2ban's `CommandAction`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockWriteGuard, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::dynamic::{basic_value, render, Rendered, TicketValues};
use crate::error::{Error, ErrorKind, Failure, Repair};
use crate::exec::RunOutput;
use crate::family::Family;
use crate::kind::CommandKind;
use crate::runner::ActionRunner;
use crate::substitute::Substituter;
use crate::ticket::{BanContext, Ticket};
use crate::time_value::parse_seconds;

/// fail2ban's default command timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// An action as fail2ban's client sends it to the server: the action's name and its
/// properties, in order (`['multi-set', jail, 'action', actname, [[prop, value], …]]`).
///
/// Properties are the commands (`actionban`, …), the flags (`actionstart_on_demand`,
/// `actionrepair_on_unban`, `norestored`, `timeout`) and every other value of the action's
/// `[Definition]` and `[Init]` sections, including conditional ones such as
/// `blocktype?family=inet6`. A later property of the same name replaces an earlier one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionSpec {
    /// The action's name within its jail (`actname`), for example `iptables-multiport`.
    pub actname: String,
    /// The properties, in order.
    pub properties: Vec<(String, String)>,
}

impl ActionSpec {
    /// A spec from a name and `(property, value)` pairs.
    pub fn new<K, V>(actname: &str, properties: impl IntoIterator<Item = (K, V)>) -> ActionSpec
    where
        K: Into<String>,
        V: Into<String>,
    {
        ActionSpec {
            actname: actname.to_owned(),
            properties: properties
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// What an action call did, when it did not fail.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The commands ran and succeeded.
    Done,
    /// Nothing ran, for this reason.
    Skipped(Skip),
    /// A command failed, `actioncheck` failed, the environment was repaired and the command
    /// succeeded when retried. The action's ban epoch grew: the caller should re-ban the
    /// tickets it holds ([`Action::reban`]), as fail2ban does.
    Recovered(Box<Recovery>),
}

/// Why an action call ran nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skip {
    /// The action does not define this command (or it is blank). For a flush this means the
    /// caller must unban each ticket instead.
    NotDefined,
    /// The ticket was restored from the database and the action has `norestored`.
    Restored,
    /// An unban for a family that never got a ban (its `actionstart` never ran).
    NoItems,
    /// `actionstart` waits for the first ban of each family (`actionstart_on_demand`).
    OnDemand,
}

/// How a failed command was recovered.
#[derive(Clone, Debug)]
pub struct Recovery {
    /// The first failure.
    pub failure: Failure,
    /// What restored the environment.
    pub repair: Repair,
    /// The action's ban epoch after the repair.
    pub epoch: u64,
}

/// One action of one jail, ready to run: static tags substituted, flags parsed.
///
/// `Action` is `Send + Sync`. The commands of tickets (`actionban`, `actionunban`, ...) of one
/// action may run in parallel with each other, up to the runner's bound; every other command
/// (start, stop, flush, check, repair, and the handling of a failed ticket command) runs
/// alone, after the running ticket commands ended and before new ones start. Every call returns once its commands finished or were killed at the timeout.
#[derive(Debug)]
pub struct Action {
    name: String,
    runner: ActionRunner,
    has_conditional: bool,
    start_on_demand: bool,
    repair_on_unban: bool,
    norestored: bool,
    timeout: Duration,
    commands: HashMap<(CommandKind, Family), String>,
    /// Written (exclusively) around every command but a ticket's, read around a ticket's.
    state: RwLock<State>,
    /// The families that had a ban: apart from `state`, so that a ban marking its family
    /// never waits for another ticket's running command (taken after `state`, never before).
    with_items: Mutex<BTreeSet<Family>>,
}

#[derive(Debug, Default)]
struct State {
    started: BTreeSet<Family>,
    epoch: u64,
}

/// The dynamic tags a command sees.
enum Values<'a> {
    /// `<family>` and `<time>` only.
    Basic,
    /// Everything about a ticket.
    Ticket(TicketValues<'a>),
}

impl Action {
    /// Prepares `spec` to run through `runner`: substitutes the static tags of every command
    /// for each family it can run for, and checks the flags and the timeout. Fails on a
    /// self-referencing or endless substitution, a flag that is not a boolean, or a timeout
    /// that is not a positive time.
    pub fn new(spec: &ActionSpec, runner: &ActionRunner) -> Result<Action, Error> {
        let name = spec.actname.clone();
        Action::build(spec, runner).map_err(|e| e.in_action(&name))
    }

    fn build(spec: &ActionSpec, runner: &ActionRunner) -> Result<Action, Error> {
        let mut props: HashMap<String, String> = spec.properties.iter().cloned().collect();
        props
            .entry("actname".to_owned())
            .or_insert_with(|| spec.actname.clone());
        let has_conditional = props.keys().any(|k| k.contains("?family="));
        let hosts = &runner.options().hostnames;

        let mut plain = Substituter::new(&props, Family::Any, hosts);
        let flag = |s: &mut Substituter<'_>, name: &str| -> Result<Option<bool>, Error> {
            match s.property(name)? {
                None => Ok(None),
                Some(v) => parse_bool(&v).map(Some).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidProperty {
                        name: name.to_owned(),
                        reason: format!("{v:?} is not a boolean"),
                    })
                }),
            }
        };
        let start_on_demand = flag(&mut plain, "actionstart_on_demand")?.unwrap_or(has_conditional);
        let repair_on_unban = flag(&mut plain, "actionrepair_on_unban")?.unwrap_or(false);
        let norestored = flag(&mut plain, "norestored")?.unwrap_or(false);
        let timeout = match plain.property("timeout")? {
            None => DEFAULT_TIMEOUT,
            Some(v) => match parse_seconds(&v) {
                Some(s) if s > 0.0 && s < 1e9 => Duration::from_secs_f64(s),
                _ => {
                    return Err(Error::new(ErrorKind::InvalidProperty {
                        name: "timeout".to_owned(),
                        reason: format!("{v:?} is not a positive time"),
                    }))
                }
            },
        };

        let mut commands = HashMap::new();
        for family in families(has_conditional) {
            let mut s = Substituter::new(&props, family, hosts);
            for kind in CommandKind::ALL {
                if let Some(cmd) = s.property(kind.property())? {
                    if !cmd.trim().is_empty() {
                        commands.insert((kind, family), cmd);
                    }
                }
            }
        }
        Ok(Action {
            name: spec.actname.clone(),
            runner: runner.clone(),
            has_conditional,
            start_on_demand,
            repair_on_unban,
            norestored,
            timeout,
            commands,
            state: RwLock::new(State::default()),
            with_items: Mutex::new(BTreeSet::new()),
        })
    }

    /// Takes over what `old` (the same action before a property changed) has started and
    /// banned, so the changed action goes on without running `actionstart` again.
    pub fn carry_state_from(&self, old: &Action) {
        let old_state = old.lock();
        let mut state = self.lock();
        state.started = old_state.started.clone();
        *self.items() = old.items().clone();
        state.epoch = old_state.epoch;
    }

    /// The action's name (`actname`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command after static substitution, for a family ([`Family::Any`] for actions
    /// without conditional properties). `None` when the action does not define it.
    pub fn command(&self, kind: CommandKind, family: Family) -> Option<&str> {
        self.commands.get(&(kind, family)).map(String::as_str)
    }

    /// The timeout of each command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether `actionstart` runs at the first ban of each family rather than at start.
    pub fn starts_on_demand(&self) -> bool {
        self.start_on_demand
    }

    /// Whether bans restored from the database are skipped (`norestored`).
    pub fn norestored(&self) -> bool {
        self.norestored
    }

    /// The families whose `actionstart` has run (and whose `actionstop` has not).
    pub fn started(&self) -> Vec<Family> {
        self.lock().started.iter().copied().collect()
    }

    /// The ban epoch: grows by one at each repair. Tickets banned in an older epoch should be
    /// banned again ([`Action::reban`]).
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// The jail starts: runs `actionstart` (once per family for an action with conditional
    /// properties; an identical command only once), unless the action starts on demand.
    pub fn start(&self) -> Result<Outcome, Error> {
        if self.start_on_demand {
            return Ok(Outcome::Skipped(Skip::OnDemand));
        }
        let mut state = self.lock();
        self.start_families(&mut state, &families(self.has_conditional))
            .map(|()| Outcome::Done)
            .map_err(|e| e.in_action(&self.name))
    }

    /// Bans `ticket`: starts its family first if needed, then runs `actionban`, with the
    /// check/repair/retry flow on failure. The caller records the ban whatever the result.
    pub fn ban(&self, ticket: &Ticket, context: &BanContext<'_>) -> Result<Outcome, Error> {
        self.ticket_command(CommandKind::Ban, ticket, context)
    }

    /// Bans `ticket` again after a repair: `actionreban`, else `actionban`.
    pub fn reban(&self, ticket: &Ticket, context: &BanContext<'_>) -> Result<Outcome, Error> {
        let family = self.family_of(ticket);
        let kind = if self.commands.contains_key(&(CommandKind::Reban, family)) {
            CommandKind::Reban
        } else {
            CommandKind::Ban
        };
        self.ticket_command(kind, ticket, context)
    }

    /// Unbans `ticket` with `actionunban` (skipped for a family that never had a ban).
    pub fn unban(&self, ticket: &Ticket, context: &BanContext<'_>) -> Result<Outcome, Error> {
        self.ticket_command(CommandKind::Unban, ticket, context)
    }

    /// The ban of `ticket` grew longer: `actionprolong`, when defined.
    pub fn prolong(&self, ticket: &Ticket, context: &BanContext<'_>) -> Result<Outcome, Error> {
        self.ticket_command(CommandKind::Prolong, ticket, context)
    }

    /// Removes all bans with `actionflush`, once per started family. Returns
    /// `Skipped(NotDefined)` when the action has no `actionflush`: the caller then unbans each
    /// ticket.
    pub fn flush(&self) -> Result<Outcome, Error> {
        if !self.defines(CommandKind::Flush) {
            return Ok(Outcome::Skipped(Skip::NotDefined));
        }
        let mut state = self.lock();
        let families: Vec<Family> = state.started.iter().copied().collect();
        let result = self.each_family(&mut state, CommandKind::Flush, &families, true);
        self.items().clear();
        result.map_err(|e| e.in_action(&self.name))
    }

    /// The jail stops: `actionstop` for each started family (after the flush, which is the
    /// caller's). Every started family is stopped even when one fails; the first error is
    /// returned.
    pub fn stop(&self) -> Result<Outcome, Error> {
        let mut state = self.lock();
        let families: Vec<Family> = state.started.iter().copied().collect();
        let result = self.each_family(&mut state, CommandKind::Stop, &families, false);
        state.started.clear();
        self.items().clear();
        result.map_err(|e| e.in_action(&self.name))
    }

    /// The jail reloads: `actionreload` for each started family, when defined.
    pub fn reload(&self) -> Result<Outcome, Error> {
        if !self.defines(CommandKind::Reload) {
            return Ok(Outcome::Skipped(Skip::NotDefined));
        }
        let mut state = self.lock();
        let families: Vec<Family> = state.started.iter().copied().collect();
        self.each_family(&mut state, CommandKind::Reload, &families, false)
            .map_err(|e| e.in_action(&self.name))
    }

    /// fail2ban's consistency check: runs `actioncheck` for each started family and repairs
    /// a family whose check fails (`actionrepair`, else stop and start).
    pub fn check(&self) -> Result<Outcome, Error> {
        if !self.defines(CommandKind::Check) {
            return Ok(Outcome::Skipped(Skip::NotDefined));
        }
        let mut state = self.lock();
        let families: Vec<Family> = state.started.iter().copied().collect();
        let mut outcome = Outcome::Done;
        for family in families {
            let Some(check) = self.render(CommandKind::Check, family, &Values::Basic) else {
                continue;
            };
            let out = self.exec(&check).map_err(|e| e.in_action(&self.name))?;
            if out.success() {
                continue;
            }
            state.epoch += 1;
            let repair = self
                .repair(&mut state, family)
                .map_err(|e| e.in_action(&self.name))?;
            outcome = Outcome::Recovered(Box::new(Recovery {
                failure: Failure {
                    command: CommandKind::Check,
                    family,
                    output: out,
                },
                repair,
                epoch: state.epoch,
            }));
        }
        Ok(outcome)
    }

    fn ticket_command(
        &self,
        kind: CommandKind,
        ticket: &Ticket,
        context: &BanContext<'_>,
    ) -> Result<Outcome, Error> {
        if self.norestored && ticket.restored && kind != CommandKind::Unban {
            return Ok(Outcome::Skipped(Skip::Restored));
        }
        let family = self.family_of(ticket);
        // Read under the shared lock: other tickets' commands may be running.
        let started = self.shared().started.contains(&family);
        let with_items = self.items().contains(&family);
        if kind == CommandKind::Unban {
            if !with_items {
                return Ok(Outcome::Skipped(Skip::NoItems));
            }
        } else if !started {
            self.start_for_ticket(family)?;
        }
        let values = Values::Ticket(TicketValues {
            ticket,
            context,
            resolver: self.runner.options().resolver.as_deref(),
        });
        let Some(script) = self.render(kind, family, &values) else {
            return Ok(Outcome::Skipped(Skip::NotDefined));
        };
        if matches!(kind, CommandKind::Ban | CommandKind::Reban) && !with_items {
            // Recorded even when the command fails: the unban must still be tried.
            self.items().insert(family);
        }
        // Other tickets' commands may run meanwhile; start, stop, repair and friends wait.
        let out = {
            let _shared = self.shared();
            self.exec(&script).map_err(|e| e.in_action(&self.name))?
        };
        if out.success() {
            return Ok(Outcome::Done);
        }
        let mut state = self.lock();
        self.recover(&mut state, kind, family, &script, out)
            .map_err(|e| e.in_action(&self.name))
    }

    /// Runs a command; on failure runs `actioncheck`, and when that fails too, repairs and
    /// retries once (fail2ban's `_processCmd`).
    fn process(
        &self,
        state: &mut State,
        kind: CommandKind,
        family: Family,
        script: &Rendered,
    ) -> Result<Outcome, Error> {
        let out = self.exec(script)?;
        if out.success() {
            return Ok(Outcome::Done);
        }
        self.recover(state, kind, family, script, out)
    }

    /// After `script` failed with `out`: `actioncheck`, and when that fails too, repair and
    /// retry once.
    fn recover(
        &self,
        state: &mut State,
        kind: CommandKind,
        family: Family,
        script: &Rendered,
        out: RunOutput,
    ) -> Result<Outcome, Error> {
        let failure = Failure {
            command: kind,
            family,
            output: out,
        };
        let failed = |failure: Failure, after| {
            Error::new(ErrorKind::CommandFailed {
                failure: Box::new(failure),
                after,
            })
        };
        let Some(check) = self.render(CommandKind::Check, family, &Values::Basic) else {
            return Err(failed(failure, None));
        };
        if self.exec(&check)?.success() {
            // The environment is sane: the command itself failed.
            return Err(failed(failure, None));
        }
        if kind == CommandKind::Unban && !self.repair_on_unban {
            return Err(Error::new(ErrorKind::UnbanImpossible(Box::new(failure))));
        }
        state.epoch += 1;
        let repair = self.repair(state, family)?;
        let retry = self.exec(script)?;
        if retry.success() {
            Ok(Outcome::Recovered(Box::new(Recovery {
                failure,
                repair,
                epoch: state.epoch,
            })))
        } else {
            Err(failed(
                Failure {
                    command: kind,
                    family,
                    output: retry,
                },
                Some(repair),
            ))
        }
    }

    /// Restores a sane environment for `family`: `actionrepair`, else `actionstop` and
    /// `actionstart`; then `actioncheck` must pass.
    fn repair(&self, state: &mut State, family: Family) -> Result<Repair, Error> {
        let repair_failed = |command, output| {
            Error::new(ErrorKind::RepairFailed(Box::new(Failure {
                command,
                family,
                output,
            })))
        };
        let how = if let Some(script) = self.render(CommandKind::Repair, family, &Values::Basic) {
            let out = self.exec(&script)?;
            if !out.success() {
                return Err(repair_failed(CommandKind::Repair, out));
            }
            Repair::ActionRepair
        } else {
            if let Some(stop) = self.render(CommandKind::Stop, family, &Values::Basic) {
                // A broken environment may well make the stop fail; the start decides.
                self.exec(&stop)?;
            }
            state.started.remove(&family);
            if let Some(start) = self.render(CommandKind::Start, family, &Values::Basic) {
                let out = self.exec(&start)?;
                if !out.success() {
                    return Err(repair_failed(CommandKind::Start, out));
                }
            }
            state.started.insert(family);
            Repair::StopStart
        };
        if let Some(check) = self.render(CommandKind::Check, family, &Values::Basic) {
            let out = self.exec(&check)?;
            if !out.success() {
                return Err(repair_failed(CommandKind::Check, out));
            }
        }
        Ok(how)
    }

    /// Runs `actionstart` for the families not started yet; identical commands run once.
    fn start_families(&self, state: &mut State, families: &[Family]) -> Result<(), Error> {
        let mut executed: Vec<String> = Vec::new();
        for &family in families {
            if state.started.contains(&family) {
                continue;
            }
            if let Some(script) = self.render(CommandKind::Start, family, &Values::Basic) {
                if !executed.contains(&script.script) {
                    let out = self.exec(&script)?;
                    if !out.success() {
                        return Err(Error::new(ErrorKind::CommandFailed {
                            failure: Box::new(Failure {
                                command: CommandKind::Start,
                                family,
                                output: out,
                            }),
                            after: None,
                        }));
                    }
                    executed.push(script.script);
                }
            }
            state.started.insert(family);
        }
        Ok(())
    }

    /// Runs `kind` for each of `families` (an identical command once), all of them even when
    /// one fails; the first error is returned. With `recover`, failures go through the
    /// check/repair flow.
    fn each_family(
        &self,
        state: &mut State,
        kind: CommandKind,
        families: &[Family],
        recover: bool,
    ) -> Result<Outcome, Error> {
        let mut executed: Vec<String> = Vec::new();
        let mut first_error = None;
        let mut outcome = Outcome::Skipped(Skip::NotDefined);
        for &family in families {
            let Some(script) = self.render(kind, family, &Values::Basic) else {
                continue;
            };
            if executed.contains(&script.script) {
                continue;
            }
            let result = if recover {
                self.process(state, kind, family, &script)
            } else {
                self.exec(&script).and_then(|out| {
                    if out.success() {
                        Ok(Outcome::Done)
                    } else {
                        Err(Error::new(ErrorKind::CommandFailed {
                            failure: Box::new(Failure {
                                command: kind,
                                family,
                                output: out,
                            }),
                            after: None,
                        }))
                    }
                })
            };
            executed.push(script.script);
            match result {
                Ok(o) => {
                    if !matches!(outcome, Outcome::Recovered(_)) {
                        outcome = o;
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }

    fn render(&self, kind: CommandKind, family: Family, values: &Values<'_>) -> Option<Rendered> {
        let template = self.commands.get(&(kind, family))?;
        Some(match values {
            Values::Basic => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                render(template, |tag| basic_value(tag, family, now))
            }
            Values::Ticket(t) => render(template, |tag| t.value(tag)),
        })
    }

    fn exec(&self, script: &Rendered) -> Result<RunOutput, Error> {
        self.runner.run(&script.script, &script.env, self.timeout)
    }

    fn defines(&self, kind: CommandKind) -> bool {
        self.commands.keys().any(|(k, _)| *k == kind)
    }

    fn family_of(&self, ticket: &Ticket) -> Family {
        if self.has_conditional {
            ticket.address.family()
        } else {
            Family::Any
        }
    }

    /// The state, with no ticket command running.
    fn lock(&self) -> RwLockWriteGuard<'_, State> {
        match self.state.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The families that had a ban.
    fn items(&self) -> MutexGuard<'_, BTreeSet<Family>> {
        match self.with_items.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Starts `family` for a ticket's command. Another ticket may have started it meanwhile
    /// and be running its command under the shared lock: waiting for the exclusive lock would
    /// then hold this ticket until that command ends (two bans of one batch would run one
    /// after the other), so the exclusive lock is only tried while the family is not started.
    fn start_for_ticket(&self, family: Family) -> Result<(), Error> {
        let mut pause = Duration::from_millis(1);
        loop {
            let mut state = match self.state.try_write() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    if self.shared().started.contains(&family) {
                        return Ok(());
                    }
                    // Another family's command may run for a while: poll, less often.
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                    continue;
                }
            };
            return self
                .start_families(&mut state, &[family])
                .map_err(|e| e.in_action(&self.name));
        }
    }

    /// Held while a ticket's command runs: others may run too, nothing else.
    fn shared(&self) -> std::sync::RwLockReadGuard<'_, State> {
        match self.state.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The families an action's commands are prepared for.
fn families(has_conditional: bool) -> Vec<Family> {
    if has_conditional {
        vec![Family::Inet4, Family::Inet6]
    } else {
        vec![Family::Any]
    }
}

/// fail2ban's booleans: `true/yes/on/1` and `false/no/off/0`, any case.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}
