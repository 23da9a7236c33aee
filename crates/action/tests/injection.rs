//! Log text with shell syntax in it reaches commands as data, never as code.

mod common;

use std::collections::BTreeMap;

use common::*;
use jailor_action::{BanContext, JailInfo};

/// Values an attacker could put into a log line, each trying to create the marker file.
fn hostile(marker: &str) -> Vec<String> {
    vec![
        format!("$(touch {marker})"),
        format!("`touch {marker}`"),
        format!("x; touch {marker}"),
        format!("x' ; touch {marker} ; echo '"),
        format!("x\" ; touch {marker} ; echo \""),
        format!("x\ntouch {marker}\n"),
        format!("${{IFS}}$(touch${{IFS}}{marker})"),
        format!("x && touch {marker} || touch {marker}"),
        "*".to_owned(),
    ]
}

#[test]
fn log_text_in_every_quoting_context_is_inert() {
    let dir = tempdir();
    let marker = marker(dir.path());
    let marker_s = marker.to_str().unwrap().to_owned();
    let out = path(dir.path(), "out");
    // The same values, used unquoted, in double quotes, in single quotes, and inside a
    // command substitution inside double quotes (abuseipdb's style).
    let ban = format!(
        "printf '%s|' <matches> > {out}\n\
         printf '[%s]\\n' \"<F-USER>\" >> {out}\n\
         printf '%s\\n' '<fid>' >> {out}\n\
         lgm=\"$(printf '%s' \"<matches>\")\"; printf '<%s>\\n' \"$lgm\" >> {out}\n\
         echo <ip> <raw-ticket> > /dev/null"
    );
    let act = action("hostile", &[("actionban", &ban)]);
    let jail = JailInfo::new("sshd");
    for value in hostile(&marker_s) {
        let mut t = ticket("192.0.2.1");
        t.matches = vec![value.clone(), "second line".to_owned()];
        t.fid = Some(value.clone());
        t.data = BTreeMap::from([("user".to_owned(), value.clone())]);
        act.ban(&t, &BanContext::new(&jail))
            .unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert!(!marker.exists(), "{value:?} executed");
        let text = read(dir.path().join("out").as_path());
        let joined = format!("{value}\nsecond line");
        // Unquoted use: word splitting may split it, but the characters are all there and
        // nothing ran; quoted uses give the exact value.
        assert!(
            text.contains(&format!("[{value}]\n")),
            "{value:?}: {text:?}"
        );
        assert!(text.contains(&format!("{value}\n")), "{value:?}: {text:?}");
        assert!(
            text.contains(&format!("<{joined}>\n")),
            "{value:?}: {text:?}"
        );
    }
}

#[test]
fn the_script_text_never_holds_log_text() {
    // A command that prints its own script: the log text must not be in it.
    let dir = tempdir();
    let out = path(dir.path(), "script");
    let act = action(
        "echo",
        &[("actionban", &format!("cat > {out} <<'EOF'\n<matches>\nEOF"))],
    );
    let jail = JailInfo::new("j");
    let mut t = ticket("192.0.2.9");
    t.matches = vec!["secret-$(id)".to_owned()];
    act.ban(&t, &BanContext::new(&jail)).unwrap();
    let text = read(dir.path().join("script").as_path());
    assert!(!text.contains("secret"), "{text:?}");
    assert!(text.contains("f2bV_"), "{text:?}");
}

#[test]
fn invalid_addresses_never_reach_a_command() {
    for bad in ["192.0.2.1; reboot", "$(id)", "192.0.2.1\n", "", "::1/129"] {
        assert!(bad.parse::<jailor_action::Address>().is_err(), "{bad:?}");
    }
}
