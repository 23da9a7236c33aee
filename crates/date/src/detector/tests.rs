use super::*;

/// 2005-08-14 10:00:00 UTC, the sample suite's "now".
const NOW: f64 = 1_124_013_600.0;

fn detector(p: Option<&str>) -> DateDetector {
    let mut dd = DateDetector::new(p).unwrap();
    dd.set_zone(Zone::Fixed(0));
    dd.set_now(Some(NOW));
    dd
}

fn hit(dd: &mut DateDetector, line: &str) -> Option<(String, HitTime)> {
    dd.find(line).map(|h| (line[h.span].to_string(), h.time))
}

#[test]
fn default_cache_has_31_templates_and_line_begin_17() {
    assert_eq!(detector(None).len(), 31);
    assert_eq!(detector(Some("{^LN-BEG}")).len(), 17);
}

#[test]
fn syslog_without_year_takes_this_year() {
    let mut dd = detector(None);
    assert_eq!(
        hit(&mut dd, "Aug 14 11:59:59 host sshd[1]: x"),
        Some(("Aug 14 11:59:59".into(), HitTime::At(1_124_020_799.0)))
    );
    // More than a day in the future: last year.
    assert_eq!(
        hit(&mut dd, "Dec 31 23:59:59 host x"),
        Some(("Dec 31 23:59:59".into(), HitTime::At(1_104_537_599.0)))
    );
}

#[test]
fn iso_with_zone_and_fraction() {
    let mut dd = detector(None);
    assert_eq!(
        hit(&mut dd, "2005-08-14T11:00:00.123+02:00 host x"),
        Some((
            "2005-08-14T11:00:00.123+02:00".into(),
            HitTime::At(1_124_010_000.0)
        ))
    );
    assert_eq!(
        hit(&mut dd, "[2005/08/14 09:00:00] x"),
        Some(("2005/08/14 09:00:00".into(), HitTime::At(1_124_010_000.0)))
    );
}

#[test]
fn templates_found_later_in_the_line() {
    let mut dd = detector(None);
    assert_eq!(
        hit(
            &mut dd,
            r#"1.2.3.4 - - [14/Aug/2005:09:00:00 -0100] "GET / HTTP/1.1""#
        ),
        Some((
            "14/Aug/2005:09:00:00 -0100".into(),
            HitTime::At(1_124_013_600.0)
        ))
    );
}

#[test]
fn none_gives_empty_dates() {
    let mut dd = detector(Some("{NONE}"));
    let h = dd.find("Aug 14 11:59:59 host").unwrap();
    assert_eq!(h.span, 0..0);
    assert_eq!(h.time, HitTime::Empty);
}

#[test]
fn epoch_and_tai64n() {
    let mut dd = detector(Some("EPOCH"));
    assert_eq!(
        hit(&mut dd, "type=USER_AUTH msg=audit(1124013600.123:45): x"),
        Some(("1124013600.123".into(), HitTime::At(1_124_013_600.123)))
    );
    let mut dd = detector(Some("{^LN-BEG}TAI64N"));
    assert_eq!(
        hit(&mut dd, "@4000000043a0f1f4aabbccdd x"),
        Some((
            "@4000000043a0f1f4aabbccdd".into(),
            HitTime::At(1_134_621_172.0)
        ))
    );
}

#[test]
fn custom_pattern_and_date_placeholder() {
    let mut dd = detector(Some("^L %d/%m/%Y - %H:%M:%S"));
    assert_eq!(
        hit(&mut dd, "L 14/08/2005 - 10:00:00: x"),
        Some(("L 14/08/2005 - 10:00:00".into(), HitTime::At(NOW)))
    );
    let mut dd = detector(Some(r"^[^\[]*\[({DATE})"));
    assert_eq!(dd.len(), 17);
    assert_eq!(
        hit(&mut dd, "host [2005-08-14 10:00:00] x"),
        Some(("2005-08-14 10:00:00".into(), HitTime::At(NOW)))
    );
}

#[test]
fn unknown_zone_abbreviation_is_invalid() {
    let mut dd = detector(None);
    assert_eq!(
        hit(&mut dd, "XYZ Aug 14 10:00:00 2005 x").map(|h| h.1),
        Some(HitTime::Invalid)
    );
    assert_eq!(
        hit(&mut dd, "PDT Aug 14 03:00:00 2005 x").map(|h| h.1),
        Some(HitTime::At(NOW))
    );
}

#[test]
fn hit_template_moves_forward() {
    let mut dd = detector(None);
    let first = dd.patterns().next().unwrap().to_string();
    dd.find("Aug 14 11:59:59 host").unwrap();
    assert_ne!(dd.patterns().next().unwrap(), first);
    assert!(dd.patterns().next().unwrap().contains("%b %d %k"));
}

#[test]
fn errors() {
    assert_eq!(
        DateDetector::new(Some("%Q")).unwrap_err().kind(),
        &ErrorKind::UnknownDirective {
            directive: "%Q".into(),
            pattern: "%Q".into()
        }
    );
    assert!(matches!(
        DateDetector::new(Some("%H\n%H")).unwrap_err().kind(),
        ErrorKind::Duplicate { .. }
    ));
    assert!(matches!(
        DateDetector::new(Some(" \n")).unwrap_err().kind(),
        ErrorKind::Empty
    ));
}

#[test]
fn twelve_hour_clock_two_digit_year_and_unicode_month() {
    let mut dd = detector(None);
    assert_eq!(
        hit(&mut dd, "Aug 14, 2005 12:00:00 AM x").map(|h| h.1),
        Some(HitTime::At(NOW - 36_000.0))
    );
    assert_eq!(
        hit(&mut dd, "Aug 14, 2005 01:00:00 PM x").map(|h| h.1),
        Some(HitTime::At(NOW + 10_800.0))
    );
    assert_eq!(
        hit(&mut dd, "<08/14/05@10:00:00> x").map(|h| h.1),
        Some(HitTime::At(NOW))
    );
    // Python's case-insensitive `sep` also matches the long s.
    assert_eq!(
        hit(&mut dd, "ſep 14 10:00:00 2004 x").map(|h| h.1),
        Some(HitTime::At(1_095_156_000.0))
    );
}

#[test]
fn logtimezone_applies_to_dates_without_offset() {
    let mut dd = detector(None);
    dd.set_zone(Zone::parse("UTC+0200").unwrap());
    assert_eq!(
        hit(&mut dd, "2005-08-14 12:00:00 x").map(|h| h.1),
        Some(HitTime::At(NOW))
    );
    // An offset in the line wins over logtimezone.
    assert_eq!(
        hit(&mut dd, "2005-08-14 12:00:00Z x").map(|h| h.1),
        Some(HitTime::At(NOW + 7200.0))
    );
    dd.set_zone(Zone::parse("CET-01CEST-02,M3.5.0,M10.5.0").unwrap());
    assert_eq!(
        hit(&mut dd, "2005-08-14 12:00:00 x").map(|h| h.1),
        Some(HitTime::At(NOW))
    );
    assert_eq!(
        hit(&mut dd, "2005-01-14 11:00:00 x").map(|h| h.1),
        Some(HitTime::At(1_105_696_800.0))
    );
}

#[test]
fn speculation_gives_what_find_gives() {
    let lines = [
        "Aug 14 11:58:59 host a",
        "Aug 14 11:59:00 host b",
        "2005-08-14 11:59:01 host c",
        "no date at all",
        "x Aug 14 11:59:02 host d",
        "Aug 14 11:59:03 host e",
        "2005-08-14 11:59:04 host f",
        "2005-08-14 11:59:05 host g",
        "Aug 14 11:59:06 host h",
    ];
    let mut plain = detector(None);
    let mut spec = detector(None);
    let mut taken = 0;
    for round in 0..3 {
        for line in lines {
            let want = plain.find(line);
            // Speculate from the state before the line, as a worker thread would.
            let s = spec.speculate(line);
            let got = spec.find_speculated(line, s.as_ref());
            assert_eq!(got, want, "round {round}: {line}");
            if s.is_some_and(|s| Some(s.hit()) == got.as_ref()) {
                taken += 1;
            }
            assert!(plain.patterns().eq(spec.patterns()), "{line}");
        }
    }
    assert!(taken > 5, "speculation never applied ({taken})");
    assert!(spec.can_speculate());
}

#[test]
fn a_date_inside_a_larger_regex_is_checked_at_start_and_found_through_any_substitute() {
    // The line's own text is wrong: refused at once, as before.
    assert!(matches!(
        DateDetector::new(Some("^[^\\[]*\\[(({DATE})"))
            .unwrap_err()
            .kind(),
        ErrorKind::BadRegex { .. }
    ));
    // A good line: the substitutes compiled on first use still find their dates.
    let mut dd = detector(Some("^[^\\[]*\\[({DATE})"));
    assert_eq!(
        hit(
            &mut dd,
            "1.2.3.4 - - [14/Aug/2005:10:00:00 +0000] \"GET / HTTP/1.1\""
        ),
        Some(("14/Aug/2005:10:00:00 +0000".into(), HitTime::At(NOW)))
    );
    assert_eq!(
        hit(&mut dd, "host [2005-08-14 09:00:00] x").map(|h| h.1),
        Some(HitTime::At(NOW - 3600.0))
    );
}

#[test]
fn remembered_conversion_follows_the_text_now_and_zone() {
    let mut dd = detector(None);
    let a = hit(&mut dd, "Aug 14 11:58:59 host sshd[1]: one").unwrap();
    // The same date text, line otherwise different: the same time.
    assert_eq!(hit(&mut dd, "Aug 14 11:58:59 other x[2]: two").unwrap(), a);
    assert_eq!(a.1, HitTime::At(1_124_020_739.0));
    // Another second, then back: each its own time.
    let b = hit(&mut dd, "Aug 14 11:59:00 host sshd[1]: one").unwrap();
    assert_eq!(b.1, HitTime::At(1_124_020_740.0));
    assert_eq!(
        hit(&mut dd, "Aug 14 11:58:59 host sshd[1]: one").unwrap(),
        a
    );
    // A new zone or a new "now" (a year earlier: the date then lies in 2004) is not served
    // from the last conversion.
    dd.set_zone(Zone::Fixed(3600));
    assert_eq!(
        hit(&mut dd, "Aug 14 11:58:59 host sshd[1]: one").unwrap().1,
        HitTime::At(1_124_020_739.0 - 3600.0)
    );
    dd.set_now(Some(NOW - 365.0 * 86400.0));
    let earlier = hit(&mut dd, "Aug 14 11:58:59 host sshd[1]: one").unwrap().1;
    assert_ne!(earlier, HitTime::At(1_124_020_739.0 - 3600.0));
}

#[test]
fn remembered_dates_are_what_parsing_finds() {
    // Neighbours that share their first bytes and differ where the parsers look last: the
    // year after a syslog date and its guard, the end of the line, an ISO zone and its guard.
    let lines = [
        "Aug 14 11:58:59 host a",
        "Aug 14 11:58:59 host b",
        "Aug 14 11:58:59 2005 x",
        "Aug 14 11:58:59 2005x",
        "Aug 14 11:58:59 2005",
        "Aug 14 11:58:59 20",
        "Aug 14 11:58:59 h",
        "Aug 14 11:58:59 host",
        "Aug 14 11:58:59.25 host",
        "Aug 14 11:58:59.25 2004 x",
        "Aug 14 11:59:00 host a",
        "2005-08-14 11:00:00 +01:00 x",
        "2005-08-14 11:00:00 +01:00x",
        "2005-08-14 11:00:00 +01:00",
        "2005-08-14 11:00:00 +01",
        "2005-08-14 11:00:00  \t Z x",
        "2005-08-14 11:00:00  \t Zx",
        "2005-08-14 11:00:00 x",
        "2005-08-14 11:00:00   x",
        "2005-08-14 11:00:00   Z",
        "2005-08-14 11:00:00   -0130 x",
        "Aug 14 11:58:59 host a",
    ];
    // `memo`: one detector, each line after the one before (its memo in use); `fresh`:
    // another, whose memo a third detector overwrites before each of its lines.
    let mut memo = detector(None);
    let got: Vec<_> = (0..2)
        .flat_map(|_| lines)
        .map(|line| memo.find(line))
        .collect();
    let mut fresh = detector(None);
    let mut other = detector(None);
    let want: Vec<_> = (0..2)
        .flat_map(|_| lines)
        .map(|line| {
            other.find("Jan 01 00:00:00 evict");
            fresh.find(line)
        })
        .collect();
    for ((g, w), line) in got.iter().zip(&want).zip((0..2).flat_map(|_| lines)) {
        assert_eq!(g, w, "{line}");
    }
    assert_eq!(
        memo.find("Aug 14 11:58:59 2005 x").map(|h| h.span),
        Some(0..20)
    );
}
