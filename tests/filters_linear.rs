//! Every pattern of every filter we ship (`config/filter.d`) runs on the linear-time engine:
//! the prefregex, each failregex and each ignoreregex, after tag expansion and translation,
//! for every value of every parameter the filter defines (`mode`, `logtype`, `logging`,
//! `type`...: each `<X-<param>>` or `<X_<param>/...>` reference) and with `<HOST>` both
//! with and without its DNS-name alternative (`usedns`).
//!
//! A filter that cannot do without the backtracking engine must say why in a comment
//! `# jailor: needs-backtracking: <reason>`; a filter carrying that marker while all its
//! patterns are linear fails too, so the marker never goes stale.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jailor_config::{extract_options, Loader};
use jailor_match::{Filter, FilterOptions, UseDns};

/// The comment a filter carries when some pattern of it needs backtracking.
const MARKER: &str = "# jailor: needs-backtracking:";

fn config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn filter_names(config: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(config.join("filter.d"))
        .expect("config/filter.d")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter_map(|n| n.strip_suffix(".conf").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The filter's text followed by the text of every file it includes (`before`/`after`,
/// recursively), so parameters defined in a shared file are found too.
fn texts(config: &Path, name: &str, seen: &mut BTreeSet<String>, out: &mut Vec<String>) {
    if !seen.insert(name.to_owned()) {
        return;
    }
    let path = config.join("filter.d").join(format!("{name}.conf"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let includes = regex::Regex::new(r"(?m)^(?:before|after)\s*=\s*(.*)$").unwrap();
    let mut more = Vec::new();
    for c in includes.captures_iter(&text) {
        for f in c[1].split_whitespace() {
            more.push(f.trim_end_matches(".conf").to_owned());
        }
    }
    out.push(text);
    for m in more {
        texts(config, &m, seen, out);
    }
}

/// Every parameter chosen through a nested tag (`<_fr-<type>>`, `<logtype_<logtype>/x>`)
/// with every value the files define for it (keys `_fr-1 =` or sections `[logtype_file]`).
fn parameters(config: &Path, name: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    texts(config, name, &mut BTreeSet::new(), &mut all);
    let text = all.join("\n");
    let nested = regex::Regex::new(r"<([\w-]+)<(\w+)>").unwrap();
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in nested.captures_iter(&text) {
        let (prefix, param) = (&c[1], &c[2]);
        let p = regex::escape(prefix);
        let values = regex::Regex::new(&format!(r"(?m)^(?:\[{p}(\w+)\]|{p}(\w+)\s*=)")).unwrap();
        let found: BTreeSet<String> = values
            .captures_iter(&text)
            .filter_map(|v| v.get(1).or_else(|| v.get(2)))
            .map(|m| m.as_str().to_owned())
            .collect();
        assert!(
            !found.is_empty(),
            "{name}: <{prefix}<{param}>> is used but no value of {param} is defined"
        );
        params.entry(param.to_owned()).or_default().extend(found);
    }
    params
}

/// Every assignment of the parameters' values (their cartesian product).
fn combinations(params: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (param, values) in params {
        out = out
            .into_iter()
            .flat_map(|base| {
                values.iter().map(move |v| {
                    let mut next = base.clone();
                    next.push((param.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    out
}

/// "role #i (spec, usedns): pattern" of every pattern that is not linear.
fn backtracking_patterns(config: &Path, name: &str) -> Vec<String> {
    let loader = Loader::new(config);
    let mut found = Vec::new();
    // Parameters that only change other options (datepattern...) give the same patterns.
    let mut checked = BTreeSet::new();
    for combo in combinations(&parameters(config, name)) {
        let spec_text = if combo.is_empty() {
            name.to_owned()
        } else {
            let args: Vec<String> = combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{name}[{}]", args.join(", "))
        };
        let (n, a) = extract_options(&spec_text).unwrap();
        let spec = loader
            .load_filter_with(&n, &a, "auto")
            .unwrap_or_else(|e| panic!("{spec_text}: {e}"));
        let maxlines = spec.maxlines().flatten().unwrap_or(1).max(1) as usize;
        let key = (
            spec.prefregex.clone(),
            spec.failregex.clone(),
            spec.ignoreregex.clone(),
            maxlines,
        );
        if !checked.insert(key) {
            continue;
        }
        for usedns in [UseDns::Warn, UseDns::No] {
            let f = Filter::new(FilterOptions {
                prefregex: spec.prefregex.clone(),
                failregex: spec.failregex.clone(),
                ignoreregex: spec.ignoreregex.clone(),
                maxlines,
                usedns,
                ..FilterOptions::default()
            })
            .unwrap_or_else(|e| panic!("{spec_text} (usedns {usedns:?}): {e}"));
            for (role, i, re) in f.regexes() {
                if !re.is_linear() {
                    found.push(format!(
                        "{role} #{i} ({spec_text}, usedns {usedns:?}): {}",
                        re.as_python()
                    ));
                }
            }
        }
    }
    found
}

/// Checks each named filter: (parameter combinations seen, problems found).
fn check_filters(config: &Path, names: &[&String]) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut builds = 0;
    for name in names {
        let text =
            std::fs::read_to_string(config.join("filter.d").join(format!("{name}.conf"))).unwrap();
        let reason = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(MARKER).map(|r| r.trim().to_owned()));
        builds += combinations(&parameters(config, name)).len();
        let bad = backtracking_patterns(config, name);
        match (&reason, bad.is_empty()) {
            (None, false) => problems.push(format!(
                "{name}: {} pattern(s) need backtracking and the filter has no \
                 `{MARKER} <reason>` comment:\n  {}",
                bad.len(),
                bad.join("\n  ")
            )),
            (Some(r), _) if r.is_empty() => {
                problems.push(format!("{name}: `{MARKER}` gives no reason"))
            }
            (Some(_), true) => problems.push(format!(
                "{name}: says it needs backtracking, but every pattern is linear"
            )),
            _ => {}
        }
    }
    (builds, problems)
}

/// [`check_filters`] over every filter of `config`, spread over the cores (compiling ~1000
/// filters takes a while in a debug build): (filters, combinations, problems).
fn check_config(config: &Path) -> (usize, usize, Vec<String>) {
    let names = filter_names(config);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    // Interleaved, so that the heavy families (apache-*, nginx-*) are shared out.
    let shares: Vec<Vec<&String>> = (0..threads)
        .map(|t| names.iter().skip(t).step_by(threads).collect())
        .collect();
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| s.spawn(move || check_filters(config, share)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let builds = results.iter().map(|r| r.0).sum();
    let mut problems: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    problems.sort();
    (names.len(), builds, problems)
}

#[test]
fn every_filter_pattern_is_linear_or_says_why_not() {
    let (filters, builds, problems) = check_config(&config());
    assert!(filters >= 100, "only {filters} filters");
    println!("{filters} filters, {builds} parameter combinations, each with usedns warn and no");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn parameter_values_are_found_in_filters_and_shared_files() {
    // sshd's modes are keys of its own file; logtype's values are sections of common.conf.
    let sshd = parameters(&config(), "sshd");
    let modes: Vec<&str> = sshd["mode"].iter().map(String::as_str).collect();
    assert_eq!(modes, ["aggressive", "ddos", "extra", "normal"]);
    let logtypes: Vec<&str> = sshd["logtype"].iter().map(String::as_str).collect();
    assert_eq!(logtypes, ["file", "journal", "rfc5424", "short"]);
    // apache-common.conf's `logging` reaches the apache filters that include it.
    let apache = parameters(&config(), "apache-auth");
    assert!(apache.contains_key("logging"), "{apache:?}");
    assert_eq!(combinations(&sshd).len(), 16);
}

#[test]
fn the_check_flags_a_missing_or_stale_marker() {
    // The check itself must be able to fail: a back-reference is not linear; a filter
    // using one passes only with the marker, and the marker on a linear filter fails.
    let dir = tempfile::tempdir().unwrap();
    let fd = dir.path().join("filter.d");
    std::fs::create_dir(&fd).unwrap();
    let backref = "[Definition]\nfailregex = ^(?P<w>\\w+) (?P=w) from <HOST>$\n";
    let linear = "[Definition]\nfailregex = ^Failed from <HOST>$\n";
    let files = [
        ("unmarked", backref.to_owned()),
        (
            "marked",
            format!("{MARKER} a word said twice needs a back-reference\n{backref}"),
        ),
        ("stale", format!("{MARKER} no longer true\n{linear}")),
        ("plain", linear.to_owned()),
    ];
    for (name, text) in &files {
        std::fs::write(fd.join(format!("{name}.conf")), text).unwrap();
    }
    let (filters, _, problems) = check_config(dir.path());
    assert_eq!(filters, 4);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("stale: says it needs backtracking"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("unmarked: 2 pattern(s) need backtracking"),
        "{problems:#?}"
    );
}
