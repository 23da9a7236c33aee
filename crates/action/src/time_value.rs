//! fail2ban's time values (`60`, `1m`, `1h 30m`, `1d-6h`), for the `timeout` property.

/// Seconds in one unit word, as fail2ban's `str2seconds` spells units.
fn unit_seconds(word: &str) -> Option<f64> {
    Some(match word.to_ascii_lowercase().as_str() {
        "d" | "dd" | "da" | "day" | "days" => 86_400.0,
        "w" | "ww" | "we" | "wee" | "week" | "weeks" => 604_800.0,
        "mo" | "mon" | "month" | "months" => 2_629_800.0,
        "y" | "yy" | "ye" | "yea" | "year" | "years" => 31_557_600.0,
        "s" | "ss" | "se" | "sec" | "second" | "seconds" => 1.0,
        "m" | "mm" | "mi" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hh" | "ho" | "hou" | "hour" | "hours" => 3_600.0,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    Num(f64),
    Op(char),
    Open,
    Close,
}

/// Seconds in `text`: numbers with optional units, adjacent terms added, and `+ - * / ( )`.
pub(crate) fn parse_seconds(text: &str) -> Option<f64> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let v = expr(&tokens, &mut pos)?;
    (pos == tokens.len() && v.is_finite()).then_some(v)
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let n: f64 = chars[start..i].iter().collect::<String>().parse().ok()?;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let ws = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word: String = chars[ws..i].iter().collect();
            let n = if word.is_empty() {
                n
            } else {
                n * unit_seconds(&word)?
            };
            // "1h 30m": two terms side by side are added.
            if matches!(out.last(), Some(Token::Num(_) | Token::Close)) {
                out.push(Token::Op('+'));
            }
            out.push(Token::Num(n));
        } else {
            out.push(match c {
                '+' | '-' | '*' | '/' => Token::Op(c),
                '(' => Token::Open,
                ')' => Token::Close,
                _ => return None,
            });
            i += 1;
        }
    }
    Some(out)
}

fn expr(t: &[Token], pos: &mut usize) -> Option<f64> {
    let mut v = term(t, pos)?;
    while let Some(Token::Op(op @ ('+' | '-'))) = t.get(*pos) {
        *pos += 1;
        let r = term(t, pos)?;
        v = if *op == '+' { v + r } else { v - r };
    }
    Some(v)
}

fn term(t: &[Token], pos: &mut usize) -> Option<f64> {
    let mut v = factor(t, pos)?;
    while let Some(Token::Op(op @ ('*' | '/'))) = t.get(*pos) {
        *pos += 1;
        let r = factor(t, pos)?;
        v = if *op == '*' { v * r } else { v / r };
    }
    Some(v)
}

fn factor(t: &[Token], pos: &mut usize) -> Option<f64> {
    let tok = *t.get(*pos)?;
    *pos += 1;
    match tok {
        Token::Num(n) => Some(n),
        Token::Op('-') => factor(t, pos).map(|v| -v),
        Token::Op('+') => factor(t, pos),
        Token::Open => {
            let v = expr(t, pos)?;
            (t.get(*pos) == Some(&Token::Close)).then(|| *pos += 1)?;
            Some(v)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn fail2ban_time_values() {
        assert_eq!(parse_seconds("60"), Some(60.0));
        assert_eq!(parse_seconds("1.5"), Some(1.5));
        assert_eq!(parse_seconds("10m"), Some(600.0));
        assert_eq!(parse_seconds("1h 30m"), Some(5400.0));
        assert_eq!(parse_seconds("1h30m"), Some(5400.0));
        assert_eq!(parse_seconds("1year-6mo"), Some(15_778_800.0));
        assert_eq!(parse_seconds("2 * 1d"), Some(172_800.0));
        assert_eq!(parse_seconds("-1"), Some(-1.0));
        assert_eq!(parse_seconds("(1h + 1m) / 2"), Some(1830.0));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1 parsec", "1 +", "$(id)", "1/0", "(1"] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
