//! One line through a fixed set of jailor's own filters (date detection, prefregex,
//! failregex, multi-line buffers), as the daemon runs them.
#![no_main]

use std::sync::{Mutex, OnceLock};

use jailor_config::Loader;
use jailor_date::DateDetector;
use jailor_match::{Filter, FilterOptions, Pipeline, UseDns};
use libfuzzer_sys::fuzz_target;

const FILTERS: &[&str] = &[
    "sshd[mode=aggressive]",
    "apache-auth",
    "nginx-http-auth",
    "postfix[mode=aggressive]",
    "dovecot",
    "recidive",
];

fn pipelines() -> &'static Mutex<Vec<Pipeline>> {
    static P: OnceLock<Mutex<Vec<Pipeline>>> = OnceLock::new();
    P.get_or_init(|| {
        let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../config");
        let loader = Loader::new(conf);
        let mut out = Vec::new();
        for name in FILTERS {
            let spec = loader.load_filter(name, "auto").expect("embedded filter");
            let opts = FilterOptions {
                prefregex: spec.prefregex.clone(),
                failregex: spec.failregex.clone(),
                ignoreregex: spec.ignoreregex.clone(),
                maxlines: spec.maxlines().flatten().unwrap_or(1).max(1) as usize,
                usedns: UseDns::No,
                ..FilterOptions::default()
            };
            let filter = Filter::new(opts).expect("embedded filter compiles");
            let dd = DateDetector::new(spec.datepattern.as_deref()).expect("datepattern");
            out.push(Pipeline::new(filter, dd));
        }
        Mutex::new(out)
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 8192 {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let Ok(mut ps) = pipelines().lock() else {
        return;
    };
    for p in ps.iter_mut() {
        for line in text.split('\n') {
            let _ = p.process_line(line);
        }
        let _ = p.process_journal(&text, 1_700_000_000.0);
    }
});
