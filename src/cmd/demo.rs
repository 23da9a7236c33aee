//! `jailor demo`: jailor's main job, without touching the firewall.
//!
//! Runs one jail of the configuration (by default `sshd` of the embedded default) over a log —
//! a sample sshd log written here, stamped "now", or a file given on the command line — with the
//! jail's own filter, date detection, `findtime`, `maxretry` and `ignoreip`, and prints the bans
//! the daemon would make, in the daemon's log format. Nothing is executed and no rule is added,
//! so it runs as any user on a fresh machine.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use jailor_config::Loader;
use jailor_daemon::JailSettings;
use jailor_date::DateDetector;
use jailor_match::{Failure, FailureId, Filter, Pipeline};
use jailor_policy::{Added, FailureWindow, Id, IgnoreList, NoResolver, WindowConfig};

/// What the demo found.
struct Summary {
    lines: u64,
    failures: u64,
    ignored: u64,
    bans: u64,
}

/// Runs the demo over `log` (or the built-in sample) with `jail` from the folder `conf`.
pub fn run(
    conf: &Path,
    described: &str,
    jail: &str,
    log: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let loader = Loader::new(conf);
    let spec = loader
        .read_jails()
        .with_context(|| format!("cannot read the jails of {described}"))?
        .into_iter()
        .filter_map(Result::ok)
        .find(|j| j.name == jail);
    let Some(spec) = spec else {
        bail!("no enabled jail named {jail:?} in {described} (see `jailor check`)");
    };
    let settings =
        JailSettings::from_spec(&spec, None).map_err(|e| anyhow::anyhow!("jail {jail}: {e}"))?;
    let filter =
        Filter::new(settings.filter.clone()).map_err(|e| anyhow::anyhow!("jail {jail}: {e}"))?;
    let detector = DateDetector::new(settings.datepattern.as_deref())
        .map_err(|e| anyhow::anyhow!("jail {jail}: datepattern: {e}"))?;
    let mut pipeline = Pipeline::new(filter, detector);
    let mut window = FailureWindow::new(WindowConfig {
        findtime: settings.findtime,
        maxretry: settings.maxretry,
        maxmatches: settings.maxmatches,
        max_tracked: settings.max_tracked,
    });
    let ignore = IgnoreList::parse(&settings.ignoreip, &NoResolver);

    println!(
        "jailor demo: jail {jail} of {described}: maxretry {}, findtime {} s, bantime {} s",
        settings.maxretry, settings.findtime, settings.bantime
    );
    let mut summary = Summary {
        lines: 0,
        failures: 0,
        ignored: 0,
        bans: 0,
    };
    let mut on_line = |line: &str| {
        summary.lines += 1;
        let processed = pipeline.process_line(line);
        for failure in processed.failures.iter().filter(|f| !f.nofail) {
            handle_failure(
                jail,
                failure,
                &ignore,
                &mut window,
                settings.bantime,
                &mut summary,
            );
        }
    };
    match &log {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            println!("reading {}", path.display());
            for line in BufReader::new(file).split(b'\n') {
                let line = line.with_context(|| format!("cannot read {}", path.display()))?;
                on_line(String::from_utf8_lossy(&line).trim_end_matches('\r'));
            }
        }
        None => {
            println!("reading a built-in sample sshd log (pass a LOG file to read your own)");
            for line in sample_log(now()).lines() {
                on_line(line);
            }
        }
    }
    println!(
        "{} lines, {} failures counted, {} ignored, {} bans (no firewall rule was touched)",
        summary.lines, summary.failures, summary.ignored, summary.bans
    );
    Ok(ExitCode::SUCCESS)
}

fn handle_failure(
    jail: &str,
    failure: &Failure,
    ignore: &IgnoreList,
    window: &mut FailureWindow,
    bantime: i64,
    summary: &mut Summary,
) {
    let id = match &failure.id {
        FailureId::Addr(ip) => Id::ip(*ip),
        FailureId::Net(n) => Id::Net(*n),
        FailureId::Raw(r) => Id::parse(r),
    };
    if ignore.check(&id).is_some() {
        summary.ignored += 1;
        println!("INFO     [{jail}] Ignore {id} by ignoreip");
        return;
    }
    summary.failures += 1;
    let time = if failure.time.is_finite() {
        failure.time as i64
    } else {
        now()
    };
    println!(
        "INFO     [{jail}] Found {id} - {}",
        jailor_daemon::logging::local_time(time)
    );
    let lines: Vec<&str> = failure.matches.iter().map(String::as_str).collect();
    if let Added::Ban(ticket) = window.add(&id, time, &lines, 1) {
        summary.bans += 1;
        let until = if bantime < 0 {
            "permanently".to_string()
        } else {
            format!("for {bantime} s")
        };
        println!(
            "NOTICE   [{jail}] Ban {} ({} failures) {until}",
            ticket.id, ticket.failures
        );
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A short sshd log in the syslog format, ending at `end`: two attackers who reach `maxretry`
/// (one of them over IPv6), one who stays below it, ordinary logins, and a user name that tries
/// to frame an innocent address.
fn sample_log(end: i64) -> String {
    let events: &[(&str, &str)] = &[
        (
            "4101",
            "Accepted publickey for alice from 198.51.100.10 port 50522 ssh2: ED25519 SHA256:k3p0",
        ),
        (
            "4102",
            "Failed password for root from 203.0.113.7 port 40001 ssh2",
        ),
        ("4103", "Invalid user admin from 203.0.113.7 port 40002"),
        (
            "4103",
            "Failed password for invalid user admin from 203.0.113.7 port 40002 ssh2",
        ),
        (
            "4104",
            "Failed password for invalid user 192.0.2.66 from 203.0.113.80 port 40100 ssh2",
        ),
        (
            "4105",
            "Failed password for root from 2001:db8:bad::9 port 51000 ssh2",
        ),
        (
            "4106",
            "Failed password for root from 203.0.113.7 port 40003 ssh2",
        ),
        (
            "4107",
            "Failed password for ubuntu from 2001:db8:bad::9 port 51001 ssh2",
        ),
        (
            "4108",
            "Failed password for root from 203.0.113.7 port 40004 ssh2",
        ),
        (
            "4109",
            "Accepted password for bob from 198.51.100.11 port 50600 ssh2",
        ),
        (
            "4110",
            "Failed password for pi from 2001:db8:bad::9 port 51002 ssh2",
        ),
        (
            "4111",
            "Failed password for root from 203.0.113.7 port 40005 ssh2",
        ),
        (
            "4112",
            "Failed password for oracle from 2001:db8:bad::9 port 51003 ssh2",
        ),
        (
            "4113",
            "Failed password for test from 2001:db8:bad::9 port 51004 ssh2",
        ),
        (
            "4114",
            "Failed password for invalid user 192.0.2.66 from 203.0.113.80 port 40101 ssh2",
        ),
    ];
    let start = end - 2 * events.len() as i64;
    let mut out = String::new();
    for (i, (pid, msg)) in events.iter().enumerate() {
        let t = start + 2 * i as i64;
        let stamp = jiff::Timestamp::from_second(t)
            .map(|ts| {
                ts.to_zoned_datetime(jiff::tz::TimeZone::system())
                    .strftime("%b %e %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        let _ = writeln!(out, "{stamp} demo sshd[{pid}]: {msg}");
    }
    out
}
