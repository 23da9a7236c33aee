//! Splits an interactive command line into words as a POSIX shell would (quotes, backslashes),
//! so `set sshd addfailregex '^x <HOST>$'` reaches the daemon as one regex.

/// The words of `line`, or `None` when a quote is left open.
pub(super) fn split(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            split(r#"set sshd addfailregex '^x <HOST>$'"#).unwrap(),
            ["set", "sshd", "addfailregex", "^x <HOST>$"]
        );
        assert_eq!(
            split(r#"echo "a \"b\"" c\ d ''"#).unwrap(),
            ["echo", "a \"b\"", "c d", ""]
        );
        assert_eq!(split("  status   sshd ").unwrap(), ["status", "sshd"]);
        assert_eq!(split("echo 'open"), None);
    }
}
