//! fail2ban's default date templates (`DateDetectorCache.DEFAULT_TEMPLATES`), in its order.

use std::sync::OnceLock;

/// The 17 default patterns. `EPOCH` and `TAI64N` are the special templates.
pub(crate) const PATTERNS: [&str; 17] = [
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    "EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:-|T|  ?)%ExH:?%ExM:?%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    "TAI64N",
];

/// Whether a default pattern is anchored at line start by itself.
fn anchored(p: &str) -> bool {
    p.starts_with('^') || p.starts_with("{^LN-BEG}")
}

/// The 31 cached templates as (pattern, weight): a `{^LN-BEG}` copy (weight 100) of every
/// unanchored default, then the 17 defaults. Built once: every jail's detector starts from it.
pub(crate) fn cache() -> &'static [(String, f64)] {
    static CACHE: OnceLock<Vec<(String, f64)>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let copies = PATTERNS
            .iter()
            .filter(|p| !anchored(p))
            .map(|p| (format!("{{^LN-BEG}}{p}"), 100.0));
        copies
            .chain(PATTERNS.iter().map(|p| (p.to_string(), 1.0)))
            .collect()
    })
}

/// The line-anchored subset used by `datepattern = {^LN-BEG}` (17 templates).
pub(crate) fn line_begin() -> impl Iterator<Item = &'static (String, f64)> {
    cache().iter().filter(|(p, _)| anchored(p))
}

/// The text `{DATE}` stands for, for each default (EPOCH/TAI64N become literal words, as in
/// fail2ban).
pub(crate) fn date_substitutes() -> impl Iterator<Item = &'static str> {
    PATTERNS.iter().map(|p| match *p {
        "EPOCH" => "Epoch",
        other => other.strip_prefix("{^LN-BEG}").unwrap_or(other),
    })
}
