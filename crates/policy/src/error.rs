//! The crate's one error type.

use std::fmt;

/// A policy setting that jailor cannot use, naming the option and the value.
///
/// The `Display` text reads like `bantime.formula: unsupported formula "ban.Time ** 3" (...)`.
#[derive(Debug, thiserror::Error)]
#[error("{option}: {kind}")]
pub struct Error {
    option: &'static str,
    kind: ErrorKind,
}

/// What kind of failure an [`Error`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `bantime.formula` is none of the forms jailor evaluates (it never runs arbitrary
    /// Python expressions).
    UnsupportedFormula(String),
    /// A numeric expression (such as `bantime.factor`) that is not plain arithmetic.
    InvalidNumber(String),
    /// `bantime.multipliers` holds a word that is not a non-negative number, or nothing.
    InvalidMultipliers(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnsupportedFormula(text) => write!(
                f,
                "unsupported formula {text:?} (jailor evaluates the default formula \
                 `ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor` and the \
                 exponential one `ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)`; \
                 use bantime.multipliers for other growth)"
            ),
            ErrorKind::InvalidNumber(text) => {
                write!(f, "{text:?} is not a number or plain arithmetic (+ - * / parentheses)")
            }
            ErrorKind::InvalidMultipliers(text) => write!(
                f,
                "{text:?} is not a space-separated list of non-negative numbers"
            ),
        }
    }
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The option the bad value was given for, for example `"bantime.formula"`.
    pub fn option(&self) -> &'static str {
        self.option
    }

    pub(crate) fn new(option: &'static str, kind: ErrorKind) -> Error {
        Error { option, kind }
    }
}
