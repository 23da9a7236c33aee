//! jailor's own filters (`config/filter.d`) against their own sample logs (`tests/samples`),
//! one test per filter, with every expectation compared (match, host, time, user...); then the
//! same filters against fail2ban's sample logs for the same services (match and host), which
//! must agree for at least 95% of the expectations overall, with no `"match": false` line
//! matching. (That every pattern of our filters runs on the linear engine is checked by
//! `tests/filters_linear.rs`.)

use std::path::{Path, PathBuf};

mod samples_support;
use samples_support::{run_sample, Suite, FALSE_MATCH};

fn own_suite() -> Suite {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Suite {
        config: root.join("config"),
        logs: root.join("tests/samples"),
        only_match_and_host: false,
    }
}

fn check_own(name: &str) {
    let suite = own_suite();
    let out = run_sample(&suite, name);
    println!("{name}: {}/{} expectations agree", out.agree, out.total);
    assert!(out.total > 0, "{name}: the sample has no expectation");
    let listing: Vec<String> = out
        .bad
        .iter()
        .map(|(f, l, w)| format!("{f}:{l}: {w}"))
        .collect();
    assert!(
        listing.is_empty(),
        "{name}: {} disagreement(s):\n{}",
        listing.len(),
        listing.join("\n")
    );
}

macro_rules! own_samples {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_own($name);
            }
        )*
        const OWN: &[&str] = &[$($name),*];
    };
}

own_samples! {
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
    authelia => "authelia",
    bitwarden => "bitwarden",
    caddy => "caddy",
    centreon => "centreon",
    cockpit => "cockpit",
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
    forgejo => "forgejo",
    freeswitch => "freeswitch",
    froxlor_auth => "froxlor-auth",
    gitea => "gitea",
    gitlab => "gitlab",
    grafana => "grafana",
    groupoffice => "groupoffice",
    gssftpd => "gssftpd",
    guacamole => "guacamole",
    haproxy_http_auth => "haproxy-http-auth",
    homeassistant => "homeassistant",
    horde => "horde",
    jellyfin => "jellyfin",
    kerio => "kerio",
    keycloak => "keycloak",
    kubernetes_apiserver_audit => "kubernetes-apiserver-audit",
    lighttpd_auth => "lighttpd-auth",
    mastodon => "mastodon",
    matrix_synapse => "matrix-synapse",
    mattermost => "mattermost",
    minio => "minio",
    mongodb_auth => "mongodb-auth",
    monit => "monit",
    monitorix => "monitorix",
    mssql_auth => "mssql-auth",
    murmur => "murmur",
    mysql_mariadb => "mysql-mariadb",
    mysqld_auth => "mysqld-auth",
    nagios => "nagios",
    named_refused => "named-refused",
    nextcloud => "nextcloud",
    nginx_bad_request => "nginx-bad-request",
    nginx_botsearch => "nginx-botsearch",
    nginx_forbidden => "nginx-forbidden",
    nginx_http_auth => "nginx-http-auth",
    nginx_limit_req => "nginx-limit-req",
    nsd => "nsd",
    openhab => "openhab",
    openvpn => "openvpn",
    openvpn_flood => "openvpn-flood",
    openwebmail => "openwebmail",
    oracleims => "oracleims",
    pam_generic => "pam-generic",
    perdition => "perdition",
    php_url_fopen => "php-url-fopen",
    phpmyadmin_syslog => "phpmyadmin-syslog",
    portsentry => "portsentry",
    postfix => "postfix",
    postgresql => "postgresql",
    proftpd => "proftpd",
    proxmox => "proxmox",
    pure_ftpd => "pure-ftpd",
    qmail => "qmail",
    recidive => "recidive",
    redis => "redis",
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
    traefik_json => "traefik-json",
    uwimap_auth => "uwimap-auth",
    vaultwarden => "vaultwarden",
    vsftpd => "vsftpd",
    webmin_auth => "webmin-auth",
    wireguard_flood => "wireguard-flood",
    wuftpd => "wuftpd",
    xinetd_fail => "xinetd-fail",
    xrdp => "xrdp",
    znc_adminlog => "znc-adminlog",
    zoneminder => "zoneminder",
}

#[test]
fn every_filter_has_a_sample_with_an_injection_attempt_and_is_listed_here() {
    let suite = own_suite();
    let mut names: Vec<String> = std::fs::read_dir(suite.config.join("filter.d"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter_map(|n| n.strip_suffix(".conf").map(str::to_owned))
        .filter(|n| !n.ends_with("common"))
        .collect();
    names.sort();
    let listed: Vec<String> = OWN.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, listed, "config/filter.d and the test list differ");
    assert!(names.len() >= 100, "only {} filters", names.len());
    for n in &names {
        let sample = std::fs::read_to_string(suite.logs.join(n))
            .unwrap_or_else(|e| panic!("tests/samples/{n}: {e}"));
        assert!(
            sample.contains("\"match\": false"),
            "{n}: no line that must not match"
        );
    }
}

#[test]
fn own_filters_agree_with_fail2ban_samples() {
    let Some(corpus) = jailor_testkit::require_corpus("own_filters_agree_with_fail2ban_samples")
    else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = Suite {
        config: root.join("config"),
        logs: corpus.join("logs"),
        only_match_and_host: true,
    };
    let (mut total, mut agree) = (0, 0);
    let mut false_matches: Vec<String> = Vec::new();
    let mut compared: Vec<PathBuf> = Vec::new();
    for name in OWN {
        if !suite.logs.join(name).is_file() {
            continue;
        }
        compared.push(suite.logs.join(name));
        let out = run_sample(&suite, name);
        println!(
            "{name}: {}/{} of fail2ban's expectations agree",
            out.agree, out.total
        );
        for (f, l, w) in &out.bad {
            println!("  {f}:{l}: {w}");
            if w.contains(FALSE_MATCH) {
                false_matches.push(format!("{f}:{l}: {w}"));
            }
        }
        total += out.total;
        agree += out.agree;
    }
    println!(
        "{agree}/{total} of fail2ban's expectations agree over {} services",
        compared.len()
    );
    assert!(
        compared.len() >= 90,
        "only {} services compared",
        compared.len()
    );
    assert!(
        false_matches.is_empty(),
        "lines fail2ban says must not match did:\n{}",
        false_matches.join("\n")
    );
    assert!(agree * 100 >= total * 95, "{agree}/{total} is below 95%");
}
