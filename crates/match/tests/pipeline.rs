//! The line pipeline: date cut out before the regexes, fail2ban's last-date fallback, and
//! the threaded batch path giving exactly the sequential results.

use jailor_date::{DateDetector, Zone};
use jailor_match::{Filter, FilterOptions, LineBlock, Pipeline, Processed, UseDns};

const NOW: f64 = 1_800_000_000.0; // 2027-01-15 08:00:00 UTC

fn pipeline() -> Pipeline {
    let opts = FilterOptions {
        prefregex: Some(
            r"^<F-MLFID>\s*\S+ app\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$".into(),
        ),
        failregex: vec![
            r"^bad login for <F-USER>\S+</F-USER> from <HOST>\s*$".into(),
            r"^<F-NOFAIL>hello</F-NOFAIL> from <HOST>$".into(),
            r"^(?P<w>\w+) denied <HOST>(?! now)".into(),
        ],
        ignoreregex: vec![r"from 10\.".into()],
        usedns: UseDns::No,
        ..FilterOptions::default()
    };
    let mut dd = DateDetector::new(None).unwrap();
    dd.set_zone(Zone::parse("UTC").unwrap());
    let mut p = Pipeline::new(Filter::new(opts).unwrap(), dd);
    p.set_now(Some(NOW));
    p
}

fn lines() -> Vec<String> {
    let mut v = Vec::new();
    for i in 0..3000u32 {
        let (a, b) = (i % 7, i % 250);
        let pid = i % 5;
        v.push(match i % 9 {
            0 => format!(
                "Jan 15 07:{:02}:{:02} h app[{pid}]: bad login for u{i} from 192.0.2.{b}",
                a,
                i % 60
            ),
            1 => format!(
                "Jan 15 07:{:02}:{:02} h app[{pid}]: hello from 198.51.100.{b}",
                a,
                i % 60
            ),
            2 => format!(
                "Jan 15 07:{:02}:{:02} h app[{pid}]: session opened for {i}",
                a,
                i % 60
            ),
            3 => format!(
                "Jan 15 07:{:02}:{:02} h app[{pid}]: bad login for ü{i} from 10.0.0.{b}",
                a,
                i % 60
            ),
            4 => format!(
                "Jan 15 07:{:02}:{:02} h app[{pid}]: žluť denied 203.0.113.{b}",
                a,
                i % 60
            ),
            5 => format!(
                "Jan 15 07:{:02}:{:02} h app[{pid}]: word denied 203.0.113.{b} now",
                a,
                i % 60
            ),
            6 => format!("h app[{pid}]: bad login for nodate from 192.0.2.{b}"),
            7 => format!(
                "Jan 15 07:{:02}:{:02} h app[{pid}]: word denied 2001:db8::{b:x}",
                a,
                i % 60
            ),
            _ => "x".repeat((i % 50) as usize),
        });
        // Other date formats for a while: the detector's first template changes, so the
        // threads' speculative dates must give way to the sequential ones.
        if let Some(l) = v.last_mut() {
            if (1400..1500).contains(&i) {
                *l = l.replacen("Jan 15 ", "2027-01-15 ", 1);
            } else if (1500..1540).contains(&i) || i % 97 == 0 {
                *l = format!("@ {l}");
            }
        }
    }
    v
}

fn summary(p: &Processed) -> String {
    format!(
        "{:?} {:?} {} {:?}",
        p.time,
        p.date,
        p.ignored,
        p.failures
            .iter()
            .map(|f| (
                f.id.to_string(),
                f.user.clone(),
                f.nofail,
                f.regex_index,
                f.time
            ))
            .collect::<Vec<_>>()
    )
}

#[test]
fn threaded_batches_equal_sequential_processing() {
    let lines = lines();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut seq = pipeline();
    let want: Vec<String> = refs.iter().map(|l| summary(&seq.process_line(l))).collect();
    assert!(want.iter().any(|s| s.contains("192.0.2.")));
    for threads in [1, 2, 3] {
        let mut par = pipeline();
        let mut got = Vec::new();
        for batch in refs.chunks(700) {
            par.process_lines(batch, threads, |_, p| got.push(summary(&p)));
        }
        assert_eq!(got, want, "threads={threads}");
        assert_eq!(par.filter().stats(), seq.filter().stats());
        assert_eq!(
            par.filter().ignoreregex_hits(),
            seq.filter().ignoreregex_hits()
        );
    }
}

/// Everything a line's result holds, failures in full (fields, matches, users).
fn full(p: &Processed) -> String {
    format!("{p:?}")
}

#[test]
fn overlapped_blocks_equal_sequential_processing() {
    // Lines without any date first: nothing to speculate with until a template matched.
    let mut lines = vec!["no date here".to_owned(), "h app[1]: hello".to_owned()];
    lines.extend(self::lines());
    let mut seq = pipeline();
    let want: Vec<(u64, String)> = (lines.iter().enumerate())
        .map(|(i, l)| (i as u64 + 1, full(&seq.process_line(l))))
        .collect();
    assert!(want.iter().any(|(_, s)| s.contains("192.0.2.")));
    for (threads, per_block) in [(1, 500), (2, 333), (2, 97), (3, 1), (4, 7), (2, 5000)] {
        let mut par = pipeline();
        let mut got = Vec::new();
        let mut next = lines.iter().enumerate();
        let fill = |b: &mut LineBlock| -> Result<(), ()> {
            for (i, l) in next.by_ref().take(per_block) {
                b.push(l, i as u64 + 1);
            }
            Ok(())
        };
        par.process_blocks(threads, fill, |b, i, p| {
            got.push((b.tag(i), full(&p)));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, want, "threads={threads} per_block={per_block}");
        assert_eq!(par.filter().stats(), seq.filter().stats());
        assert_eq!(
            par.filter().ignoreregex_hits(),
            seq.filter().ignoreregex_hits()
        );
    }
}

#[test]
fn an_error_from_the_output_stops_the_blocks() {
    let lines = lines();
    let mut p = pipeline();
    let mut next = lines.iter();
    let mut seen = 0;
    let r = p.process_blocks(
        2,
        |b| {
            for l in next.by_ref().take(100) {
                b.push(l, 0);
            }
            Ok(())
        },
        |_, _, _| {
            seen += 1;
            if seen == 250 {
                Err("stop")
            } else {
                Ok(())
            }
        },
    );
    assert_eq!((r, seen), (Err("stop"), 250));
    // The counters came back to the filter.
    assert_eq!(p.filter().stats().lines, 250);
}

#[test]
fn the_date_is_cut_out_and_missing_dates_fall_back() {
    let mut p = pipeline();
    let r = p.process_line("Jan 15 07:59:30 h app[1]: bad login for bob from 192.0.2.7");
    assert_eq!(r.time, Some(NOW - 30.0));
    assert_eq!(r.date, Some(0..15));
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].user.as_deref(), Some("bob"));
    // No date: the last one, being under 60 s old, stands in.
    let r = p.process_line("h app[1]: bad login for eve from 192.0.2.8");
    assert_eq!(r.time, Some(NOW - 30.0));
    assert_eq!(r.failures[0].time, NOW - 30.0);
    // An old last date does not: the failure has no time (fail2ban-regex prints None).
    p.process_line("Jan 15 07:00:00 h app[1]: session");
    let r = p.process_line("h app[1]: bad login for eve from 192.0.2.8");
    assert_eq!(r.time, None);
    assert!(r.failures[0].time.is_nan());
}

#[test]
fn unicode_lines_match_like_python() {
    let mut p = pipeline();
    // `\w` is Unicode in Python: the non-ASCII word matches, the ASCII engine is not used.
    let r = p.process_line("Jan 15 07:59:00 h app[1]: žluť denied 203.0.113.5");
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].fields["w"].as_text(), Some("žluť"));
    // The look-ahead forbids " now" after the address.
    let r = p.process_line("Jan 15 07:59:00 h app[1]: word denied 203.0.113.5 now");
    assert!(r.failures.is_empty());
}
