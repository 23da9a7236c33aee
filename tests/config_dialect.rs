//! fail2ban's INI dialect and jail resolution on our own fixture
//! (`tests/fixtures/config/dialect`): typed results, `jailor dump`/`check`, and the same dump as
//! the real `fail2ban-client -d` where it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use jailor_config::{JailSpec, Loader};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/dialect")
}

fn jails() -> Vec<JailSpec> {
    let cfg = Loader::new(fixture()).read_all().unwrap();
    cfg.jails.into_iter().map(|j| j.unwrap()).collect()
}

fn jail(name: &str) -> JailSpec {
    jails().into_iter().find(|j| j.name == name).unwrap()
}

#[test]
fn only_enabled_jails_in_file_order() {
    let names: Vec<String> = jails().into_iter().map(|j| j.name).collect();
    assert_eq!(names, ["web", "mail", "udp-pair", "custom"]);
}

#[test]
fn file_order_conf_d_local_d_local() {
    // jail.conf: 3 (DEFAULT), jail.d/10-web.conf: 2, jail.local: 9, jail.d/20-web.local: 4.
    assert_eq!(jail("web").maxretry(), Some(Some(4)));
    // maxmatches = %(maxretry)s is interpolated in the jail's own context.
    assert_eq!(jail("web").maxmatches(), Some(Some(4)));
    assert_eq!(jail("mail").maxmatches(), Some(Some(5)));
}

#[test]
fn delimiters_inline_comments_and_case() {
    let web = jail("web");
    // `bantime : 1h30m` uses ':'; `Enabled` is read as `enabled`.
    assert_eq!(web.option("bantime"), Some("1h30m"));
    assert_eq!(web.time("bantime").unwrap().unwrap(), 5400.0);
    // `port = http,https   ; inline comment`.
    assert_eq!(web.actions[0].properties["port"], "http,https");
}

#[test]
fn includes_before_and_after_with_relative_paths() {
    // paths-fixture.conf sets app_logs to a missing file; its `after` include overrides it.
    let web = jail("web");
    assert_eq!(web.logpaths.len(), 2);
    assert!(
        web.logpaths[0].pattern.ends_with("/logs/app.log"),
        "{:?}",
        web.logpaths
    );
    assert!(!web.logpaths[0].tail);
    assert_eq!(web.logpaths[1].files.len(), 1);
    assert!(web.logpaths[1].files[0].ends_with("logs/other.log"));
    assert!(web.logpaths[1].tail);
}

#[test]
fn ignoreip_and_booleans() {
    let web = jail("web");
    assert_eq!(web.ignoreip(), ["127.0.0.1/8", "::1", "192.0.2.0/24"]);
    assert_eq!(web.flag("ignoreself"), Some(false));
    assert_eq!(web.flag("bantime.increment"), Some(true));
    assert_eq!(web.time("bantime.maxtime").unwrap().unwrap(), 604_800.0);
    assert_eq!(jail("mail").time("findtime").unwrap().unwrap(), 93_600.0);
}

#[test]
fn filter_arguments_tags_and_known() {
    let mail = jail("mail");
    let f = mail.filter.as_ref().unwrap();
    // `[Init] extra` replaced by the jail's argument; `<mdre-<mode>>` resolved innermost first;
    // a comment line inside the multi-line value dropped.
    assert_eq!(
        f.failregex,
        [
            r"^login failed for <F-USER>\S+</F-USER> from <HOST>$",
            r"^bad token from <HOST> \(x, y\)$",
            "^probe from <HOST>$",
            "^scan from <HOST>$"
        ]
    );
    // filter.d/app.local extends its .conf value through %(known/ignoreregex)s.
    assert_eq!(f.ignoreregex.len(), 2);
    // [Definition] _daemon overrides the included [DEFAULT] one.
    assert_eq!(
        f.prefregex.as_deref(),
        Some(r"^appd\[\d+\]:\s+<F-CONTENT>.+</F-CONTENT>$")
    );
    assert_eq!(
        f.journalmatch,
        [vec!["_SYSTEMD_UNIT=app.service", "+", "_COMM=app d"]]
    );
    // `100%% = ...`: %% is a literal percent in names' values.
    assert_eq!(
        f.options.get("100%%").map(String::as_str),
        Some("literal percent: 100%")
    );
}

#[test]
fn jail_filter_options_replace_the_filters() {
    let custom = jail("custom");
    let f = custom.filter.as_ref().unwrap();
    assert_eq!(
        f.failregex.last().map(String::as_str),
        Some("^custom rejected <HOST>$")
    );
    assert_eq!(f.failregex.len(), 4);
    assert_eq!(f.datepattern.as_deref(), Some("^%Y-%m-%d"));
    assert_eq!(f.maxlines(), Some(Some(2)));
}

#[test]
fn actions_names_arguments_and_conditional_init() {
    let pair = jail("udp-pair");
    let names: Vec<&str> = pair.actions.iter().map(|a| a.actname.as_str()).collect();
    assert_eq!(names, ["block-tcp", "block-udp"]);
    let tcp = &pair.actions[0];
    assert_eq!(
        tcp.actionstart(),
        Some("<fw> create jailor-udp-pair-tcp for 53/tcp kind=some")
    );
    // <fw> has an inet6 variant: left for the server to choose per address family.
    assert_eq!(tcp.properties["fw?family=inet6"], "fwtool6");
    // <known/chain> is the action file's own chain, the jail passes `<known/chain>` itself.
    assert_eq!(
        tcp.actionflush(),
        Some("<fw> flush jailor-udp-pair-tcp in INPUT")
    );
    assert_eq!(tcp.properties["chain"], "<known/chain>");
    // Dynamic tags stay.
    assert_eq!(
        tcp.actionban(),
        Some("<fw> add jailor-udp-pair-tcp <ip> # <bantime> <matches>")
    );

    let mail = jail("mail");
    let names: Vec<&str> = mail.actions.iter().map(|a| a.actname.as_str()).collect();
    assert_eq!(names, ["block", "mailer-whois", "block-udp"]);
    let whois = &mail.actions[1];
    assert_eq!(
        whois.actionban(),
        Some(r#"printf %s "mail: <ip> banned" | mail -s "[jailor] mail" "admin@example.org""#)
    );
    // banaction_allports = block[kind=all] with the action_ arguments after it.
    let custom = jail("custom");
    assert_eq!(custom.actions[0].properties["kind"], "all");
}

#[test]
fn server_settings_with_local_override_and_defaults() {
    let s = Loader::new(fixture()).read_server().unwrap();
    assert_eq!(s.loglevel, "DEBUG");
    assert_eq!(s.logtarget, "STDOUT");
    assert_eq!(s.dbmaxmatches, Some(Some(7)));
    assert_eq!(s.socket, "/var/run/fail2ban/fail2ban.sock");
    assert_eq!(s.syslogsocket, "auto");
}

#[test]
fn fail2ban_version_is_one_constant_and_overridable() {
    let agent = |l: Loader| {
        let cfg = l.read_all().unwrap();
        let mail = cfg.jails.into_iter().nth(1).unwrap().unwrap();
        mail.actions[2].properties["agent"].clone()
    };
    assert_eq!(jailor_config::FAIL2BAN_VERSION, "1.0.2");
    assert_eq!(agent(Loader::new(fixture())), "jailor-fixture/1.0.2");
    assert_eq!(
        agent(Loader::new(fixture()).with_fail2ban_version("1.1.2")),
        "jailor-fixture/1.1.2"
    );
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dump_prints_python_repr_and_json() {
    let dir = fixture();
    let dir = dir.to_str().unwrap();
    let (code, repr, _) = run(&["dump", "-c", dir]);
    assert_eq!(code, 0);
    assert!(
        repr.lines().any(|l| l == "['set', 'web', 'maxretry', 4]"),
        "{repr}"
    );
    assert!(repr
        .lines()
        .any(|l| l == "['set', 'web', 'bantime.increment', True]"));
    assert_eq!(repr.lines().last(), Some("['start', 'custom']"));
    let (code, json, _) = run(&["dump", "--json", "-c", dir]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), repr.lines().count());
    assert_eq!(arr[0], serde_json::json!(["set", "syslogsocket", "auto"]));
}

#[test]
fn check_prints_one_line_per_jail() {
    let (code, out, _) = run(&["check", "-c", fixture().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("web: OK"), "{out}");
}

#[test]
fn dialect_fixture_dump_equals_fail2ban_client() {
    let test = "dialect_fixture_dump_equals_fail2ban_client";
    let Some(client) = jailor_testkit::require_command(test, "fail2ban-client", "fail2ban") else {
        return;
    };
    if jailor_testkit::require_command(test, "python3", "python3").is_none() {
        return;
    }
    let out = Command::new(client)
        .arg("-c")
        .arg(fixture())
        .arg("-d")
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut conv = Command::new("python3")
        .arg("-c")
        .arg("import ast,json,sys; print(json.dumps([ast.literal_eval(l) for l in sys.stdin if l.startswith('[')]))")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    conv.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let reference: serde_json::Value =
        serde_json::from_slice(&conv.wait_with_output().unwrap().stdout).unwrap();
    let (code, ours, _) = run(&["dump", "--json", "-c", fixture().to_str().unwrap()]);
    assert_eq!(code, 0);
    let ours: serde_json::Value = serde_json::from_str(&ours).unwrap();
    let (r, o) = (reference.as_array().unwrap(), ours.as_array().unwrap());
    for (i, (a, b)) in r.iter().zip(o).enumerate() {
        assert_eq!(a, b, "command {i} differs");
    }
    assert_eq!(r.len(), o.len());
}

#[test]
fn load_filter_by_name_arguments_or_path() {
    // As `jailor regex` will call it: a name in filter.d, name[args], or a path.
    let by_name = jailor_config::load_filter(&fixture(), "app", "auto").unwrap();
    assert_eq!(by_name.failregex.len(), 3, "{:?}", by_name.failregex);
    let aggressive =
        jailor_config::load_filter(&fixture(), "app[mode=aggressive]", "auto").unwrap();
    assert_eq!(aggressive.failregex.len(), 4);
    let path = fixture().join("filter.d/app.conf");
    let by_path = jailor_config::load_filter(
        &fixture(),
        &format!("{}[mode=aggressive]", path.display()),
        "auto",
    )
    .unwrap();
    // The path form reads the same files (app.conf, its include, app.local).
    assert_eq!(by_path.failregex, aggressive.failregex);
    assert_eq!(by_path.ignoreregex.len(), 2);
    // logtype follows the backend unless given.
    assert_eq!(by_name.options["logtype"], "file");
    let journal = jailor_config::load_filter(&fixture(), "app", "systemd").unwrap();
    assert_eq!(journal.options["logtype"], "journal");
    let e = jailor_config::load_filter(&fixture(), "nosuch", "auto").unwrap_err();
    assert_eq!(e.kind(), jailor_config::ErrorKind::UnknownFilter);
}
