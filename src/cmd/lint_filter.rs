//! `jailor lint-filter FILTER...`: flags filter regexes an attacker could steer (see
//! `jailor_match::lint`). Also run by `jailor check`, whose jails' filters it reports as warnings.
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jailor_config::{FilterSpec, Loader};
use jailor_match::lint::{lint_regex, Finding};

/// Arguments of `jailor lint-filter`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The configuration folder whose `filter.d` holds the named filters (as for `check`).
    #[arg(short = 'c', long = "conf")]
    pub conf: Option<PathBuf>,
    /// Filters: names in the configuration's `filter.d` (`sshd`, `sshd[mode=ddos]`) or paths to
    /// filter files.
    #[arg(required = true)]
    pub filters: Vec<String>,
}

/// Lints every filter named; exits 1 when anything is found, 2 when a filter cannot be read.
pub fn run(conf: &Path, filters: &[String]) -> anyhow::Result<ExitCode> {
    let mut findings = 0usize;
    let mut accepted = 0usize;
    let mut unreadable = false;
    for f in filters {
        match lint_named(conf, f) {
            Ok((label, found, ok)) => {
                accepted += ok;
                for x in &found {
                    println!("{label}: {x}");
                }
                findings += found.len();
            }
            Err(e) => {
                println!("{f}: ERROR {e:#}");
                unreadable = true;
            }
        }
    }
    eprintln!(
        "{} filter(s), {findings} finding(s), {accepted} accepted in the filters' comments",
        filters.len()
    );
    Ok(if unreadable {
        ExitCode::from(2)
    } else if findings > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads one filter (a path or a name under `conf/filter.d`) and lints it in every mode it
/// defines; returns the label to print (the file), the findings, and how many findings the
/// filter's comments accept.
pub fn lint_named(conf: &Path, filter: &str) -> anyhow::Result<(String, Vec<Finding>, usize)> {
    let path = Path::new(filter);
    let (label, spec) = if path.is_file() {
        let spec = Loader::new(conf)
            .load_filter(filter, "auto")
            .with_context(|| format!("cannot read filter file {filter}"))?;
        (filter.to_owned(), spec)
    } else {
        let spec = Loader::new(conf)
            .load_filter(filter, "auto")
            .with_context(|| format!("cannot read filter {filter} in {}", conf.display()))?;
        let name = filter.split('[').next().unwrap_or(filter);
        let file = conf.join("filter.d").join(format!("{name}.conf"));
        (file.display().to_string(), spec)
    };
    let mut found = lint_spec(&spec);
    let mut seen: HashSet<String> = spec.failregex.iter().cloned().collect();
    if spec.args.is_empty() {
        // Every mode the filter defines (`mdre-<mode>`), each regex once.
        let loader = Loader::new(conf);
        for mode in spec.options.keys().filter_map(|k| k.strip_prefix("mdre-")) {
            let spec_arg = format!("{filter}[mode={mode}]");
            let Ok(m) = loader.load_filter(&spec_arg, "auto") else {
                continue;
            };
            let fresh: Vec<String> = m
                .failregex
                .iter()
                .filter(|r| seen.insert((*r).clone()))
                .cloned()
                .collect();
            let maxlines = maxlines(&m);
            for (i, r) in m.failregex.iter().enumerate() {
                if fresh.contains(r) {
                    found.extend(lint_regex(
                        &format!("failregex[mode={mode}]"),
                        i,
                        r,
                        maxlines,
                    ));
                }
            }
        }
    }
    let accepted = accepted_in(&label);
    let before = found.len();
    found.retain(|f| {
        let key = format!("{}#{}", f.option, f.index + 1);
        !accepted
            .iter()
            .any(|(rule, at)| rule == f.rule.name() && *at == key)
    });
    let ok = before - found.len();
    Ok((label, found, ok))
}

/// Findings a filter's author has looked at and accepted, each on a comment line of the
/// filter file (or its `.local`) of the form
/// `# jailor-lint: accept RULE OPTION#N: why it is safe`.
fn accepted_in(file: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let local = Path::new(file).with_extension("local");
    for path in [Path::new(file), local.as_path()] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("# jailor-lint: accept ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            if let (Some(rule), Some(at)) = (words.next(), words.next()) {
                out.push((rule.to_owned(), at.trim_end_matches(':').to_owned()));
            }
        }
    }
    out
}

/// Lints a filter as read (its prefregex and failregex).
pub fn lint_spec(spec: &FilterSpec) -> Vec<Finding> {
    jailor_match::lint::lint_filter(spec.prefregex.as_deref(), &spec.failregex, maxlines(spec))
}

fn maxlines(spec: &FilterSpec) -> usize {
    spec.maxlines().flatten().map_or(1, |n| n.max(1) as usize)
}
