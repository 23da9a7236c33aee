//! `journalmatch`: which journal entries a jail reads.

use crate::error::{Error, ErrorKind};

/// A parsed `journalmatch`: groups of `FIELD=value` terms, the groups ORed.
///
/// Words are separated by white space (shell-like quoting keeps spaces inside a value);
/// the word `+` starts a new group. Within a group the terms are ANDed, except that
/// sd-journal ORs terms on the *same* field (`_COMM=sshd _COMM=sshd-session` matches
/// either), exactly as fail2ban inherits it from libsystemd.
///
/// ```
/// use jailor_tail::JournalMatch;
///
/// let m = JournalMatch::parse("_SYSTEMD_UNIT=ssh.service + _COMM=sshd")?;
/// assert_eq!(m.groups().len(), 2);
/// assert_eq!(m.groups()[1], ["_COMM=sshd"]);
/// # Ok::<(), jailor_tail::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalMatch {
    groups: Vec<Vec<String>>,
}

impl JournalMatch {
    /// Parses a `journalmatch` value; an empty value matches every entry.
    pub fn parse(text: &str) -> Result<JournalMatch, Error> {
        let words = split_words(text).map_err(|message| bad(text, message))?;
        JournalMatch::from_lines(&[words])
    }

    /// Builds the match from lines already split into words (as jailor-config's
    /// `FilterSpec::journalmatch` holds them); the lines are ORed, as fail2ban adds each
    /// `journalmatch` line as one more alternative.
    pub fn from_lines<W: AsRef<str>>(lines: &[Vec<W>]) -> Result<JournalMatch, Error> {
        let mut groups = Vec::new();
        for line in lines {
            let text = || {
                let words: Vec<&str> = line.iter().map(AsRef::as_ref).collect();
                words.join(" ")
            };
            groups.push(Vec::new());
            for word in line.iter().map(AsRef::as_ref) {
                if word == "+" {
                    groups.push(Vec::new());
                    continue;
                }
                let Some((field, _value)) = word.split_once('=') else {
                    return Err(bad(&text(), format!("{word:?} is not FIELD=value")));
                };
                if !valid_field(field) {
                    return Err(bad(
                        &text(),
                        format!(
                            "{field:?} is not a journal field name (A-Z, 0-9, _, not starting with a digit)"
                        ),
                    ));
                }
                if let Some(g) = groups.last_mut() {
                    g.push(word.to_string());
                }
            }
        }
        // `+` at either end or doubled adds nothing, as sd_journal_add_disjunction on an empty
        // group does nothing.
        groups.retain(|g: &Vec<String>| !g.is_empty());
        Ok(JournalMatch { groups })
    }

    /// The OR-ed groups, each a list of `FIELD=value` terms.
    pub fn groups(&self) -> &[Vec<String>] {
        &self.groups
    }

    /// Whether there is no term at all (every entry matches).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether an entry with these fields passes, by sd-journal's rules (for tests and for
    /// checking entries without a journal at hand). `field` returns every value an entry
    /// has for a field name.
    pub fn accepts<'a, F>(&self, field: F) -> bool
    where
        F: Fn(&str) -> Vec<&'a [u8]>,
    {
        if self.groups.is_empty() {
            return true;
        }
        self.groups.iter().any(|group| {
            // Terms on one field are ORed, different fields ANDed.
            let mut fields: Vec<&str> = group
                .iter()
                .filter_map(|t| t.split_once('=').map(|(f, _)| f))
                .collect();
            fields.dedup();
            fields.iter().all(|f| {
                let have = field(f);
                group
                    .iter()
                    .filter_map(|t| t.split_once('='))
                    .filter(|(tf, _)| tf == f)
                    .any(|(_, v)| have.contains(&v.as_bytes()))
            })
        })
    }
}

impl std::fmt::Display for JournalMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let groups: Vec<String> = self.groups.iter().map(|g| g.join(" ")).collect();
        f.write_str(&groups.join(" + "))
    }
}

fn bad(text: &str, message: String) -> Error {
    ErrorKind::BadJournalMatch {
        text: text.to_string(),
        message,
    }
    .into()
}

/// Journal field names: upper-case letters, digits and `_`, not starting with a digit.
fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && !field.starts_with(|c: char| c.is_ascii_digit())
        && field
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Splits like a POSIX shell: white space separates, quotes group, `\` escapes.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_split_on_plus() {
        let m = JournalMatch::parse(
            "_SYSTEMD_UNIT=ssh.service + _SYSTEMD_UNIT=sshd.service _COMM=sshd",
        )
        .unwrap();
        assert_eq!(
            m.groups(),
            [
                vec!["_SYSTEMD_UNIT=ssh.service".to_string()],
                vec!["_SYSTEMD_UNIT=sshd.service".into(), "_COMM=sshd".into()],
            ]
        );
        assert_eq!(
            m.to_string(),
            "_SYSTEMD_UNIT=ssh.service + _SYSTEMD_UNIT=sshd.service _COMM=sshd"
        );
    }

    #[test]
    fn quotes_keep_spaces_and_empty_is_everything() {
        let m = JournalMatch::parse(r#"MESSAGE="a b" X='c d'"#).unwrap();
        assert_eq!(
            m.groups(),
            [vec!["MESSAGE=a b".to_string(), "X=c d".into()]]
        );
        let all = JournalMatch::parse("  ").unwrap();
        assert!(all.is_empty());
        assert!(all.accepts(|_| Vec::new()));
        assert!(
            JournalMatch::parse("+ A=1 + + B=2 +")
                .unwrap()
                .groups()
                .len()
                == 2
        );
    }

    #[test]
    fn lines_are_alternatives() {
        let lines = vec![
            vec!["_SYSTEMD_UNIT=ssh.service", "+", "_COMM=sshd"],
            vec!["_COMM=sshd-session"],
        ];
        let m = JournalMatch::from_lines(&lines).unwrap();
        assert_eq!(
            m.to_string(),
            "_SYSTEMD_UNIT=ssh.service + _COMM=sshd + _COMM=sshd-session"
        );
        assert!(JournalMatch::from_lines(&[vec!["nope"]]).is_err());
    }

    #[test]
    fn refuses_words_that_are_not_terms() {
        for bad in ["sshd", "_comm=sshd", "=x", "1A=2", "A='open"] {
            let e = JournalMatch::parse(bad).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::BadJournalMatch { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn accepts_follows_sd_journal_rules() {
        let m =
            JournalMatch::parse("_COMM=sshd _COMM=sshd-session _PID=1 + _SYSTEMD_UNIT=ssh.service")
                .unwrap();
        let entry = |comm: &'static str, pid: &'static str, unit: &'static str| {
            move |f: &str| -> Vec<&'static [u8]> {
                match f {
                    "_COMM" => vec![comm.as_bytes()],
                    "_PID" => vec![pid.as_bytes()],
                    "_SYSTEMD_UNIT" => vec![unit.as_bytes()],
                    _ => vec![],
                }
            }
        };
        assert!(m.accepts(entry("sshd-session", "1", "x")));
        assert!(!m.accepts(entry("sshd-session", "2", "x")));
        assert!(m.accepts(entry("cron", "2", "ssh.service")));
        assert!(!m.accepts(entry("cron", "1", "x")));
    }
}
