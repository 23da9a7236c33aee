//! fail2ban's strptime directives: `%Y`, `%ExY`, ... and their regexes.
//!
//! The table is Python's `_strptime.TimeRE` with fail2ban's overrides and `%Ex*` extensions;
//! `%ExY` depends on the current year and is computed by [`exy_regex`].

use crate::error::{Error, ErrorKind};

/// Fixed directive regexes (every directive except `%ExY`).
const TABLE: &[(&str, &str)] = &[
    ("%", "%"),
    ("A", "(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)"),
    ("B", "(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)"),
    ("G", r"(?P<G>\d\d\d\d)"),
    ("H", r"(?P<H>[0-1]?\d|2[0-3])"),
    ("I", r"(?P<I>1[0-2]|0[1-9]|[1-9])"),
    ("M", r"(?P<M>[0-5]?\d)"),
    ("S", r"(?P<S>[0-5]?\d|6[0-1])"),
    ("U", r"(?P<U>5[0-3]|[0-4]\d|\d)"),
    ("V", r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)"),
    ("W", r"(?P<W>5[0-3]|[0-4]\d|\d)"),
    ("X", r"(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)"),
    ("Y", r"(?P<Y>\d{4})"),
    ("Z", r"(?P<Z>Z|[A-Z]{3,5})"),
    ("a", "(?P<a>mon|tue|wed|thu|fri|sat|sun)"),
    ("b", "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"),
    ("c", r"(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)"),
    ("d", r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])"),
    ("f", r"(?P<f>[0-9]{1,6})"),
    ("j", r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])"),
    ("k", r" ?(?P<H>[0-2]?\d)"),
    ("l", r" ?(?P<I>1?\d)"),
    ("m", r"(?P<m>0?[1-9]|1[0-2])"),
    ("p", "(?P<p>am|pm)"),
    ("u", "(?P<u>[1-7])"),
    ("w", "(?P<w>[0-6])"),
    ("x", r"(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)"),
    ("y", r"(?P<y>\d\d)"),
    ("z", r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)"),
    ("ExH", r"(?P<H>[0-1]\d|2[0-3])"),
    ("ExM", r"(?P<M>[0-5]\d)"),
    ("ExS", r"(?P<S>[0-5]\d|6[0-1])"),
    ("ExZ", r"(?P<Z>[A-Z](?:[A-Z]{2,4})?)"),
    ("Exd", r"(?P<d>[1-2]\d|0[1-9]|3[0-1])"),
    ("Exk", r" ?(?P<H>[0-1]?\d|2[0-3])"),
    ("Exl", r" ?(?P<I>1[0-2]|\d)"),
    ("Exm", r"(?P<m>0[1-9]|1[0-2])"),
    ("Exy", r"(?P<y>\d{2})"),
    ("Exz", r"(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)"),
];

/// Directives whose presence makes the whole template case-insensitive (`(?iu)`).
const ALPHA: &[&str] = &["a", "A", "b", "B", "p", "c"];

/// The decades `%ExY` accepts, as the third digits of `20x?` years.
///
/// fail2ban takes the 3-character prefixes of `now - 1`, `now + 3` and every third year from
/// 2000 up to now; in practice that is every decade from 2000 to the one of `now + 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decades {
    /// Bit `k` set: years `20k0..=20k9` are accepted.
    pub(crate) mask: u16,
}

impl Decades {
    /// The decades for a "now" in `year`.
    pub(crate) fn for_year(year: i32) -> Decades {
        let mut mask = 0u16;
        let mut add = |y: i32| {
            if (2000..2100).contains(&y) {
                mask |= 1 << ((y - 2000) / 10);
            }
        };
        add(year - 1);
        add(year + 3);
        let mut y = 2000;
        while y <= year {
            add(y);
            y += 3;
        }
        Decades { mask }
    }

    /// Whether `digit` (ASCII) is an accepted third year digit.
    pub(crate) fn accepts(self, digit: u8) -> bool {
        digit.is_ascii_digit() && self.mask & (1 << (digit - b'0')) != 0
    }

    /// The `%ExY` regex, e.g. `(?P<Y>20[012]\d)`.
    pub(crate) fn regex(self) -> String {
        let digits: String = (0..10u8)
            .filter(|d| self.mask & (1 << d) != 0)
            .map(|d| char::from(b'0' + d))
            .collect();
        if digits.is_empty() {
            return r"(?P<Y>\d{4})".to_string();
        }
        format!(r"(?P<Y>20[{digits}]\d)")
    }
}

/// Replaces every `%X` / `%ExX` directive of `pattern` by its regex.
///
/// Returns the regex and whether the template must be case-insensitive.
pub(crate) fn expand(pattern: &str, decades: Decades) -> Result<(String, bool), Error> {
    let mut out = String::with_capacity(pattern.len() * 4);
    let mut alpha = false;
    let mut rest = pattern;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let key_len = if let Some(ex) = after.strip_prefix("Ex") {
            2 + ex.chars().next().map_or(0, char::len_utf8)
        } else {
            after.chars().next().map_or(0, char::len_utf8)
        };
        let key = &after[..key_len];
        if key == "ExY" {
            out.push_str(&decades.regex());
        } else if let Some((_, re)) = TABLE.iter().find(|(k, _)| *k == key) {
            out.push_str(re);
            alpha |= ALPHA.contains(&key);
        } else {
            return Err(ErrorKind::UnknownDirective {
                directive: format!("%{key}"),
                pattern: pattern.to_string(),
            }
            .into());
        }
        rest = &after[key_len..];
    }
    out.push_str(rest);
    Ok((out, alpha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exy_covers_decades_up_to_now_plus_three() {
        assert_eq!(Decades::for_year(2026).regex(), r"(?P<Y>20[012]\d)");
        assert_eq!(Decades::for_year(2027).regex(), r"(?P<Y>20[0123]\d)");
        assert_eq!(Decades::for_year(2005).regex(), r"(?P<Y>20[0]\d)");
        assert!(Decades::for_year(2026).accepts(b'2'));
        assert!(!Decades::for_year(2026).accepts(b'3'));
    }

    #[test]
    fn expand_replaces_directives_and_flags_alpha() {
        let d = Decades::for_year(2026);
        let (re, alpha) = expand("%H:%M:%S", d).unwrap();
        assert_eq!(
            re,
            r"(?P<H>[0-1]?\d|2[0-3]):(?P<M>[0-5]?\d):(?P<S>[0-5]?\d|6[0-1])"
        );
        assert!(!alpha);
        let (re, alpha) = expand("%b %ExY 100%%", d).unwrap();
        assert!(re.starts_with("(?P<b>jan"));
        assert!(re.ends_with(r"(?P<Y>20[012]\d) 100%"));
        assert!(alpha);
        assert_eq!(
            expand("%Exd%Q", d).unwrap_err().kind(),
            &ErrorKind::UnknownDirective {
                directive: "%Q".into(),
                pattern: "%Exd%Q".into()
            }
        );
    }
}
