//! Lines/s of an sshd-like filter on a realistic line mix, and the worst time per pattern
//! on 100 KB adversarial lines. Run with `cargo bench -p jailor-match`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use jailor_match::{Filter, FilterOptions, UseDns};

const PREFIX: &str = r"^\s*(?:\S+\s+)?[\w\-]+(?:\[\d+\])?:\s+";

fn options() -> FilterOptions {
    FilterOptions {
        prefregex: Some(format!(r"{PREFIX}<F-CONTENT>.+</F-CONTENT>$")),
        failregex: vec![
            r"^Failed (?:<F-NOFAIL>publickey</F-NOFAIL>|\S+) for (?P<cond_inv>invalid user )?<F-USER>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)</F-USER> from <HOST>(?: port \d+)?(?: ssh\d*)?(?(cond_user): |(?:(?:(?! from ).)*)$)".into(),
            r"^Invalid user <F-USER>.*?</F-USER> from <HOST>(?: port \d+)?\s*$".into(),
            r"^User <F-USER>\S+</F-USER> from <HOST> not allowed because".into(),
            r"^Connection closed by (?:authenticating user <F-USER>\S+</F-USER> )?<HOST>(?: port \d+)? \[preauth\]\s*$".into(),
            r"^Disconnecting(?: from)?(?: invalid user <F-USER>\S+</F-USER>)? <HOST>(?: port \d+)?: Too many authentication failures".into(),
            r"^maximum authentication attempts exceeded for (?:invalid user )?<F-USER>\S+</F-USER> from <HOST>".into(),
            r"^pam_unix\(sshd:auth\):\s+authentication failure;(?:\s+\w+=\S*)*\s+rhost=<HOST>".into(),
        ],
        usedns: UseDns::No,
        ..FilterOptions::default()
    }
}

fn mix(n: usize) -> Vec<String> {
    let kinds = [
        "host sshd[{p}]: Failed password for invalid user admin{i} from 198.51.{a}.{b} port 4{p} ssh2",
        "host sshd[{p}]: Failed password for root from 203.0.{a}.{b} port 5{p} ssh2",
        "host sshd[{p}]: Invalid user test{i} from 2001:db8::{a}:{b} port 22",
        "host sshd[{p}]: Accepted publickey for deploy from 192.0.2.{b} port 3{p} ssh2: ED25519 SHA256:abc",
        "host sshd[{p}]: Connection closed by authenticating user git 198.51.{a}.{b} port 1{p} [preauth]",
        "host sshd[{p}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)",
        "host sshd[{p}]: Received disconnect from 192.0.2.{b} port 4{p}:11: disconnected by user",
        "host CRON[{p}]: pam_unix(cron:session): session closed for user root",
        "host sudo[{p}]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/true",
        "host systemd-logind[{p}]: New session {i} of user deploy.",
    ];
    (0..n)
        .map(|i| {
            kinds[(i * 7919) % kinds.len()]
                .replace("{p}", &(1000 + i % 9000).to_string())
                .replace("{i}", &i.to_string())
                .replace("{a}", &(i % 250).to_string())
                .replace("{b}", &(i / 250 % 250).to_string())
        })
        .collect()
}

fn main() {
    let lines = mix(200_000);
    let mut f = Filter::new(options()).expect("filter compiles");
    let mut best = Duration::MAX;
    let mut found = 0;
    for _ in 0..3 {
        found = 0;
        let t = Instant::now();
        for l in &lines {
            found += f
                .process(black_box(""), "Jan  1 10:00:00 ", black_box(l), 0.0)
                .len();
        }
        best = best.min(t.elapsed());
    }
    assert!(found > 0, "the bench filter must find failures");
    println!(
        "sshd-like filter: {} lines in {:?} = {:.0} lines/s ({} failures)",
        lines.len(),
        best,
        lines.len() as f64 / best.as_secs_f64(),
        found
    );

    let adversarial = [
        ("spaces", " ".repeat(100_000)),
        ("a-space", "a ".repeat(50_000)),
        (
            "from-ip",
            format!(
                "host sshd[1]: Invalid user x{}",
                " from 1.2.3.4".repeat(7_500)
            ),
        ),
        (
            "failed",
            format!(
                "host sshd[1]: Failed password for invalid user {}",
                "a ".repeat(50_000)
            ),
        ),
    ];
    let opts = options();
    for (i, re) in opts.failregex.iter().enumerate() {
        let mut o = options();
        o.failregex = vec![re.clone()];
        o.line_cap = 128 * 1024;
        let mut f = Filter::new(o).expect("filter compiles");
        let mut worst = (Duration::ZERO, "");
        for (name, line) in &adversarial {
            let t = Instant::now();
            black_box(f.process("", "", line, 0.0));
            let took = t.elapsed();
            if took > worst.0 {
                worst = (took, name);
            }
        }
        println!(
            "failregex #{i}: worst {:?} on 100 KB '{}' (limit hits {})",
            worst.0,
            worst.1,
            f.stats().limit_hits
        );
    }
}
