//! fail2ban's mail actions and the `action_`, `action_mw`, `action_mwl` shortcuts of its
//! `jail.conf`, run by jailor from fail2ban's whole configuration against an SMTP server the
//! test starts on a free local port.
//!
//! fail2ban's `sendmail*` actions pipe a message into `<mailcmd>`; a `sendmail-common.local`
//! (the override file fail2ban's own `sendmail-common.conf` includes) points it at a real
//! SMTP client (Python's `smtplib`), which delivers to the test's SMTP server. Checked: the
//! jail start and stop messages, each ban's message with its envelope (`sender`,
//! `destemail`), the `action_mwl` message carrying the attacker's log lines, the ban part of
//! every shortcut (fail2ban's `dummy` as `banaction`, writing to a file), and that
//! `action_` alone sends nothing.
//!
//! fail2ban's `mail` action pipes its text into mailutils' `mail`, which hands the message to
//! `/usr/sbin/sendmail` (msmtp here). That test leaves `mailcmd` and the action untouched and
//! starts the daemon with `HOME` pointing at a folder whose `.msmtprc` names the test's SMTP
//! server, so nothing outside the temporary folders changes.

mod daemon_support;
mod firewall_support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daemon_support::*;
use firewall_support::copy_dir;

/// One message the SMTP server accepted: envelope and data.
#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server on 127.0.0.1 (a free port), keeping every message it is given.
struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&mails);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || {
                    let _ = session(stream, &kept);
                });
            }
        });
        SmtpSink { port, mails }
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// The messages whose data contains `needle`.
    fn with(&self, needle: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.data.contains(needle))
            .collect()
    }
}

/// One SMTP conversation: greeting, EHLO/HELO, MAIL, RCPT, DATA (dot-terminated), QUIT.
fn session(stream: TcpStream, mails: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().to_owned();
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().to_owned());
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("DATA") {
            out.write_all(b"354 go on\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mails.lock().unwrap().push(Mail {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            out.write_all(b"250 queued\r\n")?;
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            // HELO, RSET, NOOP and anything else.
            out.write_all(b"250 OK\r\n")?;
        }
    }
}

/// The SMTP client `mailcmd` runs: the message on stdin, port, sender and recipient as
/// arguments.
const SEND: &str = "import smtplib, sys\n\
port, sender, dest = int(sys.argv[1]), sys.argv[2], sys.argv[3]\n\
msg = sys.stdin.buffer.read()\n\
with smtplib.SMTP('127.0.0.1', port, timeout=60) as s:\n    s.sendmail(sender, [dest], msg)\n";

/// fail2ban's configuration in `dir/conf`, with the test filter, a `dummy` ban action writing
/// to `dir/bans.txt`, mail through `python3` to `port`, and four jails: `plain`
/// (`action_`), `mw` (`action_mw`), `mwl` (`action_mwl`) and `note` (`action_` plus
/// `sendmail`), each reading its own log.
fn mail_conf(f2b: &Path, dir: &Path, python: &Path, port: u16) -> std::path::PathBuf {
    let conf = dir.join("conf");
    copy_dir(f2b, &conf);
    let d = dir.display();
    fs::write(conf.join("filter.d/test.conf"), FILTER).unwrap();
    fs::write(dir.join("send.py"), SEND).unwrap();
    fs::write(
        conf.join("action.d/sendmail-common.local"),
        format!(
            "[Init]\nmailcmd = {} {d}/send.py {port} \"<sender>\" \"<dest>\"\n",
            python.display()
        ),
    )
    .unwrap();
    fs::write(
        conf.join("action.d/dummy.local"),
        format!("[Init]\ntarget = {d}/bans.txt\n"),
    )
    .unwrap();
    fs::write(
        conf.join("fail2ban.local"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {d}/jailor.log\nsocket = {d}/jailor.sock\n\
             pidfile = {d}/jailor.pid\ndbfile = {d}/jailor.sqlite3\n"
        ),
    )
    .unwrap();
    let mut jails = String::from(
        "[DEFAULT]\nbanaction = dummy\nbanaction_allports = dummy\nmta = sendmail\n\
         destemail = admin@example.test\nsender = jails@example.test\n\
         bantime = 600\nfindtime = 60\nmaxretry = 2\nbackend = polling\nfilter = test\n\
         ignoreself = false\n",
    );
    for (jail, action) in [
        ("plain", "%(action_)s"),
        ("mw", "%(action_mw)s"),
        ("mwl", "%(action_mwl)s"),
        (
            "note",
            "%(action_)s\n         sendmail[name=note, sender=\"%(sender)s\", dest=\"%(destemail)s\"]",
        ),
    ] {
        let log = dir.join(format!("{jail}.log"));
        append(&log, "");
        jails.push_str(&format!(
            "[{jail}]\nenabled = true\nlogpath = {}\naction = {action}\n",
            log.display()
        ));
    }
    fs::write(conf.join("jail.local"), jails).unwrap();
    conf
}

#[test]
fn mail_actions_and_shortcuts() {
    let test = "mail_actions_and_shortcuts";
    let Some(corpus) = jailor_testkit::require_corpus(test) else {
        return;
    };
    let Some(python) = jailor_testkit::require_command(test, "python3", "python3") else {
        return;
    };
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let conf = mail_conf(&corpus.join("config"), dir.path(), &python, sink.port);
    let jailor_log = dir.path().join("jailor.log");
    let stderr = fs::File::create(dir.path().join("stderr.txt")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(["server", "-f", "-x", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let d = Daemon { child };
    let diag = || {
        format!(
            "log:\n{}\nstderr:\n{}\nmails: {:#?}",
            read(&jailor_log),
            read(&dir.path().join("stderr.txt")),
            sink.mails()
        )
    };
    wait_for("the jails", 60, || {
        let log = read(&jailor_log);
        ["plain", "mw", "mwl", "note"]
            .iter()
            .all(|j| log.contains(&format!("Jail '{j}' started")))
    });
    wait_for("the start messages", 60, || {
        ["mw", "mwl", "note"]
            .iter()
            .all(|j| !sink.with(&format!("[Fail2Ban] {j}: started on")).is_empty())
    });

    for (jail, ip) in [
        ("plain", "192.0.2.1"),
        ("mw", "192.0.2.2"),
        ("mwl", "192.0.2.3"),
        ("note", "192.0.2.4"),
    ] {
        let log = dir.path().join(format!("{jail}.log"));
        append(&log, &failure(ip).repeat(2));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !["192.0.2.2", "192.0.2.3", "192.0.2.4"]
        .iter()
        .all(|ip| !sink.with(&format!("banned {ip} from")).is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no ban messages\n{}",
            diag()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Every shortcut ran its ban action too.
    wait_for("the dummy bans", 30, || {
        let bans = read(&dir.path().join("bans.txt"));
        ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
            .iter()
            .all(|ip| bans.contains(&format!("+{ip}")))
    });
    for (jail, ip) in [
        ("mw", "192.0.2.2"),
        ("mwl", "192.0.2.3"),
        ("note", "192.0.2.4"),
    ] {
        let m = sink.with(&format!("banned {ip} from"));
        assert_eq!(m.len(), 1, "{jail}: {}", diag());
        let m = &m[0];
        assert_eq!(m.from, "<jails@example.test>", "{m:?}");
        assert_eq!(m.to, ["<admin@example.test>"], "{m:?}");
        assert!(
            m.data
                .contains(&format!("Subject: [Fail2Ban] {jail}: banned {ip} from")),
            "{m:?}"
        );
        assert!(m.data.contains("To: admin@example.test"), "{m:?}");
        assert!(
            m.data
                .contains(&format!("after\n2 attempts against {jail}."))
                || m.data
                    .contains(&format!("after\r\n2 attempts against {jail}.")),
            "{m:?}"
        );
    }
    // action_mwl: the attacker's lines from the jail's log.
    let mwl = &sink.with("banned 192.0.2.3 from")[0];
    assert!(mwl.data.contains("auth failure from 192.0.2.3"), "{mwl:?}");
    assert!(
        sink.with("192.0.2.1").is_empty(),
        "action_ sent mail: {}",
        diag()
    );
    assert!(sink.with("[Fail2Ban] plain:").is_empty());

    d.stop();
    for jail in ["mw", "mwl", "note"] {
        assert_eq!(
            sink.with(&format!("[Fail2Ban] {jail}: stopped on")).len(),
            1,
            "{jail}: {}",
            diag()
        );
    }
}

/// A filter for `mail_action_through_mailutils`: the text between `for` and `from` is free,
/// so a failure line can carry shell metacharacters and still count.
const META_FILTER: &str =
    "[Definition]\nfailregex = ^\\s*auth failure for .* from <HOST>$\ndatepattern = ^EPOCH\n";

/// fail2ban's configuration in `dir/conf` with one jail `mailer` running fail2ban's `mail`
/// action (unchanged) to `admin@example.test`, and `dir/home/.msmtprc` pointing msmtp at
/// `port`.
fn mailcmd_conf(f2b: &Path, dir: &Path, port: u16) -> std::path::PathBuf {
    let conf = dir.join("conf");
    copy_dir(f2b, &conf);
    let d = dir.display();
    fs::write(conf.join("filter.d/meta.conf"), META_FILTER).unwrap();
    fs::write(
        conf.join("fail2ban.local"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {d}/jailor.log\nsocket = {d}/jailor.sock\n\
             pidfile = {d}/jailor.pid\ndbfile = {d}/jailor.sqlite3\n"
        ),
    )
    .unwrap();
    let log = dir.join("mailer.log");
    append(&log, "");
    fs::write(
        conf.join("jail.local"),
        format!(
            "[mailer]\nenabled = true\nbackend = polling\nfilter = meta\nlogpath = {}\n\
             maxretry = 2\nfindtime = 60\nbantime = 600\nignoreself = false\n\
             action = mail[name=mailer, dest=\"admin@example.test\"]\n",
            log.display()
        ),
    )
    .unwrap();
    let home = dir.join("home");
    fs::create_dir_all(&home).unwrap();
    let rc = home.join(".msmtprc");
    fs::write(
        &rc,
        format!(
            "defaults\nauth off\ntls off\nsyslog off\naccount default\nhost 127.0.0.1\n\
             port {port}\nfrom jails@example.test\ntimeout 60\n"
        ),
    )
    .unwrap();
    // msmtp refuses a configuration file others can read.
    fs::set_permissions(&rc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    conf
}

#[test]
fn mail_action_through_mailutils() {
    let test = "mail_action_through_mailutils";
    let Some(corpus) = jailor_testkit::require_corpus(test) else {
        return;
    };
    if jailor_testkit::require_command(test, "mail", "mailutils").is_none()
        || jailor_testkit::require_command(test, "msmtp", "msmtp-mta").is_none()
    {
        return;
    }
    if !Path::new("/usr/sbin/sendmail").exists() {
        jailor_testkit::skip::<()>(
            test,
            "/usr/sbin/sendmail missing (apt-get install msmtp-mta)",
        );
        return;
    }
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let conf = mailcmd_conf(&corpus.join("config"), dir.path(), sink.port);
    let jailor_log = dir.path().join("jailor.log");
    let stderr = fs::File::create(dir.path().join("stderr.txt")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jailor"))
        .args(["server", "-f", "-x", "-c"])
        .arg(&conf)
        .env("HOME", dir.path().join("home"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("MAILRC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let daemon = Daemon { child };
    let diag = || {
        format!(
            "log:\n{}\nstderr:\n{}\nmails: {:#?}",
            read(&jailor_log),
            read(&dir.path().join("stderr.txt")),
            sink.mails()
        )
    };
    // The message text with CRLF line ends made plain.
    let texts = |needle: &str| -> Vec<Mail> {
        sink.mails()
            .into_iter()
            .map(|m| Mail {
                data: m.data.replace("\r\n", "\n"),
                ..m
            })
            .filter(|m| m.data.contains(needle))
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while texts("Subject: [Fail2Ban] mailer: started").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no start message\n{}",
            diag()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = &texts("Subject: [Fail2Ban] mailer: started")[0];
    assert_eq!(start.to, ["<admin@example.test>"], "{start:?}");
    assert!(
        start
            .data
            .contains("The jail mailer has been started successfully."),
        "{start:?}"
    );

    // Failure lines whose free part is shell code; and one whose address is.
    let evil = format!(
        "$(touch {d}/pwn1); touch {d}/pwn2 `touch {d}/pwn3` \"'|touch {d}/pwn4 && touch {d}/pwn5\\n"
    );
    let log = dir.path().join("mailer.log");
    for _ in 0..2 {
        append(
            &log,
            &format!("{} auth failure for {evil} from 192.0.2.7\n", epoch()),
        );
    }
    append(
        &log,
        &format!(
            "{} auth failure for x from 192.0.2.8;touch {d}/pwn6\n",
            epoch()
        ),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while texts("banned 192.0.2.7 from").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no ban message\n{}",
            diag()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let bans = texts("banned 192.0.2.7 from");
    assert_eq!(bans.len(), 1, "{}", diag());
    let ban = &bans[0];
    assert_eq!(ban.to, ["<admin@example.test>"], "{ban:?}");
    assert!(
        ban.data
            .contains("Subject: [Fail2Ban] mailer: banned 192.0.2.7 from "),
        "{ban:?}"
    );
    assert!(ban.data.contains("To: <admin@example.test>"), "{ban:?}");
    assert!(
        ban.data.contains(
            "The IP 192.0.2.7 has just been banned by Fail2Ban after\n2 attempts against mailer."
        ),
        "{ban:?}"
    );
    assert!(!ban.data.contains("touch"), "log text in the mail: {ban:?}");

    daemon.stop();
    wait_for("the stop message", 60, || {
        !texts("Subject: [Fail2Ban] mailer: stopped on").is_empty()
    });
    let stop = &texts("Subject: [Fail2Ban] mailer: stopped on")[0];
    assert_eq!(stop.to, ["<admin@example.test>"], "{stop:?}");
    assert!(
        stop.data.contains("The jail mailer has been stopped."),
        "{stop:?}"
    );
    assert_eq!(sink.mails().len(), 3, "{}", diag());
    for n in 1..=6 {
        assert!(
            !dir.path().join(format!("pwn{n}")).exists(),
            "log text ran as a command (pwn{n})\n{}",
            diag()
        );
    }
    assert!(!read(&jailor_log).contains("Ban 192.0.2.8"), "{}", diag());
}
