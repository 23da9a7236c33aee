//! Per-family on-demand start, flush and stop; identical commands once; norestored.

mod common;

use common::*;
use jailor_action::{BanContext, Family, JailInfo, Outcome, Skip};

fn nft_like(log: &str, on_demand: Option<&str>) -> jailor_action::Action {
    let mut props = vec![
        (
            "actionstart",
            format!("echo start <family> <addr_set> >> {log}"),
        ),
        ("actionstop", format!("echo stop <addr_set> >> {log}")),
        ("actionflush", format!("echo flush <addr_set> >> {log}")),
        ("actionban", format!("echo ban <ip> <addr_set> >> {log}")),
        (
            "actionunban",
            format!("echo unban <ip> <addr_set> >> {log}"),
        ),
        ("actioncheck", "true".to_owned()),
        ("name", "sshd".to_owned()),
        ("addr_set", "addr-set-<name>".to_owned()),
        ("addr_set?family=inet6", "addr6-set-<name>".to_owned()),
    ];
    if let Some(v) = on_demand {
        props.push(("actionstart_on_demand", v.to_owned()));
    }
    let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
    action("nft", &props)
}

#[test]
fn conditional_actions_start_each_family_at_its_first_ban() {
    let dir = tempdir();
    let log = path(dir.path(), "log");
    let act = nft_like(&log, None);
    assert!(act.starts_on_demand());
    assert!(matches!(
        act.start().unwrap(),
        Outcome::Skipped(Skip::OnDemand)
    ));
    assert_eq!(read(dir.path().join("log").as_path()), "");

    let jail = JailInfo::new("sshd");
    let ctx = BanContext::new(&jail);
    // An unban before any ban of its family runs nothing.
    assert!(matches!(
        act.unban(&ticket("192.0.2.1"), &ctx).unwrap(),
        Outcome::Skipped(Skip::NoItems)
    ));
    act.ban(&ticket("192.0.2.1"), &ctx).unwrap();
    act.ban(&ticket("192.0.2.2"), &ctx).unwrap();
    act.ban(&ticket("2001:db8::1"), &ctx).unwrap();
    assert_eq!(act.started(), vec![Family::Inet4, Family::Inet6]);
    act.unban(&ticket("2001:db8::1"), &ctx).unwrap();
    act.flush().unwrap();
    act.stop().unwrap();
    assert!(act.started().is_empty());
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start inet4 addr-set-sshd\n\
         ban 192.0.2.1 addr-set-sshd\n\
         ban 192.0.2.2 addr-set-sshd\n\
         start inet6 addr6-set-sshd\n\
         ban 2001:db8::1 addr6-set-sshd\n\
         unban 2001:db8::1 addr6-set-sshd\n\
         flush addr-set-sshd\n\
         flush addr6-set-sshd\n\
         stop addr-set-sshd\n\
         stop addr6-set-sshd\n"
    );
}

#[test]
fn start_at_jail_start_runs_each_distinct_command_once() {
    let dir = tempdir();
    let log = path(dir.path(), "log");
    // The same command for both families (no family-dependent tag in it): run once.
    let act = action(
        "same",
        &[
            ("actionstart", &format!("echo start >> {log}")),
            ("actionstop", &format!("echo stop >> {log}")),
            ("actionban", &format!("echo ban <ip> <x> >> {log}")),
            ("x", "four"),
            ("x?family=inet6", "six"),
            ("actionstart_on_demand", "false"),
        ],
    );
    act.start().unwrap();
    assert_eq!(act.started(), vec![Family::Inet4, Family::Inet6]);
    let jail = JailInfo::new("j");
    act.ban(&ticket("2001:db8::2"), &BanContext::new(&jail))
        .unwrap();
    act.stop().unwrap();
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start\nban 2001:db8::2 six\nstop\n"
    );

    // Different commands per family: both run.
    let dir = tempdir();
    let log = path(dir.path(), "log");
    let act = nft_like(&log, Some("false"));
    act.start().unwrap();
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start inet4 addr-set-sshd\nstart inet6 addr6-set-sshd\n"
    );
}

#[test]
fn plain_actions_start_once_for_no_family() {
    let dir = tempdir();
    let log = path(dir.path(), "log");
    let act = action(
        "plain",
        &[
            ("actionstart", &format!("echo \"start[<family>]\" >> {log}")),
            ("actionban", &format!("echo ban <ip> <family> >> {log}")),
            ("actionunban", &format!("echo unban <ip> >> {log}")),
        ],
    );
    assert!(!act.starts_on_demand());
    act.start().unwrap();
    assert_eq!(act.started(), vec![Family::Any]);
    let jail = JailInfo::new("j");
    let ctx = BanContext::new(&jail);
    act.ban(&ticket("192.0.2.1"), &ctx).unwrap();
    act.ban(&ticket("2001:db8::1"), &ctx).unwrap();
    // No actionflush: the caller unbans each ticket.
    assert!(matches!(
        act.flush().unwrap(),
        Outcome::Skipped(Skip::NotDefined)
    ));
    act.unban(&ticket("192.0.2.1"), &ctx).unwrap();
    assert_eq!(
        read(dir.path().join("log").as_path()),
        "start[]\nban 192.0.2.1 inet4\nban 2001:db8::1 inet6\nunban 192.0.2.1\n"
    );
}

#[test]
fn norestored_skips_restored_tickets_only() {
    let dir = tempdir();
    let log = path(dir.path(), "log");
    let act = action(
        "mail",
        &[
            ("actionban", &format!("echo mail <ip> >> {log}")),
            ("norestored", "1"),
        ],
    );
    assert!(act.norestored());
    let jail = JailInfo::new("j");
    let mut restored = ticket("192.0.2.1");
    restored.restored = true;
    assert!(matches!(
        act.ban(&restored, &BanContext::new(&jail)).unwrap(),
        Outcome::Skipped(Skip::Restored)
    ));
    act.ban(&ticket("192.0.2.2"), &BanContext::new(&jail))
        .unwrap();
    assert_eq!(read(dir.path().join("log").as_path()), "mail 192.0.2.2\n");
}

#[test]
fn a_bad_flag_is_refused() {
    let spec = jailor_action::ActionSpec::new("x", [("norestored", "maybe")]);
    let err = jailor_action::Action::new(&spec, &runner()).unwrap_err();
    assert!(err.to_string().contains("norestored"), "{err}");
}

#[test]
fn a_self_referencing_command_is_refused() {
    let spec = jailor_action::ActionSpec::new(
        "loop",
        [("actionban", "echo <a>"), ("a", "<b>"), ("b", "<a>")],
    );
    let err = jailor_action::Action::new(&spec, &runner()).unwrap_err();
    assert!(
        matches!(err.kind(), jailor_action::ErrorKind::SelfReference(_)),
        "{err}"
    );
}
