//! fail2ban's INI dialect with includes and `%(name)s` interpolation: the input is split at
//! the first NUL into `jail.conf` and a filter file, both read as the daemon reads them.
//! Nothing may panic, loop or blow up (interpolation depth is bounded).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("jailor-fuzz-ini-{}", std::process::id()));
        std::fs::create_dir_all(d.join("filter.d")).expect("temporary folder");
        std::fs::create_dir_all(d.join("action.d")).expect("temporary folder");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let (jail, filter) = text
        .split_once('\0')
        .unwrap_or((&text, "[Definition]\nfailregex = ^x <HOST>$\n"));
    let d = dir();
    let jail = format!(
        "[DEFAULT]\nbanaction = \n{jail}\n[fz]\nenabled = true\nfilter = f\nlogpath = /dev/null\n"
    );
    if std::fs::write(d.join("jail.conf"), jail).is_err()
        || std::fs::write(d.join("filter.d/f.conf"), filter).is_err()
    {
        return;
    }
    let loader = jailor_config::Loader::new(d);
    if let Ok(cfg) = loader.read_all() {
        let _ = cfg.stream();
    }
    let _ = loader.load_filter("f[a=%(b)s, b=<a>]", "auto");
});
