//! A filter linter: flags the regex shapes that made fail2ban's filters injectable (a log
//! line whose attacker-written part carries an address that then gets banned) or slow.
//!
//! The rules ([`Rule`]) look at a regex's syntax tree, with every address tag (`<HOST>`,
//! `<ADDR>`, ...) replaced by a marker group so that "before the address" and "after the
//! address" can be read off the tree:
//!
//! - [`Rule::Unanchored`]: the regex does not start with `^`, so it may match anywhere in the
//!   line, inside text the attacker wrote.
//! - [`Rule::WildcardBeforeHost`]: a wildcard (`.*`, `.+`, `[^"]*`, ...) or a user field comes
//!   before the address, and nothing after the address pins it (a mandatory `$` with no
//!   wildcard before it); or a wildcard sits right against the address and can eat its digits.
//! - [`Rule::HostInUserText`]: the address is matched inside a user name group, a mail
//!   address (`@<HOST>`) or a URL (`://<HOST>`).
//! - [`Rule::NotLinear`]: the regex needs the backtracking engine (look-around, back-reference).
//! - [`Rule::Invalid`]: the regex does not compile.
//!
//! The analysis is syntactic and conservative: a finding is a shape to look at, with a hint.

use std::fmt;

use regex_syntax::ast::{self, AssertionKind, Ast, GroupKind, RepetitionKind, RepetitionRange};

use crate::engine::Regex;
use crate::tags::{expand_tags, UseDns};
use crate::translate::{translate, PyFlags};

/// The tags that capture an address (replaced by a marker group for the analysis).
const HOST_TAGS: [&str; 11] = [
    "<HOST>",
    "<ADDR>",
    "<F-ADDR/>",
    "<IP4>",
    "<F-IP4/>",
    "<IP6>",
    "<F-IP6/>",
    "<SUBNET>",
    "<F-SUBNET/>",
    "<DNS>",
    "<F-DNS/>",
];

const MARKER: &str = "jailorlinthost";

/// One lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The regex is not anchored at the start.
    Unanchored,
    /// A wildcard or user field before the address, with nothing pinning the address.
    WildcardBeforeHost,
    /// The address is matched inside a user name, a mail address or a URL.
    HostInUserText,
    /// The regex cannot run on the linear engine.
    NotLinear,
    /// The regex does not compile.
    Invalid,
}

impl Rule {
    /// The rule's short name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Unanchored => "unanchored",
            Rule::WildcardBeforeHost => "wildcard-before-host",
            Rule::HostInUserText => "host-in-user-text",
            Rule::NotLinear => "not-linear",
            Rule::Invalid => "invalid",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding: which regex, which rule, and a one-line hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The option the regex comes from (`failregex`, `prefregex`).
    pub option: String,
    /// The regex's index within the option (0 for `prefregex`).
    pub index: usize,
    /// The rule broken.
    pub rule: Rule,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{}: {}: {}",
            self.option,
            self.index + 1,
            self.rule,
            self.hint
        )
    }
}

/// Lints a filter's `prefregex` and `failregex` lines (tags unexpanded, `%(...)s` resolved).
/// `maxlines > 1` compiles them multi-line, as the filter does.
pub fn lint_filter(prefregex: Option<&str>, failregex: &[String], maxlines: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(p) = prefregex.filter(|p| !p.trim().is_empty()) {
        out.extend(lint_regex("prefregex", 0, p, maxlines));
    }
    for (i, r) in failregex.iter().enumerate() {
        out.extend(lint_regex("failregex", i, r, maxlines));
    }
    out
}

/// Lints one regex (tags unexpanded) of option `option`, index `index`.
pub fn lint_regex(option: &str, index: usize, raw: &str, maxlines: usize) -> Vec<Finding> {
    let flags = PyFlags {
        multiline: maxlines > 1,
        ..PyFlags::default()
    };
    let finding = |rule: Rule, hint: String| Finding {
        option: option.to_owned(),
        index,
        rule,
        hint,
    };
    let mut out = Vec::new();
    match Regex::new(&expand_tags(raw, UseDns::Warn), flags) {
        Ok(re) if !re.is_linear() => out.push(finding(
            Rule::NotLinear,
            "needs the backtracking engine (look-around or back-reference): rewrite it without, \
             e.g. a negated class instead of a look-ahead"
                .into(),
        )),
        Ok(_) => {}
        Err(e) => {
            out.push(finding(Rule::Invalid, format!("does not compile: {e}")));
            return out;
        }
    }
    let Some(tree) = syntax_tree(raw, flags) else {
        return out;
    };
    if !anchored_start(&tree) {
        out.push(finding(
            Rule::Unanchored,
            "not anchored: start it with ^ so it cannot match inside text the client wrote".into(),
        ));
    }
    let mut host_rules = Vec::new();
    for n in 0.. {
        let name = format!("{MARKER}{n}");
        let mut path = Vec::new();
        if !path_to(&tree, &name, &mut path) {
            break;
        }
        for (rule, hint) in host_findings(&path) {
            if !host_rules.contains(&rule) {
                host_rules.push(rule);
                out.push(finding(rule, hint));
            }
        }
    }
    out
}

/// The regex's tree in Rust syntax, address tags replaced by numbered marker groups.
fn syntax_tree(raw: &str, flags: PyFlags) -> Option<Ast> {
    let mut marked = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut n = 0;
    'outer: while let Some(lt) = rest.find('<') {
        marked.push_str(&rest[..lt]);
        let cand = &rest[lt..];
        for tag in HOST_TAGS {
            if let Some(after) = cand.strip_prefix(tag) {
                marked.push_str(&format!("(?P<{MARKER}{n}>9)"));
                n += 1;
                rest = after;
                continue 'outer;
            }
        }
        marked.push('<');
        rest = &cand[1..];
    }
    marked.push_str(rest);
    let t = translate(&expand_tags(&marked, UseDns::No), flags).ok()?;
    let rust = t.linear.unwrap_or(t.relaxed);
    ast::parse::Parser::new().parse(&rust).ok()
}

/// Whether every way through `a` starts with a start-of-text/line assertion.
fn anchored_start(a: &Ast) -> bool {
    match a {
        Ast::Assertion(x) => matches!(x.kind, AssertionKind::StartText | AssertionKind::StartLine),
        Ast::Group(g) => anchored_start(&g.ast),
        Ast::Alternation(alt) => alt.asts.iter().all(anchored_start),
        Ast::Concat(c) => c
            .asts
            .iter()
            .find(|x| !matches!(x, Ast::Flags(_) | Ast::Empty(_)))
            .is_some_and(anchored_start),
        _ => false,
    }
}

/// Whether every way through `a` passes an end-of-text/line assertion.
fn anchored_end(a: &Ast) -> bool {
    match a {
        Ast::Assertion(x) => matches!(x.kind, AssertionKind::EndText | AssertionKind::EndLine),
        Ast::Group(g) => anchored_end(&g.ast),
        Ast::Alternation(alt) => alt.asts.iter().all(anchored_end),
        Ast::Concat(c) => c.asts.iter().any(anchored_end),
        Ast::Repetition(r) => repetition_min(&r.op.kind) > 0 && anchored_end(&r.ast),
        _ => false,
    }
}

/// The path of nodes from the root down to the group named `name` (inclusive).
fn path_to<'a>(a: &'a Ast, name: &str, path: &mut Vec<&'a Ast>) -> bool {
    path.push(a);
    let found = match a {
        Ast::Group(g) => {
            matches!(&g.kind, GroupKind::CaptureName { name: n, .. } if n.name == name)
                || path_to(&g.ast, name, path)
        }
        Ast::Repetition(r) => path_to(&r.ast, name, path),
        Ast::Alternation(alt) => alt.asts.iter().any(|x| path_to(x, name, path)),
        Ast::Concat(c) => c.asts.iter().any(|x| path_to(x, name, path)),
        _ => false,
    };
    if !found {
        path.pop();
    }
    found
}

fn repetition_min(k: &RepetitionKind) -> u32 {
    match k {
        RepetitionKind::ZeroOrOne | RepetitionKind::ZeroOrMore => 0,
        RepetitionKind::OneOrMore => 1,
        RepetitionKind::Range(RepetitionRange::Exactly(n))
        | RepetitionKind::Range(RepetitionRange::AtLeast(n))
        | RepetitionKind::Range(RepetitionRange::Bounded(n, _)) => *n,
    }
}

fn unbounded(k: &RepetitionKind) -> bool {
    matches!(
        k,
        RepetitionKind::ZeroOrMore
            | RepetitionKind::OneOrMore
            | RepetitionKind::Range(RepetitionRange::AtLeast(_))
    )
}

/// Whether the pattern `a` matches every one of `samples` as a whole.
fn matches_all(a: &Ast, samples: &[&str]) -> bool {
    let Ok(re) = regex::Regex::new(&format!(r"\A(?s:{a})\z")) else {
        return false;
    };
    samples.iter().all(|s| re.is_match(s))
}

/// An unbounded repetition of any character (`.*`, `[^\n]+`): it can carry a forged
/// " from 1.2.3.4" and cross any delimiter. A field that stops at its closing delimiter
/// (`"[^"]*"`, `\[[^\]]*\]`, `\S+`) is not one: a client cannot write the delimiter there
/// unescaped.
fn is_wildcard(a: &Ast) -> bool {
    matches!(a, Ast::Repetition(r) if unbounded(&r.op.kind)
    && matches_all(&r.ast, &[
        " ", "1", ".", "a", ":", "\"", "'", "]", ")", ">", "}", "[", "(", "<", "{", ",", ";",
    ]))
}

/// A group the client writes (a user name, or another field named like one) that can hold a
/// space, so a forged " from 1.2.3.4" too.
fn is_user_group(a: &Ast) -> bool {
    is_user_named(a) && matches!(a, Ast::Group(g) if matches_all(&g.ast, &["x from 1.2.3.4"]))
}

/// A group named like a field the client writes.
fn is_user_named(a: &Ast) -> bool {
    let Ast::Group(g) = a else { return false };
    let GroupKind::CaptureName { name, .. } = &g.kind else {
        return false;
    };
    let n = name.name.as_str();
    n == "user"
        || n.starts_with("alt_user")
        || n.starts_with("user")
        || matches!(n, "url" | "mail" | "email" | "sender" | "recipient")
}

/// Whether `a` or anything inside it satisfies `pred`.
fn any_node(a: &Ast, pred: &dyn Fn(&Ast) -> bool) -> bool {
    if pred(a) {
        return true;
    }
    match a {
        Ast::Group(g) => any_node(&g.ast, pred),
        Ast::Repetition(r) => any_node(&r.ast, pred),
        Ast::Alternation(alt) => alt.asts.iter().any(|x| any_node(x, pred)),
        Ast::Concat(c) => c.asts.iter().any(|x| any_node(x, pred)),
        _ => false,
    }
}

/// The first node of `a` (itself included, outermost first) that satisfies `pred`.
fn first_node<'a>(a: &'a Ast, pred: &dyn Fn(&Ast) -> bool) -> Option<&'a Ast> {
    if pred(a) {
        return Some(a);
    }
    match a {
        Ast::Group(g) => first_node(&g.ast, pred),
        Ast::Repetition(r) => first_node(&r.ast, pred),
        Ast::Alternation(alt) => alt.asts.iter().find_map(|x| first_node(x, pred)),
        Ast::Concat(c) => c.asts.iter().find_map(|x| first_node(x, pred)),
        _ => None,
    }
}

/// The last node of `a` when read left to right (through groups and concatenations).
fn last_atom(a: &Ast) -> &Ast {
    match a {
        Ast::Group(g) if !is_user_named(a) => last_atom(&g.ast),
        Ast::Concat(c) => c.asts.last().map_or(a, last_atom),
        _ => a,
    }
}

/// The findings about one address marker, given the path from the root to it.
fn host_findings(path: &[&Ast]) -> Vec<(Rule, String)> {
    let mut out = Vec::new();
    // Inside a user name (or URL/mail) group?
    if path[..path.len() - 1].iter().any(|a| is_user_named(a)) {
        out.push((
            Rule::HostInUserText,
            "the address is captured inside a user/URL/mail field the client chose".into(),
        ));
    }
    // What comes before and after the marker, innermost concatenation first.
    let mut before: Vec<&Ast> = Vec::new();
    let mut after: Vec<Vec<&Ast>> = Vec::new();
    let mut adjacent: Option<&Ast> = None;
    let mut literal_before = String::new();
    let mut literal_done = false;
    for w in path.windows(2).rev() {
        let (parent, child) = (w[0], w[1]);
        if let Ast::Concat(c) = parent {
            let i = c
                .asts
                .iter()
                .position(|x| std::ptr::eq(x, child))
                .unwrap_or(0);
            for x in c.asts[..i].iter().rev() {
                if adjacent.is_none() {
                    adjacent = Some(last_atom(x));
                }
                if !literal_done {
                    match x {
                        Ast::Literal(l) => literal_before.insert(0, l.c),
                        _ => literal_done = true,
                    }
                }
                before.push(x);
            }
            after.push(c.asts[i + 1..].iter().collect());
            if i > 0 {
                literal_done = true;
            }
        }
    }
    if literal_before.ends_with('@') || literal_before.ends_with("://") {
        out.push((
            Rule::HostInUserText,
            format!(
                "the address follows '{literal_before}': it is the client's mail address or URL, \
                 not its connection"
            ),
        ));
    }
    if let Some(Ast::Repetition(r)) = adjacent {
        if unbounded(&r.op.kind) && matches_all(&r.ast, &["1"]) {
            out.push((
                Rule::WildcardBeforeHost,
                "a repetition right before the address can take its first digits: put a \
                 fixed delimiter (a space, '=', '[') between them"
                    .into(),
            ));
            return out;
        }
    }
    let culprit = before
        .iter()
        .find_map(|x| first_node(x, &|a| is_wildcard(a) || is_user_group(a)));
    if let Some(c) = culprit {
        if !pinned_after(&after) {
            let what = match c {
                Ast::Group(_) => "a user field".to_owned(),
                _ => format!("`{c}`"),
            };
            out.push((
                Rule::WildcardBeforeHost,
                format!(
                    "{what} before the address and nothing pins the address: end the regex \
                     with fixed text and $ after it (no .* there)"
                ),
            ));
        }
    }
    out
}

/// Whether the address is followed, on every way, by a mandatory end anchor with no
/// any-character wildcard before that anchor. `after` lists what follows the marker in each
/// enclosing concatenation, innermost first.
fn pinned_after(after: &[Vec<&Ast>]) -> bool {
    for level in after {
        for x in level {
            if any_node(x, &is_wildcard) {
                return false;
            }
            if anchored_end(x) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(raw: &str) -> Vec<Rule> {
        lint_regex("failregex", 0, raw, 1)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn a_careful_regex_passes() {
        assert!(
            rules(r"^Failed password for <F-USER>.*</F-USER> from <HOST> port \d+\s*$").is_empty()
        );
        assert!(rules(r"^refused connect from \S+ \(<HOST>\)$").is_empty());
        assert!(rules(r"^<HOST> - \S+ \[[^\]]*\] .*$").is_empty());
    }

    #[test]
    fn each_rule_is_flagged() {
        assert_eq!(rules(r"Failed password from <HOST>$"), [Rule::Unanchored]);
        assert_eq!(
            rules(r"^Failed password for .* from <HOST>"),
            [Rule::WildcardBeforeHost]
        );
        assert_eq!(
            rules(r"^Failed password for .* from <HOST> .*$"),
            [Rule::WildcardBeforeHost]
        );
        assert_eq!(rules(r"^Failed for .*<HOST>$"), [Rule::WildcardBeforeHost]);
        assert_eq!(
            rules(r"^Failed for <F-USER>.+</F-USER> from <HOST>"),
            [Rule::WildcardBeforeHost]
        );
        assert_eq!(
            rules(r"^Rejected sender \S+@<HOST>$"),
            [Rule::HostInUserText]
        );
        assert_eq!(rules(r"^GET http://<HOST>/ 404$"), [Rule::HostInUserText]);
        // A user field that cannot hold a space cannot carry " from <address>".
        assert!(rules(r"^Failed for <F-USER>\S+</F-USER> from <HOST>").is_empty());
        // A quoted field stops at its quote.
        assert!(rules(r#"^x="[^"]*" from <HOST>"#).is_empty());
        assert!(rules(r"^user <F-USER>x <HOST></F-USER>$").contains(&Rule::HostInUserText));
        // A back-reference: no linear engine runs it (literal look-arounds are rewritten).
        assert_eq!(rules(r"^(\w+) for \1 from <HOST>$"), [Rule::NotLinear]);
        assert_eq!(rules(r"^x (a from <HOST>$"), [Rule::Invalid]);
    }

    #[test]
    fn alternations_and_groups_are_followed() {
        assert!(rules(r"^(?:a|b) from <HOST>$").is_empty());
        assert_eq!(rules(r"(?:^a|b) from <HOST>$"), [Rule::Unanchored]);
        assert!(rules(r"^a .* from <HOST>(?: port \d+)?(?:$|b$)").is_empty());
    }
}
