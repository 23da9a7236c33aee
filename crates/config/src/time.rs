//! fail2ban's time values: `600`, `10m`, `1h30m`, `1d 12h`, `1year-6mo`, `-1` (permanent).
//!
//! fail2ban rewrites the units into multiplications, joins adjacent terms with `+` and hands the
//! result to Python's `eval`. We evaluate the same arithmetic (`+ - * /`, parentheses, decimal
//! numbers) with a small parser instead: no code is ever executed.

use crate::error::{Error, ErrorKind, Result};

/// Seconds per unit word, matched case-insensitively.
fn unit_seconds(word: &str) -> Option<f64> {
    let w = word.to_ascii_lowercase();
    Some(match w.as_str() {
        "day" | "days" | "da" | "d" | "dd" => 86_400.0,
        "week" | "weeks" | "wee" | "we" | "w" | "ww" => 604_800.0,
        "month" | "months" | "mon" | "mo" => 2_629_800.0,
        "year" | "years" | "yea" | "ye" | "y" | "yy" => 31_557_600.0,
        "second" | "seconds" | "sec" | "se" | "s" | "ss" => 1.0,
        "minute" | "minutes" | "min" | "mi" | "m" | "mm" => 60.0,
        "hour" | "hours" | "hou" | "ho" | "h" | "hh" => 3_600.0,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f64),
    Op(char),
    Open,
    Close,
}

fn tokenize(s: &str) -> std::result::Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n: f64 = text
                .parse()
                .map_err(|_| format!("\"{text}\" is not a number"))?;
            // Two terms side by side ("1h 30m", "1h30m") add up.
            if matches!(out.last(), Some(Tok::Num(_))) {
                out.push(Tok::Op('+'));
            }
            out.push(Tok::Num(n));
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let secs = unit_seconds(&word).ok_or_else(|| format!("unknown unit \"{word}\""))?;
            if !matches!(out.last(), Some(Tok::Num(_))) {
                return Err(format!("the unit \"{word}\" has no number before it"));
            }
            out.push(Tok::Op('*'));
            out.push(Tok::Num(secs));
        } else {
            match c {
                '+' | '-' | '*' | '/' => out.push(Tok::Op(c)),
                '(' => out.push(Tok::Open),
                ')' => out.push(Tok::Close),
                _ => return Err(format!("unexpected character '{c}'")),
            }
            i += 1;
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).copied()
    }

    fn expr(&mut self) -> std::result::Result<f64, String> {
        let mut v = self.term()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek() {
            self.pos += 1;
            let r = self.term()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Ok(v)
    }

    fn term(&mut self) -> std::result::Result<f64, String> {
        let mut v = self.factor()?;
        while let Some(Tok::Op(op @ ('*' | '/'))) = self.peek() {
            self.pos += 1;
            let r = self.factor()?;
            if op == '*' {
                v *= r;
            } else if r == 0.0 {
                return Err("division by zero".into());
            } else {
                v /= r;
            }
        }
        Ok(v)
    }

    fn factor(&mut self) -> std::result::Result<f64, String> {
        // Bounded nesting: a hostile value cannot exhaust the stack.
        self.depth += 1;
        if self.depth > 64 {
            return Err("too deeply nested".into());
        }
        let r = match self.peek() {
            Some(Tok::Op(op @ ('+' | '-'))) => {
                self.pos += 1;
                let v = self.factor()?;
                Ok(if op == '-' { -v } else { v })
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let v = self.expr()?;
                if self.peek() != Some(Tok::Close) {
                    return Err("a '(' is not closed".into());
                }
                self.pos += 1;
                Ok(v)
            }
            Some(Tok::Close) => Err("unexpected ')'".into()),
            Some(Tok::Op(op)) => Err(format!("unexpected '{op}'")),
            None => Err("the expression ends too early".into()),
        };
        self.depth -= 1;
        r
    }
}

/// Evaluates a fail2ban time value to seconds.
///
/// ```
/// use jailor_config::parse_time;
/// assert_eq!(parse_time("1h30m").unwrap(), 5400.0);
/// assert_eq!(parse_time("10m").unwrap(), 600.0);
/// assert_eq!(parse_time("-1").unwrap(), -1.0);
/// assert!(parse_time("10 parsecs").is_err());
/// ```
pub fn parse_time(value: &str) -> Result<f64> {
    let fail = |why: String| {
        Error::new(
            ErrorKind::BadTime,
            format!("bad time value \"{}\": {why}", value.trim()),
        )
    };
    let toks = tokenize(value).map_err(fail)?;
    if toks.is_empty() {
        return Err(fail("the value is empty".into()));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let v = p.expr().map_err(fail)?;
    if p.pos != p.toks.len() {
        return Err(fail("unexpected text after the expression".into()));
    }
    if !v.is_finite() {
        return Err(fail("the result is not a finite number".into()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_sums() {
        let cases = [
            ("600", 600.0),
            ("10m", 600.0),
            ("10mm", 600.0),
            ("1h30m", 5400.0),
            ("1h 30m", 5400.0),
            ("1 30", 31.0),
            ("1d", 86400.0),
            ("2w", 1_209_600.0),
            ("1mo", 2_629_800.0),
            ("1MON", 2_629_800.0),
            ("1y", 31_557_600.0),
            ("1year-6mo", 15_778_800.0),
            ("1.5h", 5400.0),
            ("-1", -1.0),
            ("(1+2)*60", 180.0),
            ("1h/2", 1800.0),
            ("3 hours 2 seconds", 10_802.0),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn bad_values() {
        for s in [
            "", "h", "1x", "1/0", "(1", "1)", "1 +", "1e3", "2**3", "1..2",
        ] {
            let e = parse_time(s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadTime, "{s}");
        }
    }
}
