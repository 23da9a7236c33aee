//! Date detection: the default templates on any line, and any `datepattern` on a fixed line.
#![no_main]

use std::sync::Mutex;
use std::sync::OnceLock;

use jailor_date::DateDetector;
use libfuzzer_sys::fuzz_target;

fn default_detector() -> &'static Mutex<DateDetector> {
    static D: OnceLock<Mutex<DateDetector>> = OnceLock::new();
    D.get_or_init(|| Mutex::new(DateDetector::new(None).expect("default templates")))
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 2048 {
        return;
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(mut d) = default_detector().lock() {
        if let Some(hit) = d.find(&text) {
            let _ = hit.epoch();
        }
    }
    // The first line as a datepattern, the rest as the log line.
    if let Some((pattern, line)) = text.split_once('\n') {
        if pattern.len() <= 120 {
            if let Ok(mut d) = DateDetector::new(Some(pattern)) {
                if let Some(hit) = d.find(line) {
                    let _ = hit.epoch();
                }
            }
        }
    }
});
