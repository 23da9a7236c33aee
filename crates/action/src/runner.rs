//! The shared runner: options, and the bound on concurrent action processes.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::coshell::{self, CoShell};
use crate::error::Error;
use crate::exec::{Exec, RunOutput};
use crate::hostnames::HostNames;
use crate::ticket::Resolver;

/// How an [`ActionRunner`] runs commands.
#[derive(Clone)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// At most this many action processes run at once, over all actions and jails (at least
    /// 1). fail2ban runs one at a time; the default is 4.
    pub max_concurrent: usize,
    /// After a timeout, the time between SIGTERM and SIGKILL to the process group
    /// (fail2ban: 0.2 s).
    pub kill_grace: Duration,
    /// At most this many bytes of each of stdout and stderr are kept (default 64 KiB).
    pub output_limit: usize,
    /// The shell (default `/bin/sh`), run as `<shell> -c <script>`.
    pub shell: PathBuf,
    /// Names for `<fq-hostname>` and `<sh-hostname>` (default: the kernel's host name).
    pub hostnames: HostNames,
    /// Reverse DNS for `<ip-host>`; `None` (the default) resolves nothing.
    pub resolver: Option<Arc<dyn Resolver>>,
    /// Run commands in persistent shell co-processes (one per running command, each command
    /// in a fresh subshell) instead of a new `<shell> -c` each (default `true`): a fork
    /// instead of a shell's start. Commands that mention `$$` still use `-c`. Needs a POSIX
    /// shell that reads commands from its standard input: turn it off for a `shell` that
    /// only takes `-c`.
    pub coprocess: bool,
}

impl Default for RunnerOptions {
    fn default() -> RunnerOptions {
        RunnerOptions {
            max_concurrent: 4,
            kill_grace: Duration::from_millis(200),
            output_limit: 64 * 1024,
            shell: PathBuf::from("/bin/sh"),
            hostnames: HostNames::detect(),
            resolver: None,
            coprocess: true,
        }
    }
}

impl fmt::Debug for RunnerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerOptions")
            .field("max_concurrent", &self.max_concurrent)
            .field("kill_grace", &self.kill_grace)
            .field("output_limit", &self.output_limit)
            .field("shell", &self.shell)
            .field("hostnames", &self.hostnames)
            .field("resolver", &self.resolver.is_some())
            .field("coprocess", &self.coprocess)
            .finish()
    }
}

/// Runs action commands: shared by every [`Action`](crate::Action) of the daemon and safe to
/// use from many threads (it is a cheap handle; clones share the same bound).
///
/// A command waits for a free slot when `max_concurrent` commands are running, so a slow
/// action holds at most its own slots and never blocks matching or other actions beyond the
/// bound.
#[derive(Clone, Debug)]
pub struct ActionRunner {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: RunnerOptions,
    running: Mutex<usize>,
    freed: Condvar,
    /// Commands that found every slot taken and waited (for the metrics).
    waits: AtomicU64,
    /// Co-processes between commands (at most `max_concurrent`).
    idle: Mutex<Vec<CoShell>>,
}

impl fmt::Debug for CoShell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CoShell")
    }
}

impl ActionRunner {
    /// A runner with these options.
    pub fn new(options: RunnerOptions) -> ActionRunner {
        ActionRunner {
            inner: Arc::new(Inner {
                options,
                running: Mutex::new(0),
                freed: Condvar::new(),
                waits: AtomicU64::new(0),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The runner's options.
    pub fn options(&self) -> &RunnerOptions {
        &self.inner.options
    }

    /// How many action processes run right now.
    pub fn running(&self) -> usize {
        self.inner.running.lock().map(|g| *g).unwrap_or(0)
    }

    /// How many commands so far found `max_concurrent` processes running and waited for a
    /// free slot.
    pub fn waits(&self) -> u64 {
        self.inner.waits.load(Ordering::Relaxed)
    }

    /// Runs one script with extra environment variables and a timeout, waiting for a free
    /// slot first.
    pub(crate) fn run(
        &self,
        script: &str,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<RunOutput, Error> {
        let _slot = self.acquire();
        let o = &self.inner.options;
        if o.coprocess && coshell::suits(script, env) {
            if let Some(out) = self.run_in_coshell(script, env, timeout) {
                return Ok(out);
            }
        }
        Exec {
            shell: &o.shell,
            timeout,
            kill_grace: o.kill_grace,
            output_limit: o.output_limit,
        }
        .run(script, env)
        .map_err(Error::spawn)
    }

    /// Runs a command in an idle co-process (or a new one); `None` when none could take
    /// it, so it runs with `-c`.
    fn run_in_coshell(
        &self,
        script: &str,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Option<RunOutput> {
        let o = &self.inner.options;
        let idle = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut shell = match idle {
            Some(shell) => shell,
            None => CoShell::spawn(&o.shell, o.output_limit).ok()?,
        };
        let out = shell.run(script, env, timeout, o.kill_grace).ok()?;
        if shell.alive() {
            if let Ok(mut idle) = self.inner.idle.lock() {
                if idle.len() < o.max_concurrent.max(1) {
                    idle.push(shell);
                }
            }
        }
        Some(out)
    }

    /// The pids of the idle co-processes.
    #[cfg(test)]
    pub(crate) fn idle_pids(&self) -> Vec<u32> {
        self.inner
            .idle
            .lock()
            .map(|idle| idle.iter().map(CoShell::pid).collect())
            .unwrap_or_default()
    }

    fn acquire(&self) -> Slot<'_> {
        let max = self.inner.options.max_concurrent.max(1);
        let mut running = match self.inner.running.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *running >= max {
            self.inner.waits.fetch_add(1, Ordering::Relaxed);
        }
        while *running >= max {
            running = match self.inner.freed.wait(running) {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
        *running += 1;
        Slot { inner: &self.inner }
    }
}

impl Default for ActionRunner {
    fn default() -> ActionRunner {
        ActionRunner::new(RunnerOptions::default())
    }
}

/// One running process's slot, given back on drop.
struct Slot<'a> {
    inner: &'a Inner,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut running = match self.inner.running.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *running = running.saturating_sub(1);
        self.inner.freed.notify_one();
    }
}
