//! A `datepattern`'s name as fail2ban shows it (`get JAIL datepattern`): each `%` directive
//! written as a word (`%Y-%m-%d` is `Year-Month-Day`), the epoch kinds by their names.

/// How fail2ban shows a `datepattern`; `None` for the default detectors (no pattern,
/// `{^LN-BEG}`, `{DATE}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternName {
    /// The pattern as it is used (`None` for the epoch kinds, which have no pattern text).
    pub pattern: Option<String>,
    /// Its name: the directives as words (`Year-Month-Day 24hour:Minute:Second`).
    pub name: String,
}

/// The name fail2ban shows for `datepattern`, or `None` when it selects the default
/// detectors.
///
/// ```
/// let n = jailor_date::describe_pattern("%Y-%m-%d %H:%M:%S").unwrap();
/// assert_eq!(n.name, "Year-Month-Day 24hour:Minute:Second");
/// assert!(jailor_date::describe_pattern("{^LN-BEG}").is_none());
/// ```
pub fn describe_pattern(datepattern: &str) -> Option<PatternName> {
    let p = datepattern.trim();
    if p.is_empty() || p == "{^LN-BEG}" || p == "{DATE}" || p == "{^LN-BEG}{DATE}" {
        return None;
    }
    if p == "{NONE}" {
        return Some(PatternName {
            pattern: Some("{UNB}^".into()),
            name: "^".into(),
        });
    }
    // The epoch kinds: a leading `^` is the line-begin anchor.
    let (anchor, word) = match p.strip_prefix("{^LN-BEG}").or_else(|| p.strip_prefix('^')) {
        Some(rest) => ("{^LN-BEG}", rest),
        None => ("", p),
    };
    let kind = match word.to_ascii_uppercase().as_str() {
        "EPOCH" => Some("Epoch"),
        "LEPOCH" => Some("LongEpoch"),
        "TAI64N" => Some("TAI64N"),
        _ => None,
    };
    if let Some(kind) = kind {
        return Some(PatternName {
            pattern: None,
            name: format!("{anchor}{kind}"),
        });
    }
    let shown = p.strip_prefix("{UNB}").unwrap_or(p);
    Some(PatternName {
        pattern: Some(p.to_owned()),
        name: directive_words(shown),
    })
}

/// `%%` as `%`, `%X` as its word, `%ExX` as `Ex` and the word; unknown directives as written.
fn directive_words(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('%'),
            Some('%') => out.push('%'),
            Some('E') if chars.peek() == Some(&'x') => {
                chars.next();
                out.push_str("Ex");
                match chars.next() {
                    Some(d) => push_directive(&mut out, d),
                    None => out.push('%'),
                }
            }
            Some(d) => push_directive(&mut out, d),
        }
    }
    out
}

fn push_directive(out: &mut String, d: char) {
    let word = match d {
        'a' => "DAY",
        'A' => "DAYNAME",
        'b' => "MON",
        'B' => "MONTH",
        'd' => "Day",
        'H' => "24hour",
        'I' => "12hour",
        'j' => "Yearday",
        'm' => "Month",
        'M' => "Minute",
        'p' => "AMPM",
        'S' => "Second",
        'y' => "Year2",
        'Y' => "Year",
        'z' => "Zone offset",
        'Z' => "Zone name",
        'f' => "Microseconds",
        'w' => "Weekday",
        'U' | 'W' => "Yearweek",
        other => {
            out.push('%');
            out.push(other);
            return;
        }
    };
    out.push_str(word);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(p: &str) -> Option<(Option<String>, String)> {
        describe_pattern(p).map(|n| (n.pattern, n.name))
    }

    #[test]
    fn directives_become_words_as_fail2ban_shows_them() {
        let cases = [
            ("%Y-%m-%d %H:%M:%S", "Year-Month-Day 24hour:Minute:Second"),
            ("%b %d %H:%M:%S", "MON Day 24hour:Minute:Second"),
            ("{^LN-BEG}%Y-%m-%d", "{^LN-BEG}Year-Month-Day"),
            ("%%Y", "%Y"),
            ("%ExY%Exm", "ExYearExMonth"),
            ("x%k %Exk", "x%k Ex%k"),
            ("{UNB}%Y", "Year"),
            ("%Y{UNB}", "Year{UNB}"),
            ("ISO8601", "ISO8601"),
            ("%z %Z %f %p %I %j %a %A %B %y %w %U", "Zone offset Zone name Microseconds AMPM 12hour Yearday DAY DAYNAME MONTH Year2 Weekday Yearweek"),
        ];
        for (p, want) in cases {
            assert_eq!(name(p), Some((Some(p.to_owned()), want.to_owned())), "{p}");
        }
    }

    #[test]
    fn epoch_kinds_have_no_pattern_and_keep_the_anchor() {
        assert_eq!(name("epoch"), Some((None, "Epoch".into())));
        assert_eq!(name("^EPOCH"), Some((None, "{^LN-BEG}Epoch".into())));
        assert_eq!(name("^LEPOCH"), Some((None, "{^LN-BEG}LongEpoch".into())));
        assert_eq!(name("TAI64N"), Some((None, "TAI64N".into())));
        assert_eq!(name("^Epoch$").map(|n| n.1), Some("^Epoch$".into()));
    }

    #[test]
    fn default_detectors_and_none() {
        for p in ["", "  ", "{^LN-BEG}", "{DATE}", "{^LN-BEG}{DATE}"] {
            assert_eq!(name(p), None, "{p:?}");
        }
        assert_eq!(name("{NONE}"), Some((Some("{UNB}^".into()), "^".into())));
        assert_eq!(name(" %Y "), Some((Some("%Y".into()), "Year".into())));
    }
}
