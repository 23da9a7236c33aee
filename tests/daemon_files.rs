//! `jailor server` follows its logs through rotation, truncation, late files and globs, and
//! survives bad input. Failures are counted through the `Found` lines of its log: each
//! failure line must be found exactly once.

mod daemon_support;

use std::fs;

use daemon_support::*;

fn jail(name: &str, logpath: &str) -> String {
    format!(
        "[{name}]\nenabled = true\nfilter = test\nlogpath = {logpath}\naction = record[file=\"@DIR@/actions.txt\"]\n"
    )
}

fn found(log: &str, jail: &str, ip: &str) -> usize {
    count(log, &format!("[{jail}] Found {ip} -"))
}

/// Waits until every address of `ips` is found once in `jail`, then checks none twice.
fn expect_each_once(conf: &Conf, jail: &str, ips: &[String]) {
    wait_for(
        &format!("{jail}: {} addresses found", ips.len()),
        15,
        || {
            let log = conf.log();
            ips.iter().all(|ip| found(&log, jail, ip) >= 1)
        },
    );
    let log = conf.log();
    for ip in ips {
        assert_eq!(found(&log, jail, ip), 1, "{jail} {ip}:\n{log}");
    }
}

fn ips(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}.{i}")).collect()
}

fn lines(ips: &[String]) -> String {
    ips.iter().map(|ip| failure(ip)).collect()
}

#[test]
fn rotation_truncation_late_files_and_globs_lose_and_repeat_nothing() {
    let mut jails = String::from("[DEFAULT]\nbantime = 600\nfindtime = 600\nmaxretry = 100\n");
    jails += &jail("rename", "@DIR@/rename.log");
    jails += &jail("copytrunc", "@DIR@/copytrunc.log");
    jails += &jail("trunc", "@DIR@/trunc.log");
    jails += &jail("late", "@DIR@/late.log");
    jails += &jail("glob", "@DIR@/g/*.log");
    let conf = Conf::new(&jails);
    for f in ["rename.log", "copytrunc.log", "trunc.log"] {
        append(&conf.file(f), "");
    }
    fs::create_dir(conf.file("g")).unwrap();
    append(&conf.file("g/a.log"), "");
    let _d = Daemon::start_ready(&conf, &["rename", "copytrunc", "trunc", "late", "glob"]);

    // Rotation by rename: old file renamed away (and written once more), a new one created.
    let a = ips("10.1.1", 5);
    append(&conf.file("rename.log"), &lines(&a[..3]));
    expect_each_once(&conf, "rename", &a[..3]);
    fs::rename(conf.file("rename.log"), conf.file("rename.log.1")).unwrap();
    append(&conf.file("rename.log.1"), &lines(&a[3..4]));
    append(&conf.file("rename.log"), &lines(&a[4..]));
    expect_each_once(&conf, "rename", &a);

    // copytruncate: copied away, then truncated in place and written again.
    // (Four new lines: a rewrite to the very same size between two polls is not seen by
    // jailor-tail, which checks the first line only when the size changed.)
    let b = ips("10.2.2", 7);
    append(&conf.file("copytrunc.log"), &lines(&b[..3]));
    expect_each_once(&conf, "copytrunc", &b[..3]);
    fs::copy(conf.file("copytrunc.log"), conf.file("copytrunc.log.1")).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(conf.file("copytrunc.log"))
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&conf.file("copytrunc.log"), &lines(&b[3..]));
    expect_each_once(&conf, "copytrunc", &b);

    // Truncation to zero, then a shorter content.
    let c = ips("10.3.3", 4);
    append(&conf.file("trunc.log"), &lines(&c[..3]));
    expect_each_once(&conf, "trunc", &c[..3]);
    fs::write(conf.file("trunc.log"), "").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    append(&conf.file("trunc.log"), &lines(&c[3..]));
    expect_each_once(&conf, "trunc", &c);

    // A file that did not exist at start.
    let l = ips("10.4.4", 3);
    append(&conf.file("late.log"), &lines(&l));
    expect_each_once(&conf, "late", &l);

    // A glob that gains a file.
    let g = ips("10.5.5", 4);
    append(&conf.file("g/a.log"), &lines(&g[..2]));
    append(&conf.file("g/b.log"), &lines(&g[2..]));
    expect_each_once(&conf, "glob", &g);
}

#[test]
fn bad_input_is_logged_and_the_daemon_goes_on() {
    let jails = format!(
        "[DEFAULT]\nbantime = 600\nfindtime = 600\nmaxretry = 100\n{}",
        jail("bad", "@DIR@/bad.log")
    );
    let conf = Conf::new(&jails);
    let log = conf.file("bad.log");
    append(&log, "");
    let mut d = Daemon::start_ready(&conf, &["bad"]);
    let mut raw = fs::OpenOptions::new().append(true).open(&log).unwrap();
    use std::io::Write;
    // A binary blob with NULs and no sensible lines.
    let blob: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    raw.write_all(&blob).unwrap();
    raw.write_all(b"\n").unwrap();
    raw.write_all(failure("10.9.0.1").as_bytes()).unwrap();
    // A 10 MB line.
    raw.write_all(&vec![b'x'; 10 << 20]).unwrap();
    raw.write_all(b"\n").unwrap();
    raw.write_all(failure("10.9.0.2").as_bytes()).unwrap();
    // Invalid UTF-8 inside a failure line and beside it.
    raw.write_all(b"\xff\xfe\xc3\x28 garbage\n").unwrap();
    let mut bad = failure("10.9.0.3").into_bytes();
    bad.splice(11..11, b"\xff".iter().copied());
    raw.write_all(&bad).unwrap();
    raw.write_all(failure("10.9.0.4").as_bytes()).unwrap();
    drop(raw);
    expect_each_once(
        &conf,
        "bad",
        &["10.9.0.1".into(), "10.9.0.2".into(), "10.9.0.4".into()],
    );
    assert!(
        conf.log().contains("longer than the limit"),
        "{}",
        conf.log()
    );
    // The log disappears and comes back.
    fs::remove_file(&log).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(d.is_running());
    append(&log, &failure("10.9.0.5"));
    expect_each_once(&conf, "bad", &["10.9.0.5".into()]);
    assert!(d.is_running());
    d.stop();
}
