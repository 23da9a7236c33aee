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

use std::cell::RefCell;
use std::collections::HashSet;

use jailor_match::translate::{translate, PyFlags};
use jailor_match::{expand_tags, Filter, FilterOptions, Stats};

use crate::logf;

thread_local! {
    /// Regexes (after tag expansion, with the multi-line flag) that translated during the
    /// current [`CheckBatch`]; `None` outside one.
    static CHECKED: RefCell<Option<HashSet<(String, bool)>>> = const { RefCell::new(None) };
}

/// While it lives, [`precheck`] on this thread translates each distinct regex once: jails
/// started together often share regexes (`sshd` and `sshd[mode=aggressive]` share most), and
/// translating one with `<HOST>` expanded is ~80k instructions. The memory goes with it.
pub(crate) struct CheckBatch(());

impl CheckBatch {
    /// Starts remembering the regexes checked on this thread.
    pub(crate) fn begin() -> CheckBatch {
        CHECKED.with(|c| *c.borrow_mut() = Some(HashSet::new()));
        CheckBatch(())
    }
}

impl Drop for CheckBatch {
    fn drop(&mut self) {
        CHECKED.with(|c| *c.borrow_mut() = None);
    }
}

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
        let expanded = expand_tags(raw, opts.usedns);
        let key = (expanded, flags.multiline);
        if CHECKED.with(|c| c.borrow().as_ref().is_some_and(|set| set.contains(&key))) {
            continue;
        }
        translate(&key.0, flags).map_err(|e| format!("{role} #{i} '{raw}': {e}"))?;
        CHECKED.with(|c| {
            if let Some(set) = c.borrow_mut().as_mut() {
                set.insert(key);
            }
        });
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

    /// Takes the compiled filter out (to share it with other threads for a while); put it
    /// back with [`LazyFilter::put_back`]. Meanwhile [`LazyFilter::get`] gives `None`.
    pub(crate) fn take_compiled(&mut self) -> Option<Box<Filter>> {
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Ready(f) => Some(f),
            other => {
                self.state = other;
                None
            }
        }
    }

    /// Puts back what [`LazyFilter::take_compiled`] took.
    pub(crate) fn put_back(&mut self, filter: Box<Filter>) {
        self.state = State::Ready(filter);
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
    fn a_batch_checks_each_regex_once_and_still_refuses_broken_ones() {
        let good = opts(r"^Failed login from <HOST>$");
        let broken = opts(r"^Failed (login from <HOST>$");
        {
            let _batch = CheckBatch::begin();
            assert!(precheck(&good).is_ok());
            assert!(CHECKED.with(|c| c.borrow().as_ref().is_some_and(|s| s.len() == 1)));
            assert!(precheck(&good).is_ok());
            assert!(CHECKED.with(|c| c.borrow().as_ref().is_some_and(|s| s.len() == 1)));
            // A broken regex is never remembered: it fails every time.
            assert!(precheck(&broken).is_err());
            assert!(precheck(&broken).is_err());
        }
        // The memory goes with the batch.
        assert!(CHECKED.with(|c| c.borrow().is_none()));
        assert!(precheck(&good).is_ok() && precheck(&broken).is_err());
    }

    #[test]
    fn precheck_refuses_broken_syntax_and_empty_regexes() {
        assert!(precheck(&opts(r"^Failed (login from <HOST>$")).is_err());
        assert!(precheck(&opts("  ")).is_err());
        assert!(precheck(&opts(r"^Failed login from <HOST>$")).is_ok());
    }
}
