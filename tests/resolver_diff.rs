//! The capture resolver (`crates/match/src/resolve.rs`, which finds a known match's group
//! spans with DFA searches instead of the bounded backtracker) against the backtracker:
//! every failregex of every filter of fail2ban's `filter.d` and of ours (default mode and
//! `mode=aggressive`), on every line of the services' sample logs (fail2ban's and ours) and
//! on variants of each line made to mislead it (doubled spaces, IPv6, v4-mapped and DNS
//! hosts, a second `from <address>`, spaces and ` from ` inside the user name, a cut tail).
//! Whenever the resolver answers, every group's span must be the backtracker's; it must
//! answer most searches (else it would only cost time).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jailor_config::Loader;
use jailor_date::DateDetector;
use jailor_match::{Filter, FilterOptions, Regex, RegexRole, UseDns};

fn names(config: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(config.join("filter.d"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter_map(|n| n.strip_suffix(".conf").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The log files of `logs` for filter `name` (same name, or one a prefix of the other).
fn logs_for(logs: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(logs) else {
        return out;
    };
    for e in dir.filter_map(|e| e.ok()) {
        let file = e.file_name().to_string_lossy().into_owned();
        let stem = file.split('.').next().unwrap_or_default().to_owned();
        if e.path().is_file() && (stem.starts_with(name) || name.starts_with(&stem)) {
            out.push(e.path());
        }
    }
    out.sort();
    out
}

/// The line and variants of it that steer a resolver's piece choices elsewhere.
fn variants(line: &str) -> Vec<String> {
    let v4 = regex::Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}\b").unwrap();
    let mut out = vec![line.to_owned(), line.replace(' ', "  ")];
    for host in [
        "::ffff:1.2.3.4",
        "2001:db8::1",
        "host-1.example.com",
        "1.2.3.4.5",
        "[::1]",
    ] {
        out.push(v4.replacen(line, 1, host).into_owned());
    }
    out.push(format!("{line} from 9.8.7.6 port 22"));
    out.push(format!("{line} [preauth]"));
    for (from, to) in [
        ("user ", "user a from 5.6.7.8 "),
        ("user ", "user a b "),
        ("for ", "for x y from 5.6.7.8 "),
        (" from ", " from  "),
        ("=", "= "),
    ] {
        if line.contains(from) {
            out.push(line.replacen(from, to, 1));
        }
    }
    if let Some((head, _)) = line.rsplit_once(' ') {
        out.push(head.to_owned());
    }
    out
}

/// Variants with addresses at the edges of `<HOST>`'s expansion (its scan,
/// `crates/match/src/host_scan.rs`): checked for agreement only, as the resolver is
/// expected to hand many of them back (a chain that cannot complete after the address).
fn host_variants(line: &str) -> Vec<String> {
    let v4 = regex::Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}\b").unwrap();
    [
        "1.2.3.4:22",
        "1.2.3.4567",
        "::ffff:1.2.3",
        "::fffff:1.2.3.4",
        "fe80::1%eth0",
        "1:2:3:4:5:6:7:8:9",
        "a::b::c",
        "[1.2.3.4]",
        "[2001:db8::1]:22",
        "[host.example.com]",
        "123host.example.com",
        "host.example.com.",
        "host-",
    ]
    .iter()
    .map(|host| v4.replacen(line, 1, *host).into_owned())
    .collect()
}

#[derive(Default)]
struct Tally {
    answered: usize,
    declined: usize,
    bad: Vec<String>,
}

/// `counted`: the answers count towards the share the resolver must answer.
fn check(re: &Regex, hay: &str, what: &str, counted: bool, t: &mut Tally) {
    match re.resolver_diff(hay) {
        Ok(_) if !counted => {}
        Ok((a, d)) => {
            t.answered += a;
            t.declined += d;
        }
        Err(e) => {
            if t.bad.len() < 20 {
                t.bad
                    .push(format!("{what}: {:?} on {hay:?}: {e}", re.as_python()));
            }
        }
    }
}

fn run_filter(
    loader: &Loader,
    spec_name: &str,
    lines: &BTreeSet<String>,
    t: &mut Tally,
) -> Option<()> {
    let spec = loader.load_filter(spec_name, "auto").ok()?;
    if spec.failregex.is_empty() {
        return None;
    }
    let opts = FilterOptions {
        prefregex: spec.prefregex.clone(),
        failregex: spec.failregex.clone(),
        ignoreregex: spec.ignoreregex.clone(),
        usedns: UseDns::Warn,
        ..FilterOptions::default()
    };
    let filter = Filter::new(opts).ok()?;
    let mut dd = DateDetector::new(spec.datepattern.as_deref()).ok()?;
    let pref = filter
        .regexes()
        .find(|(r, _, _)| *r == RegexRole::Prefregex)
        .map(|(_, _, re)| re);
    let fails: Vec<&Regex> = filter
        .regexes()
        .filter(|(r, _, _)| *r == RegexRole::Failregex)
        .map(|(_, _, re)| re)
        .collect();
    for line in lines {
        let usual = variants(line);
        let counted = usual.len();
        for (k, v) in usual.into_iter().chain(host_variants(line)).enumerate() {
            let text = match dd.find(&v) {
                Some(hit) => format!("{}{}", &v[..hit.span.start], &v[hit.span.end..]),
                None => v.clone(),
            };
            let mut hays = vec![format!("{text}\n"), format!("{v}\n")];
            if let Some(p) = pref {
                let mut c = p.new_captures();
                if p.captures(&hays[0], &mut c).unwrap_or(false) {
                    if let Some((a, b)) = p.group_index("content").and_then(|i| c.get(i)) {
                        hays.push(format!("{}\n", &hays[0][a..b]));
                    }
                }
            }
            for hay in &hays {
                for re in &fails {
                    check(re, hay, spec_name, k < counted, t);
                }
            }
        }
    }
    Some(())
}

fn read_lines(files: &[PathBuf]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        for l in String::from_utf8_lossy(&bytes).lines() {
            if !l.starts_with('#') && !l.trim().is_empty() {
                out.insert(l.to_owned());
            }
        }
    }
    out
}

#[test]
fn resolver_gives_the_backtrackers_groups_on_every_filter_and_sample() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut suites = vec![(root.join("config"), root.join("tests/samples"))];
    if let Some(c) = jailor_testkit::require_corpus("resolver_diff") {
        suites.push((c.join("config"), c.join("logs")));
    }
    let all_logs: Vec<PathBuf> = suites.iter().map(|(_, l)| l.clone()).collect();
    let mut t = Tally::default();
    let mut filters = 0;
    for (config, _) in &suites {
        let loader = Loader::new(config);
        for name in names(config) {
            let files: Vec<PathBuf> = all_logs.iter().flat_map(|l| logs_for(l, &name)).collect();
            let lines = read_lines(&files);
            if lines.is_empty() {
                continue;
            }
            for spec in [name.clone(), format!("{name}[mode=aggressive]")] {
                if run_filter(&loader, &spec, &lines, &mut t).is_some() {
                    filters += 1;
                }
            }
        }
    }
    println!(
        "{filters} filters: the resolver answered {} searches (all as the backtracker), handed {} back",
        t.answered, t.declined
    );
    assert!(t.bad.is_empty(), "disagreements:\n{}", t.bad.join("\n"));
    assert!(filters >= 20, "{filters}");
    assert!(
        t.answered > 3 * t.declined.max(100),
        "answered {} declined {}",
        t.answered,
        t.declined
    );
}
