//! A hanging command is killed at the action's timeout, with everything it started.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jailor_action::{BanContext, ErrorKind, JailInfo, RunStatus};

#[test]
fn a_hanging_ban_is_killed_with_its_process_group() {
    let dir = tempdir();
    let pidfile = path(dir.path(), "pid");
    // The shell records its pid (= its process group), starts a background sleeper that
    // ignores SIGTERM, then hangs itself.
    let ban = format!("echo $$ > {pidfile}\n(trap '' TERM; sleep 30) &\nsleep 30");
    let act = action("hang", &[("actionban", &ban), ("timeout", "1")]);
    let started = Instant::now();
    let err = act
        .ban(&ticket("192.0.2.5"), &BanContext::new(&JailInfo::new("j")))
        .unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    match err.kind() {
        ErrorKind::CommandFailed { failure, after } => {
            assert!(matches!(failure.output.status, RunStatus::TimedOut(_)));
            assert!(after.is_none());
        }
        other => panic!("{other:?}"),
    }
    let pgid: u32 = read(dir.path().join("pid").as_path())
        .trim()
        .parse()
        .unwrap();
    // SIGKILL is delivered asynchronously: a killed process can still show as running for a
    // moment on a loaded machine, so give the kernel a few seconds before calling it a leak.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = processes_in_group(pgid);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = processes_in_group(pgid);
    }
    assert!(left.is_empty(), "processes left in group {pgid}: {left:?}");
}

#[test]
fn time_values_are_accepted_as_timeout() {
    let act = action("t", &[("actionban", "true"), ("timeout", "1m 30s")]);
    assert_eq!(act.timeout(), Duration::from_secs(90));
    let act = action("t", &[("actionban", "true")]);
    assert_eq!(act.timeout(), Duration::from_secs(60));
}

#[test]
fn a_bad_timeout_is_refused_up_front() {
    for bad in ["0", "-1", "soon", "$(id)"] {
        let spec = jailor_action::ActionSpec::new("t", [("actionban", "true"), ("timeout", bad)]);
        let err = jailor_action::Action::new(&spec, &runner()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidProperty { name, .. } if name == "timeout"),
            "{bad}: {err}"
        );
        assert_eq!(err.action(), Some("t"));
    }
}
