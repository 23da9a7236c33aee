//! `<HOST>` and `<ADDR>` resolved by one hand-written scan instead of several lazy-DFA
//! searches (the resolver's outer probe, each length of `\[?`, the inner probe and the
//! group's own run each walked the address again).
//!
//! The expansion is recognised by its parse, not its text: a part of a pattern is taken
//! for the tag when it is the tag's expansion (translated and parsed as the ASCII automata
//! parse it) up to capture indexes and names, so flags or a rewrite that change its
//! meaning (`(?i)`, a different class) make it an ordinary part. The scan then gives the
//! expansion's preferred (leftmost-first) match from a position and its groups' spans, as
//! a backtracker following the alternatives in order would:
//! - `\[?` takes a `[` when there is one and the address after it matches, else none (an
//!   address or a name never starts with `[`, so a `[` whose inner match fails fails);
//! - IPv4 first, after an optional `::ffff:`-like prefix (`::` then 4 to 6 `f`, then `:`),
//!   then without it; each of the first three octets is a run of 1-3 digits ending in `.`,
//!   the last one takes up to 3 digits;
//! - then IPv6: `(?:H{1,4}::?|:){1,7}` tried greedily, deepest first, then `(?:H{1,4}|:)`;
//! - `\]?` takes a `]` when there is one;
//! - then, for `<HOST>`, the name: the run of `[\w\-.^_]` up to its last `\w`.

use std::sync::LazyLock;

use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

use crate::tags::{expand_tags, UseDns};
use crate::translate::{translate, PyFlags};

/// IPv6's repetition bound (`{1,7}`).
const IP6_GROUPS: usize = 7;

/// The tag expansions as the resolver sees them: parsed with captures (indexes and names
/// cleared) and without.
struct Reference {
    shape: Hir,
    bare: Hir,
    /// The expansion's groups in order: 3 for `<HOST>` (ip4, ip6, dns), 2 for `<ADDR>`.
    groups: usize,
}

/// `<HOST>` expanded for `dns` (with the name alternative or not, as [`UseDns`] says).
fn expansion(dns: UseDns) -> String {
    let tag = if dns.host_has_dns() {
        "<HOST>"
    } else {
        "<ADDR>"
    };
    expand_tags(tag, dns)
}

fn reference(dns: UseDns) -> Option<Reference> {
    let python = expansion(dns);
    let linear = translate(&python, PyFlags::default()).ok()?.linear?;
    let hir = crate::engine::parse_ascii(&linear)?;
    let mut groups = Vec::new();
    collect_groups(&hir, &mut groups);
    Some(Reference {
        shape: shape(&hir),
        bare: crate::resolve::strip(&hir),
        groups: groups.len(),
    })
}

/// `<HOST>` with the name alternative, and `<ADDR>` (`<HOST>` with `usedns = no`).
static REFERENCES: LazyLock<[Option<Reference>; 2]> =
    LazyLock::new(|| [reference(UseDns::Warn), reference(UseDns::No)]);

/// `h` with every capture's index and name cleared (where the groups are is kept).
fn shape(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Capture(c) => Hir::capture(Capture {
            index: 0,
            name: None,
            sub: Box::new(shape(&c.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(shape).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(shape).collect()),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(shape(&r.sub)),
        }),
        _ => h.clone(),
    }
}

/// The capture indexes of `h`, in the order of their opening parentheses.
fn collect_groups(h: &Hir, out: &mut Vec<u32>) {
    match h.kind() {
        HirKind::Capture(c) => {
            out.push(c.index);
            collect_groups(&c.sub, out);
        }
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            subs.iter().for_each(|s| collect_groups(s, out));
        }
        HirKind::Repetition(r) => collect_groups(&r.sub, out),
        _ => {}
    }
}

/// A recognised `<HOST>`/`<ADDR>`: the group indexes of its ip4, ip6 and name parts.
#[derive(Debug, Clone)]
pub(crate) struct HostScan {
    ip4: usize,
    ip6: usize,
    /// `None` for `<ADDR>` (no name alternative).
    dns: Option<usize>,
}

/// The preferred match of a [`HostScan`] from a position: where it ends and which group
/// captured what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostMatch {
    pub(crate) end: usize,
    /// The group index and its span.
    pub(crate) group: (usize, (usize, usize)),
}

impl HostScan {
    /// `h` as the expansion of `<HOST>` or `<ADDR>`, with its groups.
    pub(crate) fn recognise(h: &Hir) -> Option<HostScan> {
        // Cheap test first: every part with groups of every pattern comes through here.
        if h.properties().explicit_captures_len() < 2 {
            return None;
        }
        let s = shape(h);
        let (r, dns) = REFERENCES
            .iter()
            .zip([true, false])
            .find_map(|(r, dns)| r.as_ref().filter(|r| r.shape == s).map(|r| (r, dns)))?;
        let mut groups = Vec::new();
        collect_groups(h, &mut groups);
        if groups.len() != r.groups {
            return None;
        }
        let at = |i: usize| groups.get(i).and_then(|g| usize::try_from(*g).ok());
        Some(HostScan {
            ip4: at(0)?,
            ip6: at(1)?,
            dns: if dns { Some(at(2)?) } else { None },
        })
    }

    /// A group-free part that is the expansion of `<HOST>` or `<ADDR>` without its groups:
    /// the scan that finds where its first path ends (the group indexes are not used).
    pub(crate) fn recognise_bare(h: &Hir) -> Option<HostScan> {
        REFERENCES
            .iter()
            .zip([true, false])
            .find_map(|(r, dns)| r.as_ref().filter(|r| r.bare == *h).map(|_| dns))
            .map(|dns| HostScan {
                ip4: 0,
                ip6: 0,
                dns: dns.then_some(0),
            })
    }

    /// The expansion's preferred match on `hay` from `p` (the match may not go past the
    /// end of `hay`); `None` when it has none.
    pub(crate) fn scan(&self, hay: &[u8], p: usize) -> Option<HostMatch> {
        self.scan_before(hay, p, |_| true)
    }

    /// [`HostScan::scan`], where a closing `]` (the last choice of an address) is taken
    /// only when `after(q)` holds for `q`, the position after it: the resolver asks whether
    /// what follows the tag matches there (else no path through the `]` completes, and the
    /// one without it is the first that may).
    pub(crate) fn scan_before(
        &self,
        hay: &[u8],
        p: usize,
        after: impl FnMut(usize) -> bool,
    ) -> Option<HostMatch> {
        if let Some(m) = self.addr(hay, p, after) {
            return Some(m);
        }
        let dns = self.dns?;
        let run = hay
            .get(p..)?
            .iter()
            .position(|b| !is_name(*b))
            .unwrap_or(hay.len() - p);
        let last = hay[p..p + run].iter().rposition(|b| is_word(*b))?;
        let end = p + last + 1;
        Some(HostMatch {
            end,
            group: (dns, (p, end)),
        })
    }

    /// The largest of its group indexes.
    pub(crate) fn max_group(&self) -> usize {
        self.ip4.max(self.ip6).max(self.dns.unwrap_or(0))
    }

    /// Sets the groups' spans of match `m` (the groups it did not take: none).
    pub(crate) fn write_spans(&self, m: &HostMatch, spans: &mut [Option<(usize, usize)>]) {
        for i in [Some(self.ip4), Some(self.ip6), self.dns]
            .into_iter()
            .flatten()
        {
            if let Some(s) = spans.get_mut(i) {
                *s = None;
            }
        }
        if let Some(s) = spans.get_mut(m.group.0) {
            *s = Some(m.group.1);
        }
    }

    /// `\[?(?:IPv4|IPv6)\]?` from `p`.
    fn addr(
        &self,
        hay: &[u8],
        p: usize,
        mut after: impl FnMut(usize) -> bool,
    ) -> Option<HostMatch> {
        let inner = match hay.get(p) {
            Some(b'[') => self.inner(hay, p + 1)?,
            _ => self.inner(hay, p)?,
        };
        let close = hay.get(inner.end) == Some(&b']') && after(inner.end + 1);
        Some(HostMatch {
            end: inner.end + usize::from(close),
            ..inner
        })
    }

    /// `(?:(?:::f{4,6}:)?IPv4|IPv6)` from `p`.
    fn inner(&self, hay: &[u8], p: usize) -> Option<HostMatch> {
        let v4 = |q: usize| {
            ip4_end(hay, q).map(|end| HostMatch {
                end,
                group: (self.ip4, (q, end)),
            })
        };
        if let Some(m) = mapped_prefix_end(hay, p).and_then(v4) {
            return Some(m);
        }
        if let Some(m) = v4(p) {
            return Some(m);
        }
        ip6_end(hay, p, 0).map(|end| HostMatch {
            end,
            group: (self.ip6, (p, end)),
        })
    }
}

/// `\w` as the ASCII automata read it.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[\w\-.^_]`.
fn is_name(b: u8) -> bool {
    is_word(b) || matches!(b, b'-' | b'.' | b'^')
}

/// How many bytes from `p` satisfy `f`, counting up to `max`.
fn run(hay: &[u8], p: usize, max: usize, f: impl Fn(u8) -> bool) -> usize {
    hay.get(p..)
        .unwrap_or_default()
        .iter()
        .take(max)
        .take_while(|b| f(**b))
        .count()
}

/// `::f{4,6}:` from `p`: the greedy `f{4,6}` backs off only onto another `f`, so the run
/// of `f` must be 4 to 6 long and end in `:`.
fn mapped_prefix_end(hay: &[u8], p: usize) -> Option<usize> {
    if !hay.get(p..)?.starts_with(b"::") {
        return None;
    }
    let fs = run(hay, p + 2, 7, |b| b == b'f');
    let q = p + 2 + fs;
    ((4..=6).contains(&fs) && hay.get(q) == Some(&b':')).then_some(q + 1)
}

/// `(?:\d{1,3}\.){3}\d{1,3}` from `p`: an octet before a `.` must be its whole digit run
/// (a shorter one is followed by a digit), the last takes up to 3 digits.
fn ip4_end(hay: &[u8], p: usize) -> Option<usize> {
    let mut q = p;
    for _ in 0..3 {
        let d = run(hay, q, 4, |b| b.is_ascii_digit());
        if !(1..=3).contains(&d) || hay.get(q + d) != Some(&b'.') {
            return None;
        }
        q += d + 1;
    }
    let d = run(hay, q, 3, |b| b.is_ascii_digit());
    (d >= 1).then_some(q + d)
}

/// `(?:H{1,4}::?|:){1,7}(?:H{1,4}|:)` from `p` after `done` repetitions, in the
/// backtracker's order: another repetition first (`H{1,4}:` with the optional `:` taken
/// first, or `:`; `H{1,4}` must be the whole hex run, as a shorter one is followed by a
/// hex digit), then the tail, which takes up to 4 hex digits or a `:`. Depth at most 7, two
/// choices per level.
fn ip6_end(hay: &[u8], p: usize, done: usize) -> Option<usize> {
    if done < IP6_GROUPS {
        let h = run(hay, p, 5, |b| b.is_ascii_hexdigit());
        if (1..=4).contains(&h) && hay.get(p + h) == Some(&b':') {
            let q = p + h + 1;
            if hay.get(q) == Some(&b':') {
                if let Some(e) = ip6_end(hay, q + 1, done + 1) {
                    return Some(e);
                }
            }
            if let Some(e) = ip6_end(hay, q, done + 1) {
                return Some(e);
            }
        } else if hay.get(p) == Some(&b':') {
            if let Some(e) = ip6_end(hay, p + 1, done + 1) {
                return Some(e);
            }
        }
    }
    if done == 0 {
        return None;
    }
    let h = run(hay, p, 4, |b| b.is_ascii_hexdigit());
    if h >= 1 {
        return Some(p + h);
    }
    (hay.get(p) == Some(&b':')).then_some(p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::nfa::thompson::backtrack::BoundedBacktracker;
    use regex_automata::nfa::thompson::{self, WhichCaptures};
    use regex_automata::{Anchored, Input};

    /// The backtracker's preferred match of `h` on `hay` anchored at 0: its end and the
    /// group that captured.
    /// Group spans by index.
    type Spans = Vec<Option<(usize, usize)>>;

    fn backtracker(h: &Hir, hay: &[u8]) -> Option<(usize, Spans)> {
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .which_captures(WhichCaptures::All),
            )
            .build_from_hir(h)
            .unwrap();
        let bt = BoundedBacktracker::builder().build_from_nfa(nfa).unwrap();
        let mut cache = bt.create_cache();
        let mut slots = vec![None; bt.get_nfa().group_info().slot_len()];
        let input = Input::new(hay).anchored(Anchored::Yes);
        bt.try_search_slots(&mut cache, &input, &mut slots)
            .unwrap()?;
        let spans = crate::engine::spans_of(&slots);
        Some((spans[0]?.1, spans))
    }

    fn parsed(dns: UseDns) -> Hir {
        let python = expansion(dns);
        let linear = translate(&python, PyFlags::default())
            .unwrap()
            .linear
            .unwrap();
        crate::engine::parse_ascii(&linear).unwrap()
    }

    #[test]
    fn tricky_addresses_scan_as_the_backtracker_matches() {
        let subjects = [
            "1.2.3.4",
            "1.2.3.4 port 22",
            "1.2.3.4:22",
            "1.2.3.4.5",
            "1.2.3.4567",
            "1.2.3",
            "1234.2.3.4",
            "01.002.3.04",
            "::ffff:1.2.3.4",
            "::ffff:1.2.3",
            "::fffff:1.2.3.4",
            "::fffffff:1.2.3.4",
            "::fff:1.2.3.4",
            "::ffffff:1.2.3.4]",
            "::FFFF:1.2.3.4",
            "::1",
            "::",
            ":::",
            "::1:",
            "fe80::1%eth0",
            "2001:db8::1",
            "2001:db8::1 port 22",
            "2001:db8::",
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8:9:a:b",
            "a::b::c",
            "abcde::1",
            "12345:1",
            "1:::2",
            "[1.2.3.4]",
            "[1.2.3.4]:22",
            "[2001:db8::1]:22",
            "[::ffff:10.0.0.1]",
            "[host.example.com]",
            "[",
            "[]",
            "1.2.3.4]",
            "123host.example.com",
            "1.2.3.4.example.com",
            "host-1.example.com.",
            "host-",
            "-.-",
            "_x_",
            "a^b.c",
            "deadbeef",
            "dead:beef",
            "beef:",
            "f:f:f:f:f:f:f:f:f",
            "",
            " 1.2.3.4",
        ];
        for dns in [UseDns::Warn, UseDns::No] {
            let h = parsed(dns);
            let scan = HostScan::recognise(&h).expect("the expansion is recognised");
            let bare = HostScan::recognise_bare(&crate::resolve::strip(&h)).expect("bare");
            for s in subjects {
                for cut in [s.len(), s.len().saturating_sub(1), s.len() / 2] {
                    let hay = &s.as_bytes()[..cut];
                    let want = backtracker(&h, hay);
                    let got = scan.scan(hay, 0);
                    assert_eq!(
                        got.map(|m| m.end),
                        want.as_ref().map(|w| w.0),
                        "{dns} {hay:?}"
                    );
                    assert_eq!(bare.scan(hay, 0).map(|m| m.end), got.map(|m| m.end));
                    if let (Some(g), Some((_, spans))) = (got, want) {
                        let (i, span) = g.group;
                        for (k, sp) in spans.iter().enumerate().skip(1) {
                            let expect = if k == i { Some(span) } else { None };
                            assert_eq!(*sp, expect, "{dns} {hay:?} group {k}");
                        }
                    }
                }
            }
        }
    }

    /// A pattern whose last group is the tag's: the resolver exists (its group count
    /// includes the tag's groups) and answers every search as the backtracker.
    #[test]
    fn a_pattern_ending_in_the_tag_is_resolved() {
        for dns in [UseDns::Warn, UseDns::No] {
            let python = expand_tags(
                r"^Failed \S+ for <F-USER>.*?</F-USER> from <HOST>(?: port \d+)?$",
                dns,
            );
            let re = crate::Regex::new(&python, PyFlags::default()).unwrap();
            let mut answered = 0;
            for host in [
                "1.2.3.4",
                "::ffff:1.2.3.4",
                "2001:db8::1",
                "[1.2.3.4]",
                "host.example.com",
            ] {
                for tail in ["", " port 22"] {
                    let hay = format!("Failed password for a b from {host}{tail}\n");
                    let (a, declined) = re.resolver_diff(&hay).unwrap();
                    answered += a;
                    if dns.host_has_dns() || !host.starts_with('h') {
                        assert_eq!((a, declined), (1, 0), "{dns} {hay:?}");
                    }
                }
            }
            assert!(answered >= 8, "{dns}: {answered}");
        }
    }

    /// `[<HOST>]`: the expansion's own `\]?` would take the `]` the pattern needs after it;
    /// the resolver leaves it when what follows cannot match after it.
    #[test]
    fn a_bracket_after_the_tag_is_left_to_the_pattern() {
        let python = expand_tags(r"^from \[<HOST>\](?P<t> x)?$", UseDns::Warn);
        let re = crate::Regex::new(&python, PyFlags::default()).unwrap();
        for hay in [
            "from [1.2.3.4]\n",
            "from [2001:db8::1] x\n",
            "from [h.x] x\n",
        ] {
            assert_eq!(re.resolver_diff(hay), Ok((1, 0)), "{hay:?}");
        }
    }

    #[test]
    fn only_the_expansion_itself_is_recognised() {
        for p in [
            r"(?i)(?:\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>x))\]?)",
            r"(?P<a>\d+)(?P<b>\w+)",
        ] {
            let h = crate::engine::parse_ascii(p).unwrap();
            assert!(HostScan::recognise(&h).is_none(), "{p}");
        }
        let h = parsed(UseDns::Warn);
        assert!(HostScan::recognise(&h).is_some_and(|s| s.dns.is_some()));
        // The same parts with one more group around the name: not the expansion.
        let python = expand_tags("<HOST>", UseDns::Warn).replace("(?P<dns>", "((?P<dns>");
        let python = python.replacen(r"\w))", r"\w)))", 1);
        if let Some(h) = translate(&python, PyFlags::default())
            .ok()
            .and_then(|t| t.linear)
            .and_then(|l| crate::engine::parse_ascii(&l))
        {
            assert!(HostScan::recognise(&h).is_none());
        }
    }
}
