//! Giving freed heap memory back to the system.
//!
//! Compiling a jail's regexes allocates several times what the compiled filter keeps, and a
//! flood of distinct addresses leaves a large window behind once it is cleaned up. glibc keeps
//! such freed memory in its heap rather than returning it, so the daemon's resident size would
//! stay at its peak. The daemon asks for it back at the few moments it knows a lot was freed.

/// The stack of a reader thread (it compiles and runs regexes; the backtracking engine keeps
/// its own stack on the heap) and of an action worker (tag substitution, commands).
pub(crate) const THREAD_STACK: usize = 512 * 1024;
/// The stack of the keeper (SQLite) and of small helper threads.
pub(crate) const SMALL_STACK: usize = 256 * 1024;

/// Sets glibc's allocator up for a long-running daemon with a few busy threads: at most two
/// arenas (each thread otherwise gets its own, and each keeps its free memory), and a fixed
/// mmap threshold, so large blocks (a flood's tables) go back to the system when freed instead
/// of the threshold growing until they stay in the heap. A no-op elsewhere.
pub(crate) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets the allocator's parameters; called once at start, before
    // the daemon's threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Returns free heap memory to the system (glibc's `malloc_trim`); a no-op elsewhere.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only walks the allocator's own free lists under its locks; it
    // takes no pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_heap_under_a_live_block_leaves_the_resident_set() {
        // Small blocks (below the mmap threshold) live in the heap. A block allocated after
        // them (too big for a cached size) keeps the heap top in place: freeing them returns nothing.
        let blocks: Vec<Vec<u8>> = (0..40_000).map(|i| vec![i as u8; 1000]).collect();
        let pin = vec![7u8; 5000];
        drop(blocks);
        let freed = rss_kib().unwrap();
        release_free_memory();
        let trimmed = rss_kib().unwrap();
        assert_eq!(pin[4999], 7);
        assert!(
            trimmed + 20_000 < freed,
            "resident {freed} KiB -> {trimmed} KiB after trimming 40 MB of free heap"
        );
    }
}
