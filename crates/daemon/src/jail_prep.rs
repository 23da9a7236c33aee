//! What a jail's start computes from its configuration alone: its settings, the check of its
//! filter's regexes and its date detector. A start of several jails computes these on two
//! threads before the jails start one by one, in order: they are most of a jail's start
//! (~0.45 M instructions each, 10 jails ~4 M), and they neither log nor touch shared state,
//! so the jails start, log and fail exactly as if each had computed them itself.

use std::sync::Arc;

use jailor_config::JailSpec;
use jailor_date::DateDetector;

use crate::lazy_filter::CheckBatch;
use crate::settings::JailSettings;

/// A jail's settings (`Err`: the jail is skipped with this message), and with them its
/// reader's date detector once its filter checked (`Err`: skipped too, after the settings'
/// warnings were logged).
pub(crate) type Prepared = Result<(Arc<JailSettings>, Result<DateDetector, String>), String>;

/// Prepares one jail on this thread.
pub(crate) fn prepare(spec: &JailSpec, max_tracked: Option<&str>) -> Prepared {
    let settings = Arc::new(JailSettings::from_spec(spec, max_tracked)?);
    let reading = crate::reader::prepare(&settings);
    Ok((settings, reading))
}

/// Prepares every jail of `jails` (a spec and its `maxtrackedaddresses`), on this thread and
/// on one helper (this thread alone for a single jail, or if the helper cannot start); the
/// results are in `jails`' order. The helper remembers the regexes it checked in its own
/// [`CheckBatch`]; this thread uses the caller's.
pub(crate) fn prepare_all(jails: &[(&JailSpec, Option<&str>)]) -> Vec<Prepared> {
    if jails.len() < 2 {
        return jails.iter().map(|(s, m)| prepare(s, *m)).collect();
    }
    let helper = std::thread::Builder::new()
        .name("jail-prepare".into())
        .stack_size(crate::memory::THREAD_STACK);
    jailor_config::two_threads::map_in_order(jails, helper, CheckBatch::begin, |(spec, m)| {
        Some(prepare(spec, *m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A jail's prepared state as text: its name and what failed, if anything.
    fn outcome(p: &Prepared) -> String {
        match p {
            Ok((s, Ok(_))) => format!("{} ready", s.name),
            Ok((s, Err(e))) => format!("{} check: {e}", s.name),
            Err(e) => format!("settings: {e}"),
        }
    }

    #[test]
    fn jails_prepared_on_two_threads_come_back_in_order_with_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir(base.join("filter.d")).unwrap();
        std::fs::write(
            base.join("filter.d/good.conf"),
            "[Definition]\nfailregex = ^Failed login from <HOST>$\n",
        )
        .unwrap();
        std::fs::write(
            base.join("filter.d/broken.conf"),
            "[Definition]\nfailregex = ^Failed (login from <HOST>$\n",
        )
        .unwrap();
        let mut jail = String::from("[DEFAULT]\nenabled = true\nlogpath = /dev/null\n");
        for i in 0..12 {
            let (filter, extra) = match i % 4 {
                1 => ("broken", ""),
                2 => ("good", "datepattern = ^(unclosed\n"),
                3 => ("good", "maxretry = many\n"),
                _ => ("good", ""),
            };
            jail.push_str(&format!("[j{i:02}]\nfilter = {filter}\n{extra}"));
        }
        std::fs::write(base.join("jail.conf"), jail).unwrap();
        std::fs::write(base.join("fail2ban.conf"), "[Definition]\n").unwrap();
        let specs: Vec<JailSpec> = jailor_config::Loader::new(base)
            .read_jails()
            .unwrap()
            .into_iter()
            .map(|j| j.unwrap())
            .collect();
        assert_eq!(specs.len(), 12);
        let pairs: Vec<_> = specs.iter().map(|s| (s, None)).collect();
        let together: Vec<String> = prepare_all(&pairs).iter().map(outcome).collect();
        let alone: Vec<String> = specs.iter().map(|s| outcome(&prepare(s, None))).collect();
        assert_eq!(together, alone);
        for (i, got) in together.iter().enumerate() {
            let want = match i % 4 {
                1 => format!("j{i:02} check: "),
                2 => format!("j{i:02} check: datepattern"),
                3 => "settings: maxretry".to_string(),
                _ => format!("j{i:02} ready"),
            };
            assert!(got.starts_with(&want), "{got:?} for {want:?}");
        }
    }
}
