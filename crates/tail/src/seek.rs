//! Skipping the old part of a log at start: a binary search for the first recent line, as
//! fail2ban's `seekToTime` does in `head` mode.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Decides from a line's bytes whether it is recent enough to matter: `Some(true)` when its
/// time is at or after the threshold (typically now − `findtime`), `Some(false)` when older,
/// `None` when the line has no time. See [`TailerBuilder::head_seek`](crate::TailerBuilder::head_seek).
pub type Recency = Box<dyn FnMut(&[u8]) -> Option<bool> + Send>;

/// How many lines after a probe point may lack a time before the probe gives up (fail2ban
/// looks at 5).
const PROBE_LINES: usize = 5;

/// The offset of a line start at or before the first recent line, searching from `lo` (a
/// line start) to `size`. Stops narrowing once the range fits in half of `buf`, so at most
/// that many old bytes are read afterwards; the matcher ignores old lines anyway.
pub(crate) fn seek_recent(
    file: &File,
    mut lo: u64,
    size: u64,
    buf: &mut [u8],
    is_recent: &mut dyn FnMut(&[u8]) -> Option<bool>,
) -> io::Result<u64> {
    let mut hi = size;
    let window = (buf.len() / 2).max(1) as u64;
    while hi.saturating_sub(lo) > window {
        let mid = lo + (hi - lo) / 2;
        let n = read_some(file, buf, mid)?;
        let chunk = &buf[..n];
        // `mid` may fall inside a line: probe from the next line start.
        let Some(first_nl) = memchr::memchr(b'\n', chunk) else {
            break;
        };
        let mut p = first_nl + 1;
        let mut verdict = None;
        for _ in 0..PROBE_LINES {
            let Some(len) = memchr::memchr(b'\n', &chunk[p..]) else {
                break;
            };
            if let Some(recent) = is_recent(&chunk[p..p + len]) {
                verdict = Some((recent, mid + p as u64, mid + (p + len + 1) as u64));
                break;
            }
            p += len + 1;
        }
        match verdict {
            Some((true, start, _)) if start < hi => hi = start,
            Some((false, _, end)) if end < hi => lo = end,
            _ => break, // no time found, or nothing left to narrow
        }
    }
    Ok(lo)
}

fn read_some(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
