//! Property tests: the parser, interpolation, tag substitution, argument lists and time values
//! never panic, whatever the input (bounded case counts so this runs in seconds).

use std::fs;

use jailor_config::{
    extract_options, parse_time, python_str_repr, split_with_options, Config, Loader, Vars,
};
use proptest::prelude::*;

/// Text made mostly of the characters that matter to the dialect.
fn config_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[DEFAULT]".to_string()),
        Just("[j]".to_string()),
        Just("[Init]".to_string()),
        Just("[Definition]".to_string()),
        Just("[INCLUDES]".to_string()),
        Just("enabled = true".to_string()),
        Just("filter = f".to_string()),
        Just("before = jail.conf".to_string()),
        "[a-z_]{1,6} ?[=:] ?[ -~]{0,30}",
        "[ \t]{1,3}[ -~]{0,30}",
        "[%()<>\\[\\]=;#a-z/ ,\"']{0,30}",
        "[a-z]{1,4} = %\\([a-z/_]{1,8}\\)s[a-z<>]{0,6}",
        "[a-z]{1,4} = <[a-z<>\\-]{1,10}>",
    ];
    prop::collection::vec(line, 0..25).prop_map(|v| v.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn reading_any_configuration_never_panics(jail in config_text(), filter in config_text(), action in config_text()) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("fail2ban.conf"), &jail).unwrap();
        fs::write(dir.path().join("jail.conf"), format!("{jail}\n[j]\nenabled = true\nfilter = f\naction = a[x=1]\n")).unwrap();
        fs::create_dir_all(dir.path().join("filter.d")).unwrap();
        fs::create_dir_all(dir.path().join("action.d")).unwrap();
        fs::write(dir.path().join("filter.d/f.conf"), &filter).unwrap();
        fs::write(dir.path().join("action.d/a.conf"), &action).unwrap();
        if let Ok(cfg) = Loader::new(dir.path()).read_all() {
            let _ = cfg.stream();
            for j in cfg.jails.iter().flatten() {
                let _ = j.problems();
            }
        }
        if let Ok(c) = Config::read(dir.path(), "jail", &Vars::default()) {
            let names: Vec<String> = c.section_names().map(str::to_string).collect();
            for s in names {
                for o in c.option_names(&s) {
                    let _ = c.get(&s, &o, &Vars::default());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn argument_lists_never_panic(s in "[a-z\\[\\]=,\"' \n?.\\-]{0,40}") {
        let _ = extract_options(&s);
        for entry in split_with_options(&s) {
            prop_assert!(!entry.trim().is_empty());
            let _ = extract_options(&entry);
        }
    }

    #[test]
    fn time_values_never_panic(s in "[0-9a-zA-Z+\\-*/(). ]{0,30}") {
        if let Ok(v) = parse_time(&s) {
            prop_assert!(v.is_finite());
        }
    }

    #[test]
    fn repr_round_trips_quotes(s in "\\PC{0,20}") {
        let r = python_str_repr(&s);
        prop_assert!(r.len() >= 2);
        prop_assert!(r.starts_with('\'') || r.starts_with('"'));
    }
}
