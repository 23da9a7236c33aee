//! Every dynamic tag fail2ban offers, observed through what a real command prints.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use common::*;
use jailor_action::{
    Action, ActionRunner, ActionSpec, Address, BanContext, BanHistory, HostNames, JailInfo,
    Resolver, RunnerOptions,
};

struct History;

impl BanHistory for History {
    fn matches(&self, address: &Address, jail: Option<&str>) -> Vec<String> {
        vec![
            format!("{address} in {}", jail.unwrap_or("all")),
            "two".into(),
        ]
    }
    fn failures(&self, _: &Address, jail: Option<&str>) -> u64 {
        if jail.is_some() {
            3
        } else {
            11
        }
    }
}

struct Ptr;

impl Resolver for Ptr {
    fn reverse(&self, ip: IpAddr) -> Option<String> {
        Some(format!("host-{ip}.example.net"))
    }
}

const TAGS: &[&str] = &[
    "ip",
    "family",
    "ip-rev",
    "ip-host",
    "fid",
    "failures",
    "time",
    "bantime",
    "bancount",
    "matches",
    "ipmatches",
    "ipjailmatches",
    "ipfailures",
    "ipjailfailures",
    "restored",
    "F-USER",
    "F-ID",
    "F-PORT",
    "F-MISSING",
    "jail.name",
    "jail.banned",
    "jail.banned_total",
    "jail.found",
    "jail.found_total",
    "raw-ticket",
    "name",
    "no-such-tag",
];

fn print_all(out: &str) -> String {
    let args: Vec<String> = TAGS.iter().map(|t| format!("\"<{t}>\"")).collect();
    format!("printf '%s\\n' {} > {out}", args.join(" "))
}

#[test]
fn every_dynamic_tag() {
    let dir = tempdir();
    let out = path(dir.path(), "tags");
    let mut options = RunnerOptions::default();
    options.hostnames = HostNames::new("gate.example.org");
    options.resolver = Some(Arc::new(Ptr));
    let runner = ActionRunner::new(options);
    let spec = ActionSpec::new(
        "tags",
        [("actionban", print_all(&out)), ("name", "web".into())],
    );
    let act = Action::new(&spec, &runner).unwrap();

    let mut t = ticket("192.0.2.10");
    t.time = 1_700_000_123.5;
    t.bantime = 3600;
    t.bancount = 2;
    t.failures = 5;
    t.matches = vec!["line one".into(), "line two".into()];
    t.data = BTreeMap::from([
        ("user".into(), "root".into()),
        ("fid".into(), "id-7".into()),
        ("fport".into(), "2222".into()),
    ]);
    let mut jail = JailInfo::new("sshd");
    jail.banned = 4;
    jail.banned_total = 40;
    jail.found = 6;
    jail.found_total = 60;
    act.ban(&t, &BanContext::new(&jail).with_history(&History))
        .unwrap();

    let got = read(dir.path().join("tags").as_path());
    let expected = [
        "192.0.2.10",
        "inet4",
        "10.2.0.192.",
        "host-192.0.2.10.example.net",
        "192.0.2.10",
        "5",
        "1700000123.5",
        "3600",
        "2",
        "line one\nline two",
        "192.0.2.10 in all\ntwo",
        "192.0.2.10 in sshd\ntwo",
        "11",
        "3",
        "0",
        "root",
        "id-7",
        "2222",
        "",
        "sshd",
        "4",
        "40",
        "6",
        "60",
        "BanTicket: ip=192.0.2.10 time=1700000123.5 bantime=3600 bancount=2 #attempts=5 matches=[\"line one\", \"line two\"]",
        "web",
        "<no-such-tag>",
    ]
    .join("\n")
        + "\n";
    assert_eq!(got, expected);
}

#[test]
fn ipv6_networks_and_defaults() {
    let dir = tempdir();
    let out = path(dir.path(), "tags");
    let act = action(
        "v6",
        &[(
            "actionban",
            &format!(
                "printf '%s|' <ip> <family> '<ip-host>' <ipfailures> <restored> <time> > {out}"
            ),
        )],
    );
    let mut t = ticket("2001:db8:1::/48");
    t.restored = true;
    t.time = 1_700_000_000.0;
    act.ban(&t, &BanContext::new(&JailInfo::new("j"))).unwrap();
    // No resolver: <ip-host> is empty; no history: <ipfailures> is 0.
    assert_eq!(
        read(dir.path().join("tags").as_path()),
        "2001:db8:1::/48|inet6||0|1|1700000000.0|"
    );
}

#[test]
fn start_sees_family_and_time_but_no_ticket() {
    let dir = tempdir();
    let out = path(dir.path(), "start");
    let act = action(
        "s",
        &[
            (
                "actionstart",
                &format!("echo '<family>' '<ip>' '<time>' >> {out}"),
            ),
            (
                "actionstart?family=inet6",
                &format!("echo six '<family>' >> {out}"),
            ),
            ("actionstart_on_demand", "false"),
        ],
    );
    act.start().unwrap();
    let text = read(dir.path().join("start").as_path());
    let mut lines = text.lines();
    let first: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(&first[..2], ["inet4", "<ip>"], "{text:?}");
    // <time> is now, as a Python float.
    let now: f64 = first[2].parse().unwrap();
    assert!(now > 1.6e9 && first[2].contains('.'), "{text:?}");
    assert_eq!(lines.next(), Some("six inet6"));
    assert_eq!(lines.next(), None);
}
