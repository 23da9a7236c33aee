//! The command stream fail2ban's client sends to its server, and its Python `repr` form (what
//! `fail2ban-client -d` prints).

use std::fmt::Write as _;

/// One value in a stream command: the Python types fail2ban's client uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer (`maxretry`, `maxlines`, `dbmaxmatches`...).
    Int(i64),
    /// A boolean (`bantime.increment`, `ignoreself`...).
    Bool(bool),
    /// Python's `None` (an integer option whose value is not a number).
    None,
    /// A list.
    List(Vec<Value>),
    /// A dictionary with string keys, in insertion order (`['set', 'thread', {'stacksize': 32}]`).
    Dict(Vec<(String, Value)>),
}

/// One command of the stream, e.g. `['set', 'sshd', 'maxretry', 5]`.
pub type Command = Vec<Value>;

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl Value {
    /// The value as Python's `repr` prints it.
    pub fn python_repr(&self) -> String {
        let mut s = String::new();
        self.write_repr(&mut s);
        s
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(&python_str_repr(s)),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Value::None => out.push_str("None"),
            Value::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_repr(out);
                }
                out.push(']');
            }
            Value::Dict(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&python_str_repr(k));
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

/// A command line as `fail2ban-client -d` prints it.
pub fn command_repr(cmd: &Command) -> String {
    Value::List(cmd.clone()).python_repr()
}

/// Whether Python's `str.isprintable()` holds for `c` (approximated without Unicode tables:
/// control, format, separator and private-use characters are not printable; space is).
fn is_printable(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() {
        return false;
    }
    !matches!(u,
        0xA0 | 0xAD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x1680 | 0x180E
        | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x206F | 0x3000 | 0x3164
        | 0xD800..=0xF8FF | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB
        | 0xE0000..=0xE0FFF | 0xF0000..=0x10FFFF)
}

/// A string as Python's `repr` prints it: single quotes unless the string contains a single
/// quote and no double quote; `\\`, `\n`, `\r`, `\t`, the quote, and non-printable characters
/// escaped.
pub fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let u = c as u32;
                let _ = if u < 0x100 {
                    write!(out, "\\x{u:02x}")
                } else if u < 0x10000 {
                    write!(out, "\\u{u:04x}")
                } else {
                    write!(out, "\\U{u:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_quoting_rules() {
        assert_eq!(python_str_repr("a"), "'a'");
        assert_eq!(python_str_repr("it's"), "\"it's\"");
        assert_eq!(python_str_repr("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(python_str_repr("a\\b\n\t\r"), "'a\\\\b\\n\\t\\r'");
        assert_eq!(
            python_str_repr("\u{1}\u{7f}\u{a0}é\u{2028}"),
            "'\\x01\\x7f\\xa0é\\u2028'"
        );
    }

    #[test]
    fn lists_ints_bools() {
        let c: Command = vec![
            "set".into(),
            "j".into(),
            Value::Int(5),
            Value::Bool(true),
            Value::None,
            Value::List(vec!["a".into()]),
        ];
        assert_eq!(command_repr(&c), "['set', 'j', 5, True, None, ['a']]");
    }
}
