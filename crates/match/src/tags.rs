//! fail2ban's tag expansion (`<HOST>`, `<F-USER>…</F-USER>`, …; spec §2.1) and its
//! global→local inline-flag rewrite.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use crate::error::{Error, ErrorKind};

/// fail2ban's `IP_6_RE`, as Python compiles it (with a look-behind).
pub const IP6_PYTHON: &str = "(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)";

/// Our `IP_6_RE`: the same language and the same leftmost-first matches, without the
/// look-behind. `(?<=:)` always holds there: every repetition of the first group ends in `:`.
pub const IP6: &str = "(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|:)";

const IP4: &str = r"(?:\d{1,3}\.){3}\d{1,3}";

/// fail2ban's `usedns` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UseDns {
    /// `<HOST>` may capture names; they are resolved.
    Yes,
    /// Like `yes`, logging a warning per resolution (fail2ban's default).
    #[default]
    Warn,
    /// `<HOST>` captures addresses only; nothing is resolved.
    No,
    /// `<HOST>` may capture names; they are used as raw ids, never resolved.
    Raw,
}

impl UseDns {
    /// Whether `<HOST>` includes the `dns` alternative.
    pub fn host_has_dns(self) -> bool {
        self != UseDns::No
    }
}

impl FromStr for UseDns {
    type Err = Error;

    fn from_str(s: &str) -> Result<UseDns, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(UseDns::Yes),
            "warn" => Ok(UseDns::Warn),
            "no" | "false" => Ok(UseDns::No),
            "raw" => Ok(UseDns::Raw),
            _ => Err(Error::new(ErrorKind::UseDns(s.to_owned()))),
        }
    }
}

impl fmt::Display for UseDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UseDns::Yes => "yes",
            UseDns::Warn => "warn",
            UseDns::No => "no",
            UseDns::Raw => "raw",
        })
    }
}

fn ip4() -> String {
    format!("(?:::f{{4,6}}:)?(?P<ip4>{IP4})")
}

fn ip6() -> String {
    format!("(?P<ip6>{IP6})")
}

fn addr() -> String {
    format!(r"\[?(?:{}|{})\]?", ip4(), ip6())
}

const DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";

/// The expansions of the address tags, formatted once per process.
static HOST_WITH_DNS: LazyLock<String> = LazyLock::new(|| format!("(?:{}|{DNS})", addr()));
static ADDR: LazyLock<String> = LazyLock::new(addr);
static IP4_TAG: LazyLock<String> = LazyLock::new(ip4);
static IP6_TAG: LazyLock<String> = LazyLock::new(ip6);
static SUBNET: LazyLock<String> =
    LazyLock::new(|| format!(r"\[?(?:{}|{})(?:/(?P<cidr>\d+))?\]?", ip4(), ip6()));

/// Expands fail2ban's tags in a failregex/prefregex/ignoreregex, then applies the
/// global→local flag rewrite, giving the Python pattern fail2ban would compile (with our
/// look-behind-free `IP_6_RE`).
pub fn expand_tags(pattern: &str, usedns: UseDns) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut opened: HashSet<String> = HashSet::new();
    let mut skiplines = 0usize;
    let mut rest = pattern;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let cand = &rest[lt..];
        let Some(len) = tag_len(cand) else {
            out.push('<');
            rest = &cand[1..];
            continue;
        };
        let tag = &cand[..len];
        rest = &cand[len..];
        match tag {
            "<HOST>" => {
                if usedns.host_has_dns() {
                    out.push_str(&HOST_WITH_DNS);
                } else {
                    out.push_str(&ADDR);
                }
            }
            "<ADDR>" | "<F-ADDR/>" => out.push_str(&ADDR),
            "<IP4>" | "<F-IP4/>" => out.push_str(&IP4_TAG),
            "<IP6>" | "<F-IP6/>" => out.push_str(&IP6_TAG),
            "<DNS>" | "<F-DNS/>" => out.push_str(DNS),
            "<CIDR>" | "<F-CIDR/>" => out.push_str(r"(?P<cidr>\d+)"),
            "<SUBNET>" | "<F-SUBNET/>" => out.push_str(&SUBNET),
            "<F-ID/>" => out.push_str(r"(?P<fid>\S+)"),
            "<F-PORT/>" => out.push_str(r"(?P<fport>\w+)"),
            "<SKIPLINES>" => {
                out.push_str(&format!(r"\n(?P<skiplines{skiplines}>(?:(?:.*\n)*?))"));
                skiplines += 1;
            }
            _ => match f_group(&tag[1..tag.len() - 1]) {
                Some((false, name)) => {
                    out.push_str(&format!("(?P<{name}>"));
                    opened.insert(name);
                }
                Some((true, name)) if opened.contains(&name) => out.push(')'),
                _ => out.push_str(tag),
            },
        }
    }
    out.push_str(rest);
    glob_to_local_flags(&out)
}

/// Length of a tag `</?[\w\-]+/?>` at the start of `s`.
fn tag_len(s: &str) -> Option<usize> {
    let mut it = s.char_indices().skip(1).peekable();
    if let Some((_, '/')) = it.peek() {
        it.next();
    }
    let mut body = 0;
    while let Some(&(_, c)) = it.peek() {
        if c == '_' || c == '-' || c.is_alphanumeric() {
            body += 1;
            it.next();
        } else {
            break;
        }
    }
    if body == 0 {
        return None;
    }
    if let Some((_, '/')) = it.peek() {
        it.next();
    }
    match it.next() {
        Some((i, '>')) => Some(i + 1),
        _ => None,
    }
}

/// `F-NAME` / `/F-NAME` (upper case) → (closing, group name).
fn f_group(inner: &str) -> Option<(bool, String)> {
    let (closing, body) = match inner.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, inner),
    };
    let name = body.strip_prefix("F-")?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return None;
    }
    let name = match name {
        "ID" => "fid".to_owned(),
        "PORT" => "fport".to_owned(),
        n => n.to_ascii_lowercase(),
    };
    Some((closing, name))
}

/// fail2ban's `R_GLOB2LOCFLAGS` rewrite: an unescaped `(` or `(?:` directly followed by
/// `(?flags)` becomes `(?flags:`, e.g. `((?i)abc)` → `(?i:abc)`.
pub fn glob_to_local_flags(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] == b'(' && (i == 0 || b[i - 1] != b'\\') {
            let mut j = i + 1;
            if b[j..].starts_with(b"?:") {
                j += 2;
            }
            if b[j..].starts_with(b"(?") {
                let k = j + 2;
                let mut e = k;
                while e < b.len() && b[e].is_ascii_lowercase() {
                    e += 1;
                }
                if e > k && e < b.len() && b[e] == b')' {
                    out.push_str(&p[copied..i]);
                    out.push_str(&p[j..e]);
                    out.push(':');
                    i = e + 1;
                    copied = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&p[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_with_and_without_dns() {
        let no = expand_tags("from <HOST>$", UseDns::No);
        assert!(no.starts_with(r"from \[?(?:(?:::f{4,6}:)?(?P<ip4>"));
        assert!(!no.contains("dns"));
        for u in [UseDns::Yes, UseDns::Warn, UseDns::Raw] {
            let e = expand_tags("<HOST>", u);
            assert!(e.starts_with(r"(?:\[?(?:"), "{e}");
            assert!(e.ends_with(r"|(?P<dns>[\w\-.^_]*\w))"));
        }
    }

    #[test]
    fn address_tags() {
        assert_eq!(
            expand_tags("<IP4>", UseDns::No),
            r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})"
        );
        assert_eq!(
            expand_tags("<F-IP6/>", UseDns::No),
            format!("(?P<ip6>{IP6})")
        );
        assert_eq!(
            expand_tags("<ADDR>", UseDns::Yes),
            expand_tags("<F-ADDR/>", UseDns::No)
        );
        assert_eq!(expand_tags("<CIDR>", UseDns::No), r"(?P<cidr>\d+)");
        assert!(expand_tags("<SUBNET>", UseDns::No).ends_with(r"(?:/(?P<cidr>\d+))?\]?"));
        assert_eq!(expand_tags("<DNS>", UseDns::No), DNS);
    }

    #[test]
    fn f_groups() {
        assert_eq!(
            expand_tags(
                r"<F-ID>x</F-ID> <F-USER>\S+</F-USER> <F-PORT/> <F-ID/>",
                UseDns::No
            ),
            r"(?P<fid>x) (?P<user>\S+) (?P<fport>\w+) (?P<fid>\S+)"
        );
        assert_eq!(
            expand_tags(
                "<F-ALT_USER1>a</F-ALT_USER1><F-TUPLE_K_2>b</F-TUPLE_K_2>",
                UseDns::No
            ),
            "(?P<alt_user1>a)(?P<tuple_k_2>b)"
        );
        assert_eq!(
            expand_tags("<F-MLFID>a</F-MLFID><F-NOFAIL>b</F-NOFAIL>", UseDns::No),
            "(?P<mlfid>a)(?P<nofail>b)"
        );
        assert_eq!(
            expand_tags("<F-A>x<F-B>y</F-B></F-A>", UseDns::No),
            "(?P<a>x(?P<b>y))"
        );
    }

    #[test]
    fn unknown_and_unopened_tags_stay_literal() {
        assert_eq!(
            expand_tags("</F-FOO> <W> <f-id/> <F-NOFAIL/>", UseDns::No),
            "</F-FOO> <W> <f-id/> <F-NOFAIL/>"
        );
        // A closing tag counts as opened once its name was opened anywhere before.
        assert_eq!(
            expand_tags("</F-X><F-X>a</F-X></F-X>", UseDns::No),
            "</F-X>(?P<x>a))"
        );
        assert_eq!(expand_tags("a < b <> <HOST", UseDns::No), "a < b <> <HOST");
    }

    #[test]
    fn skiplines_are_numbered() {
        assert_eq!(
            expand_tags("a<SKIPLINES>b<SKIPLINES>", UseDns::No),
            r"a\n(?P<skiplines0>(?:(?:.*\n)*?))b\n(?P<skiplines1>(?:(?:.*\n)*?))"
        );
    }

    #[test]
    fn global_flags_become_local() {
        assert_eq!(
            glob_to_local_flags("((?i)abc) (?:(?i)x)"),
            "(?i:abc) (?i:x)"
        );
        assert_eq!(glob_to_local_flags(r"\((?i)y)"), r"\((?i)y)");
        assert_eq!(glob_to_local_flags("(?i)abc"), "(?i)abc");
    }

    #[test]
    fn usedns_values() {
        assert_eq!("warn".parse::<UseDns>().unwrap(), UseDns::Warn);
        assert_eq!("RAW".parse::<UseDns>().unwrap(), UseDns::Raw);
        assert_eq!("False".parse::<UseDns>().unwrap(), UseDns::No);
        assert!("maybe".parse::<UseDns>().is_err());
    }

    /// Our look-behind-free `IP_6_RE` finds the same matches as fail2ban's on many
    /// pseudo-random subjects made of the characters that matter.
    #[test]
    fn ip6_without_lookbehind_is_equivalent() {
        let theirs = fancy_regex::Regex::new(IP6_PYTHON).unwrap();
        let ours = regex::Regex::new(IP6).unwrap();
        let alphabet = b"0123456789abcdefABCDEFg:::. [";
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize + 1;
            let s: String = (0..len)
                .map(|i| {
                    let r = seed.rotate_left(i as u32 * 7)
                        ^ (i as u64).wrapping_mul(0x2545F4914F6CDD1D);
                    alphabet[(r % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let a = theirs.find(&s).unwrap().map(|m| m.range());
            let b = ours.find(&s).map(|m| m.range());
            assert_eq!(a, b, "{s:?}");
        }
        for s in [
            "::1",
            "fe80::1",
            "2001:db8::",
            "::",
            "1:2:3:4:5:6:7:8",
            ":::",
            "a::b::",
        ] {
            assert_eq!(
                theirs.find(s).unwrap().map(|m| m.range()),
                ours.find(s).map(|m| m.range()),
                "{s}"
            );
        }
    }
}
