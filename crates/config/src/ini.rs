//! One file of fail2ban's INI dialect (Python's `configparser` as fail2ban sets it up), parsed
//! without merging: sections in file order, each with its options and their line numbers.
//!
//! Rules: `=` or `:` delimits (the first one on the line); option names are lower-cased; a line
//! whose text starts with `#` or `;` is a comment, even inside a multi-line value; `;` preceded
//! by white space starts an inline comment; a line indented deeper than its option continues the
//! value; blank lines inside a value are kept, trailing ones dropped; a section or an option may
//! not appear twice in one file (`[DEFAULT]` may be reopened).

use crate::map::Set;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::Origin;

/// One option as written in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value, continuation lines joined with `\n`, stripped.
    pub value: String,
    /// Where the option's first line is.
    pub origin: Origin,
}

/// One `[section]` of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSection {
    /// The name between the brackets, as written.
    pub name: String,
    /// The options in file order.
    pub entries: Vec<(String, Entry)>,
}

/// The name of the section whose options every other section sees.
pub const DEFAULT: &str = "DEFAULT";

/// Decodes a file's bytes, naming the first line that is not UTF-8.
pub fn decode(bytes: Vec<u8>, file: &Path) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid = e.utf8_error().valid_up_to();
        let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        Error::new(ErrorKind::InvalidUtf8, "the file is not valid UTF-8")
            .in_file(file)
            .at_line(line)
    })
}

/// Where an inline `;` comment starts: at the line start or after white space.
fn inline_comment_start(line: &str) -> Option<usize> {
    // Most lines have no `;` at all: find them by byte (memchr), then look at the character
    // before each.
    line.match_indices(';').map(|(i, _)| i).find(|&i| {
        line[..i]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace)
    })
}

/// Parses the text of one file.
pub fn parse(text: &str, file: &Arc<Path>) -> Result<Vec<ParsedSection>> {
    let mut sections: Vec<ParsedSection> = Vec::new();
    let mut seen_sections: Set<String> = Set::default();
    // (first section of that name, option): `[DEFAULT]` may be reopened, its options not.
    let mut seen_options: Set<(usize, String)> = Set::default();
    let mut first_default: Option<usize> = None;
    // Index of the current section and of the current option inside it.
    let mut cur: Option<usize> = None;
    let mut cur_opt: Option<usize> = None;
    // The current option's value so far: its lines joined with `\n`.
    let mut lines = String::new();
    let mut indent_level = 0usize;

    let err = |kind, msg: String, line: usize| Error::new(kind, msg).in_file(file).at_line(line);
    let flush = |sections: &mut Vec<ParsedSection>,
                 cur: Option<usize>,
                 cur_opt: Option<usize>,
                 lines: &mut String| {
        if let (Some(s), Some(o)) = (cur, cur_opt) {
            if let Some(entry) = sections.get_mut(s).and_then(|s| s.entries.get_mut(o)) {
                entry.1.value = lines.trim_end().to_string();
            }
        }
        lines.clear();
    };

    // Python reads with universal newlines: \r\n and lone \r end lines too.
    let normalised;
    let text = if text.contains('\r') {
        normalised = text.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        text
    };

    for (idx, raw) in text.split('\n').enumerate() {
        let lineno = idx + 1;
        let trimmed = raw.trim();
        let comment = if trimmed.starts_with('#') || trimmed.starts_with(';') {
            Some(0)
        } else {
            inline_comment_start(raw)
        };
        let value = raw[..comment.unwrap_or(raw.len())].trim();
        if value.is_empty() {
            // A blank line belongs to the value being read; a comment line is just skipped.
            if comment.is_none() && cur_opt.is_some() {
                lines.push('\n');
            }
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if cur.is_some() && cur_opt.is_some() && indent > indent_level {
            lines.push('\n');
            lines.push_str(value);
            continue;
        }
        flush(&mut sections, cur, cur_opt, &mut lines);
        cur_opt = None;
        indent_level = indent;
        if let Some(name) = section_header(value) {
            if name != DEFAULT && !seen_sections.insert(name.to_string()) {
                return Err(err(
                    ErrorKind::DuplicateSection,
                    format!("section [{name}] appears twice in this file"),
                    lineno,
                ));
            }
            if name == DEFAULT && first_default.is_none() {
                first_default = Some(sections.len());
            }
            sections.push(ParsedSection {
                name: name.to_string(),
                entries: Vec::new(),
            });
            cur = Some(sections.len() - 1);
            continue;
        }
        let Some(s) = cur else {
            return Err(err(
                ErrorKind::Syntax,
                format!("\"{}\" comes before any [section] header", shorten(value)),
                lineno,
            ));
        };
        let Some(delim) = value.find(['=', ':']) else {
            return Err(err(
                ErrorKind::Syntax,
                format!(
                    "\"{}\" is neither a [section], an option (name = value) nor a comment",
                    shorten(value)
                ),
                lineno,
            ));
        };
        let name = value[..delim].trim_end().to_lowercase();
        if name.is_empty() {
            return Err(err(
                ErrorKind::Syntax,
                format!("\"{}\" has no option name before '='", shorten(value)),
                lineno,
            ));
        }
        let section = &mut sections[s];
        let first = if section.name == DEFAULT {
            first_default.unwrap_or(s)
        } else {
            s
        };
        if !seen_options.insert((first, name.clone())) {
            return Err(err(
                ErrorKind::DuplicateOption,
                format!(
                    "option \"{name}\" appears twice in section [{}] of this file",
                    section.name
                ),
                lineno,
            ));
        }
        section.entries.push((
            name,
            Entry {
                value: String::new(),
                origin: Origin {
                    file: file.clone(),
                    line: lineno,
                },
            },
        ));
        cur_opt = Some(section.entries.len() - 1);
        lines.push_str(value[delim + 1..].trim());
    }
    flush(&mut sections, cur, cur_opt, &mut lines);
    Ok(sections)
}

/// The name of a `[section]` header line (text between the first `[` and the last `]`).
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

/// A line cut to a readable length for messages.
fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<ParsedSection>> {
        parse(text, &Arc::from(Path::new("t.conf")))
    }

    fn get<'a>(s: &'a [ParsedSection], sec: &str, opt: &str) -> Option<&'a str> {
        s.iter()
            .filter(|x| x.name == sec)
            .flat_map(|x| x.entries.iter())
            .find(|(k, _)| k == opt)
            .map(|(_, e)| e.value.as_str())
    }

    #[test]
    fn delimiters_case_and_inline_comments() {
        let s = p("[A]\nKey = v ; c\nother: x=y # not a comment\nsemi = a;b\n").unwrap();
        assert_eq!(get(&s, "A", "key"), Some("v"));
        assert_eq!(get(&s, "A", "other"), Some("x=y # not a comment"));
        assert_eq!(get(&s, "A", "semi"), Some("a;b"));
    }

    #[test]
    fn inline_comment_needs_white_space_before_it() {
        // The first `;` is glued to text; the second follows a no-break space.
        let s = p("[A]\na = x;y\u{a0};z\nb = ;all comment\nc = 1 ;x ;y\n").unwrap();
        assert_eq!(get(&s, "A", "a"), Some("x;y"));
        assert_eq!(get(&s, "A", "b"), Some(""));
        assert_eq!(get(&s, "A", "c"), Some("1"));
    }

    #[test]
    fn a_reopened_default_may_not_repeat_an_option() {
        let e = p("[DEFAULT]\na = 1\n[X]\na = 2\n[DEFAULT]\nA = 3\n").unwrap_err();
        assert_eq!((e.kind(), e.line()), (ErrorKind::DuplicateOption, Some(6)));
        assert!(p("[DEFAULT]\na = 1\n[X]\na = 2\n[DEFAULT]\nb = 3\n").is_ok());
    }

    #[test]
    fn first_delimiter_wins() {
        let s = p("[A]\na:b = c\n").unwrap();
        assert_eq!(get(&s, "A", "a"), Some("b = c"));
    }

    #[test]
    fn multi_line_values_with_comments_and_blanks() {
        let s = p("[A]\nv = one\n  two\n  # dropped\n\n  three\n\n\nw = 1\n").unwrap();
        assert_eq!(get(&s, "A", "v"), Some("one\ntwo\n\nthree"));
        assert_eq!(get(&s, "A", "w"), Some("1"));
    }

    #[test]
    fn empty_first_line_then_continuation() {
        let s = p("[A]\nv =\n   x\n   y\n").unwrap();
        assert_eq!(get(&s, "A", "v"), Some("\nx\ny"));
    }

    #[test]
    fn duplicates_in_one_file_are_refused_with_line() {
        let e = p("[A]\na = 1\n\n[B]\n[A]\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DuplicateSection);
        assert_eq!(e.line(), Some(5));
        let e = p("[A]\na = 1\nA = 2\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DuplicateOption);
        assert_eq!(e.line(), Some(3));
        assert!(p("[DEFAULT]\na=1\n[DEFAULT]\nb=2\n").is_ok());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = p("a = 1\n").unwrap_err();
        assert_eq!((e.kind(), e.line()), (ErrorKind::Syntax, Some(1)));
        let e = p("[A]\n\njunk\n").unwrap_err();
        assert_eq!((e.kind(), e.line()), (ErrorKind::Syntax, Some(3)));
        assert!(e.to_string().starts_with("t.conf, line 3: "), "{e}");
    }

    #[test]
    fn header_takes_text_to_last_bracket() {
        let s = p("[Init?family=inet6]\nx = 1\n").unwrap();
        assert_eq!(s[0].name, "Init?family=inet6");
    }

    #[test]
    fn invalid_utf8_names_line() {
        let e = decode(b"[A]\nx = \xff\n".to_vec(), Path::new("f")).unwrap_err();
        assert_eq!((e.kind(), e.line()), (ErrorKind::InvalidUtf8, Some(2)));
    }
}
