//! Replay of fail2ban's historical attack classes against every embedded filter, through the
//! real daemon: each failure line of our sample logs (`tests/samples`) is rewritten with
//! hostile text in the fields a client controls (user names, URLs, mail addresses, quoted
//! client strings such as versions and user agents, host names beside the address), and with
//! shell syntax in each of them. One jail per filter (and per filter option set of the sample)
//! bans on the first failure through a recording action.
//!
//! Asserts: no address from the forged ranges (198.18.0.0/15, 2001:db8:66::/48) is banned,
//! every banned address is one that the original sample lines name, and the canary file that
//! every shell payload tries to create never exists. The recorded tag values must hold the
//! payloads verbatim (proof they reached the command as data).

mod daemon_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use daemon_support::*;

const V4: &str = "198.18.66.66";
const V6: &str = "2001:db8:66::66";

/// The recording action: the ban (jail and address) and the tag values a log line can reach.
const REPLAY_ACTION: &str = "[Definition]
actionban = echo \"<name> <ip>\" >> <dir>/bans.txt
            echo \"<name> <ip> user=[<F-USER>] fid=[<fid>]\" >> <dir>/tags.txt
            echo \"<matches>\" >> <dir>/tags.txt
[Init]
dir = /nonexistent
";

/// The hostile values put in each client-controlled field.
fn payloads(canary: &str) -> Vec<String> {
    let mut p: Vec<String> = vec![
        format!("$(touch {canary})"),
        format!("`touch {canary}`"),
        format!(";touch {canary};"),
        format!("|touch {canary}"),
        format!("&touch {canary}&"),
        format!("x' ; touch {canary} ; echo '"),
        format!("x\" ; touch {canary} ; echo \""),
        format!("${{IFS}}$(touch${{IFS}}{canary})"),
    ];
    p.extend([
        V4.to_owned(),
        V6.to_owned(),
        format!("x from {V4} port 22"),
        format!("x from {V4}"),
        format!("x from {V6} port 22 ssh2"),
        format!("x@{V4}"),
        format!("x@[{V4}]"),
        format!("http://{V4}/"),
        format!("http://[{V6}]:80/x"),
        format!("[{V4}]"),
        format!("({V4})"),
        format!("SSH-2.0-{V4}"),
        format!("{V4}.in-addr.example"),
        format!("host-{V4}.example"),
        format!("rhost={V4}"),
        // A remote user that reads as "rhost=ADDR  user=y" (pam_unix; fail2ban bans ADDR).
        format!("x rhost={V4}  user=y"),
        format!("x rhost={V6} user=y"),
        format!("x\" from {V4} \"x"),
        format!("x' from {V4} 'x"),
        format!("x client {V4}:22 x"),
        format!(
            "x#012Nov 26 12:00:00 gate sshd[1]: Failed password for root from {V4} port 22 ssh2"
        ),
        format!("x\\nFailed password for root from {V4} port 22 ssh2"),
    ]);
    p
}

/// One failure line of a sample with what its expectation says.
struct Sample {
    line: String,
    host: Option<String>,
    user: Option<String>,
}

/// A sample's sections: the filter options (as `[k=v,...]` arguments) and the failure lines.
fn read_sample(path: &Path) -> Vec<(Vec<String>, Vec<Sample>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sections: Vec<(Vec<String>, Vec<Sample>)> = vec![(vec![String::new()], Vec::new())];
    let mut pending: Option<serde_json::Value> = None;
    for line in text.lines() {
        if let Some(opts) = line.strip_prefix("# filterOptions:") {
            let v: serde_json::Value = serde_json::from_str(opts.trim()).unwrap();
            let list = match v {
                serde_json::Value::Array(a) => a,
                other => vec![other],
            };
            let args = list
                .iter()
                .map(|o| {
                    let kv: Vec<String> = o
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                .collect()
                        })
                        .unwrap_or_default();
                    if kv.is_empty() {
                        String::new()
                    } else {
                        format!("[{}]", kv.join(", "))
                    }
                })
                .collect();
            sections.push((args, Vec::new()));
            continue;
        }
        if let Some(j) = line.strip_prefix("# failJSON:") {
            pending = serde_json::from_str(j.trim()).ok();
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some(exp) = pending.take() else { continue };
        if exp.get("match").and_then(|m| m.as_bool()) != Some(true) {
            continue;
        }
        let s = |k: &str| exp.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        if let Some(last) = sections.last_mut() {
            last.1.push(Sample {
                line: line.to_owned(),
                host: s("host"),
                user: s("user"),
            });
        }
    }
    sections.retain(|(_, lines)| !lines.is_empty());
    sections
}

/// The parts of `line` a client writes (never containing `host`).
fn client_fields(s: &Sample) -> BTreeSet<String> {
    let line = &s.line;
    let host = s.host.as_deref().unwrap_or("\u{0}");
    let mut out = BTreeSet::new();
    if let Some(u) = s.user.as_deref().filter(|u| u.len() >= 2) {
        out.insert(u.to_owned());
    }
    for q in ['"', '\''] {
        let parts: Vec<&str> = line.split(q).collect();
        for inner in parts
            .iter()
            .skip(1)
            .step_by(2)
            .take(parts.len().saturating_sub(1) / 2)
        {
            if inner.len() >= 2 {
                out.insert((*inner).to_owned());
            }
        }
    }
    for tok in line.split_whitespace() {
        let tok = tok.trim_matches(|c: char| "<>,;()[]\"'".contains(c));
        let value = tok.split_once('=').map_or(tok, |(_, v)| v);
        let urlish = value.starts_with('/') || value.contains("://");
        let mail = value.contains('@');
        let keyed = tok.split_once('=').is_some_and(|(k, _)| {
            matches!(
                k.to_ascii_lowercase().as_str(),
                "user"
                    | "ruser"
                    | "login"
                    | "username"
                    | "account"
                    | "sasl_username"
                    | "from"
                    | "to"
                    | "helo"
                    | "rcpt"
                    | "name"
                    | "client"
                    | "email"
            )
        });
        let dns = value.contains('.')
            && value.chars().any(|c| c.is_ascii_alphabetic())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if (urlish || mail || keyed || dns) && value.len() >= 2 {
            out.insert(value.to_owned());
        }
    }
    out.retain(|f| !f.contains(host) && !host.contains(f.as_str()));
    out
}

/// Every address-looking word in `text` (the addresses a sample may legitimately ban).
fn addresses_in(text: &str) -> BTreeSet<IpAddr> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .flat_map(|w| {
            let w = w.trim_matches(|c| c == '.' || c == ':');
            [
                w.parse::<IpAddr>().ok(),
                w.strip_prefix("::ffff:").and_then(|x| x.parse().ok()),
            ]
        })
        .flatten()
        .collect()
}

fn forged(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.octets()[0] == 198 && (a.octets()[1] & 0xfe) == 18,
        IpAddr::V6(a) => a.segments()[..3] == [0x2001, 0xdb8, 0x66],
    }
}

#[test]
fn historical_attack_classes_ban_no_one_and_run_nothing() {
    let root = jailor_testkit::project_root();
    let conf = Conf::new("");
    let dir = conf.path().to_path_buf();
    for e in std::fs::read_dir(root.join("config/filter.d")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join("filter.d").join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.join("action.d/replay.conf"), REPLAY_ACTION).unwrap();
    let canary = dir.join("CANARY");
    let canary_s = canary.to_str().unwrap().to_owned();
    let payloads = payloads(&canary_s);
    std::fs::create_dir(dir.join("logs")).unwrap();

    let mut jails = String::from(
        "[DEFAULT]\nusedns = no\nmaxretry = 1\nfindtime = 30y\nbantime = 30y\nignoreself = false\n\
         backend = polling\naction = replay[dir=\"@DIR@\"]\n",
    );
    let mut names = Vec::new();
    let mut legit: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
    let mut fed = 0usize;
    let mut samples: Vec<_> = std::fs::read_dir(root.join("tests/samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    samples.sort();
    for sample in &samples {
        let filter = sample.file_name().unwrap().to_str().unwrap().to_owned();
        if !dir
            .join("filter.d")
            .join(format!("{filter}.conf"))
            .is_file()
        {
            continue;
        }
        let original = std::fs::read_to_string(sample).unwrap();
        for (si, (args, lines)) in read_sample(sample).into_iter().enumerate() {
            let mut text = String::new();
            for s in &lines {
                for field in client_fields(s) {
                    for p in &payloads {
                        text.push_str(&s.line.replacen(&field, p, 1));
                        text.push('\n');
                        fed += 1;
                    }
                }
            }
            // A real newline in a field: the rest arrives as a line of its own, without the
            // program's prefix.
            if let Some(s) = lines.first() {
                if let Some(field) = client_fields(s).into_iter().next() {
                    text.push_str(&s.line.replacen(
                        &field,
                        &format!("x\nFailed password for root from {V4} port 22 ssh2"),
                        1,
                    ));
                    text.push('\n');
                }
            }
            for (ai, arg) in args.iter().enumerate() {
                let name = format!("{}_{si}_{ai}", filter.replace('-', "_"));
                let log = dir.join("logs").join(format!("{name}.log"));
                std::fs::write(&log, &text).unwrap();
                jails.push_str(&format!(
                    "[{name}]\nenabled = true\nfilter = {filter}{arg}\nlogpath = {}\n",
                    log.display()
                ));
                legit.insert(name.clone(), addresses_in(&original));
                names.push(name);
            }
        }
    }
    assert!(names.len() > 100, "{names:?}");
    conf.set_jails(&jails);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let d = Daemon::start_ready(&conf, &name_refs);
    eprintln!("{} jails, {fed} hostile lines", names.len());

    // Processing is done when the server's log stops growing (every file is read from its
    // start; the polling backend rereads them every second).
    let mut last = (0usize, 0usize);
    let mut still = 0;
    wait_for("the server to go quiet", 240, || {
        let now = (conf.log().len(), read(&dir.join("bans.txt")).len());
        if now == last {
            still += 1;
        } else {
            still = 0;
            last = now;
        }
        std::thread::sleep(std::time::Duration::from_millis(230));
        still >= 40
    });
    d.stop();

    assert!(!canary.exists(), "a payload ran a command");
    let bans = read(&dir.join("bans.txt"));
    let mut wrong = Vec::new();
    let mut count = 0;
    for l in bans.lines() {
        let mut w = l.split(' ');
        let (Some(jail), Some(ip)) = (w.next(), w.next()) else {
            wrong.push(format!("unparsable ban line {l:?}"));
            continue;
        };
        count += 1;
        let Ok(ip) = ip.parse::<IpAddr>() else {
            wrong.push(format!("{jail}: banned a non-address {ip:?}"));
            continue;
        };
        if forged(&ip) || !legit.get(jail).is_some_and(|s| s.contains(&ip)) {
            wrong.push(format!("{jail}: wrongful ban of {ip}"));
        }
    }
    eprintln!("{count} bans, all of addresses the samples name");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        count > 50,
        "too few bans ({count}): were the lines read?\n{bans}"
    );
    // The first hostile line of each address is the one that banned it: its shell payload
    // reached the command verbatim, as data (in <matches>).
    let tags = read(&dir.join("tags.txt"));
    assert!(
        tags.contains(payloads[0].as_str()),
        "{:?} not in the recorded tags:\n{tags}",
        payloads[0]
    );
}
