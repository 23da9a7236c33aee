//! Python → Rust regex translation and compilation (tags expanded first), then a search: any
//! pattern, any flags; errors are fine, panics and hangs are not.
#![no_main]

use jailor_match::{expand_tags, PyFlags, Regex, UseDns};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    if rest.len() > 300 {
        return;
    }
    let text = String::from_utf8_lossy(rest);
    // The pattern, then (after a NUL) a subject to search.
    let (pattern, subject) = text
        .split_once('\0')
        .unwrap_or((&text, "x from 192.0.2.1 port 22"));
    let flags = PyFlags::from_bits(u32::from(flags) << 1);
    let expanded = expand_tags(pattern, UseDns::Warn);
    let _ = jailor_match::translate::translate(&expanded, flags);
    if let Ok(re) = Regex::with_backtrack_limit(&expanded, flags, 10_000) {
        let mut caps = re.new_captures();
        let _ = re.captures(subject, &mut caps);
        let _ = re.is_match(pattern);
    }
});
