//! Where in a shell script a position is: unquoted, in single quotes, or in double quotes.
//!
//! Untrusted values never enter a script as text; a tag holding one becomes a variable
//! expansion. How to write that expansion depends on the quoting around the tag: `"${v}"`
//! unquoted (no word splitting, no globbing), `${v}` inside double quotes, and `'"${v}"'`
//! inside single quotes (close, expand, reopen). This tracker knows enough of the POSIX shell
//! grammar for that: quotes, backslashes, `$( … )`, backticks and `#` comments. Whatever it
//! gets wrong, the value is still only ever expanded, never parsed as code.

/// The quoting in force at a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// Outside quotes (also inside `$( … )` or backticks outside quotes).
    None,
    /// Inside `'…'`.
    Single,
    /// Inside `"…"`.
    Double,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    Single,
    Double,
    Backtick,
    /// `$( … )` with the count of unclosed `(` inside it.
    Paren(u32),
    Comment,
}

/// A left-to-right scanner over script text.
#[derive(Debug, Default)]
pub(crate) struct ShellContext {
    stack: Vec<Frame>,
    escaped: bool,
    prev: Option<char>,
}

impl ShellContext {
    /// The quoting at the current position.
    pub(crate) fn quoting(&self) -> Quoting {
        match self.stack.last() {
            Some(Frame::Single) => Quoting::Single,
            Some(Frame::Double) => Quoting::Double,
            _ => Quoting::None,
        }
    }

    /// Advances over `text`.
    pub(crate) fn feed(&mut self, text: &str) {
        for c in text.chars() {
            self.step(c);
            self.prev = Some(c);
        }
    }

    /// Advances over an opaque word that holds no quoting (an inlined value or a kept tag).
    pub(crate) fn feed_word(&mut self) {
        self.escaped = false;
        self.prev = Some('x');
    }

    fn step(&mut self, c: char) {
        if self.escaped {
            self.escaped = false;
            return;
        }
        let top = self.stack.last().copied();
        match top {
            Some(Frame::Single) => {
                if c == '\'' {
                    self.stack.pop();
                }
            }
            Some(Frame::Comment) => {
                if c == '\n' {
                    self.stack.pop();
                }
            }
            Some(Frame::Double) => match c {
                '"' => {
                    self.stack.pop();
                }
                '\\' => self.escaped = true,
                '`' => self.stack.push(Frame::Backtick),
                '(' if self.prev == Some('$') => self.stack.push(Frame::Paren(0)),
                _ => {}
            },
            None | Some(Frame::Backtick) | Some(Frame::Paren(_)) => match c {
                '\'' => self.stack.push(Frame::Single),
                '"' => self.stack.push(Frame::Double),
                '\\' => self.escaped = true,
                '`' if top == Some(Frame::Backtick) => {
                    self.stack.pop();
                }
                '`' => self.stack.push(Frame::Backtick),
                '#' if self.at_word_start() => self.stack.push(Frame::Comment),
                '(' if self.prev == Some('$') => self.stack.push(Frame::Paren(0)),
                '(' => {
                    if let Some(Frame::Paren(n)) = self.stack.last_mut() {
                        *n += 1;
                    }
                }
                ')' => match self.stack.last_mut() {
                    Some(Frame::Paren(0)) => {
                        self.stack.pop();
                    }
                    Some(Frame::Paren(n)) => *n -= 1,
                    _ => {}
                },
                _ => {}
            },
        }
    }

    fn at_word_start(&self) -> bool {
        match self.prev {
            None => true,
            Some(p) => p.is_whitespace() || matches!(p, ';' | '&' | '|' | '(' | ')'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoting_after(text: &str) -> Quoting {
        let mut c = ShellContext::default();
        c.feed(text);
        c.quoting()
    }

    #[test]
    fn quotes() {
        assert_eq!(quoting_after("echo "), Quoting::None);
        assert_eq!(quoting_after("echo '"), Quoting::Single);
        assert_eq!(quoting_after("echo \"a"), Quoting::Double);
        assert_eq!(quoting_after("echo \"a\" "), Quoting::None);
        assert_eq!(quoting_after("echo \"it's "), Quoting::Double);
        assert_eq!(quoting_after("echo 'say \"hi"), Quoting::Single);
        assert_eq!(quoting_after("echo \\'"), Quoting::None);
        assert_eq!(quoting_after("echo \"\\\""), Quoting::Double);
    }

    #[test]
    fn substitutions_open_a_new_level() {
        assert_eq!(quoting_after("x=\"$(printf '%s' "), Quoting::None);
        assert_eq!(quoting_after("x=\"$(printf '%s' \""), Quoting::Double);
        assert_eq!(quoting_after("x=\"$(f (a) b) "), Quoting::Double);
        assert_eq!(quoting_after("x=\"`date` "), Quoting::Double);
        assert_eq!(quoting_after("x=\"`date "), Quoting::None);
    }

    #[test]
    fn comments_hide_quotes() {
        assert_eq!(quoting_after("# don't\necho "), Quoting::None);
        assert_eq!(quoting_after("echo a#'b"), Quoting::Single);
    }
}
