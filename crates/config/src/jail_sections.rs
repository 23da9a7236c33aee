//! The jail sections of `jail.conf` & co., read on two threads.
//!
//! Reading an enabled jail (its filter and action files, their interpolation) is most of a
//! configuration's reading, and the daemon's start waits for it: ten jails are ~7 M
//! instructions on one thread. Each section is read on its own (from the shared, read-only
//! [`Config`]), so two threads take the sections in turn and the results are put back in
//! file order: what comes out is what one thread would give.

use crate::config::Config;
use crate::jail::{JailError, JailResult};
use crate::Loader;

/// Reads every jail section of `cfg` but `INCLUDES` with `read` (`None`: a disabled jail,
/// left out; `Err`: a broken one, kept in its place), in file order. `read` runs on this
/// thread and on one helper (on this thread alone if the helper cannot be started).
pub(crate) fn read_in_order<F>(loader: &Loader, cfg: &Config, read: F) -> Vec<JailResult>
where
    F: Fn(&Loader, &Config, &str) -> crate::error::Result<Option<crate::JailSpec>> + Sync,
{
    let names: Vec<&str> = cfg
        .section_names()
        .filter(|name| *name != "INCLUDES")
        .collect();
    let helper = std::thread::Builder::new().name("config-jails".into());
    crate::two_threads::map_in_order(
        &names,
        helper,
        || (),
        |name| match read(loader, cfg, name) {
            Ok(Some(jail)) => Some(Ok(jail)),
            Ok(None) => None,
            Err(error) => Some(Err(JailError {
                jail: name.to_string(),
                error,
            })),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::error::{Error, ErrorKind};

    #[test]
    fn sections_read_on_two_threads_come_back_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("[INCLUDES]\nbefore =\n");
        for i in 0..40 {
            text.push_str(&format!("[j{i:02}]\nenabled = true\n"));
        }
        std::fs::write(dir.path().join("jail.conf"), text).unwrap();
        let loader = Loader::new(dir.path());
        let cfg = Config::read(dir.path(), "jail", &loader.statics()).unwrap();
        let threads = Mutex::new(HashSet::new());
        let got = read_in_order(&loader, &cfg, |_, _, name| {
            threads
                .lock()
                .unwrap()
                .insert(std::thread::current().name().map(str::to_owned));
            // Uneven costs, so the two threads take sections out of order.
            let n: usize = name[1..].parse().unwrap();
            if n == 0 {
                // The first section waits (a bounded time) for the helper to take one, so a
                // slow thread start on a loaded machine does not leave this thread alone.
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while threads.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            std::thread::sleep(Duration::from_micros(200 * (n % 4) as u64));
            match n % 5 {
                0 => Ok(None),
                1 => Err(Error::new(ErrorKind::Syntax, format!("broken {name}"))),
                _ => {
                    let mut jail = crate::JailSpec::default();
                    jail.name = name.to_owned();
                    Ok(Some(jail))
                }
            }
        });
        let seen: Vec<String> = got
            .iter()
            .map(|r| match r {
                Ok(j) => j.name.clone(),
                Err(e) => format!("{}!", e.jail),
            })
            .collect();
        let want: Vec<String> = (0..40)
            .filter(|n| n % 5 != 0)
            .map(|n| match n % 5 {
                1 => format!("j{n:02}!"),
                _ => format!("j{n:02}"),
            })
            .collect();
        assert_eq!(seen, want);
        assert!(got.iter().all(|r| match r {
            Err(e) => e.error.to_string().contains(&format!("broken {}", e.jail)),
            Ok(_) => true,
        }));
        // Both this thread and the helper read sections.
        assert_eq!(threads.lock().unwrap().len(), 2);
    }
}
