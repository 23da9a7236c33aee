//! Work over a configuration's parts (its jail sections, its jails) on two threads.
//!
//! A start waits for reading and checking every jail; the jails are independent, so two
//! threads take them in turn. What comes out is what one thread would give, in the same order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Maps every item of `items` with `f` on this thread and on one helper started from
/// `helper` (which first runs `helper_setup` and keeps what it returns until it is done), and
/// returns the results in `items`' order, leaving out the `None`s. Items are handed out one at
/// a time, since their costs differ a lot (an enabled jail costs ~100 times a disabled one).
/// If the helper cannot start, this thread maps them all; a panic in the helper is passed on.
pub fn map_in_order<T, R, G>(
    items: &[T],
    helper: std::thread::Builder,
    helper_setup: impl FnOnce() -> G + Send,
    f: impl Fn(&T) -> Option<R> + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let work = || {
        let mut got = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return got;
            };
            got.extend(f(item).map(|r| (i, r)));
        }
    };
    let mut all = std::thread::scope(|s| {
        let helper = helper.spawn_scoped(s, || {
            let _kept = helper_setup();
            work()
        });
        let mut mine = work();
        if let Ok(helper) = helper {
            match helper.join() {
                Ok(theirs) => mine.extend(theirs),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        mine
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}
