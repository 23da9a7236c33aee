//! Inputs the fuzz targets (`fuzz/`) stopped on, kept as tests of what they must do.

use jailor_date::{DateDetector, HitTime};

/// `date_parse` timeout (2026-11-26, fuzzrun at 81c95da, nice 19 at load ~10): a
/// `datepattern` with control bytes around `{DATE}`, then a line without its literal prefix.
/// Re-run alone it took 0.78 s under the fuzz build's sanitizers: the cost is compiling
/// the `{DATE}` substitutes, paid once per configured pattern, never per log line.
#[test]
fn date_parse_timeout_date_inside_control_bytes() {
    let prefix =
        "t=200\u{0}\u{0}\u{11}\u{0}8-14{t=200\u{0}GGGGGGGGGGG,GGGGGGGGGGGG/\u{0}\u{2}\u{1a}GGG]";
    let pattern = format!("{prefix}{{DATE}}");
    let mut detector = match DateDetector::new(Some(&pattern)) {
        Ok(d) => d,
        // A refused pattern is an answer too, as long as it is an error and not a hang.
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    // The fuzzer's line: no copy of the prefix, so no date.
    let line = "S51.GGGA\u{fffd} \u{0}\u{0}\u{0}\u{fffd}\u{fffd}\u{5}\u{0}%l\u{fffd} \u{fffd}ogi\n\
                ent denied by server configuration: \u{f}index.p\u{0}\u{0}\u{1a}\u{0}hp\n\n\
                A\u{18}g 14 08:20:00 web";
    assert!(detector.find(line).is_none());
    // The prefix followed by a real date is found, as the pattern says.
    let dated = format!("{prefix}2026-11-26 08:20:00 web");
    let hit = detector
        .find(&dated)
        .expect("the prefix and an ISO date match");
    assert!(matches!(hit.time, HitTime::At(_)), "{:?}", hit.time);
}
