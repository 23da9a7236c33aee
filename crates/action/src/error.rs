//! The crate's one error type.

use std::fmt;

use crate::exec::RunOutput;
use crate::family::Family;
use crate::kind::CommandKind;

/// An error from an action: an invalid definition, an invalid value, or a command that failed.
///
/// The `Display` text names the action when known, for example
/// `action 'iptables-multiport': actionban (inet4) failed: exit code 2: iptables: No chain…`.
#[derive(Debug, thiserror::Error)]
#[error("{}{kind}", action_prefix(.action))]
pub struct Error {
    action: Option<String>,
    kind: ErrorKind,
    #[source]
    source: Option<std::io::Error>,
}

fn action_prefix(action: &Option<String>) -> String {
    match action {
        Some(name) => format!("action '{name}': "),
        None => String::new(),
    }
}

/// What kind of failure an [`Error`] is.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A property refers to itself, directly or through other properties (`a = <b>`, `b = <a>`).
    SelfReference(String),
    /// Substitution did not settle within 26 passes (tags that keep producing new tags).
    TooDeep(String),
    /// A property has a value of the wrong type (a flag that is not a boolean, a timeout that
    /// is not a time).
    InvalidProperty {
        /// The property's name.
        name: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// A ticket's address is not an IP address or CIDR network.
    InvalidAddress(String),
    /// The shell could not be started (missing `/bin/sh`, too many processes, an environment
    /// value the kernel rejects). The I/O error is the [`source`](std::error::Error::source).
    Spawn,
    /// A command failed. `after` is `None` when it failed the first time and no repair was
    /// tried (no `actioncheck`, or the check passed), and the repair that ran when the retry
    /// after it failed too.
    CommandFailed {
        /// The failed command and its output.
        failure: Box<Failure>,
        /// The repair that ran before this (second) failure, if any.
        after: Option<Repair>,
    },
    /// `actioncheck` failed and the repair (`actionrepair`, or stop and start) failed, or
    /// `actioncheck` still failed after it. The command was not retried.
    RepairFailed(Box<Failure>),
    /// An unban failed and `actioncheck` failed; without `actionrepair_on_unban` jailor does
    /// not try to repair for an unban (fail2ban's "Unban is impossible").
    UnbanImpossible(Box<Failure>),
    /// `nft` could not be started, or it rejected a transaction (the text is its exit status
    /// and first error line); a failed transaction changed nothing in the kernel.
    Nft(String),
    /// `nft` printed something jailor cannot read (a listing that is not the JSON it expects).
    NftOutput(String),
    /// A mail could not be built (an invalid sender or recipient) or sent (the text is the
    /// SMTP or connection error).
    Mail(String),
}

/// A command that did not succeed: which one, for which family, and what it printed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Which of the action's commands it was.
    pub command: CommandKind,
    /// The family it ran for.
    pub family: Family,
    /// Its exit status and captured output.
    pub output: RunOutput,
}

/// How a broken environment was repaired after `actioncheck` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// The action's `actionrepair` ran.
    ActionRepair,
    /// The action has no `actionrepair`: `actionstop` then `actionstart` ran.
    StopStart,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.command.property())?;
        if self.family != Family::Any {
            write!(f, " ({})", self.family)?;
        }
        write!(f, " failed: {}", self.output.status)?;
        if let Some(hint) = self.output.hint() {
            write!(f, " ({hint})")?;
        }
        let stderr = self.output.stderr.trim();
        if !stderr.is_empty() {
            write!(f, ": {}", stderr.lines().next().unwrap_or_default())?;
        }
        Ok(())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::SelfReference(tag) => write!(f, "property <{tag}> refers to itself"),
            ErrorKind::TooDeep(text) => {
                write!(f, "tag substitution does not settle in {text:?}")
            }
            ErrorKind::InvalidProperty { name, reason } => {
                write!(f, "invalid property {name}: {reason}")
            }
            ErrorKind::InvalidAddress(a) => write!(f, "not an IP address or network: {a:?}"),
            ErrorKind::Spawn => f.write_str("cannot start the shell"),
            ErrorKind::CommandFailed { failure, after } => match after {
                None => write!(f, "{failure}"),
                Some(r) => write!(f, "{failure} (again, after {})", r.describe()),
            },
            ErrorKind::RepairFailed(failure) => {
                write!(f, "cannot restore a sane environment: {failure}")
            }
            ErrorKind::UnbanImpossible(failure) => {
                write!(f, "unban is impossible (invariant check failed): {failure}")
            }
            ErrorKind::Nft(detail) => write!(f, "nft failed: {detail}"),
            ErrorKind::NftOutput(detail) => write!(f, "unexpected nft output: {detail}"),
            ErrorKind::Mail(detail) => write!(f, "mail not sent: {detail}"),
        }
    }
}

impl Repair {
    fn describe(self) -> &'static str {
        match self {
            Repair::ActionRepair => "actionrepair",
            Repair::StopStart => "actionstop and actionstart",
        }
    }
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The action's name (`actname`), when the error happened inside an action.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }

    /// The failed command, for the kinds that have one.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.kind {
            ErrorKind::CommandFailed { failure, .. }
            | ErrorKind::RepairFailed(failure)
            | ErrorKind::UnbanImpossible(failure) => Some(failure),
            _ => None,
        }
    }

    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error {
            action: None,
            kind,
            source: None,
        }
    }

    pub(crate) fn with_source(kind: ErrorKind, err: std::io::Error) -> Error {
        Error {
            action: None,
            kind,
            source: Some(err),
        }
    }

    pub(crate) fn spawn(err: std::io::Error) -> Error {
        Error {
            action: None,
            kind: ErrorKind::Spawn,
            source: Some(err),
        }
    }

    pub(crate) fn in_action(mut self, name: &str) -> Error {
        if self.action.is_none() {
            self.action = Some(name.to_owned());
        }
        self
    }
}
