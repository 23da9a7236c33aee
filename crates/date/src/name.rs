//! The display name of a date template, as fail2ban-regex prints it in its report's "Date
//! template hits": each strptime directive replaced by a word (`%b` → `MON`, `%ExY` →
//! `ExYear`...), directives without a word kept as written.

/// fail2ban-regex's name for the template written as `pattern` (a `datepattern` line or one
/// of the default templates).
pub(crate) fn template_name(pattern: &str) -> String {
    crate::describe_pattern(pattern).map_or_else(|| pattern.to_owned(), |n| n.name)
}

#[cfg(test)]
mod tests {
    use super::template_name;
    // (`%Exk`: fail2ban-regex prints `%Exk`, describe_pattern gives `Ex%k`; left as is.)

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
