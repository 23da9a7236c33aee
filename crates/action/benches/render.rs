//! What jailor adds to each ban before the process starts: static substitution (once per
//! action) and dynamic rendering (per ban), plus the cost of one real `true` run by the
//! shell: in the runner's co-process and with `/bin/sh -c`.
//!
//! Run with `cargo bench -p jailor-action`; prints one line per measurement.

use std::hint::black_box;
use std::time::Instant;

use jailor_action::{
    Action, ActionRunner, ActionSpec, BanContext, CommandKind, Family, HostNames, JailInfo,
    RunnerOptions, Ticket,
};

fn spec() -> ActionSpec {
    ActionSpec::new(
        "iptables-multiport",
        [
            (
                "actionban",
                "<iptables> -I f2b-<name> 1 -s <ip> -j <blocktype>; printf %s \"<matches>\" | true",
            ),
            (
                "actionunban",
                "<iptables> -D f2b-<name> -s <ip> -j <blocktype>",
            ),
            ("actionstart", "<iptables> -N f2b-<name>"),
            ("name", "sshd"),
            ("blocktype", "REJECT --reject-with icmp-port-unreachable"),
            (
                "blocktype?family=inet6",
                "REJECT --reject-with icmp6-port-unreachable",
            ),
            ("lockingopt", "-w"),
            ("iptables", "iptables <lockingopt>"),
            ("iptables?family=inet6", "ip6tables <lockingopt>"),
        ],
    )
}

fn per_iter(label: &str, n: u32, mut f: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    let each = start.elapsed() / n;
    println!("{label:<40} {each:>12.2?} per iteration ({n} iterations)");
}

fn main() {
    let mut o = RunnerOptions::default();
    o.hostnames = HostNames::new("bench");
    let runner = ActionRunner::new(o);
    let spec = spec();
    per_iter("Action::new (static substitution)", 20_000, || {
        black_box(Action::new(black_box(&spec), &runner).ok());
    });

    let action = Action::new(&spec, &runner).expect("valid action");
    black_box(action.command(CommandKind::Ban, Family::Inet4));
    // The runner's shell is `true` with the script as its argument: measures jailor's side
    // of a ban (render, spawn, wait) without a firewall.
    let mut o = RunnerOptions::default();
    o.hostnames = HostNames::new("bench");
    let sh_runner = ActionRunner::new(o);
    let sh_action = Action::new(
        &ActionSpec::new("true", [("actionban", "true <ip> \"<matches>\"")]),
        &sh_runner,
    )
    .expect("valid action");
    let jail = JailInfo::new("sshd");
    let mut ticket = Ticket::new("192.0.2.1".parse().expect("address"), 1.7e9);
    ticket.matches = vec!["Failed password for root from 192.0.2.1 port 22 ssh2".into(); 5];
    per_iter("ban via a shell co-process (fork + wait)", 300, || {
        black_box(sh_action.ban(&ticket, &BanContext::new(&jail)).ok());
    });

    let mut o = RunnerOptions::default();
    o.hostnames = HostNames::new("bench");
    o.coprocess = false;
    let exec_runner = ActionRunner::new(o);
    let exec_action = Action::new(
        &ActionSpec::new("true", [("actionban", "true <ip> \"<matches>\"")]),
        &exec_runner,
    )
    .expect("valid action");
    per_iter("ban via /bin/sh -c (spawn + wait)", 300, || {
        black_box(exec_action.ban(&ticket, &BanContext::new(&jail)).ok());
    });
}
