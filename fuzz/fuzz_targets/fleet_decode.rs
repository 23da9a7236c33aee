//! The fleet event decoder: the bytes a peer (or anyone who can write to the broker) puts in
//! a NATS message or a Redis stream field. A decoded event must be valid, survive its own
//! encoding unchanged, name only subject-safe tokens, and go through the receiver policy and
//! the bantime cap without panicking.
#![no_main]

use jailor_fleet::{EngineKind, FleetConfig, FleetEvent, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ev) = FleetEvent::decode(data) else {
        return;
    };
    assert!(ev.validate().is_ok(), "decode let an invalid event through");
    let again = FleetEvent::decode(&ev.encode()).expect("an accepted event re-decodes");
    assert_eq!(again, ev, "encode/decode changed the event");
    let subject = ev.subject();
    assert!(
        !subject.contains(|c: char| c.is_whitespace() || c == '*' || c == '>'),
        "subject with a wildcard or blank: {subject:?}"
    );
    assert_eq!(
        subject.split('.').count(),
        5,
        "subject token count: {subject:?}"
    );
    assert!(!ev.key().contains('\n'));
    let mut cfg = FleetConfig::new(EngineKind::Nats, Vec::new(), "here");
    cfg.max_bantime_ms = Some(3_600_000);
    let mut policy = Policy::new(&cfg);
    let _ = policy.check(&ev);
    for now in [0, i64::MIN, i64::MAX, ev.ts_ms] {
        let capped = policy.capped_exp(ev.exp_ms, now);
        assert!(capped.is_some());
        let _ = ev.in_force(now);
    }
});
