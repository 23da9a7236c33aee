//! `<ipmatches>` and `<ipjailmatches>` in a real action: the matched lines of an address's
//! bans in this jail, and in all jails, newest ban first, at most `dbmaxmatches` lines.

mod daemon_support;

use std::fs;

use daemon_support::*;

const JAILS: &str = "[DEFAULT]
bantime = 600
findtime = 600
maxretry = 3
[one]
enabled = true
filter = test
logpath = @DIR@/one.log
action = showmatches[dir=\"@DIR@\", tag=one]
[two]
enabled = true
filter = login
logpath = @DIR@/two.log
action = showmatches[dir=\"@DIR@\", tag=two]
";

/// Writes both tags of a ban into files named after the jail's tag and the address.
const SHOW_MATCHES: &str = "[Definition]
actionban = printf '%%s\\n' \"<ipjailmatches>\" > <dir>/<tag>-jail-<ip>.txt
            printf '%%s\\n' \"<ipmatches>\" > <dir>/<tag>-all-<ip>.txt
[Init]
dir = /dev/null
tag = none
";

/// A second filter, so the two jails' lines can be told apart.
const LOGIN_FILTER: &str =
    "[Definition]\nfailregex = ^\\s*login failure from <HOST>$\ndatepattern = ^EPOCH\n";

#[test]
fn ipmatches_hold_the_addresss_lines_over_this_jail_and_all_jails() {
    let conf = Conf::new(JAILS);
    // Five lines at most: the second ban's three lines and two of the first's.
    let server = fs::read_to_string(conf.file("fail2ban.conf")).unwrap();
    fs::write(
        conf.file("fail2ban.conf"),
        format!("{server}dbmaxmatches = 5\n"),
    )
    .unwrap();
    fs::write(conf.file("action.d/showmatches.conf"), SHOW_MATCHES).unwrap();
    fs::write(conf.file("filter.d/login.conf"), LOGIN_FILTER).unwrap();
    append(&conf.file("one.log"), "");
    append(&conf.file("two.log"), "");
    let daemon = Daemon::start_ready(&conf, &["one", "two"]);

    // A ban in jail one: both tags show its three lines.
    append(&conf.file("one.log"), &failure("192.0.2.9").repeat(3));
    let one_all = conf.file("one-all-192.0.2.9.txt");
    wait_for("the ban in jail one", 30, || read(&one_all).ends_with('\n'));
    let one_jail = read(&conf.file("one-jail-192.0.2.9.txt"));
    assert_eq!(
        count(&one_jail, "auth failure from 192.0.2.9"),
        3,
        "{one_jail}"
    );
    assert_eq!(one_jail.lines().count(), 3, "{one_jail}");
    assert_eq!(read(&one_all), one_jail);

    // Then a ban in jail two: this jail's lines alone, and over all jails this ban's lines
    // first, then the earlier ban's, cut at dbmaxmatches.
    let now = epoch();
    let login = format!("{now} login failure from 192.0.2.9\n");
    append(&conf.file("two.log"), &login.repeat(3));
    let two_all = conf.file("two-all-192.0.2.9.txt");
    wait_for("the ban in jail two", 30, || read(&two_all).ends_with('\n'));
    let two_jail = read(&conf.file("two-jail-192.0.2.9.txt"));
    assert_eq!(
        count(&two_jail, "login failure from 192.0.2.9"),
        3,
        "{two_jail}"
    );
    assert_eq!(two_jail.lines().count(), 3, "{two_jail}");
    let all = read(&two_all);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 5, "{all}");
    assert!(
        lines[..3].iter().all(|l| l.contains("login failure")),
        "{all}"
    );
    assert!(
        lines[3..].iter().all(|l| l.contains("auth failure")),
        "{all}"
    );
    daemon.stop();
}
