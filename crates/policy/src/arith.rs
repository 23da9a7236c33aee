//! Plain arithmetic for numeric options fail2ban evaluates as Python (`bantime.factor`).
//!
//! Numbers, `+ - * /`, unary signs and parentheses; nothing else, so no name or call can run.

/// Evaluates `text`, or `None` when it is not plain arithmetic or divides by zero.
pub(crate) fn eval(text: &str) -> Option<f64> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let v = p.sum()?;
    p.skip_space();
    (p.at == p.s.len() && v.is_finite()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    depth: u32,
}

/// Deep enough for any real factor, shallow enough that recursion cannot exhaust the stack.
const MAX_DEPTH: u32 = 64;

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn sum(&mut self) -> Option<f64> {
        let mut v = self.product()?;
        loop {
            if self.eat(b'+') {
                v += self.product()?;
            } else if self.eat(b'-') {
                v -= self.product()?;
            } else {
                return Some(v);
            }
        }
    }

    fn product(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        loop {
            if self.eat(b'*') {
                v *= self.unary()?;
            } else if self.eat(b'/') {
                let d = self.unary()?;
                if d == 0.0 {
                    return None;
                }
                v /= d;
            } else {
                return Some(v);
            }
        }
    }

    fn unary(&mut self) -> Option<f64> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let v = if self.eat(b'-') {
            self.unary().map(|v| -v)
        } else if self.eat(b'+') {
            self.unary()
        } else if self.eat(b'(') {
            let v = self.sum()?;
            self.eat(b')').then_some(v)
        } else {
            self.number()
        };
        self.depth -= 1;
        v
    }

    fn number(&mut self) -> Option<f64> {
        self.skip_space();
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        {
            self.at += 1;
        }
        // Exponent (`1e3`), as Python floats allow.
        if self.at > start && matches!(self.s.get(self.at), Some(b'e' | b'E')) {
            let mark = self.at;
            self.at += 1;
            if matches!(self.s.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            let digits = self.at;
            while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
                self.at += 1;
            }
            if self.at == digits {
                self.at = mark;
            }
        }
        std::str::from_utf8(&self.s[start..self.at])
            .ok()?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::eval;

    #[test]
    fn arithmetic() {
        assert_eq!(eval("1"), Some(1.0));
        assert_eq!(eval(" 2.0 / 4 "), Some(0.5));
        assert_eq!(eval("1 + 2 * 3"), Some(7.0));
        assert_eq!(eval("(1 + 2) * 3"), Some(9.0));
        assert_eq!(eval("-(2)--1"), Some(-1.0));
        assert_eq!(eval("1.5e1"), Some(15.0));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "1/0",
            "__import__('os')",
            "2 ** 3",
            "(1",
            "1)",
            "x",
            "1 2",
            "1e",
        ] {
            assert_eq!(eval(bad), None, "{bad}");
        }
        assert_eq!(eval(&"(".repeat(10_000)), None);
    }
}
