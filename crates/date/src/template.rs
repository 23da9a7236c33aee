//! Date templates: one `datepattern` line turned into fail2ban's regex (`DateTemplate.setRegex`)
//! and a compiled [`Matcher`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::directive::{self, Decades};
use crate::engine::Matcher;
use crate::error::Error;
use crate::fast::Fast;

/// How the matched date text becomes a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// strptime fields (`Y`, `m`, `d`, ...); a match without any field is an empty date.
    Strptime,
    /// Seconds since the epoch (`EPOCH`), or milli/microseconds too (`LEPOCH`).
    Epoch {
        /// `LEPOCH`: 13 digits are milliseconds, 16 are microseconds.
        long: bool,
    },
    /// `@` + 24 hex digits (daemontools' TAI64N).
    Tai64n,
}

/// One date template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    /// The `datepattern` line (or default pattern) it came from (shared by the detectors'
    /// copies, as the regex text).
    pub(crate) pattern: Arc<str>,
    /// The regex fail2ban compiles for it (Python syntax).
    pub(crate) regex: Arc<str>,
    pub(crate) kind: Kind,
    /// Anchored at line start (fail2ban's LINE_BEGIN flag).
    pub(crate) line_begin: bool,
    /// 100 for the `{^LN-BEG}` copies of the default templates, else 1.
    pub(crate) weight: f64,
    /// A hand-written parser that gives the same answer as `matcher`, when one exists.
    pub(crate) fast: Option<Fast>,
    pub(crate) matcher: Matcher,
}

/// A template as [`Template::shared`] keeps it.
struct Built {
    /// The year window its regex and parser were built for (it moves once a decade).
    decades: Decades,
    /// Its regex's syntax was checked (a `datepattern` line of a filter's own); the default
    /// templates are known good and are not.
    checked: bool,
    template: Template,
}

/// The templates built so far, by pattern.
static BUILT: OnceLock<Mutex<HashMap<String, Built>>> = OnceLock::new();

/// Past this many kept templates, those no detector uses are dropped (the 31 defaults, 30 per
/// `{DATE}` line and one per other `datepattern` line stay far below it).
const BUILT_CAP: usize = 512;

const LN_BEG: &str = "{^LN-BEG}";
const LN_BEG_RE: &str = r"^(?:\W{0,2})?";
const EPOCH_DIGITS: &str = r"\d{10,11}\b(?:\.\d{3,6})?";
const LEPOCH_DIGITS: &str = r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?";

/// Whether the regex text has a capturing group without a name.
fn has_unnamed_group(p: &str) -> bool {
    let b = p.as_bytes();
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class && b.get(i + 1) != Some(&b'?') => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Whether `p` ends with an unescaped `$`.
fn ends_with_dollar(p: &str) -> bool {
    p.ends_with('$')
        && p[..p.len() - 1]
            .chars()
            .rev()
            .take_while(|&c| c == '\\')
            .count()
            % 2
            == 0
}

/// fail2ban's regex for a strptime pattern (`DateTemplate.setRegex` + `DatePatternRegex`).
fn strptime_regex(pattern: &str, decades: Decades) -> Result<(String, bool), Error> {
    let mut p = pattern;
    let (mut word_begin, mut word_end, mut ln_beg) = (true, true, false);
    loop {
        if let Some(rest) = p.strip_prefix("{UNB}") {
            (word_begin, word_end, p) = (false, false, rest);
        } else if let Some(rest) = p.strip_prefix(LN_BEG) {
            (ln_beg, p) = (true, rest);
        } else {
            break;
        }
    }
    if let Some(rest) = p.strip_prefix("**") {
        (word_begin, p) = (false, rest);
    }
    if let Some(rest) = p.strip_suffix("**") {
        (word_end, p) = (false, rest);
    }
    let group = has_unnamed_group(p);
    let p = p
        .replace("{LEPOCH}", &format!("(?P<__epoch>{LEPOCH_DIGITS})"))
        .replace("{EPOCH}", &format!("(?P<__epoch>{EPOCH_DIGITS})"));
    let (mut body, alpha) = directive::expand(&p, decades)?;
    let line_start = body.starts_with('^');
    let line_end = ends_with_dollar(&body);
    if body.starts_with("(^") {
        word_begin = false;
    }
    if body.ends_with(r"\b") || body.ends_with(r"\s") {
        word_end = false;
    }
    if !group {
        let inner_start = usize::from(line_start);
        let inner_end = body.len() - usize::from(line_end);
        body = format!(
            "{}({}){}",
            &body[..inner_start],
            &body[inner_start..inner_end.max(inner_start)],
            &body[inner_end.max(inner_start)..]
        );
    }
    let mut re = String::with_capacity(body.len() + 40);
    if alpha {
        re.push_str("(?iu)");
    }
    if ln_beg && !line_start {
        re.push_str(LN_BEG_RE);
    } else if word_begin && !line_start {
        re.push_str(r"(?=^|\b|\W)");
    }
    re.push_str(&body);
    if word_end && !line_end {
        re.push_str(r"(?=\b|\W|$)");
    }
    Ok((re, ln_beg || line_start))
}

/// The special template a pattern names (`EPOCH`, `^LEPOCH`, `{^LN-BEG}TAI64N`, ...), if any.
fn special(pattern: &str) -> Option<(Kind, bool)> {
    let (anchored, word) = if let Some(w) = pattern.strip_prefix(LN_BEG) {
        (true, w)
    } else if let Some(w) = pattern.strip_prefix('^') {
        (true, w)
    } else {
        (false, pattern)
    };
    let kind = match word.to_ascii_uppercase().as_str() {
        "EPOCH" => Kind::Epoch { long: false },
        "LEPOCH" => Kind::Epoch { long: true },
        "TAI64N" => Kind::Tai64n,
        _ => return None,
    };
    Some((kind, anchored))
}

fn special_regex(kind: Kind, anchored: bool) -> String {
    let digits = match kind {
        Kind::Epoch { long: true } => LEPOCH_DIGITS,
        Kind::Epoch { long: false } => EPOCH_DIGITS,
        Kind::Tai64n | Kind::Strptime => {
            let pre = if anchored { LN_BEG_RE } else { "" };
            return format!(r"{pre}(@[0-9a-f]{{24}})(?=\b|\W|$)");
        }
    };
    if anchored {
        format!(r"{LN_BEG_RE}((?P<square>(?<=^\[))?{digits})(?(square)(?=\]))(?=\b|\W|$)")
    } else {
        format!(
            r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\())){digits})(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))(?=\b|\W|$)"
        )
    }
}

impl Template {
    /// Builds the template for one `datepattern` line; its regex is syntax-checked now.
    #[cfg(test)]
    pub(crate) fn new(pattern: &str, weight: f64, decades: Decades) -> Result<Template, Error> {
        Template::build(pattern, weight, decades, false)
    }

    /// The template for one `datepattern` line (`lazy` false: its regex is syntax-checked), or
    /// one of fail2ban's default templates (`lazy` true: known good, not checked), built once
    /// per process: every jail with the default templates (or the same `datepattern`) gets a copy
    /// that shares the regex engines and costs a few allocations, not the regex texts' building
    /// and syntax check again (about 25k instructions per template, 31 per jail).
    pub(crate) fn shared(
        pattern: &str,
        weight: f64,
        decades: Decades,
        lazy: bool,
    ) -> Result<Template, Error> {
        let table = BUILT.get_or_init(Default::default);
        let lock = || table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = lock().get(pattern) {
            if b.decades == decades && (lazy || b.checked) {
                let mut t = b.template.clone();
                t.weight = weight;
                return Ok(t);
            }
        }
        let t = Template::build(pattern, weight, decades, lazy)?;
        let mut table = lock();
        if table.len() >= BUILT_CAP {
            // Keep what a detector still uses; the rest (patterns of reloaded-away filters)
            // goes, with its engines.
            table.retain(|_, b| b.template.matcher.shared_with_others());
        }
        table.insert(
            pattern.to_string(),
            Built {
                decades,
                checked: !lazy,
                template: t.clone(),
            },
        );
        Ok(t)
    }

    fn build(pattern: &str, weight: f64, decades: Decades, lazy: bool) -> Result<Template, Error> {
        let (kind, regex, line_begin) = match special(pattern) {
            Some((kind, anchored)) => (kind, special_regex(kind, anchored), anchored),
            None => {
                let (re, lb) = strptime_regex(pattern, decades)?;
                (Kind::Strptime, re, lb)
            }
        };
        let matcher = if lazy {
            Matcher::lazy(&regex)
        } else {
            Matcher::new(&regex, pattern)?
        };
        let fast = Fast::for_pattern(pattern, decades);
        Ok(Template {
            pattern: Arc::from(pattern),
            regex: Arc::from(regex),
            kind,
            line_begin,
            weight,
            fast,
            matcher,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> String {
        Template::new(p, 1.0, Decades::for_year(2026))
            .unwrap()
            .regex
            .to_string()
    }

    #[test]
    fn boundaries_and_group_one() {
        assert_eq!(re("{UNB}^"), "^()");
        assert_eq!(re(r"^I\(()**"), r"^I\(()");
        assert_eq!(
            re("%H:%M:%S$"),
            r"(?=^|\b|\W)((?P<H>[0-1]?\d|2[0-3]):(?P<M>[0-5]?\d):(?P<S>[0-5]?\d|6[0-1]))$"
        );
        assert_eq!(re(r"**%M\b"), r"((?P<M>[0-5]?\d)\b)");
        assert_eq!(re("%p"), r"(?iu)(?=^|\b|\W)((?P<p>am|pm))(?=\b|\W|$)");
    }

    #[test]
    fn epoch_variants() {
        assert_eq!(
            re("^LEPOCH"),
            r"^(?:\W{0,2})?((?P<square>(?<=^\[))?\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?)(?(square)(?=\]))(?=\b|\W|$)"
        );
        assert_eq!(
            re("LEPOCH"),
            r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))(?=\b|\W|$)"
        );
        assert_eq!(re("TAI64N"), r"(@[0-9a-f]{24})(?=\b|\W|$)");
        assert_eq!(
            Template::new("{^LN-BEG}Epoch", 1.0, Decades::for_year(2026))
                .unwrap()
                .kind,
            Kind::Epoch { long: false }
        );
    }

    #[test]
    fn shared_templates_follow_the_year_window_and_the_weight() {
        let p = "%ExY-%m-%d shared-test";
        let now = Template::shared(p, 1.0, Decades::for_year(2026), false).unwrap();
        let again = Template::shared(p, 100.0, Decades::for_year(2026), true).unwrap();
        assert_eq!(again.regex, now.regex);
        // The copies share their texts (31 templates per jail otherwise hold their own).
        assert!(Arc::ptr_eq(&again.regex, &now.regex) && Arc::ptr_eq(&again.pattern, &now.pattern));
        assert_eq!((now.weight, again.weight), (1.0, 100.0));
        // Another decade window is another regex, not the kept one.
        let later = Template::shared(p, 1.0, Decades::for_year(2047), false).unwrap();
        assert_ne!(later.regex, now.regex);
        assert!(later.regex.contains("20[012345]"), "{}", later.regex);
        assert_eq!(
            Template::shared(p, 1.0, Decades::for_year(2047), true)
                .unwrap()
                .regex,
            later.regex
        );
    }

    #[test]
    fn a_bad_pattern_is_refused_every_time() {
        for _ in 0..2 {
            assert!(
                Template::shared("%H:%M (( shared-bad", 1.0, Decades::for_year(2026), false)
                    .is_err()
            );
        }
        // Kept unchecked (as a default would be), it is still checked when a filter names it.
        let p = "%H:%M [z-a] shared-lazy";
        assert!(Template::shared(p, 1.0, Decades::for_year(2026), true).is_ok());
        assert!(Template::shared(p, 1.0, Decades::for_year(2026), false).is_err());
    }
}
