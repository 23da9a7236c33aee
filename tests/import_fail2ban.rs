//! Moving from fail2ban loses nothing: Debian's real fail2ban bans addresses into its own
//! database, `jailor import-fail2ban-db` brings them over, and `jailor server` on the same
//! configuration restores the same bans, ending at the same time, with the same ban counts.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const JAILOR: &str = env!("CARGO_BIN_EXE_jailor");

/// One configuration both daemons read: fail2ban.conf, three jails (one hour, one with
/// bantime.increment, one permanent), a filter and an action that writes every ban with its
/// start, length, ban count and restored flag.
fn write_config(dir: &Path) -> PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(conf.join("filter.d")).unwrap();
    std::fs::create_dir_all(conf.join("action.d")).unwrap();
    std::fs::create_dir_all(dir.join("db")).unwrap();
    let d = dir.display();
    std::fs::write(
        conf.join("fail2ban.conf"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {d}/f2b.log\nsyslogsocket = auto\n\
             socket = {d}/f2b.sock\npidfile = {d}/f2b.pid\nallowipv6 = auto\n\
             dbfile = {d}/db/fail2ban.sqlite3\ndbpurgeage = 1d\n"
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("filter.d/probe.conf"),
        "[Definition]\nfailregex = ^probe failure from <HOST>$\n",
    )
    .unwrap();
    std::fs::write(
        conf.join("action.d/record.conf"),
        "[Definition]\n\
         actionban = echo \"ban <ip> <time> <bantime> <bancount> <restored>\" >> <file>\n\
         actionunban = echo \"unban <ip>\" >> <file>\n\
         [Init]\nfile = /dev/null\n",
    )
    .unwrap();
    std::fs::write(
        conf.join("jail.conf"),
        format!(
            "[DEFAULT]\nbackend = polling\nfilter = probe\nlogpath = {d}/auth.log\n\
             findtime = 600\nmaxretry = 3\naction = record[file=\"{d}/actions.txt\"]\n\
             [hour]\nenabled = true\nbantime = 3600\n\
             [inc]\nenabled = true\nbantime = 2\nbantime.increment = true\n\
             bantime.factor = 1000\nbantime.maxtime = 1d\n\
             [forever]\nenabled = true\nbantime = -1\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("auth.log"), "").unwrap();
    conf
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fail2ban(client: &Path, conf: &Path, args: &[&str]) -> String {
    let out = run(Command::new(client)
        .arg("-c")
        .arg(conf)
        .args(args)
        .env("TZ", "UTC"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// fail2ban's own view of its bans (`get JAIL banip --with-time`, in UTC): address → end of
/// ban (Unix seconds), `None` for permanent.
fn fail2ban_ends(client: &Path, conf: &Path, jail: &str) -> BTreeMap<String, Option<i64>> {
    let text = fail2ban(client, conf, &["get", jail, "banip", "--with-time"]);
    let mut ends = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // "ADDR \tYYYY-mm-dd HH:MM:SS + BANTIME = YYYY-mm-dd HH:MM:SS"
        let (addr, rest) = line.split_once('\t').unwrap();
        let (start, rest) = rest.split_once(" + ").unwrap();
        let bantime: i64 = rest.split_once(" = ").unwrap().0.trim().parse().unwrap();
        let start: jiff::civil::DateTime = start.trim().parse().unwrap();
        let start = jiff::tz::TimeZone::UTC.to_timestamp(start).unwrap();
        let end = (bantime != -1).then(|| start.as_second() + bantime);
        ends.insert(addr.trim().to_owned(), end);
    }
    ends
}

/// Ban counts fail2ban stored per (jail, address), read straight from its `bips` table.
fn fail2ban_counts(db: &Path) -> BTreeMap<(String, String), u32> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT jail, ip, bancount FROM bips").unwrap();
    stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn bans_of_a_real_fail2ban_come_back_in_jailor_with_their_end_and_count() {
    let test = "import_fail2ban";
    let Some(client) = jailor_testkit::require_command(test, "fail2ban-client", "fail2ban") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let conf = write_config(dir);
    let f2b_db = dir.join("db/fail2ban.sqlite3");

    // fail2ban bans: two addresses for an hour, one twice under bantime.increment (its
    // first ban runs out first, so the second has ban count 2), one for ever.
    fail2ban(&client, &conf, &["start"]);
    let stop_fail2ban = scopeguard(|| {
        let _ = Command::new(&client)
            .arg("-c")
            .arg(&conf)
            .arg("stop")
            .output();
    });
    fail2ban(&client, &conf, &["set", "inc", "banip", "198.51.100.7"]);
    fail2ban(
        &client,
        &conf,
        &["set", "hour", "banip", "192.0.2.1", "192.0.2.2"],
    );
    fail2ban(&client, &conf, &["set", "forever", "banip", "203.0.113.9"]);
    wait_for("fail2ban's unban of the 2-second ban", 60, || {
        fail2ban(&client, &conf, &["status", "inc"]).contains("Currently banned:\t0")
    });
    fail2ban(&client, &conf, &["set", "inc", "banip", "198.51.100.7"]);
    // The increased bantime is written by fail2ban's observer, shortly after the ban.
    wait_for("fail2ban's increased ban", 60, || {
        fail2ban_ends(&client, &conf, "inc")
            .get("198.51.100.7")
            .copied()
            .flatten()
            .is_some_and(|end| end > jiff::Timestamp::now().as_second() + 1000)
    });
    let mut expected = BTreeMap::new();
    for jail in ["hour", "inc", "forever"] {
        for (addr, end) in fail2ban_ends(&client, &conf, jail) {
            expected.insert((jail.to_owned(), addr), end);
        }
    }
    fail2ban(&client, &conf, &["stop"]);
    drop(stop_fail2ban);
    assert_eq!(expected.len(), 4, "{expected:?}");
    let counts = fail2ban_counts(&f2b_db);
    assert_eq!(counts[&("inc".to_owned(), "198.51.100.7".to_owned())], 2);

    // A dry run shows the four bans and writes nothing; the import writes them; a second
    // import writes nothing.
    let jailor_db = dir.join("db/jailor.sqlite3");
    let import = |extra: &[&str]| -> String {
        let out = run(Command::new(JAILOR)
            .arg("import-fail2ban-db")
            .arg(&f2b_db)
            .arg("-c")
            .arg(&conf)
            .args(extra));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dry = import(&["--dry-run"]);
    assert_eq!(dry.matches("would import: ").count(), 4, "{dry}");
    assert!(
        !jailor_db.exists(),
        "a dry run created {}",
        jailor_db.display()
    );
    let first = import(&[]);
    assert!(first.contains("4 of 4 bans"), "{first}");
    assert!(jailor_db.exists(), "{first}");
    let second = import(&[]);
    assert!(second.contains("0 of 4 bans"), "{second}");
    assert_eq!(second.matches("already imported").count(), 4, "{second}");

    // jailor restores them on the same configuration.
    let actions = dir.join("actions.txt");
    std::fs::write(&actions, "").unwrap();
    let server = Server(
        Command::new(JAILOR)
            .args(["server", "-f", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(dir.join("jailor.sock"))
            .arg("-p")
            .arg(dir.join("jailor.pid"))
            .arg("--logtarget")
            .arg(dir.join("jailor.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let restored = || -> Vec<String> {
        std::fs::read_to_string(&actions)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("ban ") && l.ends_with(" 1"))
            .map(str::to_owned)
            .collect()
    };
    wait_for("jailor's restored bans", 60, || restored().len() >= 4);
    drop(server);
    let log = std::fs::read_to_string(dir.join("jailor.log")).unwrap_or_default();
    let lines = restored();
    assert_eq!(lines.len(), 4, "{lines:?}\n{log}");
    // The action line does not name the jail; the addresses are distinct across jails.
    for ((jail, addr), end) in &expected {
        let line = lines
            .iter()
            .find(|l| l.split(' ').nth(1) == Some(addr.as_str()))
            .unwrap_or_else(|| panic!("{addr} of {jail} not restored: {lines:?}\n{log}"));
        let fields: Vec<&str> = line.split(' ').collect();
        let time: f64 = fields[2].parse().unwrap();
        let bantime: i64 = fields[3].parse().unwrap();
        let count: u32 = fields[4].parse().unwrap();
        match end {
            None => assert_eq!(bantime, -1, "{jail} {addr}: {line}"),
            Some(end) => {
                let jailor_end = time + bantime as f64;
                assert!(
                    (jailor_end - *end as f64).abs() <= 1.0,
                    "{jail} {addr}: fail2ban ends at {end}, jailor at {jailor_end} ({line})"
                );
            }
        }
        assert_eq!(
            count,
            counts[&(jail.clone(), addr.clone())],
            "{jail} {addr}: ban count ({line})"
        );
        assert!(
            log.contains(&format!("[{jail}] Restore Ban {addr}")),
            "{jail} {addr}\n{log}"
        );
    }
}

/// Runs `f` when dropped (stops fail2ban when an assertion fails half-way).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
