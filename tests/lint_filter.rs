//! `jailor lint-filter`: one bad filter per rule is flagged (and only for that rule), every
//! embedded filter passes in every mode, fail2ban's own filters are reported (count printed).
use std::path::Path;
use std::process::Command;

fn lint(conf: &Path, filters: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .arg("lint-filter")
        .arg("-c")
        .arg(conf)
        .args(filters)
        .output()
        .expect("run jailor");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

/// One bad filter per rule, with the rule name it must be flagged for.
const BAD: &[(&str, &str, &str)] = &[
    (
        "unanchored",
        "unanchored",
        r"Authentication failure for \S+ from <HOST> port \d+$",
    ),
    (
        "greedy",
        "wildcard-before-host",
        r"^Authentication failure for .* from <HOST>",
    ),
    (
        "userfield",
        "wildcard-before-host",
        r"^Invalid user <F-USER>.+</F-USER> from <HOST> port \d+ .*$",
    ),
    (
        "adjacent",
        "wildcard-before-host",
        r"^client sent a bad request.*<HOST>$",
    ),
    (
        "mailaddr",
        "host-in-user-text",
        r"^reject: RCPT from \S+: 550 sender <\S+@<HOST>>$",
    ),
    (
        "url",
        "host-in-user-text",
        r#"^"GET https?://<HOST>/\S* HTTP/1\.[01]" 404$"#,
    ),
    (
        // A back-reference: no linear engine can run it (a literal look-ahead can, rewritten).
        "backref",
        "not-linear",
        r"^(\S+) login failed for \1 from <HOST>$",
    ),
];

#[test]
fn each_bad_filter_is_flagged_for_its_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("filter.d")).unwrap();
    for (name, _, re) in BAD {
        std::fs::write(
            dir.path().join("filter.d").join(format!("{name}.conf")),
            format!("[Definition]\nfailregex = {re}\n"),
        )
        .unwrap();
    }
    for (name, rule, _) in BAD {
        let (code, out) = lint(dir.path(), &[name]);
        assert_eq!(code, 1, "{name}: {out}");
        let rules: Vec<&str> = out.lines().filter_map(|l| l.split(": ").nth(2)).collect();
        assert_eq!(rules, [*rule], "{name}: {out}");
        assert!(
            out.contains(&format!("{name}.conf: failregex#1: {rule}: ")),
            "{out}"
        );
    }
    // A path to a filter file works too, and a good filter is silent.
    let good = dir.path().join("good.conf");
    std::fs::write(
        &good,
        "[Definition]\nfailregex = ^Authentication failure for <F-USER>.*</F-USER> from <HOST> port \\d+$\n",
    )
    .unwrap();
    let (code, out) = lint(dir.path(), &[good.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn every_embedded_filter_passes_in_every_mode() {
    let conf = jailor_testkit::project_root().join("config");
    let mut names: Vec<String> = std::fs::read_dir(conf.join("filter.d"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let stem = p.file_stem()?.to_str()?.to_owned();
            // common.conf and the *-common.conf files hold definitions only.
            (p.extension()? == "conf" && stem != "common" && !stem.ends_with("-common"))
                .then_some(stem)
        })
        .collect();
    names.sort();
    assert!(names.len() > 100, "{names:?}");
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, out) = lint(&conf, &args);
    assert_eq!(code, 0, "findings in embedded filters:\n{out}");
    assert_eq!(out, "");
}

#[test]
fn fail2bans_filters_are_reported() {
    let Some(corpus) = jailor_testkit::require_corpus("fail2bans_filters_are_reported") else {
        return;
    };
    let conf = corpus.join("config");
    let mut names: Vec<String> = std::fs::read_dir(conf.join("filter.d"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let stem = p.file_stem()?.to_str()?.to_owned();
            (p.extension()? == "conf" && stem != "common" && !stem.ends_with("-common"))
                .then_some(stem)
        })
        .collect();
    names.sort();
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, out) = lint(&conf, &args);
    assert!(code == 0 || code == 1, "{code}: {out}");
    let findings = out.lines().count();
    let filters: std::collections::BTreeSet<&str> =
        out.lines().filter_map(|l| l.split(": ").next()).collect();
    let mut by_rule = std::collections::BTreeMap::<&str, usize>::new();
    for l in out.lines() {
        *by_rule
            .entry(l.split(": ").nth(2).unwrap_or("?"))
            .or_default() += 1;
    }
    eprintln!(
        "fail2ban's filter.d: {} filters, {findings} findings in {} of them: {by_rule:?}",
        names.len(),
        filters.len()
    );
    // Every line is a finding in the documented shape.
    assert!(out.lines().all(|l| l.split(": ").count() >= 4), "{out}");
}
