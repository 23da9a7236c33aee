//! jailor with no `-c`: the embedded default configuration (our own filters, actions and
//! jail.conf) is validated, runs the demo, and resolves filter names for `jailor regex`.

use std::process::Command;

fn jailor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(args)
        .output()
        .expect("run jailor")
}

/// `/etc/jailor` takes precedence over the embedded default; these tests are about the latter,
/// so they skip (with a reason) on a machine where jailor's package is installed.
fn installed_config_present(test: &str) -> bool {
    std::path::Path::new("/etc/jailor/jail.conf").exists()
        && jailor_testkit::skip::<()>(
            test,
            "/etc/jailor is installed and takes precedence over the embedded default",
        )
        .is_none()
}

#[test]
fn check_without_conf_validates_the_embedded_default() {
    if installed_config_present("check_without_conf") {
        return;
    }
    let out = jailor(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only sshd is on by default.
    assert!(
        stdout.lines().any(|l| l.starts_with("sshd: OK")),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": OK")).count(),
        1,
        "{stdout}"
    );
}

#[test]
fn demo_bans_the_attackers_and_not_the_framed_address() {
    if installed_config_present("demo") {
        return;
    }
    let out = jailor(&["demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Ban 203.0.113.7 "), "{stdout}");
    assert!(stdout.contains("Ban 2001:db8:bad::9 "), "{stdout}");
    // Below maxretry: found, not banned.
    assert!(stdout.contains("Found 203.0.113.80 "), "{stdout}");
    assert!(!stdout.contains("Ban 203.0.113.80"), "{stdout}");
    // The address written as a user name is never taken.
    assert!(
        !stdout.contains("192.0.2.66 -") && !stdout.contains("Ban 192.0.2.66"),
        "{stdout}"
    );
    assert!(stdout.contains("2 bans"), "{stdout}");
}

#[test]
fn demo_reads_a_given_log_with_the_jail_policy() {
    if installed_config_present("demo_log") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let stamp = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%b %e %H:%M:%S")
        .to_string();
    let mut text = String::new();
    for i in 0..4 {
        text.push_str(&format!(
            "{stamp} web1 sshd[{}]: Failed password for root from 198.51.100.77 port {} ssh2\n",
            700 + i,
            40000 + i
        ));
    }
    std::fs::write(&log, text).unwrap();
    let out = jailor(&["demo", log.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // Four failures against the default maxretry of 5: counted, no ban.
    assert_eq!(stdout.matches("Found 198.51.100.77").count(), 4, "{stdout}");
    assert!(stdout.contains("0 bans"), "{stdout}");
}

#[test]
fn regex_resolves_filter_names_in_the_embedded_default() {
    if installed_config_present("regex_embedded") {
        return;
    }
    let line = "Nov 25 10:00:00 web1 sshd[4242]: Failed password for invalid user oracle from 203.0.113.44 port 50000 ssh2";
    let out = jailor(&["regex", "-o", "ip", line, "sshd"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "203.0.113.44");
}
