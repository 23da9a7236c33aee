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

/// How much of the stack under the caller's frame [`release_unused_stack`] leaves alone (the
/// frames of the calls it returns into, and the red zone).
const STACK_KEEP_BELOW: usize = 8 * 1024;

/// Gives back the pages of the calling thread's stack below its current frame
/// (`MADV_DONTNEED`: they are free stack, and a later deeper call gets fresh zeroed pages).
/// Must not be called on the main thread (its stack bounds come from `/proc/self/maps`).
/// Returns the bytes of stack range released; a no-op elsewhere than Linux with glibc.
pub(crate) fn release_unused_stack() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let (mut low, mut size): (*mut libc::c_void, usize) = (std::ptr::null_mut(), 0);
        // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and destroyed
        // once; the pointers given are to live locals.
        let ok = unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return 0;
            }
            let got = libc::pthread_attr_getstack(&attr, &mut low, &mut size) == 0;
            libc::pthread_attr_destroy(&mut attr);
            got
        };
        let marker = 0u8;
        let here = std::hint::black_box(std::ptr::addr_of!(marker)) as usize;
        let (low, high) = (low as usize, low as usize + size);
        if !ok || here <= low || here >= high {
            return 0;
        }
        let page = 4096;
        let start = low.div_ceil(page) * page;
        let end = here.saturating_sub(STACK_KEEP_BELOW) & !(page - 1);
        if end <= start {
            return 0;
        }
        // SAFETY: [start, end) lies inside this thread's own stack, at least
        // STACK_KEEP_BELOW under the live frame: nothing live is there (the stack grows down,
        // and a signal frame is only pushed once this call returns to user space).
        // MADV_DONTNEED on private anonymous memory only drops the pages; the next use
        // gets zeroed ones.
        let done =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if done == 0 {
            end - start
        } else {
            0
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    0
}

/// Unmaps the start-up's code and constant pages from the process (`MADV_DONTNEED` on the
/// read-only file mappings: the executable's and the libraries' code and constants); a
/// no-op elsewhere. Returns the bytes of mappings released.
///
/// Start-up runs code that is not needed again (reading the configuration, building jails,
/// creating the database), and the kernel maps files in large blocks around each page
/// used, so after start nearly all of the binary's code and constants are in the resident
/// set. These pages are never written, so dropping the mapping loses nothing: a page used
/// later is mapped again from the page cache (a minor fault). What stays resident is what
/// the daemon really uses.
pub(crate) fn release_startup_code() -> usize {
    #[cfg(target_os = "linux")]
    {
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            return 0;
        };
        let mut released = 0;
        for (start, end) in read_only_file_mappings(&smaps) {
            // SAFETY: the range is a whole private file mapping that is read-only and holds
            // no page of its own (no copy-on-write page: `Anonymous: 0 kB`), so its pages are
            // the file's. MADV_DONTNEED only drops their page table entries; the next access
            // maps the same file pages again.
            let done = unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
            };
            if done == 0 {
                released += end - start;
            }
        }
        released
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// The `(start, end)` of each private file mapping in `/proc/self/smaps` text that is
/// read-only (`r-xp` or `r--p`) and has no anonymous (copy-on-write) page. Writable
/// mappings, relocated tables (written before being made read-only) and the kernel's own
/// (`[vdso]`) are never listed.
fn read_only_file_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        if let Some((a, b)) = first.split_once('-') {
            // A mapping's header: range, perms, offset, device, inode, path.
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                current = None;
                continue;
            };
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            current = (matches!(perms, "r-xp" | "r--p") && path.starts_with('/') && end > start)
                .then_some((start, end));
        } else if first == "Anonymous:" {
            let kib = fields.next().and_then(|v| v.parse::<u64>().ok());
            if let (Some(range), Some(0)) = (current.take(), kib) {
                out.push(range);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resident KiB of the mapping of /proc/self/smaps that holds `addr`.
    #[cfg(target_os = "linux")]
    fn mapping_rss_kib(addr: usize) -> Option<u64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    inside = a <= addr && addr < b;
                    continue;
                }
            }
            if inside {
                if let Some(v) = line.strip_prefix("Rss:") {
                    return v.trim().trim_end_matches("kB").trim().parse().ok();
                }
            }
        }
        None
    }

    /// Fills 192 KiB of stack and sums it.
    #[inline(never)]
    fn deep_sum(fill: u8) -> u64 {
        let mut big = [0u8; 192 * 1024];
        std::hint::black_box(&mut big).fill(fill);
        std::hint::black_box(&big)
            .iter()
            .map(|&b| u64::from(b))
            .sum()
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_threads_unused_stack_is_given_back_and_works_again() {
        let got = std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(|| {
                let marker = 0u8;
                let here = std::ptr::addr_of!(marker) as usize;
                assert_eq!(deep_sum(1), 192 * 1024);
                let before = mapping_rss_kib(here).unwrap();
                let released = release_unused_stack();
                let after = mapping_rss_kib(here).unwrap();
                // The stack used again gets zeroed pages and computes as before.
                let again = deep_sum(2);
                (before, released, after, again)
            })
            .unwrap()
            .join()
            .unwrap();
        let (before, released, after, again) = got;
        assert!(released >= 192 * 1024, "released {released} bytes");
        assert!(
            before >= after + 150,
            "stack RSS {before} KiB -> {after} KiB"
        );
        assert_eq!(again, 2 * 192 * 1024);
    }

    fn rss_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    #[test]
    fn only_read_only_file_mappings_without_own_pages_are_listed() {
        let smaps = "\
55d0a0000000-55d0a0100000 r--p 00000000 fe:00 12 /usr/sbin/jailor
Rss:                 100 kB
Anonymous:             0 kB
55d0a0100000-55d0a0900000 r-xp 00100000 fe:00 12 /usr/sbin/jailor
Anonymous:             0 kB
55d0a0900000-55d0a0a00000 r--p 00900000 fe:00 12 /usr/sbin/jailor
Anonymous:           320 kB
55d0a0a00000-55d0a0a10000 rw-p 00a00000 fe:00 12 /usr/sbin/jailor
Anonymous:            64 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:00 34 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Anonymous:            12 kB
7f0000400000-7f0000500000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
7f0000600000-7f0000700000 r--s 00000000 fe:00 77 /tmp/state.sqlite3-shm
Anonymous:             0 kB
";
        assert_eq!(
            read_only_file_mappings(smaps),
            [
                (0x55d0a0000000, 0x55d0a0100000),
                (0x55d0a0100000, 0x55d0a0900000),
                (0x7f0000000000, 0x7f0000100000)
            ]
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn released_code_runs_on() {
        fn rss_file_kib() -> Option<u64> {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            let line = status.lines().find(|l| l.starts_with("RssFile:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        }
        let before = rss_file_kib().unwrap();
        let released = release_startup_code();
        assert!(released > 0, "no code mapping found");
        let after = rss_file_kib().unwrap();
        assert!(
            after < before,
            "file-backed resident {before} KiB -> {after} KiB"
        );
        // Code runs on after its pages were dropped: they come back from the page cache.
        let text: String = (0..1000).map(|i| format!("{i},")).collect();
        assert_eq!(text.split(',').filter(|s| !s.is_empty()).count(), 1000);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_heap_under_a_live_block_leaves_the_resident_set() {
        // Small blocks (below the mmap threshold) live in the heap. A block allocated after
        // them (too big for a cached size) keeps the heap top in place: freeing them returns nothing.
        // `black_box`: in a release build the optimiser would otherwise drop blocks never read.
        let blocks: Vec<Vec<u8>> = (0..40_000).map(|i| vec![i as u8; 1000]).collect();
        let blocks = std::hint::black_box(blocks);
        let pin = std::hint::black_box(vec![7u8; 5000]);
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
