//! fail2ban's sample suite run through jailor (FAIL2BAN-SPEC §5): every sample log of the
//! corpus with fail2ban's own filter and its `filterOptions`, under the suite's time zone and
//! fixed now; every `# failJSON:` expectation compared (match, host, time, user and every
//! other key). One test per sample file; `samples_summary` prints "N/M expectations agree".
//!
//! The corpus is `$JAILOR_F2B_CORPUS` (a folder with `config/` and `logs/`) or the shared one.

mod samples_support;
use samples_support::{run_sample, Suite};

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

fn suite(test: &str) -> Option<Suite> {
    let corpus = jailor_testkit::require_corpus(test)?;
    Some(Suite {
        config: corpus.join("config"),
        logs: corpus.join("logs"),
        only_match_and_host: false,
    })
}

fn check_sample(name: &str) {
    let Some(suite) = suite(name) else {
        return;
    };
    let out = run_sample(&suite, name);
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
    let Some(suite) = suite("samples_summary") else {
        return;
    };
    let (mut total, mut agree) = (0, 0);
    let mut files = 0;
    for name in ALL {
        let out = run_sample(&suite, name);
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
