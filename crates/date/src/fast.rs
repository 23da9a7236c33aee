//! Hand-written parsers for the two commonest default templates.
//!
//! Each parser answers exactly as the template's regex would, or says [`FastResult::Unsure`]
//! and lets the regex decide. They accept only the canonical shape of a date (two-digit
//! fields, ASCII text); anything where Python's backtracking could pick a different path
//! (a word glued to the end, 7+ fraction digits, a one-digit hour...) is "unsure".

use crate::directive::Decades;
use crate::fields::{DateMatch, Field};

/// The default `{^LN-BEG}` syslog template (`Jan 23 21:59:59[.f][ YYYY]`).
const SYSLOG: &str = r"{^LN-BEG}(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?";
/// The default `{^LN-BEG}` ISO 8601 template (`2005-01-23[T ]21:59:59[.f][zone]`).
const ISO: &str =
    r"{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?";

/// Which hand-written parser a template has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fast {
    /// [`SYSLOG`].
    Syslog(Decades),
    /// [`ISO`].
    Iso(Decades),
}

/// The answer of a hand-written parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FastResult {
    /// The regex matches; the match was written out.
    Hit,
    /// The regex certainly does not match.
    Miss,
    /// Ask the regex.
    Unsure,
}

use FastResult::{Hit, Miss, Unsure};

const DAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

fn lower3(b: &[u8], i: usize) -> Option<[u8; 3]> {
    let w = b.get(i..i + 3)?;
    Some([
        w[0].to_ascii_lowercase(),
        w[1].to_ascii_lowercase(),
        w[2].to_ascii_lowercase(),
    ])
}

fn digit(b: &[u8], i: usize) -> Option<u8> {
    b.get(i).filter(|c| c.is_ascii_digit()).map(|c| c - b'0')
}

fn word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Where group 1 can start after `^(?:\W{0,2})?`, or `Err` (Miss/Unsure).
fn line_begin(b: &[u8]) -> Result<usize, FastResult> {
    let mut k = 0;
    while k < b.len() && !word_byte(b[k]) {
        if !b[k].is_ascii() {
            return Err(Unsure);
        }
        k += 1;
        if k > 2 {
            return Err(Miss);
        }
    }
    Ok(k)
}

/// The word-end guard at `i`: `Some(true)` passes, `Some(false)` fails, `None` unsure.
fn end_guard(b: &[u8], i: usize) -> Option<bool> {
    match b.get(i) {
        None => Some(true),
        Some(c) if !c.is_ascii() => None,
        Some(&c) => Some(!word_byte(c)),
    }
}

/// Two digits `hi lo` with `hi <= max_hi`: the value, for `[0-x]?\d`-style fields.
fn two(b: &[u8], i: usize, max_hi: u8) -> Option<u8> {
    let (hi, lo) = (digit(b, i)?, digit(b, i + 1)?);
    (hi <= max_hi).then_some(hi * 10 + lo)
}

/// `%d` followed by a non-digit: `dd`, ` d` or `d`; returns its length.
fn day(b: &[u8], i: usize) -> Option<usize> {
    match (b.get(i).copied(), b.get(i + 1).copied()) {
        (Some(b' '), Some(d)) if (b'1'..=b'9').contains(&d) => Some(2),
        (Some(h), Some(l)) if l.is_ascii_digit() => {
            let ok = match h {
                b'0' => l != b'0',
                b'1' | b'2' => true,
                b'3' => l <= b'1',
                _ => false,
            };
            ok.then_some(2)
        }
        (Some(d), _) if (b'1'..=b'9').contains(&d) => Some(1),
        _ => None,
    }
}

/// `HH:MM:SS` with canonical two-digit fields; returns the end.
fn hms(b: &[u8], i: usize, out: &mut DateMatch) -> Option<usize> {
    (two(b, i, 2)? <= 23).then_some(())?;
    (b.get(i + 2) == Some(&b':')).then_some(())?;
    two(b, i + 3, 5)?;
    (b.get(i + 5) == Some(&b':')).then_some(())?;
    two(b, i + 6, 5)?;
    out.set(Field::Hour, (i, i + 2));
    out.set(Field::Minute, (i + 3, i + 5));
    out.set(Field::Second, (i + 6, i + 8));
    Some(i + 8)
}

/// An optional fraction after `sep`: `Some(end)` (unchanged when absent), `None` unsure.
fn fraction(b: &[u8], i: usize, seps: &[u8], out: &mut DateMatch) -> Option<usize> {
    if !b.get(i).is_some_and(|c| seps.contains(c)) || digit(b, i + 1).is_none() {
        return Some(i);
    }
    let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    (n <= 6).then_some(())?;
    out.set(Field::Frac, (i + 1, i + 1 + n));
    Some(i + 1 + n)
}

impl Fast {
    /// The parser for a template pattern, if it has one.
    pub(crate) fn for_pattern(pattern: &str, decades: Decades) -> Option<Fast> {
        match pattern {
            SYSLOG => Some(Fast::Syslog(decades)),
            ISO => Some(Fast::Iso(decades)),
            _ => None,
        }
    }

    /// How many of `line`'s first bytes the parser read to find `m` (its [`FastResult::Hit`]
    /// on `line`), at most: another line with the same first bytes gets the same answer.
    /// Past the seconds (and fraction) it reads the optional year (syslog, 6 bytes with
    /// the guard after it) or the spaces and the optional zone (ISO, 7 bytes after the
    /// spaces).
    pub(crate) fn extent(self, line: &str, m: &DateMatch) -> usize {
        let secs_end = [Field::Second, Field::Frac]
            .iter()
            .filter_map(|&f| m.span(f))
            .map(|s| s.1)
            .max()
            .unwrap_or(m.date.1);
        match self {
            Fast::Syslog(_) => secs_end + 6,
            Fast::Iso(_) => {
                let b = line.as_bytes();
                let spaces = b
                    .get(secs_end..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|&&c| matches!(c, b' ' | b'\t' | 0x0b | 0x0c | b'\r' | b'\n'))
                    .count();
                secs_end + spaces + 7
            }
        }
        .max(m.date.1 + 1)
    }

    /// Runs the parser on `line`.
    pub(crate) fn parse(self, line: &str, out: &mut DateMatch) -> FastResult {
        let b = line.as_bytes();
        let start = match line_begin(b) {
            Ok(k) => k,
            Err(r) => return r,
        };
        *out = DateMatch {
            start: 0,
            ..DateMatch::default()
        };
        let end = match self {
            Fast::Syslog(dec) => syslog(b, start, dec, out),
            Fast::Iso(dec) => iso(b, start, dec, out),
        };
        match end {
            Ok(end) => {
                out.date = (start, end);
                Hit
            }
            Err(r) => r,
        }
    }
}

fn syslog(b: &[u8], mut i: usize, dec: Decades, out: &mut DateMatch) -> Result<usize, FastResult> {
    let begin = i;
    let Some(w) = lower3(b, i) else {
        return Err(if b[i..].is_ascii() { Miss } else { Unsure });
    };
    if DAYS.contains(&&w) {
        if b.get(i + 3) != Some(&b' ') {
            return Err(Unsure);
        }
        i += 4;
    }
    let Some(w) = lower3(b, i) else {
        return Err(Unsure);
    };
    let Some(_) = MONTHS.iter().position(|m| **m == w) else {
        // Unicode case folding (`ſ` for `s`) could still match a name.
        let plain = b[i..(i + 3).min(b.len())].is_ascii();
        return Err(if plain && i == begin { Miss } else { Unsure });
    };
    out.set(Field::MonAbbr, (i, i + 3));
    i += 3;
    if b.get(i) != Some(&b' ') {
        return Err(Unsure);
    }
    i += 1;
    let n = day(b, i).ok_or(Unsure)?;
    out.set(Field::Day, (i, i + n));
    i += n;
    if b.get(i) != Some(&b' ') {
        return Err(Unsure);
    }
    i += 1;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut end = hms(b, i, out).ok_or(Unsure)?;
    end = fraction(b, end, b".", out).ok_or(Unsure)?;
    // `(?: %ExY)?` is taken only when the word-end guard holds after it.
    if b.get(end) == Some(&b' ')
        && b.get(end + 1..end + 3) == Some(b"20")
        && b.get(end + 3).is_some_and(|&c| dec.accepts(c))
        && digit(b, end + 4).is_some()
    {
        match end_guard(b, end + 5) {
            Some(true) => {
                out.set(Field::Y4, (end + 1, end + 5));
                return Ok(end + 5);
            }
            Some(false) => return Ok(end), // the guard then holds at the space
            None => return Err(Unsure),
        }
    }
    match end_guard(b, end) {
        Some(true) => Ok(end),
        _ => Err(Unsure),
    }
}

fn iso(b: &[u8], mut i: usize, dec: Decades, out: &mut DateMatch) -> Result<usize, FastResult> {
    let y = i;
    if b.get(i..i + 2) != Some(b"20") {
        return Err(if b.get(i).is_some_and(u8::is_ascii) || i >= b.len() {
            Miss
        } else {
            Unsure
        });
    }
    if !b.get(i + 2).is_some_and(|&c| dec.accepts(c)) || digit(b, i + 3).is_none() {
        return Err(Unsure);
    }
    out.set(Field::Y4, (y, y + 4));
    i += 4;
    let sep = *b.get(i).filter(|c| b"-/.".contains(c)).ok_or(Unsure)?;
    i += 1;
    let month_ok = match (digit(b, i), digit(b, i + 1)) {
        (Some(0), Some(l)) => l != 0,
        (Some(1), Some(l)) => l <= 2,
        _ => false,
    };
    if !month_ok || b.get(i + 2) != Some(&sep) {
        return Err(Unsure);
    }
    out.set(Field::Month, (i, i + 2));
    i += 3;
    let n = day(b, i)
        .filter(|&n| n == 2 && b[i] != b' ')
        .ok_or(Unsure)?;
    out.set(Field::Day, (i, i + n));
    i += n;
    match b.get(i) {
        Some(b'T') => i += 1,
        Some(b' ') => {
            i += 1;
            if b.get(i) == Some(&b' ') {
                i += 1;
            }
        }
        _ => return Err(Unsure),
    }
    let mut end = hms(b, i, out).ok_or(Unsure)?;
    end = fraction(b, end, b".,", out).ok_or(Unsure)?;
    // `(?:\s*%z)?`
    let mut z = end;
    while b
        .get(z)
        .is_some_and(|&c| matches!(c, b' ' | b'\t' | 0x0b | 0x0c | b'\r' | b'\n'))
    {
        z += 1;
    }
    let zone_len = match b.get(z) {
        Some(b'Z') => 1,
        Some(b'U') if b.get(z..z + 3) == Some(b"UTC") => 3,
        Some(b'G') if b.get(z..z + 3) == Some(b"GMT") => 3,
        Some(b'+' | b'-')
            if matches!(b.get(z + 1), Some(b'0' | b'1')) && digit(b, z + 2).is_some() =>
        {
            if b.get(z + 3) == Some(&b':') && digit(b, z + 4).is_some() && digit(b, z + 5).is_some()
            {
                6
            } else if digit(b, z + 3).is_some() && digit(b, z + 4).is_some() {
                5
            } else {
                3
            }
        }
        _ => 0,
    };
    if zone_len > 0 {
        return match end_guard(b, z + zone_len) {
            Some(true) => {
                out.set(Field::Offset, (z, z + zone_len));
                Ok(z + zone_len)
            }
            _ => Err(Unsure),
        };
    }
    match end_guard(b, end) {
        Some(true) => Ok(end),
        _ => Err(Unsure),
    }
}
