//! fail2ban's own action files (read from the corpus at run time), run for real.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use jailor_action::{Action, ActionSpec, BanContext, JailInfo};

/// A tiny reader for one action file: `[Definition]`, `[Init]` and `[Init?cond]` values with
/// continuation lines, `%(key)s` from the same file, `%%`. Includes are not followed.
fn read_action(file: &Path, actname: &str, args: &[(&str, &str)]) -> ActionSpec {
    let text = std::fs::read_to_string(file).unwrap();
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.to_owned(), Vec::new()));
            continue;
        }
        let Some((_, values)) = sections.last_mut() else {
            continue;
        };
        if line.starts_with([' ', '\t']) && !trimmed.is_empty() {
            if let Some((_, v)) = values.last_mut() {
                v.push('\n');
                v.push_str(trimmed);
            }
        } else if let Some((k, v)) = line.split_once('=') {
            values.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    let mut ordered: Vec<(String, String)> = Vec::new();
    for (section, values) in &sections {
        let suffix = match section.as_str() {
            "Definition" | "Init" => String::new(),
            s if s.starts_with("Init?") => format!("?{}", &s[5..]),
            _ => continue,
        };
        for (k, v) in values {
            all.insert(format!("{k}{suffix}"), v.clone());
            ordered.push((format!("{k}{suffix}"), v.clone()));
        }
    }
    let interpolate = |v: &str| -> String {
        let mut v = v.to_owned();
        for _ in 0..10 {
            let Some(start) = v.find("%(") else { break };
            let Some(len) = v[start..].find(")s") else {
                break;
            };
            let key = &v[start + 2..start + len];
            let value = all.get(key).cloned().unwrap_or_default();
            v.replace_range(start..start + len + 2, &value);
        }
        v.replace("%%", "%")
    };
    let mut props: Vec<(String, String)> = ordered
        .iter()
        .map(|(k, v)| (k.clone(), interpolate(v)))
        .collect();
    for (k, v) in args {
        props.push((k.to_string(), v.to_string()));
    }
    ActionSpec::new(actname, props)
}

#[test]
fn fail2ban_dummy_action() {
    let Some(corpus) = jailor_testkit::require_corpus("fail2ban_dummy_action") else {
        return;
    };
    let dir = tempdir();
    let target = path(dir.path(), "dummy");
    let spec = read_action(
        &corpus.join("config/action.d/dummy.conf"),
        "dummy",
        &[("name", "sshd"), ("target", &target)],
    );
    let act = Action::new(&spec, &runner()).unwrap();
    let file = dir.path().join("dummy");
    let jail = JailInfo::new("sshd");
    let ctx = BanContext::new(&jail);

    act.start().unwrap();
    assert_eq!(read(&file), "123\n");
    act.ban(&ticket("192.0.2.1"), &ctx).unwrap();
    act.ban(&ticket("2001:db8::7"), &ctx).unwrap();
    assert_eq!(read(&file), "123\n+192.0.2.1\n+2001:db8::7\n");
    act.unban(&ticket("192.0.2.1"), &ctx).unwrap();
    assert_eq!(read(&file), "123\n+192.0.2.1\n+2001:db8::7\n-192.0.2.1\n");
    act.flush().unwrap();
    assert!(read(&file).ends_with("-192.0.2.1\n-*\n"));
    act.stop().unwrap();
    assert!(!file.exists());
}

#[test]
fn fail2ban_hostsdeny_action_with_ipv6_brackets() {
    let Some(corpus) = jailor_testkit::require_corpus("fail2ban_hostsdeny_action") else {
        return;
    };
    let dir = tempdir();
    let hosts_deny = path(dir.path(), "hosts.deny");
    std::fs::write(&hosts_deny, "# keep me\n").unwrap();
    let spec = read_action(
        &corpus.join("config/action.d/hostsdeny.conf"),
        "hostsdeny",
        &[
            ("name", "sshd"),
            ("file", &hosts_deny),
            ("daemon_list", "sshd"),
        ],
    );
    let act = Action::new(&spec, &runner()).unwrap();
    let file = dir.path().join("hosts.deny");
    let jail = JailInfo::new("sshd");
    let ctx = BanContext::new(&jail);
    act.start().unwrap();
    act.ban(&ticket("192.0.2.1"), &ctx).unwrap();
    act.ban(&ticket("2001:db8::7"), &ctx).unwrap();
    assert_eq!(
        read(&file),
        "# keep me\nsshd: 192.0.2.1\nsshd: [2001:db8::7]\n"
    );
    act.unban(&ticket("192.0.2.1"), &ctx).unwrap();
    act.unban(&ticket("2001:db8::7"), &ctx).unwrap();
    assert_eq!(read(&file), "# keep me\n");
    act.stop().unwrap();
}
