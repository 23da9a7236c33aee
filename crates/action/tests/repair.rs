//! fail2ban's failure handling: check, repair, retry once — observed through files.

mod common;

use common::*;
use jailor_action::{BanContext, CommandKind, ErrorKind, JailInfo, Outcome, Repair};

/// An action whose ban fails until `fixed` exists, with a check that looks for `fixed`.
fn broken(dir: &std::path::Path, extra: &[(&str, &str)]) -> jailor_action::Action {
    let log = path(dir, "log");
    let fixed = path(dir, "fixed");
    let mut props = vec![
        (
            "actionban".to_owned(),
            format!("echo ban <ip> >> {log}; test -f {fixed}"),
        ),
        (
            "actionunban".to_owned(),
            format!("echo unban <ip> >> {log}; test -f {fixed}"),
        ),
        (
            "actioncheck".to_owned(),
            format!("echo check >> {log}; test -f {fixed}"),
        ),
        ("actionstart".to_owned(), format!("echo start >> {log}")),
        ("actionstop".to_owned(), format!("echo stop >> {log}")),
    ];
    for (k, v) in extra {
        props.push((
            k.to_string(),
            v.replace("FIXED", &fixed).replace("LOG", &log),
        ));
    }
    let props: Vec<(&str, &str)> = props
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    action("broken", &props)
}

#[test]
fn failed_ban_failed_check_repair_then_retry_succeeds() {
    let dir = tempdir();
    let act = broken(
        dir.path(),
        &[("actionrepair", "echo repair >> LOG; touch FIXED")],
    );
    act.start().unwrap();
    assert_eq!(act.epoch(), 0);
    let jail = JailInfo::new("j");
    let outcome = act
        .ban(&ticket("192.0.2.1"), &BanContext::new(&jail))
        .unwrap();
    let Outcome::Recovered(rec) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(rec.repair, Repair::ActionRepair);
    assert_eq!(rec.failure.command, CommandKind::Ban);
    assert_eq!(rec.epoch, 1);
    assert_eq!(act.epoch(), 1);
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start\nban 192.0.2.1\ncheck\nrepair\ncheck\nban 192.0.2.1\n"
    );
    // Now healthy: the next ban runs once.
    let outcome = act
        .ban(&ticket("192.0.2.2"), &BanContext::new(&jail))
        .unwrap();
    assert!(matches!(outcome, Outcome::Done));
    assert!(read(dir.path().join("log").as_path()).ends_with("ban 192.0.2.1\nban 192.0.2.2\n"));
}

#[test]
fn without_actionrepair_stop_and_start_repair() {
    let dir = tempdir();
    let log = path(dir.path(), "log");
    let fixed = path(dir.path(), "fixed");
    let act = action(
        "stopstart",
        &[
            ("actionban", &format!("echo ban >> {log}; test -f {fixed}")),
            (
                "actioncheck",
                &format!("echo check >> {log}; test -f {fixed}"),
            ),
            (
                "actionstart",
                &format!("echo start >> {log}; touch {fixed}"),
            ),
            ("actionstop", &format!("echo stop >> {log}; rm -f {fixed}")),
        ],
    );
    // Not started yet: the first ban starts (creating `fixed`); remove it behind its back.
    act.start().unwrap();
    std::fs::remove_file(&fixed).unwrap();
    let outcome = act
        .ban(&ticket("192.0.2.1"), &BanContext::new(&JailInfo::new("j")))
        .unwrap();
    let Outcome::Recovered(rec) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(rec.repair, Repair::StopStart);
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start\nban\ncheck\nstop\nstart\ncheck\nban\n"
    );
}

#[test]
fn a_passing_check_means_no_repair_and_no_retry() {
    let dir = tempdir();
    let log = path(dir.path(), "log");
    let act = action(
        "failing",
        &[
            ("actionban", &format!("echo ban >> {log}; exit 4")),
            ("actioncheck", &format!("echo check >> {log}")),
            ("actionrepair", &format!("echo repair >> {log}")),
        ],
    );
    let err = act
        .ban(&ticket("192.0.2.1"), &BanContext::new(&JailInfo::new("j")))
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::CommandFailed { after: None, .. }),
        "{err}"
    );
    assert_eq!(
        err.failure().unwrap().output.status,
        jailor_action::RunStatus::Exited(4)
    );
    assert_eq!(read(dir.path().join("log").as_path()), "ban\ncheck\n");
    assert_eq!(act.epoch(), 0);
}

#[test]
fn a_retry_that_fails_again_is_reported_with_the_repair() {
    let dir = tempdir();
    let act = broken(
        dir.path(),
        &[
            (
                "actionrepair",
                "echo repair >> LOG; touch FIXED; rm -f FIXED.x",
            ),
            ("actionban", "echo ban >> LOG; exit 1"),
        ],
    );
    let err = act
        .ban(&ticket("192.0.2.1"), &BanContext::new(&JailInfo::new("j")))
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::CommandFailed {
                after: Some(Repair::ActionRepair),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start\nban\ncheck\nrepair\ncheck\nban\n"
    );
}

#[test]
fn a_failed_repair_stops_before_the_retry() {
    let dir = tempdir();
    let act = broken(
        dir.path(),
        &[("actionrepair", "echo repair >> LOG; exit 1")],
    );
    let err = act
        .ban(&ticket("192.0.2.1"), &BanContext::new(&JailInfo::new("j")))
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::RepairFailed(_)), "{err}");
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start\nban 192.0.2.1\ncheck\nrepair\n"
    );
}

#[test]
fn unban_does_not_repair_unless_allowed() {
    let dir = tempdir();
    let fixed = dir.path().join("fixed");
    let act = broken(
        dir.path(),
        &[("actionrepair", "echo repair >> LOG; touch FIXED")],
    );
    std::fs::write(&fixed, "").unwrap();
    let jail = JailInfo::new("j");
    act.ban(&ticket("192.0.2.1"), &BanContext::new(&jail))
        .unwrap();
    std::fs::remove_file(&fixed).unwrap();
    let err = act
        .unban(&ticket("192.0.2.1"), &BanContext::new(&jail))
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::UnbanImpossible(_)), "{err}");
    assert!(!read(dir.path().join("log").as_path()).contains("repair"));

    let dir = tempdir();
    let fixed = dir.path().join("fixed");
    let act = broken(
        dir.path(),
        &[
            ("actionrepair", "echo repair >> LOG; touch FIXED"),
            ("actionrepair_on_unban", "true"),
        ],
    );
    std::fs::write(&fixed, "").unwrap();
    act.ban(&ticket("192.0.2.1"), &BanContext::new(&jail))
        .unwrap();
    std::fs::remove_file(&fixed).unwrap();
    let outcome = act
        .unban(&ticket("192.0.2.1"), &BanContext::new(&jail))
        .unwrap();
    assert!(matches!(outcome, Outcome::Recovered(_)), "{outcome:?}");
}

#[test]
fn consistency_check_repairs() {
    let dir = tempdir();
    let act = broken(
        dir.path(),
        &[("actionrepair", "echo repair >> LOG; touch FIXED")],
    );
    act.start().unwrap();
    let outcome = act.check().unwrap();
    assert!(matches!(outcome, Outcome::Recovered(_)), "{outcome:?}");
    assert!(dir.path().join("fixed").exists());
    assert!(matches!(act.check().unwrap(), Outcome::Done));
}
