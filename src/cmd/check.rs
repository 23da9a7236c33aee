//! `jailor check`: validates the configuration and prints one line per enabled jail.
use std::path::Path;
use std::process::ExitCode;

use jailor_config::{parse_time, Loader};

/// Checks the configuration under `conf`; exits non-zero when anything is wrong.
pub fn run(conf: &Path) -> anyhow::Result<ExitCode> {
    let loader = Loader::new(conf);
    let mut failed = false;
    match loader.read_server() {
        Ok(server) => {
            if let Err(e) = parse_time(&server.dbpurgeage) {
                println!("fail2ban.conf: ERROR dbpurgeage: {e}");
                failed = true;
            }
        }
        Err(e) => {
            println!("fail2ban.conf: ERROR {e}");
            failed = true;
        }
    }
    let jails = match loader.read_jails() {
        Ok(j) => j,
        Err(e) => {
            println!("jails: ERROR {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for j in &jails {
        match j {
            Ok(jail) => {
                let problems = jail.problems();
                if problems.is_empty() {
                    let files: usize = jail.logpaths.iter().map(|l| l.files.len()).sum();
                    println!(
                        "{}: OK (filter {}, {} failregex, {} action(s), backend {}, {} log file(s))",
                        jail.name,
                        jail.filter.as_ref().map_or("none", |f| f.name.as_str()),
                        jail.filter.as_ref().map_or(0, |f| f.failregex.len()),
                        jail.actions.len(),
                        jail.backend,
                        files
                    );
                    // The filter linter's findings are warnings (on stderr): they do not fail
                    // the check.
                    if let Some(filter) = &jail.filter {
                        for f in crate::cmd::lint_filter::lint_spec(filter) {
                            eprintln!("{}: WARNING filter {}: {f}", jail.name, filter.name);
                        }
                    }
                } else {
                    failed = true;
                    let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                    println!("{}: ERROR {}", jail.name, msgs.join("; "));
                }
            }
            Err(e) => {
                failed = true;
                println!("{}: ERROR {}", e.jail, e.error);
            }
        }
    }
    if jails.is_empty() {
        println!("no jail is enabled");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
