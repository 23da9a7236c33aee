//! Required literals: for a pattern, a small set of strings one of which every match must
//! contain. A line that contains none of a filter's literals cannot match any failregex, so it
//! is rejected with one Aho-Corasick scan instead of a regex search.

use aho_corasick::AhoCorasick;
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{Hir, HirKind};

/// More literals than this make the scan slower than the regexes it saves.
const MAX_LITERALS: usize = 64;
/// Literals shorter than this occur in almost every line.
const MIN_USEFUL_LEN: usize = 3;

/// A set of literals one of which occurs in every match of a pattern (`None`: no such small
/// set was found).
pub(crate) fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let lits = required(&hir)?;
    (min_len(&lits) >= MIN_USEFUL_LEN).then_some(lits)
}

fn min_len(lits: &[Vec<u8>]) -> usize {
    lits.iter().map(Vec::len).min().unwrap_or(0)
}

/// Ranks a candidate set: longer shortest literal first, then fewer literals.
fn better(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    (min_len(a), std::cmp::Reverse(a.len())) > (min_len(b), std::cmp::Reverse(b.len()))
}

/// Usable literals from an extracted prefix sequence: finite, small, no empty string, and no
/// line break (the subject's appended `\n` is not in the raw line).
fn from_seq(seq: &Seq) -> Option<Vec<Vec<u8>>> {
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > MAX_LITERALS {
        return None;
    }
    let out: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
    if out.iter().any(|l| l.is_empty() || l.contains(&b'\n')) {
        return None;
    }
    Some(out)
}

fn prefixes(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix)
        .limit_class(4)
        .limit_repeat(4)
        .limit_literal_len(24)
        .limit_total(MAX_LITERALS);
    let mut seq = ex.extract(hir);
    seq.optimize_for_prefix_by_preference();
    from_seq(&seq)
}

fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(l) => {
            let b = l.0.to_vec();
            (!b.is_empty() && !b.contains(&b'\n')).then(|| vec![b])
        }
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Concat(subs) => {
            let mut best: Option<Vec<Vec<u8>>> = None;
            let mut consider = |cand: Option<Vec<Vec<u8>>>| {
                if let Some(c) = cand {
                    if best.as_ref().is_none_or(|b| better(&c, b)) {
                        best = Some(c);
                    }
                }
            };
            for i in 0..subs.len() {
                // Whatever matches `subs[i..]` starts with one of its prefixes.
                consider(prefixes(&Hir::concat(subs[i..].to_vec())));
                consider(required(&subs[i]));
            }
            best
        }
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for a in alts {
                all.extend(required(a).or_else(|| prefixes(a))?);
            }
            all.sort();
            all.dedup();
            (all.len() <= MAX_LITERALS).then_some(all)
        }
        _ => None,
    }
}

/// The literal prefilter of a set of patterns: a line that contains none of the literals
/// matches none of the patterns.
#[derive(Debug, Clone)]
pub(crate) struct LiteralPrefilter {
    ac: AhoCorasick,
}

impl LiteralPrefilter {
    /// `None` when some pattern has no usable literal set (every line must then be searched).
    pub(crate) fn new<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Option<Self> {
        let mut all = Vec::new();
        for p in patterns {
            all.extend(required_literals(p)?);
        }
        if all.is_empty() {
            return None;
        }
        all.sort();
        all.dedup();
        let ac = AhoCorasick::builder().build(&all).ok()?;
        Some(LiteralPrefilter { ac })
    }

    /// Whether `hay` may match one of the patterns.
    pub(crate) fn may_match(&self, hay: &str) -> bool {
        self.ac.is_match(hay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        })
    }

    #[test]
    fn picks_the_longest_required_run() {
        let l = lits(r"^Failed \S+ for (?P<u>.*?) from (?P<ip>\d+\.\d+)$").unwrap();
        assert_eq!(l, ["Failed "]);
        let l = lits(r"^\s*(?:foo|bar) (?P<x>\w+) Invalid user$").unwrap();
        assert_eq!(l, [" Invalid user"]);
    }

    #[test]
    fn alternations_give_one_literal_per_branch() {
        let l = lits(r"x(?:Connection closed|Disconnected from) \d").unwrap();
        assert!(l.iter().any(|s| s.contains("Connection closed")));
        assert!(l.iter().any(|s| s.contains("Disconnected from")));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn no_literal_no_prefilter() {
        assert_eq!(lits(r"^\d+ \w+$"), None);
        assert!(LiteralPrefilter::new([r"abc\d", r"^\w+$"]).is_none());
    }

    #[test]
    fn prefilter_never_rejects_a_match() {
        let pats = [
            r"^Failed (?i:password) for \S+",
            r"(?:refused|denied) connect",
        ];
        let pf = LiteralPrefilter::new(pats).unwrap();
        let regs: Vec<regex::Regex> = pats.iter().map(|p| regex::Regex::new(p).unwrap()).collect();
        for line in [
            "Failed PASSWORD for x",
            "Failed password for y",
            "xx refused connect",
            "denied connect",
            "nothing here",
            "Failed pass for z",
        ] {
            if regs.iter().any(|r| r.is_match(line)) {
                assert!(pf.may_match(line), "{line}");
            }
        }
        assert!(!pf.may_match("nothing here"));
    }
}
