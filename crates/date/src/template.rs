//! Date templates: one `datepattern` line turned into fail2ban's regex (`DateTemplate.setRegex`)
//! and a compiled [`Matcher`].

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
#[derive(Debug)]
pub(crate) struct Template {
    /// The `datepattern` line (or default pattern) it came from.
    pub(crate) pattern: String,
    /// The regex fail2ban compiles for it (Python syntax).
    pub(crate) regex: String,
    pub(crate) kind: Kind,
    /// Anchored at line start (fail2ban's LINE_BEGIN flag).
    pub(crate) line_begin: bool,
    /// 100 for the `{^LN-BEG}` copies of the default templates, else 1.
    pub(crate) weight: f64,
    /// A hand-written parser that gives the same answer as `matcher`, when one exists.
    pub(crate) fast: Option<Fast>,
    pub(crate) matcher: Matcher,
}

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
    /// Builds the template for one `datepattern` line; its regex is compiled (and checked) now.
    pub(crate) fn new(pattern: &str, weight: f64, decades: Decades) -> Result<Template, Error> {
        Template::build(pattern, weight, decades, false)
    }

    /// Builds one of fail2ban's default templates, whose regex is compiled on first use.
    pub(crate) fn builtin(pattern: &str, weight: f64, decades: Decades) -> Result<Template, Error> {
        Template::build(pattern, weight, decades, true)
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
            pattern: pattern.to_string(),
            regex,
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
}
