//! Python `re` syntax → Rust regex syntax (spec §3.2).
//!
//! One pass over the Python pattern produces three Rust patterns:
//! - `linear`: exact, for the `regex` crate, when the pattern needs no backtracking feature;
//! - `fancy`: exact, for `fancy-regex` (look-around, back-references, conditionals);
//! - `relaxed`: a linear-time *superset* for the `regex` crate (look-arounds dropped,
//!   back-references → `.*?`, conditionals → alternation), used to reject lines cheaply
//!   before the backtracking engine sees them.
//!
//! All three keep Python's capture-group numbering, except `relaxed` (never used for captures).
//!
//! Rules, each tested below:
//! - `(?(name)` → `(?(<name>)` (fancy-regex reads a bare name as a literal look-ahead);
//! - escaped punctuation is a literal (`\<`, `\>` are word boundaries in Rust);
//! - inside classes `[`, `&&`, `--`, `~~` are literals; `]` first in a class is a literal;
//! - the `u`, `a`, `L` inline flags are dropped (`(?iu)` → `(?i)`);
//! - `\Z` → `\z`; `{,n}` → `{0,n}`; a `{` that is no quantifier is a literal;
//! - `$` without MULTILINE also matches before a final `\n`: `(?m:$)` for the linear
//!   engine (exact when the subject has no other newline), `(?=\n?\z)` for fancy-regex;
//! - `\s` also matches U+001C..U+001F in Python.
//! - the IPv6 look-behind of fail2ban's `IP_6_RE` is replaced by an equivalent without it
//!   (see [`crate::tags::IP6`]).

use crate::error::{Error, ErrorKind};

/// Python `re` flags (the integer values of `re.I`, `re.M`, …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PyFlags {
    /// `re.I` (2).
    pub ignore_case: bool,
    /// `re.M` (8).
    pub multiline: bool,
    /// `re.S` (16).
    pub dotall: bool,
    /// `re.A` (256): ASCII-only `\w`, `\d`, `\s`, `\b`.
    pub ascii: bool,
}

impl PyFlags {
    /// Flags from Python's integer representation; unknown bits (`re.U`, …) are ignored.
    pub fn from_bits(bits: u32) -> PyFlags {
        PyFlags {
            ignore_case: bits & 2 != 0,
            multiline: bits & 8 != 0,
            dotall: bits & 16 != 0,
            ascii: bits & 256 != 0,
        }
    }
}

/// The result of translating one Python pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// Exact pattern for the `regex` crate, or `None` when a backtracking feature is needed.
    pub linear: Option<String>,
    /// Exact pattern for `fancy-regex`.
    pub fancy: String,
    /// Linear superset of the pattern (for accept/reject only).
    pub relaxed: String,
    /// The pattern has a non-multiline `$`: `linear` is exact only on subjects without a
    /// newline before their last character.
    pub single_line_dollar: bool,
}

use crate::tags::{IP6 as IP6_LINEAR, IP6_PYTHON as IP6_WITH_LOOKBEHIND};

/// Translates a Python pattern compiled with `flags`.
pub fn translate(pattern: &str, flags: PyFlags) -> Result<Translated, Error> {
    let pattern = pattern.replace(IP6_WITH_LOOKBEHIND, IP6_LINEAR);
    // Room for the usual output (an escape or a class grows a little).
    let room = pattern.len() + pattern.len() / 4 + 16;
    let mut t = Translator {
        src: pattern.as_bytes(),
        text: &pattern,
        pos: 0,
        out: Out {
            linear: String::with_capacity(room),
            fancy: String::with_capacity(room),
            relaxed: String::with_capacity(room),
            needs_fancy: false,
        },
        multiline: flags.multiline,
        ascii: flags.ascii,
        stack: Vec::new(),
        suppress: 0,
        single_line_dollar: false,
    };
    let mut prefix = String::new();
    if flags.ignore_case {
        prefix.push_str("(?i)");
    }
    if flags.multiline {
        prefix.push_str("(?m)");
    }
    if flags.dotall {
        prefix.push_str("(?s)");
    }
    t.out.all(&prefix);
    t.run()
        .map_err(|e| e.with_context(format!("'{pattern}'")))?;
    let Out {
        linear,
        fancy,
        relaxed,
        needs_fancy,
    } = t.out;
    Ok(Translated {
        linear: (!needs_fancy).then_some(linear),
        fancy,
        relaxed,
        single_line_dollar: t.single_line_dollar,
    })
}

#[derive(Default)]
struct Out {
    linear: String,
    fancy: String,
    relaxed: String,
    needs_fancy: bool,
}

impl Out {
    fn all(&mut self, s: &str) {
        self.linear.push_str(s);
        self.fancy.push_str(s);
        self.relaxed.push_str(s);
    }
}

/// What an open `(` was, to know what its `)` closes.
enum Group {
    /// Restores the multiline state on close.
    Plain { multiline: bool },
    /// Dropped from `relaxed`.
    LookAround,
}

struct Translator<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    out: Out,
    multiline: bool,
    ascii: bool,
    stack: Vec<Group>,
    /// Depth of look-arounds being dropped from `relaxed`.
    suppress: usize,
    single_line_dollar: bool,
}

fn syntax(offset: usize, reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::Syntax {
        offset,
        reason: reason.into(),
    })
}

/// Appends `c` as a literal outside a class.
fn literal(buf: &mut String, c: char) {
    if regex_syntax_meta(c) {
        buf.push('\\');
        buf.push(c);
    } else if c.is_control() {
        buf.push_str(&format!("\\x{{{:X}}}", c as u32));
    } else {
        buf.push(c);
    }
}

/// Appends `c` as a literal inside a class.
fn class_literal(buf: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~') {
        buf.push('\\');
        buf.push(c);
    } else {
        literal(buf, c);
    }
}

/// Whether `c`, outside a class, is neither special to Python's `re` nor changed by
/// [`literal`]: it is written as it is.
fn plain_literal(c: char) -> bool {
    !matches!(
        c,
        '\\' | '[' | '(' | ')' | '$' | '{' | '*' | '+' | '?' | '.' | '^' | '|'
    ) && !regex_syntax_meta(c)
        && !c.is_control()
}

fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

/// A parsed escape that stands for one character or a class.
enum Escape {
    Char(char),
    /// Rust text of a class usable both inside and outside `[...]`.
    Class(&'static str),
    /// A complemented class: must be nested (`[^...]`) inside a class.
    NegClass(&'static str),
}

impl<'a> Translator<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.text[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn emit(&mut self, s: &str) {
        self.out.linear.push_str(s);
        self.out.fancy.push_str(s);
        if self.suppress == 0 {
            self.out.relaxed.push_str(s);
        }
    }

    fn emit_split(&mut self, exact: &str, relaxed: &str) {
        self.out.linear.push_str(exact);
        self.out.fancy.push_str(exact);
        if self.suppress == 0 {
            self.out.relaxed.push_str(relaxed);
        }
    }

    fn fancy_only(&mut self, fancy: &str, relaxed: &str) {
        self.out.needs_fancy = true;
        self.out.fancy.push_str(fancy);
        if self.suppress == 0 {
            self.out.relaxed.push_str(relaxed);
        }
    }

    fn run(&mut self) -> Result<(), Error> {
        while let Some(c) = self.peek() {
            let at = self.pos;
            match c {
                '\\' => self.escape_outside()?,
                '[' => self.class()?,
                '(' => self.open_group()?,
                ')' => {
                    self.bump();
                    match self.stack.pop() {
                        Some(Group::Plain { multiline }) => {
                            self.emit(")");
                            self.multiline = multiline;
                        }
                        Some(Group::LookAround) => {
                            self.out.linear.push(')');
                            self.out.fancy.push(')');
                            self.suppress -= 1;
                        }
                        None => return Err(syntax(at, "unbalanced parenthesis")),
                    }
                }
                '$' => {
                    self.bump();
                    if self.multiline {
                        self.emit("$");
                    } else {
                        self.single_line_dollar = true;
                        self.out.linear.push_str("(?m:$)");
                        self.out.fancy.push_str(r"(?=\n?\z)");
                        if self.suppress == 0 {
                            self.out.relaxed.push_str("(?m:$)");
                        }
                    }
                }
                '{' => self.brace()?,
                '*' | '+' | '?' => {
                    self.bump();
                    self.emit(c.encode_utf8(&mut [0; 4]));
                    self.quantifier_suffix()?;
                }
                '.' | '^' | '|' => {
                    self.bump();
                    self.emit(c.encode_utf8(&mut [0; 4]));
                }
                c if plain_literal(c) => {
                    // A run of characters written as they are: one emit for all (a quantifier
                    // after the run still binds to its last character).
                    let rest = &self.text[self.pos..];
                    let len = rest
                        .char_indices()
                        .find(|&(_, c)| !plain_literal(c))
                        .map_or(rest.len(), |(i, _)| i);
                    self.pos += len;
                    self.emit(&rest[..len]);
                }
                _ => {
                    self.bump();
                    let mut s = String::new();
                    literal(&mut s, c);
                    self.emit(&s);
                }
            }
        }
        if !self.stack.is_empty() {
            return Err(syntax(self.pos, "missing ), unterminated subpattern"));
        }
        Ok(())
    }

    /// After a quantifier: lazy `?` is kept, possessive `+` is refused.
    fn quantifier_suffix(&mut self) -> Result<(), Error> {
        if self.eat("?") {
            self.emit("?");
        } else if self.peek() == Some('+') {
            return Err(syntax(self.pos, "possessive quantifiers are not supported"));
        }
        Ok(())
    }

    /// `{m,n}`-style quantifier or a literal `{`.
    fn brace(&mut self) -> Result<(), Error> {
        let start = self.pos;
        self.bump();
        let rest = &self.text[self.pos..];
        let Some(end) = rest.find('}') else {
            self.emit(r"\{");
            return Ok(());
        };
        let body = &rest[..end];
        let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let quant = match body.split_once(',') {
            None if !body.is_empty() && valid(body) => Some(format!("{{{body}}}")),
            Some((lo, hi)) if valid(lo) && valid(hi) => {
                let lo = if lo.is_empty() { "0" } else { lo };
                Some(format!("{{{lo},{hi}}}"))
            }
            _ => None,
        };
        match quant {
            Some(q) => {
                self.pos += end + 1;
                self.emit(&q);
                self.quantifier_suffix()?;
            }
            None => {
                debug_assert_eq!(self.pos, start + 1);
                self.emit(r"\{");
            }
        }
        Ok(())
    }

    fn group_name(&mut self, close: char) -> Result<&'a str, Error> {
        let start = self.pos;
        let rest = &self.text[start..];
        let end = rest
            .find(close)
            .ok_or_else(|| syntax(start, "unterminated group name"))?;
        let name = &rest[..end];
        let ok = !name.is_empty()
            && name
                .chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_alphanumeric());
        if !ok {
            return Err(syntax(
                start,
                format!("bad character in group name '{name}'"),
            ));
        }
        self.pos += end + close.len_utf8();
        // `text` outlives `self`, so the name can be handed out independently.
        let text: &'a str = self.text;
        Ok(&text[start..start + end])
    }

    fn open_group(&mut self) -> Result<(), Error> {
        let at = self.pos;
        self.bump();
        if !self.eat("?") {
            self.stack.push(Group::Plain {
                multiline: self.multiline,
            });
            self.emit("(");
            return Ok(());
        }
        if self.eat("P<") {
            let name = self.group_name('>')?;
            self.stack.push(Group::Plain {
                multiline: self.multiline,
            });
            self.emit(&format!("(?P<{name}>"));
        } else if self.eat("P=") {
            let name = self.group_name(')')?;
            self.fancy_only(&format!(r"\k<{name}>"), "(?s:.*?)");
        } else if self.eat(":") {
            self.stack.push(Group::Plain {
                multiline: self.multiline,
            });
            self.emit("(?:");
        } else if self.eat("#") {
            let rest = &self.text[self.pos..];
            let end = rest
                .find(')')
                .ok_or_else(|| syntax(at, "missing ), unterminated comment"))?;
            self.pos += end + 1;
        } else if self.eat("=") || self.eat("!") || self.eat("<=") || self.eat("<!") {
            let head = &self.text[at..self.pos];
            self.out.needs_fancy = true;
            self.out.linear.push_str(head);
            self.out.fancy.push_str(head);
            self.suppress += 1;
            self.stack.push(Group::LookAround);
        } else if self.eat("(") {
            let rest = &self.text[self.pos..];
            let end = rest
                .find(')')
                .ok_or_else(|| syntax(at, "unterminated condition"))?;
            let cond = &rest[..end];
            self.pos += end + 1;
            let fancy = if cond.bytes().all(|b| b.is_ascii_digit()) && !cond.is_empty() {
                format!("(?({cond})")
            } else {
                format!("(?(<{cond}>)")
            };
            self.fancy_only(&fancy, "(?:");
            self.stack.push(Group::Plain {
                multiline: self.multiline,
            });
        } else if self.eat(">") {
            self.fancy_only("(?>", "(?:");
            self.stack.push(Group::Plain {
                multiline: self.multiline,
            });
        } else {
            self.flags_group(at)?;
        }
        Ok(())
    }

    /// `(?aiLmsux)` (global) or `(?aiLmsux-imsx:...)` (scoped).
    fn flags_group(&mut self, at: usize) -> Result<(), Error> {
        let mut on = String::new();
        let mut off = String::new();
        let mut negative = false;
        let mut multiline = self.multiline;
        loop {
            let Some(c) = self.bump() else {
                return Err(syntax(at, "missing flag"));
            };
            match c {
                'u' | 'a' | 'L' => {
                    if c == 'a' {
                        self.ascii = !negative;
                    }
                }
                'i' | 'm' | 's' => {
                    if c == 'm' {
                        multiline = !negative;
                    }
                    if negative { &mut off } else { &mut on }.push(c);
                }
                'x' => return Err(syntax(at, "verbose patterns are not supported")),
                '-' if !negative => negative = true,
                ')' | ':' => {
                    let mut flags = on;
                    if !off.is_empty() {
                        flags.push('-');
                        flags.push_str(&off);
                    }
                    if c == ')' {
                        // Global flags (Python: only at the start).
                        self.multiline = multiline;
                        if !flags.is_empty() {
                            self.emit(&format!("(?{flags})"));
                        }
                    } else {
                        self.stack.push(Group::Plain {
                            multiline: self.multiline,
                        });
                        self.multiline = multiline;
                        self.emit(&format!("(?{flags}:"));
                    }
                    return Ok(());
                }
                _ => return Err(syntax(at, format!("unknown extension ?{c}"))),
            }
        }
    }

    fn hex(&mut self, digits: usize, at: usize) -> Result<char, Error> {
        let s = self
            .text
            .get(self.pos..self.pos + digits)
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| syntax(at, "incomplete escape"))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| syntax(at, "bad hex escape"))?;
        self.pos += digits;
        char::from_u32(v).ok_or_else(|| syntax(at, "bad character code"))
    }

    /// Octal escape digits after the first (already consumed) digit `first`.
    fn octal(&mut self, first: u32, at: usize) -> Result<char, Error> {
        let mut v = first;
        for _ in 0..2 {
            match self.src.get(self.pos) {
                Some(b @ b'0'..=b'7') => {
                    v = v * 8 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        if v > 0o377 {
            return Err(syntax(at, "octal escape value outside of range"));
        }
        char::from_u32(v).ok_or_else(|| syntax(at, "bad octal escape"))
    }

    /// Escapes common to both contexts. `in_class` changes `\b` (backspace) and refuses
    /// group references.
    fn escape_common(&mut self, in_class: bool) -> Result<Option<Escape>, Error> {
        let at = self.pos;
        self.bump();
        let Some(c) = self.bump() else {
            return Err(syntax(at, "bad escape (end of pattern)"));
        };
        let ascii = self.ascii;
        let e = match c {
            'd' => Escape::Class(if ascii { "0-9" } else { r"\d" }),
            'D' => Escape::NegClass(if ascii { "0-9" } else { r"\d" }),
            'w' => Escape::Class(if ascii { "0-9A-Za-z_" } else { r"\w" }),
            'W' => Escape::NegClass(if ascii { "0-9A-Za-z_" } else { r"\w" }),
            's' => Escape::Class(if ascii {
                r"\t\n\x0B\x0C\r\x20"
            } else {
                r"\s\x1C-\x1F"
            }),
            'S' => Escape::NegClass(if ascii {
                r"\t\n\x0B\x0C\r\x20"
            } else {
                r"\s\x1C-\x1F"
            }),
            'n' => Escape::Char('\n'),
            't' => Escape::Char('\t'),
            'r' => Escape::Char('\r'),
            'f' => Escape::Char('\x0C'),
            'v' => Escape::Char('\x0B'),
            'a' => Escape::Char('\x07'),
            'b' if in_class => Escape::Char('\x08'),
            'x' => Escape::Char(self.hex(2, at)?),
            'u' => Escape::Char(self.hex(4, at)?),
            'U' => Escape::Char(self.hex(8, at)?),
            '0' => Escape::Char(self.octal(0, at)?),
            '1'..='7' if in_class => Escape::Char(self.octal(c as u32 - '0' as u32, at)?),
            c if c.is_ascii_alphanumeric() => {
                // Left to the caller (anchors, back-references) or refused.
                self.pos = at;
                return Ok(None);
            }
            c => Escape::Char(c),
        };
        Ok(Some(e))
    }

    fn escape_outside(&mut self) -> Result<(), Error> {
        let at = self.pos;
        if let Some(e) = self.escape_common(false)? {
            let mut s = String::new();
            match e {
                Escape::Char(c) => literal(&mut s, c),
                Escape::Class(cls) => {
                    if cls == r"\d" || cls == r"\w" {
                        s.push_str(cls);
                    } else {
                        s = format!("[{cls}]");
                    }
                }
                Escape::NegClass(cls) => s = format!("[^{cls}]"),
            }
            self.emit(&s);
            return Ok(());
        }
        self.pos += 1;
        let Some(c) = self.bump() else {
            return Err(syntax(at, "bad escape"));
        };
        match c {
            'b' => self.emit(if self.ascii { r"(?-u:\b)" } else { r"\b" }),
            'B' => self.emit(if self.ascii { r"(?-u:\B)" } else { r"\B" }),
            'A' => self.emit(r"\A"),
            'Z' => self.emit(r"\z"),
            '1'..='9' => {
                // Octal if three octal digits, else a group reference (1-2 digits).
                let b = self.src;
                let p = self.pos;
                let is_octal = matches!(c, '0'..='3')
                    && matches!(b.get(p), Some(b'0'..=b'7'))
                    && matches!(b.get(p + 1), Some(b'0'..=b'7'));
                if is_octal {
                    let ch = self.octal(c as u32 - '0' as u32, at)?;
                    let mut s = String::new();
                    literal(&mut s, ch);
                    self.emit(&s);
                } else {
                    let mut n = c.to_string();
                    if let Some(d @ b'0'..=b'9') = b.get(p) {
                        n.push(char::from(*d));
                        self.pos += 1;
                    }
                    self.fancy_only(&format!(r"\{n}"), "(?s:.*?)");
                }
            }
            _ => return Err(syntax(at, format!("bad escape \\{c}"))),
        }
        Ok(())
    }

    /// A Python character class `[...]`.
    fn class(&mut self) -> Result<(), Error> {
        let at = self.pos;
        self.bump();
        let mut s = String::from("[");
        if self.eat("^") {
            s.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(syntax(at, "unterminated character set"));
            };
            if c == ']' && !first {
                self.bump();
                break;
            }
            first = false;
            let lo = if c == '\\' {
                match self.escape_common(true)? {
                    Some(Escape::Char(ch)) => ch,
                    Some(Escape::Class(cls)) => {
                        s.push_str(cls);
                        continue;
                    }
                    Some(Escape::NegClass(cls)) => {
                        s.push_str(&format!("[^{cls}]"));
                        continue;
                    }
                    None => {
                        let bad = self.text[self.pos..].chars().take(2).collect::<String>();
                        return Err(syntax(self.pos, format!("bad escape {bad}")));
                    }
                }
            } else {
                self.bump();
                c
            };
            // A range `lo-hi` unless the `-` is last.
            let rest = &self.text[self.pos..];
            if rest.starts_with('-') && !rest[1..].starts_with(']') && rest.len() > 1 {
                self.bump();
                let hi = if self.peek() == Some('\\') {
                    match self.escape_common(true)? {
                        Some(Escape::Char(ch)) => ch,
                        _ => return Err(syntax(self.pos, "bad character range")),
                    }
                } else {
                    self.bump()
                        .ok_or_else(|| syntax(at, "unterminated character set"))?
                };
                if hi < lo {
                    return Err(syntax(at, "bad character range"));
                }
                class_literal(&mut s, lo);
                s.push('-');
                class_literal(&mut s, hi);
            } else {
                class_literal(&mut s, lo);
            }
        }
        s.push(']');
        self.emit_split(&s, &s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(p: &str) -> Translated {
        translate(p, PyFlags::default()).unwrap()
    }

    #[test]
    fn conditional_gets_angle_brackets_and_relaxes_to_alternation() {
        let t = tr("(?P<q>')?x(?(q)'|y)");
        assert_eq!(t.linear, None);
        assert_eq!(t.fancy, "(?P<q>')?x(?(<q>)'|y)");
        assert_eq!(t.relaxed, "(?P<q>')?x(?:'|y)");
        assert_eq!(tr("(a)?(?(1)b|c)").fancy, "(a)?(?(1)b|c)");
    }

    #[test]
    fn escaped_angle_brackets_are_literals() {
        let t = tr(r"\<W\>");
        assert_eq!(t.linear.as_deref(), Some("<W>"));
        let re = regex::Regex::new(t.linear.as_deref().unwrap()).unwrap();
        assert!(re.is_match("a <W> b"));
        assert!(!re.is_match("a W b"));
    }

    #[test]
    fn class_brackets_and_set_operators_are_literals() {
        let t = tr(r"[^[]*\[x[&&~~-][--]");
        let lin = t.linear.unwrap();
        let re = regex::Regex::new(&lin).unwrap();
        assert!(re.is_match("ab [x&-"));
        assert!(re.is_match("[x--"));
        assert!(re.is_match("[x~-"));
        assert!(!re.is_match("[xz-"));
        assert!(!re.is_match("[x&z"));
        // `]` first in a class is a literal.
        let re = regex::Regex::new(&tr("[]a]+").linear.unwrap()).unwrap();
        assert_eq!(re.find("x]a]y").map(|m| m.as_str()), Some("]a]"));
        let re = regex::Regex::new(&tr("[^]]+").linear.unwrap()).unwrap();
        assert_eq!(re.find("]ab]").map(|m| m.as_str()), Some("ab"));
    }

    #[test]
    fn unicode_and_locale_flags_are_dropped() {
        assert_eq!(tr("(?iu)abc").linear.as_deref(), Some("(?i)abc"));
        assert_eq!(tr("(?u)abc").linear.as_deref(), Some("abc"));
        assert_eq!(tr("(?iL:x)").linear.as_deref(), Some("(?i:x)"));
    }

    #[test]
    fn absolute_end_and_dollar() {
        assert_eq!(tr(r"a\Z").linear.as_deref(), Some(r"a\z"));
        let t = tr("a$");
        assert!(t.single_line_dollar);
        let lin = regex::Regex::new(t.linear.as_deref().unwrap()).unwrap();
        let fan = fancy_regex::Regex::new(&t.fancy).unwrap();
        for (s, want) in [
            ("a\n", true),
            ("a", true),
            ("a\n\n", false),
            ("ab\n", false),
        ] {
            assert_eq!(fan.is_match(s).unwrap(), want, "{s:?}");
            if !s[..s.len().saturating_sub(1)].contains('\n') {
                assert_eq!(lin.is_match(s), want, "{s:?}");
            }
        }
        let t = translate("a$", PyFlags::from_bits(8)).unwrap();
        assert!(!t.single_line_dollar);
        assert_eq!(t.linear.as_deref(), Some("(?m)a$"));
    }

    #[test]
    fn braces_that_are_not_quantifiers_are_literals() {
        let re = regex::Regex::new(&tr("{x}a{,2}b{2}").linear.unwrap()).unwrap();
        assert!(re.is_match("{x}bb"));
        assert!(re.is_match("{x}aabb"));
        assert!(!re.is_match("{x}aaabb"));
    }

    #[test]
    fn backreferences_go_to_fancy_and_relax_to_any() {
        let t = tr(r"(?P<s>[-/])\d(?P=s)(a)\2");
        assert_eq!(t.linear, None);
        assert_eq!(t.fancy, r"(?P<s>[\-/])\d\k<s>(a)\2");
        assert_eq!(t.relaxed, r"(?P<s>[\-/])\d(?s:.*?)(a)(?s:.*?)");
    }

    #[test]
    fn lookarounds_are_dropped_from_relaxed() {
        let t = tr(r"a(?! from (?:x|y))b(?=c)(?<=b)");
        assert_eq!(t.linear, None);
        assert_eq!(t.fancy, r"a(?! from (?:x|y))b(?=c)(?<=b)");
        assert_eq!(t.relaxed, "ab");
    }

    #[test]
    fn python_whitespace_includes_information_separators() {
        let re = regex::Regex::new(&tr(r"a\sb\Sc[\s]").linear.unwrap()).unwrap();
        assert!(re.is_match("a\x1cbxc\x1f"));
        assert!(!re.is_match("a\x1cb\x1dc "));
    }

    #[test]
    fn ipv6_lookbehind_is_replaced() {
        let t = tr(IP6_WITH_LOOKBEHIND);
        assert_eq!(t.linear.as_deref(), Some(IP6_LINEAR));
    }

    #[test]
    fn octal_hex_and_comments() {
        let re = regex::Regex::new(&tr(r"\x41\101\u0042(?#c)\0").linear.unwrap()).unwrap();
        assert!(re.is_match("AAB\0"));
    }

    #[test]
    fn bad_syntax_is_an_error_not_a_panic() {
        for p in [
            r"(",
            r")",
            r"[a",
            r"\q",
            r"a++",
            r"(?x)a",
            r"(?P<1a>x)",
            r"\",
            "[z-a]",
        ] {
            assert!(translate(p, PyFlags::default()).is_err(), "{p}");
        }
    }
}
