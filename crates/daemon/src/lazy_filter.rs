//! A jail's filter, compiled on its first line.
//!
//! Compiling a filter's regexes is the most expensive part of starting a jail (tens of
//! milliseconds and a few megabytes each). A jail whose log stays quiet never needs them, so
//! the reader compiles them, on its own thread, only when the first line reaches the filter:
//! "Jail started" comes first, and idle jails cost almost no memory.
//!
//! At start, [`precheck`] runs the cheap part of the compilation (tag expansion and the
//! Python-to-Rust translation), so a filter with broken syntax still keeps its jail from
//! starting, as in fail2ban.

use jailor_match::translate::{translate, PyFlags};
use jailor_match::{expand_tags, Filter, FilterOptions, Stats};

use crate::logf;

/// Checks what can be checked without compiling: every regex is non-empty and translates.
/// Errors are one line, naming the regex.
pub(crate) fn precheck(opts: &FilterOptions) -> Result<(), String> {
    let flags = PyFlags {
        multiline: opts.maxlines > 1,
        ..PyFlags::default()
    };
    let roles = opts
        .prefregex
        .iter()
        .map(|r| ("prefregex", 0, r))
        .chain(
            opts.failregex
                .iter()
                .enumerate()
                .map(|(i, r)| ("failregex", i, r)),
        )
        .chain(
            opts.ignoreregex
                .iter()
                .enumerate()
                .map(|(i, r)| ("ignoreregex", i, r)),
        );
    for (role, i, raw) in roles {
        if raw.trim().is_empty() {
            return Err(format!("{role} #{i} is empty"));
        }
        translate(&expand_tags(raw, opts.usedns), flags)
            .map_err(|e| format!("{role} #{i} '{raw}': {e}"))?;
    }
    Ok(())
}

enum State {
    /// Not compiled yet: the options to compile it from.
    Pending(FilterOptions),
    Ready(Box<Filter>),
    /// Compilation failed (logged once): the jail's lines are dropped.
    Broken,
}

/// A filter compiled the first time it is asked for.
pub(crate) struct LazyFilter {
    state: State,
}

impl LazyFilter {
    /// A filter to compile from `opts` when first needed.
    pub(crate) fn new(opts: FilterOptions) -> LazyFilter {
        LazyFilter {
            state: State::Pending(opts),
        }
    }

    /// The compiled filter, compiled now if this is the first call; `None` when it cannot be
    /// compiled (logged as an error for `jail`, once).
    pub(crate) fn get(&mut self, jail: &str) -> Option<&mut Filter> {
        if let State::Pending(_) = self.state {
            let State::Pending(opts) = std::mem::replace(&mut self.state, State::Broken) else {
                return None;
            };
            match Filter::new(opts) {
                Ok(f) => {
                    self.state = State::Ready(Box::new(f));
                    // The compiler's scratch memory is free now: give it back.
                    crate::memory::release_free_memory();
                }
                Err(e) => logf!(
                    ERROR,
                    "fail2ban.filter",
                    "[{jail}] cannot compile the filter, its lines are ignored: {e}"
                ),
            }
        }
        match &mut self.state {
            State::Ready(f) => Some(f),
            _ => None,
        }
    }

    /// The filter, when compiled.
    pub(crate) fn compiled(&self) -> Option<&Filter> {
        match &self.state {
            State::Ready(f) => Some(f),
            _ => None,
        }
    }

    /// The filter's counters (all zero before it is compiled).
    pub(crate) fn stats(&self) -> Stats {
        match &self.state {
            State::Ready(f) => f.stats(),
            _ => Stats::default(),
        }
    }

    /// Whether the filter was compiled (for tests and status).
    #[cfg(test)]
    pub(crate) fn is_compiled(&self) -> bool {
        matches!(self.state, State::Ready(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(failregex: &str) -> FilterOptions {
        FilterOptions {
            failregex: vec![failregex.to_owned()],
            ..FilterOptions::default()
        }
    }

    #[test]
    fn compiles_on_first_use_only() {
        let mut f = LazyFilter::new(opts(r"^Failed login from <HOST>$"));
        assert!(!f.is_compiled());
        let found =
            f.get("t")
                .expect("compiles")
                .process("", "", "Failed login from 192.0.2.7", 1.0);
        assert!(f.is_compiled());
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn a_filter_that_does_not_compile_drops_lines() {
        // Translates (so the precheck lets it through) but has no failure-id group.
        let o = opts(r"^Failed login from \S+$");
        assert!(precheck(&o).is_ok());
        let mut f = LazyFilter::new(o);
        assert!(f.get("t").is_none());
        assert!(f.get("t").is_none());
    }

    #[test]
    fn precheck_refuses_broken_syntax_and_empty_regexes() {
        assert!(precheck(&opts(r"^Failed (login from <HOST>$")).is_err());
        assert!(precheck(&opts("  ")).is_err());
        assert!(precheck(&opts(r"^Failed login from <HOST>$")).is_ok());
    }
}
