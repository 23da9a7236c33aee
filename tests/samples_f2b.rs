//! fail2ban's sample suite run through jailor (FAIL2BAN-SPEC §5): every sample log of the
//! corpus with fail2ban's own filter and its `filterOptions`, under the suite's time zone and
//! fixed now; every `# failJSON:` expectation compared (match, host, time, user and every
//! other key). One test per sample file; `samples_summary` prints "N/M expectations agree".
//!
//! The corpus is `$JAILOR_F2B_CORPUS` (a folder with `config/` and `logs/`) or the shared one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jailor_config::{extract_options, Loader};
use jailor_date::{DateDetector, Zone};
use jailor_match::{Failure, Filter, FilterOptions, Pipeline, UseDns, Value};
use serde_json::Value as Json;

/// The suite's `TZ` and `MyTime.setTime`.
const SUITE_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
const SUITE_NOW: f64 = 1_124_013_600.0;

/// Expectations that cannot agree, by file: (1-based line of the `failJSON`, reason).
fn known_exceptions(file: &str) -> Vec<(usize, &'static str)> {
    const NOT_IN_CORPUS: &str = "fail2ban keeps this filter in its tests folder, not in config/";
    match file {
        "zzz-generic-example" => [
            2, 5, 9, 13, 15, 17, 19, 24, 27, 30, 34, 37, 39, 41, 43, 46, 50, 52, 54, 57, 59, 61, 64,
        ]
        .into_iter()
        .map(|l| (l, NOT_IN_CORPUS))
        .collect(),
        _ => Vec::new(),
    }
}

fn corpus(test: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("JAILOR_F2B_CORPUS") {
        return Some(PathBuf::from(p));
    }
    jailor_testkit::require_corpus(test)
}

/// One option set of a `# filterOptions:` line, and the pipeline built from it.
struct Variant {
    opts: BTreeMap<String, String>,
    pipeline: Option<Pipeline>,
    journal: bool,
    prefix: String,
}

fn json_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The few Python conditions the suite uses: `name == 'x'`, `opts.get('k') != 'v'`.
fn condition(expr: &str, name: &str, opts: &BTreeMap<String, String>) -> bool {
    let expr = expr.trim();
    let (lhs, rhs, eq) = if let Some((l, r)) = expr.split_once("==") {
        (l.trim(), r.trim(), true)
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l.trim(), r.trim(), false)
    } else {
        panic!("unsupported condition {expr}");
    };
    let unquote = |s: &str| s.trim_matches(|c| c == '\'' || c == '"').to_owned();
    let value = if lhs == "name" {
        Some(name.to_owned())
    } else if let Some(k) = lhs
        .strip_prefix("opts.get(")
        .and_then(|r| r.strip_suffix(')'))
    {
        opts.get(&unquote(k)).cloned()
    } else {
        panic!("unsupported condition {expr}");
    };
    (value.as_deref() == Some(unquote(rhs).as_str())) == eq
}

fn build(corpus: &Path, filter: &str, opts: &BTreeMap<String, String>) -> Pipeline {
    let args: Vec<String> = opts
        .iter()
        .filter(|(k, _)| !k.starts_with("test."))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let name = opts.get("test.filter-name").map_or(filter, String::as_str);
    let spec_text = if args.is_empty() {
        name.to_owned()
    } else {
        format!("{name}[{}]", args.join(", "))
    };
    let (n, a) = extract_options(&spec_text).unwrap();
    let spec = Loader::new(corpus.join("config"))
        .load_filter_with(&n, &a, "auto")
        .unwrap_or_else(|e| panic!("{spec_text}: {e}"));
    let maxlines = spec.maxlines().flatten().unwrap_or(1).max(1) as usize;
    // The suite returns raw hosts (no DNS) unless the filter excludes names altogether.
    let usedns = match spec.usedns.as_deref().map(str::trim) {
        Some("no") | Some("false") => UseDns::No,
        _ => UseDns::Raw,
    };
    let fopts = FilterOptions {
        prefregex: spec.prefregex.clone(),
        failregex: spec.failregex.clone(),
        ignoreregex: spec.ignoreregex.clone(),
        maxlines,
        usedns,
        check_all: true,
        ..FilterOptions::default()
    };
    let f = Filter::new(fopts).unwrap_or_else(|e| panic!("{spec_text}: {e}"));
    let mut dd = DateDetector::new(spec.datepattern.as_deref())
        .unwrap_or_else(|e| panic!("{spec_text}: datepattern: {e}"));
    let tz = spec.logtimezone.as_deref().unwrap_or(SUITE_TZ);
    dd.set_zone(Zone::parse(tz).unwrap());
    let mut p = Pipeline::new(f, dd);
    p.set_now(Some(SUITE_NOW));
    p
}

/// `"%Y-%m-%dT%H:%M:%S[.%f]"` in the suite's zone → epoch seconds.
fn expected_epoch(s: &str) -> f64 {
    let zone = jiff::tz::TimeZone::posix(SUITE_TZ).unwrap();
    let (main, frac) = s.split_once('.').unwrap_or((s, ""));
    let n: Vec<i64> = main
        .split(['-', 'T', ':'])
        .map(|p| p.parse().unwrap())
        .collect();
    let dt = jiff::civil::datetime(
        n[0] as i16,
        n[1] as i8,
        n[2] as i8,
        n[3] as i8,
        n[4] as i8,
        n[5] as i8,
        0,
    );
    let ts = zone.to_ambiguous_timestamp(dt).compatible().unwrap();
    let us: f64 = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse().unwrap()
    };
    ts.as_second() as f64 + us
}

fn field_text(f: &Failure, k: &str) -> Option<String> {
    match f.fields.get(k) {
        Some(Value::Text(t)) => Some(t.clone()),
        Some(Value::Tuple(t)) => Some(format!("{t:?}")),
        None => None,
    }
}

/// Compares one line's failures with its expectation; `Err` says how they differ.
fn compare(exp: &serde_json::Map<String, Json>, found: &[Failure]) -> Result<(), String> {
    let fails: Vec<&Failure> = found.iter().filter(|f| !f.nofail).collect();
    let want = exp.get("match").and_then(Json::as_bool).unwrap_or(false);
    if !want {
        return match fails.first() {
            None => Ok(()),
            Some(f) => Err(format!(
                "unexpected failure {} (regex {})",
                f.id, f.regex_index
            )),
        };
    }
    let f = match fails.as_slice() {
        [] => return Err("no failure".into()),
        [f] => *f,
        many => {
            return Err(format!(
                "multiple regexs matched: {:?}",
                many.iter().map(|f| f.regex_index).collect::<Vec<_>>()
            ))
        }
    };
    for (k, v) in exp {
        match k.as_str() {
            "match" | "desc" | "constraint" => {}
            "host" => {
                // The suite returns raw hosts: the captured text, not the parsed address.
                let got = ["host", "fid", "ip4", "ip6", "dns"]
                    .iter()
                    .find_map(|k| field_text(f, k))
                    .unwrap_or_else(|| f.id.to_string());
                if got != json_str(v) {
                    return Err(format!("host {got} != {}", json_str(v)));
                }
            }
            "time" => {
                let want = expected_epoch(v.as_str().unwrap_or(""));
                if (f.time - want).abs() > 1e-6 || f.time.is_nan() {
                    return Err(format!("time {} != {want} ({v})", f.time));
                }
            }
            "attempts" => {
                let want = v.as_u64().unwrap_or(0) as usize;
                if f.matches.len() != want {
                    return Err(format!("attempts {} != {want}", f.matches.len()));
                }
            }
            "users" => {
                let mut want: Vec<String> = v
                    .as_array()
                    .map(|a| a.iter().map(json_str).collect())
                    .unwrap_or_default();
                want.sort();
                let mut got = f.users.clone();
                got.sort();
                if got != want {
                    return Err(format!("users {got:?} != {want:?}"));
                }
            }
            key => {
                let got = field_text(f, key);
                let want = match v {
                    Json::Null => None,
                    other => Some(json_str(other)),
                };
                if got != want {
                    return Err(format!("{key} {got:?} != {want:?}"));
                }
            }
        }
    }
    Ok(())
}

/// Outcome of one sample file (and the files it adds).
#[derive(Default)]
struct Outcome {
    total: usize,
    agree: usize,
    /// (file, line, why) of every disagreement.
    bad: Vec<(String, usize, String)>,
}

fn parse_options(v: &Json) -> Vec<BTreeMap<String, String>> {
    let one = |o: &Json| -> BTreeMap<String, String> {
        o.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), json_str(v))).collect())
            .unwrap_or_default()
    };
    match v {
        Json::Array(a) => a.iter().map(one).collect(),
        o => vec![one(o)],
    }
}

fn run_file(corpus: &Path, filter: &str, file: &str, out: &mut Outcome, adds: &mut Vec<String>) {
    let text = std::fs::read_to_string(corpus.join("logs").join(file)).unwrap();
    let mut file_opts: BTreeMap<String, String> = BTreeMap::new();
    let make = |opts: BTreeMap<String, String>| -> Variant {
        let active = opts
            .get("test.condition")
            .is_none_or(|c| condition(c, filter, &opts));
        Variant {
            journal: opts.get("logtype").is_some_and(|l| l == "journal"),
            prefix: opts.get("test.prefix-line").cloned().unwrap_or_default(),
            pipeline: active.then(|| build(corpus, filter, &opts)),
            opts,
        }
    };
    let mut variants = vec![make(BTreeMap::new())];
    let mut pending: Option<(usize, serde_json::Map<String, Json>)> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if let Some((jline, exp)) = pending.take() {
            out.total += 1;
            let mut why = None;
            for v in &mut variants {
                let Some(p) = v.pipeline.as_mut() else {
                    continue;
                };
                // A journal entry is the message with the entry's time, except when the
                // sample line carries its own leading date (exported entries, gh-3954).
                let dated = line.as_bytes().first().is_some_and(u8::is_ascii_digit);
                let found = if v.journal && !dated {
                    p.process_journal(&format!("{}{line}", v.prefix), SUITE_NOW)
                } else {
                    p.process_line(line).failures
                };
                let applies = exp
                    .get("constraint")
                    .and_then(Json::as_str)
                    .is_none_or(|c| condition(c, filter, &v.opts));
                if !applies {
                    continue;
                }
                if let Err(e) = compare(&exp, &found) {
                    why.get_or_insert_with(|| format!("{:?}: {e}", v.opts));
                }
            }
            match why {
                None => out.agree += 1,
                Some(w) => out.bad.push((file.to_owned(), jline, w)),
            }
            continue;
        }
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let rest = rest.trim_start_matches('#').trim_start();
        let Some((key, value)) = rest.split_once(':') else {
            continue;
        };
        match key {
            "failJSON" => {
                let v: Json = serde_json::from_str(value.trim())
                    .unwrap_or_else(|e| panic!("{file}:{lineno}: {e}"));
                pending = Some((lineno, v.as_object().cloned().unwrap_or_default()));
            }
            "filterOptions" => {
                let v: Json = serde_json::from_str(value.trim()).unwrap();
                variants = parse_options(&v)
                    .into_iter()
                    .map(|mut o| {
                        for (k, v) in &file_opts {
                            o.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                        make(o)
                    })
                    .collect();
            }
            "fileOptions" => {
                let v: Json = serde_json::from_str(value.trim()).unwrap();
                file_opts = parse_options(&v).into_iter().next().unwrap_or_default();
                variants = vec![make(file_opts.clone())];
            }
            "addFILE" => {
                let v: Json = serde_json::from_str(value.trim()).unwrap();
                adds.push(json_str(&v));
            }
            _ => {}
        }
    }
}

/// Runs a sample file (plus its `addFILE`s) with its filter.
fn run_sample(corpus: &Path, name: &str) -> Outcome {
    let mut out = Outcome::default();
    if !corpus
        .join("config/filter.d")
        .join(format!("{name}.conf"))
        .is_file()
    {
        // fail2ban keeps this filter in its test folder, not in config/: count the file's
        // expectations as unchecked.
        let text = std::fs::read_to_string(corpus.join("logs").join(name)).unwrap();
        for (i, l) in text.lines().enumerate() {
            if l.starts_with('#') && l.contains("failJSON:") {
                out.total += 1;
                out.bad.push((
                    name.to_owned(),
                    i + 1,
                    "filter not in the corpus".to_owned(),
                ));
            }
        }
        return out;
    }
    let mut adds = Vec::new();
    run_file(corpus, name, name, &mut out, &mut adds);
    for add in adds {
        run_file(corpus, name, &add, &mut out, &mut Vec::new());
    }
    out
}

fn check_sample(name: &str) {
    let Some(corpus) = corpus(name) else {
        return;
    };
    let out = run_sample(&corpus, name);
    let expected = known_exceptions(name);
    let got: Vec<(usize, String)> = out
        .bad
        .iter()
        .map(|(f, l, w)| (*l, format!("{f}:{l}: {w}")))
        .collect();
    let unexpected: Vec<&String> = got
        .iter()
        .filter(|(l, _)| !expected.iter().any(|(e, _)| e == l))
        .map(|(_, w)| w)
        .collect();
    let fixed: Vec<usize> = expected
        .iter()
        .filter(|(e, _)| !got.iter().any(|(l, _)| l == e))
        .map(|(e, _)| *e)
        .collect();
    println!("{name}: {}/{} expectations agree", out.agree, out.total);
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{name}: {} disagreement(s):\n{}\nlisted exceptions that now agree: {fixed:?}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

macro_rules! samples {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_sample($file);
            }
        )*

        const ALL: &[&str] = &[$($file),*];
    };
}

#[test]
fn samples_summary() {
    let Some(corpus) = corpus("samples_summary") else {
        return;
    };
    let (mut total, mut agree) = (0, 0);
    let mut files = 0;
    for name in ALL {
        let out = run_sample(&corpus, name);
        total += out.total;
        agree += out.agree;
        files += 1;
        for (f, l, w) in &out.bad {
            println!("  {f}:{l}: {w}");
        }
    }
    let listed: usize = ALL.iter().map(|f| known_exceptions(f).len()).sum();
    println!(
        "{agree}/{total} expectations agree ({files} sample tests; {listed} listed exceptions)"
    );
    assert_eq!(
        agree + listed,
        total,
        "disagreements beyond the listed exceptions"
    );
    assert_eq!(
        total, 1193,
        "the corpus should hold fail2ban's 1,193 expectations"
    );
}

samples! {
    three_proxy => "3proxy",
    apache_auth => "apache-auth",
    apache_badbots => "apache-badbots",
    apache_botsearch => "apache-botsearch",
    apache_fakegooglebot => "apache-fakegooglebot",
    apache_modsecurity => "apache-modsecurity",
    apache_nohome => "apache-nohome",
    apache_noscript => "apache-noscript",
    apache_overflows => "apache-overflows",
    apache_pass => "apache-pass",
    apache_shellshock => "apache-shellshock",
    assp => "assp",
    asterisk => "asterisk",
    bitwarden => "bitwarden",
    centreon => "centreon",
    counter_strike => "counter-strike",
    courier_auth => "courier-auth",
    courier_smtp => "courier-smtp",
    cowrie => "cowrie",
    cyrus_imap => "cyrus-imap",
    dante => "dante",
    directadmin => "directadmin",
    domino_smtp => "domino-smtp",
    dovecot => "dovecot",
    dropbear => "dropbear",
    drupal_auth => "drupal-auth",
    ejabberd_auth => "ejabberd-auth",
    exim => "exim",
    exim_spam => "exim-spam",
    freeswitch => "freeswitch",
    froxlor_auth => "froxlor-auth",
    gitlab => "gitlab",
    grafana => "grafana",
    groupoffice => "groupoffice",
    gssftpd => "gssftpd",
    guacamole => "guacamole",
    haproxy_http_auth => "haproxy-http-auth",
    horde => "horde",
    kerio => "kerio",
    lighttpd_auth => "lighttpd-auth",
    mongodb_auth => "mongodb-auth",
    monit => "monit",
    monitorix => "monitorix",
    mssql_auth => "mssql-auth",
    murmur => "murmur",
    mysqld_auth => "mysqld-auth",
    nagios => "nagios",
    named_refused => "named-refused",
    nginx_bad_request => "nginx-bad-request",
    nginx_botsearch => "nginx-botsearch",
    nginx_forbidden => "nginx-forbidden",
    nginx_http_auth => "nginx-http-auth",
    nginx_limit_req => "nginx-limit-req",
    nsd => "nsd",
    openhab => "openhab",
    openvpn => "openvpn",
    openwebmail => "openwebmail",
    oracleims => "oracleims",
    pam_generic => "pam-generic",
    perdition => "perdition",
    php_url_fopen => "php-url-fopen",
    phpmyadmin_syslog => "phpmyadmin-syslog",
    portsentry => "portsentry",
    postfix => "postfix",
    proftpd => "proftpd",
    proxmox => "proxmox",
    pure_ftpd => "pure-ftpd",
    qmail => "qmail",
    recidive => "recidive",
    roundcube_auth => "roundcube-auth",
    routeros_auth => "routeros-auth",
    scanlogd => "scanlogd",
    screensharingd => "screensharingd",
    selinux_ssh => "selinux-ssh",
    sendmail_auth => "sendmail-auth",
    sendmail_reject => "sendmail-reject",
    sieve => "sieve",
    slapd => "slapd",
    softethervpn => "softethervpn",
    sogo_auth => "sogo-auth",
    solid_pop3d => "solid-pop3d",
    squid => "squid",
    squirrelmail => "squirrelmail",
    sshd => "sshd",
    stunnel => "stunnel",
    suhosin => "suhosin",
    tine20 => "tine20",
    traefik_auth => "traefik-auth",
    uwimap_auth => "uwimap-auth",
    vaultwarden => "vaultwarden",
    vsftpd => "vsftpd",
    webmin_auth => "webmin-auth",
    wuftpd => "wuftpd",
    xinetd_fail => "xinetd-fail",
    xrdp => "xrdp",
    znc_adminlog => "znc-adminlog",
    zoneminder => "zoneminder",
    zzz_generic_example => "zzz-generic-example",
    zzz_sshd_obsolete_multiline => "zzz-sshd-obsolete-multiline",
}
