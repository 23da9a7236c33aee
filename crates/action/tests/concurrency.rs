//! The runner bounds concurrent action processes; a slow action does not hold up others
//! beyond that bound.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use jailor_action::{
    Action, ActionRunner, ActionSpec, BanContext, HostNames, JailInfo, RunnerOptions,
};

fn bounded(max: usize) -> ActionRunner {
    let mut o = RunnerOptions::default();
    o.max_concurrent = max;
    o.hostnames = HostNames::new("h");
    ActionRunner::new(o)
}

#[test]
fn never_more_processes_than_the_bound() {
    let runner = bounded(2);
    let dir = tempdir();
    let log = path(dir.path(), "log");
    let actions: Vec<Arc<Action>> = (0..4)
        .map(|i| {
            let spec = ActionSpec::new(
                &format!("a{i}"),
                [("actionban", format!("echo $$ >> {log}; sleep 0.3"))],
            );
            Arc::new(Action::new(&spec, &runner).unwrap())
        })
        .collect();
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (runner, peak, done) = (runner.clone(), peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(runner.running(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = Instant::now();
    let workers: Vec<_> = actions
        .iter()
        .map(|a| {
            let a = Arc::clone(a);
            std::thread::spawn(move || {
                let jail = JailInfo::new("j");
                a.ban(&ticket("192.0.2.1"), &BanContext::new(&jail))
                    .unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    // Four 0.3 s commands two at a time take at least 0.6 s.
    assert!(took >= Duration::from_millis(580), "{took:?}");
    assert_eq!(peak.load(Ordering::Relaxed), 2);
    assert_eq!(read(dir.path().join("log").as_path()).lines().count(), 4);
    assert_eq!(runner.running(), 0);
}

#[test]
fn a_slow_action_does_not_block_a_fast_one() {
    let runner = bounded(2);
    let slow = Arc::new(
        Action::new(
            &ActionSpec::new("slow", [("actionban", "sleep 3"), ("timeout", "10")]),
            &runner,
        )
        .unwrap(),
    );
    let fast = Action::new(&ActionSpec::new("fast", [("actionban", "true")]), &runner).unwrap();
    let handle = {
        let slow = Arc::clone(&slow);
        std::thread::spawn(move || {
            let jail = JailInfo::new("j");
            slow.ban(&ticket("192.0.2.1"), &BanContext::new(&jail))
                .unwrap();
        })
    };
    // Wait until the slow command holds its slot.
    let wait_start = Instant::now();
    while runner.running() == 0 && wait_start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let jail = JailInfo::new("j");
    fast.ban(&ticket("192.0.2.2"), &BanContext::new(&jail))
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    handle.join().unwrap();
}

#[test]
fn bans_of_one_action_run_side_by_side_but_a_stop_waits_for_them() {
    let runner = bounded(4);
    let dir = tempdir();
    let d = dir.path().display().to_string();
    // Each ban marks its address, then waits (up to 60 s) until the other's mark is there:
    // run one after the other, the first would give up.
    let ban = format!(
        "touch {d}/<ip>; i=0; while [ $(ls {d} | grep -c '^192') -lt 2 ] && [ $i -lt 600 ]; \
         do sleep 0.1; i=$((i+1)); done; [ $i -lt 600 ] && echo met-<ip> >> {d}/log"
    );
    let spec = ActionSpec::new(
        "pair",
        [
            ("actionban", ban),
            ("actionstop", format!("echo stop >> {d}/log")),
            ("timeout", "90".to_owned()),
        ],
    );
    let action = Arc::new(Action::new(&spec, &runner).unwrap());
    let bans: Vec<_> = ["192.0.2.1", "192.0.2.2"]
        .into_iter()
        .map(|ip| {
            let a = Arc::clone(&action);
            std::thread::spawn(move || {
                let jail = JailInfo::new("j");
                a.ban(&ticket(ip), &BanContext::new(&jail)).unwrap();
            })
        })
        .collect();
    // Once both bans run, a stop asked for must wait until they ended.
    let wait_start = Instant::now();
    while runner.running() < 2 && wait_start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopper = {
        let a = Arc::clone(&action);
        std::thread::spawn(move || a.stop().unwrap())
    };
    for b in bans {
        b.join().unwrap();
    }
    stopper.join().unwrap();
    let log = read(dir.path().join("log").as_path());
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[..2].contains(&"met-192.0.2.1"), "{log}");
    assert!(lines[..2].contains(&"met-192.0.2.2"), "{log}");
    assert_eq!(lines[2], "stop", "{log}");
}

#[test]
fn a_command_waiting_at_the_bound_is_counted() {
    let runner = bounded(1);
    let slow = Arc::new(
        Action::new(
            &ActionSpec::new("slow", [("actionban", "sleep 2")]),
            &runner,
        )
        .unwrap(),
    );
    let fast = Action::new(&ActionSpec::new("fast", [("actionban", "true")]), &runner).unwrap();
    let jail = JailInfo::new("j");
    fast.ban(&ticket("192.0.2.1"), &BanContext::new(&jail))
        .unwrap();
    assert_eq!(runner.waits(), 0, "a free slot is not a wait");
    let holder = {
        let slow = Arc::clone(&slow);
        std::thread::spawn(move || {
            let jail = JailInfo::new("j");
            slow.ban(&ticket("192.0.2.2"), &BanContext::new(&jail))
                .unwrap();
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while runner.running() == 0 {
        assert!(Instant::now() < deadline, "the slow command never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    fast.ban(&ticket("192.0.2.3"), &BanContext::new(&jail))
        .unwrap();
    holder.join().unwrap();
    assert_eq!(runner.waits(), 1);
}
