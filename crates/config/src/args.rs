//! fail2ban's option-argument syntax: `name[key=value, key2="v, w"][key3='x']`, and the
//! splitting of an `action` list into such entries.

use crate::map::Map;

use crate::error::{Error, ErrorKind, Result};

/// Arguments given to a filter or an action, in the order written.
pub type Args = Map<String, String>;

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Reads an argument name at `s[i..]`: `[\w\-.]+` optionally followed by `?word=word`
/// (a conditional key such as `blocktype?family=inet6`). Returns the end index.
fn arg_name_end(s: &str, i: usize) -> Option<usize> {
    let word_end = |from: usize| -> usize {
        s[from..]
            .char_indices()
            .find(|&(_, c)| !is_name_char(c))
            .map_or(s.len(), |(j, _)| from + j)
    };
    let end = word_end(i);
    if end == i {
        return None;
    }
    // Optional `?cond=value` part; taken only when complete.
    if s[end..].starts_with('?') {
        let a = word_end(end + 1);
        if a > end + 1 && s[a..].starts_with('=') {
            let b = word_end(a + 1);
            if b > a + 1 {
                return Some(b);
            }
        }
    }
    Some(end)
}

/// Parses the inside of `[...]` (several groups joined by `][`) into ordered arguments.
fn parse_args(inner: &str, whole: &str) -> Result<Args> {
    let bad = |at: &str| {
        Error::new(
            ErrorKind::BadArguments,
            format!("unexpected syntax at \"{at}\" in the argument list of \"{whole}\""),
        )
    };
    let mut args = Args::default();
    let s = inner;
    let mut i = 0;
    loop {
        // Skip white space; stop at the end or at a final comma.
        let rest = &s[i..];
        let t = rest.trim_start();
        i += rest.len() - t.len();
        if t.is_empty() {
            break;
        }
        if let Some(after) = t.strip_prefix(',') {
            if after.trim().is_empty() {
                break;
            }
        }
        let end = arg_name_end(s, i).ok_or_else(|| bad(&s[i..]))?;
        let name = &s[i..end];
        if !s[end..].starts_with('=') {
            return Err(bad(&s[i..]));
        }
        let mut j = end + 1;
        let value;
        let rest = &s[j..];
        if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let close = rest[1..].find(q).ok_or_else(|| bad(&s[i..]))?;
            value = &rest[1..1 + close];
            j += close + 2;
        } else {
            let stop = rest.find([',', ']']).unwrap_or(rest.len());
            value = &rest[..stop];
            j += stop;
        }
        // Separator: `,`, `]` + white space + `[`, or the end.
        let rest = &s[j..];
        if rest.is_empty() {
            i = j;
        } else if let Some(r) = rest.strip_prefix(',') {
            i = s.len() - r.len();
        } else if let Some(r) = rest.strip_prefix(']') {
            let r2 = r.trim_start();
            let r3 = r2.strip_prefix('[').ok_or_else(|| bad(&s[i..]))?;
            i = s.len() - r3.len();
        } else {
            return Err(bad(&s[i..]));
        }
        args.insert(name.to_string(), value.trim().to_string());
    }
    Ok(args)
}

/// Splits `name[args]` into the name and its arguments.
///
/// ```
/// let (name, args) = jailor_config::extract_options("iptables[name=SSH, port=\"ssh\"]").unwrap();
/// assert_eq!(name, "iptables");
/// assert_eq!(args["port"], "ssh");
/// ```
pub fn extract_options(spec: &str) -> Result<(String, Args)> {
    let spec = spec.trim();
    let bad = |why: &str| {
        Error::new(
            ErrorKind::BadArguments,
            format!("\"{spec}\" is not a valid name[key=value, ...] definition: {why}"),
        )
    };
    let open = spec.find('[');
    let name = match open {
        Some(o) => &spec[..o],
        None => spec,
    };
    if name.trim().is_empty() {
        return Err(bad("the name is missing"));
    }
    let Some(o) = open else {
        return Ok((name.trim().to_string(), Args::default()));
    };
    let close = spec.rfind(']').filter(|&c| c > o);
    let Some(c) = close else {
        return Err(bad("'[' is not closed by ']'"));
    };
    if !spec[c + 1..].trim().is_empty() {
        return Err(bad("text follows the closing ']'"));
    }
    let args = parse_args(&spec[o + 1..c], spec)?;
    Ok((name.trim().to_string(), args))
}

/// Splits a list of `name[args]` entries separated by white space or new lines; an argument list
/// may span lines and contain quoted white space.
pub fn split_with_options(list: &str) -> Vec<String> {
    let b = list.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] as char).is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !(b[i] as char).is_ascii_whitespace() && b[i] != b'[' {
            i += 1;
        }
        // An argument list may follow after white space.
        let mut k = i;
        while k < b.len() && (b[k] as char).is_ascii_whitespace() {
            k += 1;
        }
        if k < b.len() && b[k] == b'[' && k > start {
            if let Some(end) = bracket_end(list, k) {
                out.push(list[start..end].trim().to_string());
                i = end;
                continue;
            }
        }
        // Not a well-formed list: the entry ends at the next white space.
        while i < b.len() && !(b[i] as char).is_ascii_whitespace() {
            i += 1;
        }
        out.push(list[start..i].to_string());
    }
    out
}

/// The index after the `]` closing the argument groups starting at `s[open] == '['`, honouring
/// quotes and `][` continuation, or `None` if the groups are not closed.
fn bracket_end(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = open + 1;
    let mut quote: Option<u8> = None;
    // Quotes count only at the start of a value (right after `=`, maybe after spaces).
    let mut value_start = false;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if value_start && (c == b'"' || c == b'\'') {
            quote = Some(c);
            value_start = false;
        } else if c == b'=' {
            value_start = true;
            i += 1;
            continue;
        } else if c == b']' {
            // `][` continues with another group.
            let mut k = i + 1;
            while k < b.len() && (b[k] as char).is_ascii_whitespace() {
                k += 1;
            }
            if k < b.len() && b[k] == b'[' {
                i = k + 1;
                continue;
            }
            return Some(i + 1);
        }
        if !(c as char).is_ascii_whitespace() {
            value_start = false;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_quoted_values() {
        let (n, a) = extract_options(r#"act[a=1, b="x, y", c='q"r', d= e ]"#).unwrap();
        assert_eq!(n, "act");
        let got: Vec<_> = a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("a", "1"), ("b", "x, y"), ("c", "q\"r"), ("d", "e")]);
    }

    #[test]
    fn several_groups_and_conditional_keys() {
        let (n, a) =
            extract_options("nftables[type=allports][port=\"1:2\", blocktype?family=inet6=drop]")
                .unwrap();
        assert_eq!(n, "nftables");
        assert_eq!(a["type"], "allports");
        assert_eq!(a["port"], "1:2");
        assert_eq!(a["blocktype?family=inet6"], "drop");
    }

    #[test]
    fn no_arguments_and_trailing_comma() {
        assert_eq!(
            extract_options(" sshd ").unwrap(),
            ("sshd".into(), Args::default())
        );
        let (_, a) = extract_options("x[a=1,]").unwrap();
        assert_eq!(a.len(), 1);
        let (_, a) = extract_options("x[]").unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn malformed_lists_are_errors() {
        for bad in [
            "x[a=1",
            "x[a]",
            "x[a=1, b]",
            "x[=1]",
            "[a=1]",
            "x[a=\"1\" b=2]",
            "x[a=1] y",
        ] {
            let e = extract_options(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadArguments, "{bad}");
        }
    }

    #[test]
    fn splitting_action_lists() {
        let v = split_with_options(
            "iptables[name=a, port=\"1 2\"]\n  mail-whois[dest=\"x\",\n    sender=y]  dummy\n",
        );
        assert_eq!(
            v,
            [
                "iptables[name=a, port=\"1 2\"]",
                "mail-whois[dest=\"x\",\n    sender=y]",
                "dummy"
            ]
        );
        assert_eq!(split_with_options("a [x=1][y=2] b"), ["a [x=1][y=2]", "b"]);
        assert_eq!(split_with_options("b[x=1, y"), ["b[x=1,", "y"]);
    }
}
