//! Bad configurations: each gets one sentence naming the file and the line, never a panic.

use std::fs;
use std::path::Path;
use std::process::Command;

use jailor_config::{Error, ErrorKind, Loader};

/// Writes `files` (relative path, content) under a new temp folder.
fn config(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    fs::write(
        dir.path().join("fail2ban.conf"),
        "[Definition]\nloglevel = INFO\n",
    )
    .unwrap();
    fs::write(dir.path().join("x.log"), "").unwrap();
    dir
}

const FILTER: (&str, &str) = ("filter.d/f.conf", "[Definition]\nfailregex = ^x <HOST>$\n");

/// The error for the only jail, or the whole-configuration error.
fn jail_error(dir: &Path) -> Error {
    match Loader::new(dir).read_all() {
        Err(e) => e,
        Ok(cfg) => cfg
            .jails
            .into_iter()
            .find_map(|j| j.err())
            .map(|e| e.error)
            .unwrap_or_else(|| panic!("no error reported")),
    }
}

fn assert_at(e: &Error, kind: ErrorKind, file: &str, line: usize) {
    assert_eq!(e.kind(), kind, "{e}");
    let f = e.file().unwrap_or_else(|| panic!("no file in: {e}"));
    assert!(f.ends_with(file), "{e}");
    assert_eq!(e.line(), Some(line), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(file) && text.contains(&format!("line {line}")),
        "{text}"
    );
}

fn jail(extra: &str) -> String {
    format!("[j]\nenabled = true\nfilter = f\nlogpath = %(fail2ban_confpath)s/x.log\n{extra}")
}

#[test]
fn missing_configuration_names_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let e = Loader::new(dir.path()).read_all().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingFile);
    assert!(
        e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
}

#[test]
fn duplicate_option_in_one_file() {
    let d = config(&[
        ("jail.conf", "[j]\nenabled = true\n\nEnabled = false\n"),
        FILTER,
    ]);
    assert_at(
        &jail_error(d.path()),
        ErrorKind::DuplicateOption,
        "jail.conf",
        4,
    );
}

#[test]
fn duplicates_across_files_are_fine() {
    let d = config(&[
        ("jail.conf", &jail("")),
        ("jail.local", "[j]\nenabled = true\n"),
        FILTER,
    ]);
    assert!(Loader::new(d.path()).read_all().unwrap().jails[0].is_ok());
}

#[test]
fn include_of_a_folder() {
    let d = config(&[
        (
            "jail.conf",
            &format!("[INCLUDES]\nbefore = filter.d\n{}", jail("")),
        ),
        FILTER,
    ]);
    assert_at(&jail_error(d.path()), ErrorKind::Include, "jail.conf", 2);
}

#[test]
fn include_cycle_is_skipped_with_a_warning_naming_the_line() {
    // fail2ban reads such a configuration, skipping the loop; so does jailor, and says so.
    let d = config(&[
        (
            "jail.conf",
            &format!("[INCLUDES]\nbefore = a.conf\n{}", jail("")),
        ),
        (
            "a.conf",
            "[INCLUDES]\n\nafter = b.conf\n[DEFAULT]\nfindtime = 1h\n",
        ),
        ("b.conf", "[INCLUDES]\nbefore = a.conf\n"),
        FILTER,
    ]);
    let cfg = Loader::new(d.path()).read_all().unwrap();
    assert_eq!(
        cfg.jails[0].as_ref().unwrap().option("findtime"),
        Some("1h")
    );
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    let w = &cfg.warnings[0];
    assert!(
        w.contains("b.conf, line 2") && w.contains("include loop"),
        "{w}"
    );
}

#[test]
fn missing_include_is_skipped_like_fail2ban() {
    let d = config(&[
        (
            "jail.conf",
            &format!("[INCLUDES]\nafter = nowhere.local\n{}", jail("")),
        ),
        FILTER,
    ]);
    assert!(Loader::new(d.path()).read_all().unwrap().jails[0].is_ok());
}

#[test]
fn interpolation_loop() {
    let d = config(&[
        (
            "jail.conf",
            &jail("maxretry = %(a)s\na = %(b)s\nb = %(maxretry)s\n"),
        ),
        FILTER,
    ]);
    assert_at(
        &jail_error(d.path()),
        ErrorKind::InterpolationDepth,
        "jail.conf",
        5,
    );
}

#[test]
fn interpolation_missing_key() {
    let d = config(&[("jail.conf", &jail("\nbantime = %(nope)s\n")), FILTER]);
    let e = jail_error(d.path());
    assert_at(&e, ErrorKind::InterpolationMissing, "jail.conf", 6);
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn interpolation_syntax() {
    let d = config(&[("jail.conf", &jail("bantime = 5%\n")), FILTER]);
    assert_at(
        &jail_error(d.path()),
        ErrorKind::InterpolationSyntax,
        "jail.conf",
        5,
    );
}

#[test]
fn unknown_filter() {
    let d = config(&[("jail.conf", "[j]\nenabled = true\n\nfilter = nosuch[a=1]\n")]);
    let e = jail_error(d.path());
    assert_at(&e, ErrorKind::UnknownFilter, "jail.conf", 4);
    assert!(e.to_string().contains("nosuch"), "{e}");
}

#[test]
fn unknown_action() {
    let d = config(&[("jail.conf", &jail("action = nosuchact\n")), FILTER]);
    assert_at(
        &jail_error(d.path()),
        ErrorKind::UnknownAction,
        "jail.conf",
        5,
    );
}

#[test]
fn malformed_argument_list() {
    let d = config(&[("jail.conf", &jail("action = f[a=\"1\" b=2]\n")), FILTER]);
    assert_at(
        &jail_error(d.path()),
        ErrorKind::BadArguments,
        "jail.conf",
        5,
    );
    let d = config(&[
        ("jail.conf", "[j]\nenabled = true\nfilter = f[mode\n"),
        FILTER,
    ]);
    assert_at(
        &jail_error(d.path()),
        ErrorKind::BadArguments,
        "jail.conf",
        3,
    );
}

#[test]
fn bad_time_value_is_a_problem_with_line() {
    let d = config(&[("jail.conf", &jail("findtime = 10 parsecs\n")), FILTER]);
    let cfg = Loader::new(d.path()).read_all().unwrap();
    let j = cfg.jails[0].as_ref().unwrap();
    let problems = j.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_at(&problems[0], ErrorKind::BadTime, "jail.conf", 5);
    assert_eq!(problems[0].section(), Some("j"));
}

#[test]
fn invalid_utf8() {
    let d = config(&[FILTER]);
    fs::write(
        d.path().join("jail.conf"),
        b"[j]\nenabled = true\nport = \xff\n",
    )
    .unwrap();
    assert_at(
        &jail_error(d.path()),
        ErrorKind::InvalidUtf8,
        "jail.conf",
        3,
    );
}

#[test]
fn syntax_error_in_a_filter() {
    let d = config(&[
        ("jail.conf", &jail("")),
        ("filter.d/f.conf", "[Definition]\nfailregex = ^x\njunk\n"),
    ]);
    assert_at(&jail_error(d.path()), ErrorKind::Syntax, "f.conf", 3);
}

#[test]
fn tag_loop_in_an_action() {
    let d = config(&[
        ("jail.conf", &jail("action = a\n")),
        (
            "action.d/a.conf",
            "[Definition]\nactionban = <x>\nx = <y>\ny = <x>\n",
        ),
        FILTER,
    ]);
    let e = jail_error(d.path());
    assert_eq!(e.kind(), ErrorKind::TagRecursion, "{e}");
    assert!(e.file().unwrap().ends_with("a.conf"), "{e}");
}

#[test]
fn duplicate_action_names_are_a_problem_not_a_read_error() {
    // fail2ban's client sends both; its server refuses the second: `check` reports it.
    let d = config(&[
        ("jail.conf", &jail("action = a\n         a\n")),
        ("action.d/a.conf", "[Definition]\nactionban = x\n"),
        FILTER,
    ]);
    let cfg = Loader::new(d.path()).read_all().unwrap();
    let j = cfg.jails[0].as_ref().unwrap();
    assert_eq!(j.actions.len(), 2);
    let problems = j.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_at(&problems[0], ErrorKind::DuplicateAction, "jail.conf", 5);
}

#[test]
fn a_broken_jail_does_not_hide_the_others() {
    let d = config(&[
        (
            "jail.conf",
            &format!("{}[k]\nenabled = true\nfilter = nosuch\n", jail("")),
        ),
        FILTER,
    ]);
    let cfg = Loader::new(d.path()).read_all().unwrap();
    assert!(cfg.jails[0].is_ok());
    assert!(cfg.jails[1].is_err());
    let stream = cfg.stream();
    let last: Vec<String> = stream.iter().map(jailor_config::command_repr).collect();
    // The message holds both quote kinds, so Python's repr escapes the single ones.
    let expected = "['config-error', 'Jail \\'k\\' skipped, because of wrong configuration: ";
    assert!(last.iter().any(|l| l.starts_with(expected)), "{last:?}");
    assert_eq!(last.last().map(String::as_str), Some("['start', 'j']"));
}

#[test]
fn check_exits_non_zero_and_names_the_line() {
    let d = config(&[
        (
            "jail.conf",
            &format!(
                "{}bantime = 1x\n[k]\nenabled = true\nfilter = nosuch\n",
                jail("")
            ),
        ),
        FILTER,
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(["check", "-c"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("j: ERROR") && lines[0].contains("line 5"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("k: ERROR") && lines[1].contains("nosuch"),
        "{text}"
    );
}
