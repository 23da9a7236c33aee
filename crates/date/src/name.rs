//! The display name of a date template, as fail2ban-regex prints it in its report's "Date
//! template hits": each strptime directive replaced by a word (`%b` → `MON`, `%ExY` →
//! `ExYear`...), directives without a word kept as written.

/// The word for a directive letter (`None`: fail2ban-regex keeps the directive as written).
fn word(c: char) -> Option<&'static str> {
    Some(match c {
        'a' => "DAY",
        'A' => "DAYNAME",
        'b' => "MON",
        'B' => "MONTH",
        'd' => "Day",
        'f' => "Microseconds",
        'H' => "24hour",
        'I' => "12hour",
        'j' => "Yearday",
        'm' => "Month",
        'M' => "Minute",
        'p' => "AMPM",
        'S' => "Second",
        'U' | 'W' => "Yearweek",
        'w' => "Weekday",
        'y' => "Year2",
        'Y' => "Year",
        'z' => "Zone offset",
        'Z' => "Zone name",
        _ => return None,
    })
}

/// fail2ban-regex's name for the template written as `pattern` (a `datepattern` line or one
/// of the default templates).
pub fn template_name(pattern: &str) -> String {
    let (prefix, body) = match pattern.strip_prefix("{^LN-BEG}") {
        Some(rest) => ("{^LN-BEG}", rest),
        None => ("", pattern),
    };
    let (anchor, word_part) = match body.strip_prefix('^') {
        Some(rest) => ("^", rest),
        None => ("", body),
    };
    match word_part.to_ascii_uppercase().as_str() {
        "EPOCH" => return format!("{prefix}{anchor}Epoch"),
        "LEPOCH" => return format!("{prefix}{anchor}LongEpoch"),
        _ => {}
    }
    let mut out = String::with_capacity(pattern.len() * 2);
    out.push_str(prefix);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('E') if chars.peek() == Some(&'x') => {
                chars.next();
                match chars.next() {
                    // The one extended directive fail2ban-regex keeps whole.
                    Some('k') => out.push_str("%Exk"),
                    Some(d) => {
                        out.push_str("Ex");
                        match word(d) {
                            Some(w) => out.push_str(w),
                            None => {
                                out.push('%');
                                out.push(d);
                            }
                        }
                    }
                    None => out.push_str("%Ex"),
                }
            }
            Some(d) => match word(d) {
                Some(w) => out.push_str(w),
                None => {
                    out.push('%');
                    out.push(d);
                }
            },
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::template_name;

    #[test]
    fn names_as_fail2ban_regex_prints_them() {
        // Each expected name is what fail2ban-regex printed for the pattern.
        for (pattern, name) in [
            (
                "{^LN-BEG}(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?",
                "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
            ),
            ("%A %B %d %I %p %j", "DAYNAME MONTH Day 12hour AMPM Yearday"),
            (
                "%m/%d/%y %U %W %w %u",
                "Month/Day/Year2 Yearweek Yearweek Weekday %u",
            ),
            (
                "%Y-%m-%d %H:%M:%S.%f %z",
                "Year-Month-Day 24hour:Minute:Second.Microseconds Zone offset",
            ),
            (
                "%ExY-%Exm-%Exd %ExH:%ExM:%ExS",
                "ExYear-ExMonth-ExDay Ex24hour:ExMinute:ExSecond",
            ),
            ("%Y-%m-%d %Exk:%M", "Year-Month-Day %Exk:Minute"),
            ("%Y-%m-%d %Exl:%M %p", "Year-Month-Day Ex%l:Minute AMPM"),
            ("%Exy-%m-%d", "ExYear2-Month-Day"),
            ("%H:%M %ExZ", "24hour:Minute ExZone name"),
            ("%H:%M %Exz", "24hour:Minute ExZone offset"),
            ("%G-%m-%d %V %%", "%G-Month-Day %V %"),
            ("%c", "%c"),
            ("EPOCH", "Epoch"),
            ("LEPOCH", "LongEpoch"),
        ] {
            assert_eq!(template_name(pattern), name, "{pattern}");
        }
    }
}
