//! The one error type of this crate: what went wrong, and where in which file.

use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration error, with the file, section and line it comes from where they are known.
///
/// Its `Display` form is one sentence a system administrator can act on, for example
/// `/etc/fail2ban/jail.local, line 12, section [sshd]: bad time value "1x": unknown unit "x"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct Error {
    kind: ErrorKind,
    message: String,
    file: Option<PathBuf>,
    section: Option<String>,
    line: Option<usize>,
}

/// The kind of a configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read (other than "does not exist" where that is allowed).
    Io,
    /// A configuration file (or all files of a set such as `filter.d/x`) does not exist.
    MissingFile,
    /// A file is not valid UTF-8.
    InvalidUtf8,
    /// A line is neither a section header, an option, a comment nor a continuation.
    Syntax,
    /// A section appears twice in one file.
    DuplicateSection,
    /// An option appears twice in one section of one file.
    DuplicateOption,
    /// An `[INCLUDES]` entry cannot be used.
    Include,
    /// Files include each other in a loop.
    IncludeCycle,
    /// `%(name)s` references nest deeper than fail2ban allows (10).
    InterpolationDepth,
    /// `%(name)s` names an option that does not exist.
    InterpolationMissing,
    /// A `%` that starts neither `%%` nor `%(name)s`.
    InterpolationSyntax,
    /// A `<tag>` refers to itself or is replaced too often.
    TagRecursion,
    /// A jail names a filter that has no file in `filter.d`.
    UnknownFilter,
    /// A jail names an action that has no file in `action.d`.
    UnknownAction,
    /// A `name[key=value, ...]` argument list is malformed.
    BadArguments,
    /// A time value (`10m`, `1h30m`, `-1`...) cannot be evaluated.
    BadTime,
    /// An option has a value of the wrong type (for example a non-numeric `maxretry`).
    BadValue,
    /// Two actions of one jail have the same name.
    DuplicateAction,
}

impl Error {
    /// A new error of `kind` with a message (a sentence fragment without file or line).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            file: None,
            section: None,
            line: None,
        }
    }

    /// Sets the file the error comes from (kept if already set).
    pub fn in_file(mut self, file: &Path) -> Self {
        if self.file.is_none() {
            self.file = Some(file.to_path_buf());
        }
        self
    }

    /// Sets the section the error comes from (kept if already set).
    pub fn in_section(mut self, section: &str) -> Self {
        if self.section.is_none() {
            self.section = Some(section.to_string());
        }
        self
    }

    /// Sets the line (1-based) the error comes from (kept if already set).
    pub fn at_line(mut self, line: usize) -> Self {
        if self.line.is_none() {
            self.line = Some(line);
        }
        self
    }

    /// Sets file and line from an option's origin (kept if already set).
    pub fn at(self, origin: Option<&crate::Origin>) -> Self {
        match origin {
            Some(o) => self.in_file(&o.file).at_line(o.line),
            None => self,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The file the error comes from, if known.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The section the error comes from, if known.
    pub fn section(&self) -> Option<&str> {
        self.section.as_deref()
    }

    /// The line (1-based) the error comes from, if known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl Error {
    /// `file, line N, section [S]: message`, leaving out what is unknown.
    fn render(&self) -> String {
        let mut s = String::new();
        let _ = self.write_to(&mut s);
        s
    }

    fn write_to(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let mut wrote = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            wrote = true;
        }
        if let Some(line) = self.line {
            write!(f, "{}line {line}", if wrote { ", " } else { "" })?;
            wrote = true;
        }
        if let Some(section) = &self.section {
            write!(f, "{}section [{section}]", if wrote { ", " } else { "" })?;
            wrote = true;
        }
        if wrote {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
