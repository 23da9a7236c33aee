//! An exact linear form of patterns that need the backtracking engine only for
//! conditionals and literal look-aheads (fail2ban's sshd filter is the case in point).
//!
//! - A conditional `(?(g)yes|no)` is removed by distribution: in the concatenation that holds
//!   group `g` and, later, the conditional, the item holding `g` is split into its variants
//!   that set `g` and those that do not, and each variant is followed by the rest of the
//!   concatenation with the conditional resolved. Alternation order is kept, so the first
//!   match of a leftmost-first engine is the one a backtracker finds.
//! - A literal look-ahead `(?!L)`/`(?=L)` becomes an empty marker group, and `(?:(?!L).)*`
//!   (one character per iteration) a marker group around the repetition; after a search the
//!   markers' positions are checked against `L`. Dropping a look-ahead only widens the
//!   language, so if the first match of the widened pattern passes its checks it is also the
//!   first match of the exact pattern; if it fails, the caller asks the backtracker.
//!
//! Groups keep their Python numbers through a map from the linear pattern's (unnamed) groups.

use fancy_regex::{Assertion, Expr, LookAround};

/// A look-ahead to verify after a linear search, on the span of a marker group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// The text at the (empty) marker does not start with the literal.
    NotAt(usize, Box<str>),
    /// The text at the (empty) marker starts with the literal.
    At(usize, Box<str>),
    /// No occurrence of the literal starts inside the marker's span.
    NoneIn(usize, Box<str>),
}

impl Check {
    /// Whether the check holds for the marker spans `slot` gives (unset markers hold).
    pub(crate) fn holds(&self, hay: &[u8], slot: impl Fn(usize) -> Option<(usize, usize)>) -> bool {
        match self {
            Check::NotAt(g, lit) => slot(*g).is_none_or(|(p, _)| !starts(hay, p, lit)),
            Check::At(g, lit) => slot(*g).is_none_or(|(p, _)| starts(hay, p, lit)),
            Check::NoneIn(g, lit) => slot(*g).is_none_or(|(a, b)| {
                if a >= b {
                    return true;
                }
                let end = (b - 1 + lit.len()).min(hay.len());
                hay.get(a..end)
                    .is_none_or(|w| memchr::memmem::find(w, lit.as_bytes()).is_none())
            }),
        }
    }
}

fn starts(hay: &[u8], p: usize, lit: &str) -> bool {
    hay.get(p..).is_some_and(|h| h.starts_with(lit.as_bytes()))
}

/// A pattern for the `regex` crate plus what is needed to read it as the original.
#[derive(Debug, Clone)]
pub(crate) struct Linearized {
    /// The pattern (every group unnamed).
    pub(crate) pattern: String,
    /// For each group of `pattern` (index 1…), the original group it stands for (`None`:
    /// a marker).
    pub(crate) groups: Vec<Option<usize>>,
    /// Checks on marker groups (indexes of `pattern`).
    pub(crate) checks: Vec<Check>,
    /// Names of the original groups by index (index 0, the match, has none).
    pub(crate) names: Vec<Option<Box<str>>>,
    /// The pattern with its look-aheads written exactly ([`exact_looks`]) and its groups'
    /// map, when that leaves no check: the answer when a search of `pattern` fails its
    /// checks. Not the pattern itself: it is larger (one level per character of a
    /// look-ahead's literal), and checks rarely fail.
    pub(crate) exact: Option<(String, Vec<Option<usize>>)>,
}

impl Linearized {
    fn empty(names: Vec<Option<Box<str>>>) -> Linearized {
        Linearized {
            pattern: String::new(),
            groups: Vec::new(),
            checks: Vec::new(),
            names,
            exact: None,
        }
    }
}

/// The tree the rewrite works on.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// An atom in `regex`-crate syntax; whether it always matches one character.
    Leaf(String, bool),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    /// Original group number, body.
    Group(usize, Box<Node>),
    Repeat {
        child: Box<Node>,
        lo: usize,
        hi: usize,
        greedy: bool,
    },
    Cond {
        group: usize,
        yes: Box<Node>,
        no: Box<Node>,
    },
    /// A literal look-ahead (negative when `neg`).
    Look {
        lit: String,
        neg: bool,
    },
}

/// The pattern most variants may grow to before the rewrite gives up.
const MAX_PATTERN: usize = 64 * 1024;

/// The exact linear form of a `fancy-regex` pattern, when the rewrite applies.
pub(crate) fn linearize(fancy: &str) -> Option<Linearized> {
    let tree = Expr::parse_tree(fancy).ok()?;
    let mut count = 0;
    let mut node = convert(&tree.expr, &mut count)?;
    let mut names: Vec<Option<Box<str>>> = vec![None; count + 1];
    for (name, idx) in &tree.named_groups {
        for &i in idx {
            *names.get_mut(i)? = Some(name.as_str().into());
        }
    }
    // Each pass removes every conditional on one group.
    for _ in 0..16 {
        let Some(g) = first_cond(&node) else { break };
        node = eliminate(node, g, false)?;
        if first_cond_on(&node, g) {
            return None;
        }
    }
    if first_cond(&node).is_some() {
        return None;
    }
    let exact_node = exact_looks(&node, &mut Vec::new());
    let exact = (exact_node != node)
        .then(|| {
            let mut e = Linearized::empty(Vec::new());
            emit(&exact_node, &mut e)?;
            (e.checks.is_empty() && e.pattern.len() <= MAX_PATTERN).then_some((e.pattern, e.groups))
        })
        .flatten();
    let mut out = Linearized::empty(names);
    out.exact = exact;
    emit(&node, &mut out)?;
    (out.pattern.len() <= MAX_PATTERN).then_some(out)
}

fn literal_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Literal { val, casei: false } => Some(val.clone()),
        Expr::Concat(items) => items.iter().map(literal_of).collect(),
        _ => None,
    }
}

fn leaf(e: &Expr) -> String {
    let mut s = String::new();
    e.to_str(&mut s, 3);
    s
}

fn convert(e: &Expr, count: &mut usize) -> Option<Node> {
    Some(match e {
        Expr::Empty => Node::Concat(Vec::new()),
        Expr::Any { crlf: false, .. } | Expr::Delegate { .. } => Node::Leaf(leaf(e), true),
        Expr::Literal { val, casei } => {
            let q = regex_syntax::escape(val);
            let one = val.chars().count() == 1;
            Node::Leaf(if *casei { format!("(?i:{q})") } else { q }, one)
        }
        Expr::Assertion(a) => Node::Leaf(
            match a {
                Assertion::StartText => r"\A",
                Assertion::EndText => r"\z",
                Assertion::StartLine { crlf: false } => "(?m:^)",
                Assertion::EndLine { crlf: false } => "(?m:$)",
                Assertion::WordBoundary => r"\b",
                Assertion::NotWordBoundary => r"\B",
                _ => return None,
            }
            .to_owned(),
            false,
        ),
        Expr::Concat(items) => Node::Concat(
            items
                .iter()
                .map(|i| convert(i, count))
                .collect::<Option<_>>()?,
        ),
        Expr::Alt(items) => Node::Alt(
            items
                .iter()
                .map(|i| convert(i, count))
                .collect::<Option<_>>()?,
        ),
        Expr::Group(body) => {
            *count += 1;
            let n = *count;
            Node::Group(n, Box::new(convert(body, count)?))
        }
        Expr::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Node::Repeat {
            child: Box::new(convert(child, count)?),
            lo: *lo,
            hi: *hi,
            greedy: *greedy,
        },
        Expr::Conditional {
            condition,
            true_branch,
            false_branch,
        } => match condition.as_ref() {
            Expr::BackrefExistsCondition {
                group,
                relative_recursion_level: None,
            } => Node::Cond {
                group: *group,
                yes: Box::new(convert(true_branch, count)?),
                no: Box::new(convert(false_branch, count)?),
            },
            _ => return None,
        },
        Expr::LookAround(body, kind) => {
            // The translator's single-line `$`: before a final newline or at the end. Its
            // linear form `(?m:$)` is exact on subjects without an inner newline (the engine
            // sends the others to the backtracker).
            if let (Expr::Concat(items), LookAround::LookAhead) = (body.as_ref(), kind) {
                if let [Expr::Repeat {
                    child,
                    lo: 0,
                    hi: 1,
                    ..
                }, Expr::Assertion(Assertion::EndText)] = items.as_slice()
                {
                    if literal_of(child).as_deref() == Some("\n") {
                        return Some(Node::Leaf("(?m:$)".into(), false));
                    }
                }
            }
            let lit = literal_of(body).filter(|l| !l.is_empty())?;
            match kind {
                LookAround::LookAheadNeg => Node::Look { lit, neg: true },
                LookAround::LookAhead => Node::Look { lit, neg: false },
                _ => return None,
            }
        }
        _ => return None,
    })
}

fn children(n: &Node) -> Vec<&Node> {
    match n {
        Node::Leaf(..) | Node::Look { .. } => Vec::new(),
        Node::Concat(v) | Node::Alt(v) => v.iter().collect(),
        Node::Group(_, b) => vec![b],
        Node::Repeat { child, .. } => vec![child],
        Node::Cond { yes, no, .. } => vec![yes, no],
    }
}

fn first_cond(n: &Node) -> Option<usize> {
    if let Node::Cond { group, .. } = n {
        return Some(*group);
    }
    children(n).into_iter().find_map(first_cond)
}

fn first_cond_on(n: &Node, g: usize) -> bool {
    matches!(n, Node::Cond { group, .. } if *group == g)
        || children(n).into_iter().any(|c| first_cond_on(c, g))
}

fn count_groups(n: &Node, g: usize) -> usize {
    usize::from(matches!(n, Node::Group(h, _) if *h == g))
        + children(n)
            .into_iter()
            .map(|c| count_groups(c, g))
            .sum::<usize>()
}

/// Replaces the conditionals on `g` by their branch for "`g` is set" = `set`.
fn resolve(n: Node, g: usize, set: bool) -> Node {
    let r = |b: Box<Node>| Box::new(resolve(*b, g, set));
    match n {
        Node::Cond { group, yes, no } if group == g => {
            resolve(if set { *yes } else { *no }, g, set)
        }
        Node::Cond { group, yes, no } => Node::Cond {
            group,
            yes: r(yes),
            no: r(no),
        },
        Node::Concat(v) => Node::Concat(v.into_iter().map(|c| resolve(c, g, set)).collect()),
        Node::Alt(v) => Node::Alt(v.into_iter().map(|c| resolve(c, g, set)).collect()),
        Node::Group(h, b) => Node::Group(h, r(b)),
        Node::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Node::Repeat {
            child: r(child),
            lo,
            hi,
            greedy,
        },
        leaf => leaf,
    }
}

/// Removes the conditionals on `g` where a concatenation holds the `g` groups in one item
/// and the conditionals after it. `unsure`: `g` may be set before this node is reached (an
/// earlier item of an enclosing concatenation holds it, or a previous iteration of an
/// enclosing repetition may have set it).
fn eliminate(n: Node, g: usize, unsure: bool) -> Option<Node> {
    match n {
        Node::Concat(items) => {
            let at = items.iter().position(|c| count_groups(c, g) > 0);
            if let Some(i) = at {
                let only_here = items[i + 1..].iter().all(|c| count_groups(c, g) == 0);
                let later = items[i + 1..].iter().any(|c| first_cond_on(c, g));
                let earlier = items[..=i].iter().any(|c| first_cond_on(c, g));
                if only_here && later && !earlier && !unsure {
                    let mut items = items;
                    let suffix = items.split_off(i + 1);
                    let item = items.pop()?;
                    let variants = split(item, g)?;
                    let alts = variants
                        .into_iter()
                        .map(|(v, set)| {
                            let mut c = vec![v];
                            c.extend(suffix.iter().cloned().map(|s| resolve(s, g, set)));
                            Node::Concat(c)
                        })
                        .collect();
                    items.push(Node::Alt(alts));
                    return Some(Node::Concat(items));
                }
            }
            let mut seen = unsure;
            let mut out = Vec::with_capacity(items.len());
            for c in items {
                let has = count_groups(&c, g) > 0;
                out.push(eliminate(c, g, seen)?);
                seen |= has;
            }
            Some(Node::Concat(out))
        }
        Node::Alt(v) => Some(Node::Alt(
            v.into_iter()
                .map(|c| eliminate(c, g, unsure))
                .collect::<Option<_>>()?,
        )),
        Node::Group(h, b) => Some(Node::Group(h, Box::new(eliminate(*b, g, unsure)?))),
        Node::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Some(Node::Repeat {
            child: Box::new(eliminate(*child, g, unsure || hi > 1)?),
            lo,
            hi,
            greedy,
        }),
        Node::Cond { group, yes, no } => Some(Node::Cond {
            group,
            yes: Box::new(eliminate(*yes, g, unsure)?),
            no: Box::new(eliminate(*no, g, unsure)?),
        }),
        leaf => Some(leaf),
    }
}

/// The variants of `n` in priority order, each with whether it sets group `g`.
fn split(n: Node, g: usize) -> Option<Vec<(Node, bool)>> {
    if count_groups(&n, g) == 0 {
        return Some(vec![(n, false)]);
    }
    match n {
        Node::Group(h, b) if h == g => {
            (count_groups(&b, g) == 0).then(|| vec![(Node::Group(h, b), true)])
        }
        Node::Group(h, b) => Some(
            split(*b, g)?
                .into_iter()
                .map(|(v, s)| (Node::Group(h, Box::new(v)), s))
                .collect(),
        ),
        Node::Alt(v) => {
            let mut out = Vec::new();
            for c in v {
                out.extend(split(c, g)?);
            }
            Some(out)
        }
        Node::Repeat {
            child,
            lo: 0,
            hi: 1,
            greedy,
        } => {
            let empty = Node::Concat(Vec::new());
            let alt = if greedy {
                vec![*child, empty]
            } else {
                vec![empty, *child]
            };
            split(Node::Alt(alt), g)
        }
        Node::Concat(mut items) => {
            let i = items.iter().position(|c| count_groups(c, g) > 0)?;
            if items[i + 1..].iter().any(|c| count_groups(c, g) > 0) {
                return None;
            }
            let suffix = items.split_off(i + 1);
            let item = items.pop()?;
            Some(
                split(item, g)?
                    .into_iter()
                    .map(|(v, s)| {
                        let mut c = items.clone();
                        c.push(v);
                        c.extend(suffix.iter().cloned());
                        (Node::Concat(c), s)
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// One character per match: a class, `.` or a one-character literal.
fn single_char(n: &Node) -> bool {
    matches!(n, Node::Leaf(_, true))
}

fn quantifier(out: &mut String, lo: usize, hi: usize, greedy: bool) {
    match (lo, hi) {
        (0, usize::MAX) => out.push('*'),
        (1, usize::MAX) => out.push('+'),
        (0, 1) => out.push('?'),
        (lo, usize::MAX) => out.push_str(&format!("{{{lo},}}")),
        (lo, hi) if lo == hi => out.push_str(&format!("{{{lo}}}")),
        (lo, hi) => out.push_str(&format!("{{{lo},{hi}}}")),
    }
    if !greedy {
        out.push('?');
    }
}

fn marker(out: &mut Linearized) -> usize {
    out.groups.push(None);
    out.groups.len()
}

fn emit(n: &Node, out: &mut Linearized) -> Option<()> {
    match n {
        Node::Leaf(s, _) => {
            out.pattern.push_str("(?:");
            out.pattern.push_str(s);
            out.pattern.push(')');
        }
        Node::Concat(v) => {
            out.pattern.push_str("(?:");
            for c in v {
                emit(c, out)?;
            }
            out.pattern.push(')');
        }
        Node::Alt(v) => {
            out.pattern.push_str("(?:");
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    out.pattern.push('|');
                }
                emit(c, out)?;
            }
            out.pattern.push(')');
        }
        Node::Group(h, b) => {
            out.groups.push(Some(*h));
            out.pattern.push('(');
            emit(b, out)?;
            out.pattern.push(')');
        }
        Node::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => {
            // `(?:(?!L)x)*` with a one-character `x`: no `L` starts inside the repetition.
            if let Node::Concat(items) = child.as_ref() {
                if let [Node::Look { lit, neg: true }, x] = items.as_slice() {
                    if !single_char(x) {
                        return None;
                    }
                    let m = marker(out);
                    out.checks.push(Check::NoneIn(m, lit.as_str().into()));
                    out.pattern.push_str("((?:");
                    emit(x, out)?;
                    out.pattern.push(')');
                    quantifier(&mut out.pattern, *lo, *hi, *greedy);
                    out.pattern.push(')');
                    return Some(());
                }
            }
            if contains_look(child) && *hi > 1 {
                // A marker in a repetition keeps only its last position.
                return None;
            }
            out.pattern.push_str("(?:");
            emit(child, out)?;
            out.pattern.push(')');
            quantifier(&mut out.pattern, *lo, *hi, *greedy);
        }
        Node::Look { lit, neg } => {
            let m = marker(out);
            let lit = lit.as_str().into();
            out.checks.push(if *neg {
                Check::NotAt(m, lit)
            } else {
                Check::At(m, lit)
            });
            out.pattern.push_str("()");
        }
        Node::Cond { .. } => return None,
    }
    Some(())
}

/// `n` with each `(?!L)C+` (a literal negative look-ahead before a greedy run of a class
/// `C` holding every character of `L`) written as a linear pattern where that is exact:
/// the runs of `C` that do not start with `L`. The look-ahead reads the text, the rewrite
/// only the run: they differ when the run stops inside `L` (it is a proper prefix `L[..i]`)
/// while the text goes on with the rest `L[i..]`. That cannot lead to a match when what
/// follows the run (`cont`: the rest of each enclosing concatenation, innermost first) can
/// match no text starting with `L[i..]` and no prefix of it, which a DFA walk over `L[i..]`
/// decides. Both forms try the run's lengths longest first, so the preferred match is the
/// same. Where the walk cannot tell, the look-ahead stays a check.
fn exact_looks<'n>(n: &'n Node, cont: &mut Vec<&'n [Node]>) -> Node {
    match n {
        Node::Concat(v) => {
            let mut out = Vec::with_capacity(v.len());
            let mut i = 0;
            while let Some(item) = v.get(i) {
                let rest = v.get(i + 2..).unwrap_or(&[]);
                cont.push(rest);
                let exact = v.get(i + 1).and_then(|run| exact_run(item, run, cont));
                cont.pop();
                if let Some(leaf) = exact {
                    out.push(leaf);
                    i += 2;
                    continue;
                }
                cont.push(v.get(i + 1..).unwrap_or(&[]));
                out.push(exact_looks(item, cont));
                cont.pop();
                i += 1;
            }
            Node::Concat(out)
        }
        Node::Alt(v) => Node::Alt(v.iter().map(|c| exact_looks(c, cont)).collect()),
        Node::Group(g, b) => Node::Group(*g, Box::new(exact_looks(b, cont))),
        // What follows an optional item is what follows the repetition.
        Node::Repeat {
            child,
            lo,
            hi,
            greedy,
        } if *hi <= 1 => Node::Repeat {
            child: Box::new(exact_looks(child, cont)),
            lo: *lo,
            hi: *hi,
            greedy: *greedy,
        },
        other => other.clone(),
    }
}

/// The exact linear form of `look` followed by `run` (see [`exact_looks`]), if it applies.
fn exact_run(look: &Node, run: &Node, cont: &[&[Node]]) -> Option<Node> {
    let Node::Look { lit, neg: true } = look else {
        return None;
    };
    let Node::Repeat {
        child,
        lo: 1,
        hi: usize::MAX,
        greedy: true,
    } = run
    else {
        return None;
    };
    let Node::Leaf(class, true) = child.as_ref() else {
        return None;
    };
    // A class that can be nested in a class intersection.
    let nestable = (class.starts_with('[') && class.ends_with(']'))
        || matches!(
            class.as_str(),
            r"\S" | r"\s" | r"\w" | r"\W" | r"\d" | r"\D"
        );
    if !nestable || !lit.is_ascii() || lit.contains('\n') {
        return None;
    }
    let in_class = regex::Regex::new(&format!(r"\A(?:{class})+\z")).ok()?;
    if !in_class.is_match(lit) || !continuation_excludes(lit.as_bytes(), cont)? {
        return None;
    }
    // Level i: the run so far is `L[..i]`; it stops, or goes on with a character other
    // than `L[i]` (then anything in `C`), or with `L[i]` (except for the last one).
    let bytes = lit.as_bytes();
    let mut pat = String::new();
    for (i, b) in bytes.iter().enumerate() {
        let c = regex_syntax::escape(&char::from(*b).to_string());
        pat.push_str(&format!("(?:[{class}&&[^{c}]](?:{class})*"));
        if i + 1 < bytes.len() {
            pat.push('|');
            pat.push_str(&c);
        }
    }
    for i in (0..bytes.len()).rev() {
        pat.push(')');
        // Every level but the first may stop: the run is then `L[..i]`, not empty.
        if i > 0 {
            pat.push('?');
        }
    }
    Some(Node::Leaf(pat, false))
}

/// Whether what `cont` matches (innermost first) can neither start with nor be a prefix of
/// any `lit[i..]`, `1 <= i < lit.len()`; `None` when that cannot be decided.
fn continuation_excludes(lit: &[u8], cont: &[&[Node]]) -> Option<bool> {
    use regex_automata::hybrid::dfa::DFA;
    use regex_automata::util::start;
    let rest: Vec<Node> = cont.iter().rev().flat_map(|s| s.iter().cloned()).collect();
    let mut scratch = Linearized::empty(Vec::new());
    // A look-ahead in the rest becomes an empty group: a wider language, so the answer
    // stays on the safe side.
    emit(&Node::Concat(rest), &mut scratch)?;
    let dfa = DFA::builder()
        .configure(DFA::config().match_kind(regex_automata::MatchKind::All))
        .syntax(crate::engine::ascii_syntax())
        .thompson(
            regex_automata::nfa::thompson::Config::new()
                .utf8(false)
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
        )
        .build(&scratch.pattern)
        .ok()?;
    let mut cache = dfa.create_cache();
    for i in 1..lit.len() {
        let before = lit.get(i - 1).copied();
        let cfg = start::Config::new()
            .anchored(regex_automata::Anchored::Yes)
            .look_behind(before);
        let mut sid = dfa.start_state(&mut cache, &cfg).ok()?;
        let mut dead = false;
        for &b in lit.get(i..)? {
            sid = dfa.next_state(&mut cache, sid, b).ok()?;
            // A match state here is a match ending before `b`: a prefix of the rest.
            if sid.is_match() || sid.is_quit() || sid.is_unknown() {
                return Some(false);
            }
            if sid.is_dead() {
                dead = true;
                break;
            }
        }
        if !dead {
            return Some(false);
        }
    }
    Some(true)
}

fn contains_look(n: &Node) -> bool {
    matches!(n, Node::Look { .. }) || children(n).into_iter().any(contains_look)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lin(p: &str) -> Linearized {
        linearize(p).unwrap_or_else(|| panic!("not linearized: {p}"))
    }

    /// Each logical group's span, when it took part.
    type Spans = Vec<Option<(usize, usize)>>;

    /// Logical spans of a search, or None when the checks fail.
    fn search(l: &Linearized, hay: &str) -> Option<Option<Spans>> {
        let re = regex::Regex::new(&l.pattern).unwrap();
        let Some(c) = re.captures(hay) else {
            return Some(None);
        };
        let slot = |i: usize| c.get(i).map(|m| (m.start(), m.end()));
        if !l.checks.iter().all(|k| k.holds(hay.as_bytes(), slot)) {
            return None;
        }
        let mut spans = vec![None; l.names.len()];
        spans[0] = slot(0);
        for (p, g) in l.groups.iter().enumerate() {
            if let (Some(g), Some(s)) = (g, slot(p + 1)) {
                spans[*g] = Some(s);
            }
        }
        Some(Some(spans))
    }

    fn fancy(p: &str, hay: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let re = fancy_regex::Regex::new(p).unwrap();
        let c = re.captures(hay).unwrap()?;
        Some(
            (0..c.len())
                .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                .collect(),
        )
    }

    #[test]
    fn conditionals_are_distributed_and_agree_with_the_backtracker() {
        let p = r"^F (?P<ci>inv )?(?P<u>(?P<cu>\S+)|(?(<ci>)(?:(?! from ).)*?|[^:]+)) from (?P<h>\d+)(?(<cu>): |(?:(?:(?! from ).)*)$)";
        let l = lin(p);
        assert!(l.checks.len() >= 2, "{l:?}");
        for hay in [
            "F root from 1 port 2",
            "F root from 1: key",
            "F inv a b from 2 x",
            "F inv a from b from 3: x",
            "F a b: c from 4",
            "F a b from 5",
            "F inv x from 6 from 7",
            "F x y",
        ] {
            let got = search(&l, hay);
            let want = fancy(p, hay);
            match got {
                Some(g) => assert_eq!(g, want, "{hay}"),
                // A failed check: the caller asks the backtracker.
                None => assert!(want.is_some() || want.is_none()),
            }
        }
        assert_eq!(
            search(&l, "F root from 1: key"),
            Some(fancy(p, "F root from 1: key"))
        );
    }

    #[test]
    fn a_failed_look_ahead_check_is_reported() {
        // Nothing needs to follow the run: it may stop inside the literal, so the
        // look-ahead stays a check.
        let p = r"^a(?:: (?!Too many)[^\[]+)?";
        let l = lin(p);
        assert_eq!(l.checks.len(), 1);
        assert_eq!(search(&l, "a: fine"), Some(fancy(p, "a: fine")));
        assert_eq!(search(&l, "a: Too many x"), None);
    }

    #[test]
    fn a_look_ahead_before_a_class_run_is_exact_when_the_rest_cannot_continue_it() {
        // sshd's shape: the run is followed by an optional ` [preauth]`, spaces and the end,
        // none of which can go on with a rest of the literal.
        for p in [
            r"^D(?: u (?P<u>\S+|.*?))? (?P<h>\d+)(?:: (?!Too many au)[^\[]+)?(?: \[pre\])?\s*$",
            r"^x(?!ab)\w+\s*$",
            r"^x(?P<a>(?!aa)[a-z]+)(?P<b>[0-9]*)$",
        ] {
            let lin = lin(p);
            // The searched pattern keeps its check; the exact one has none.
            assert_eq!(lin.checks.len(), 1, "{p}");
            let (pattern, groups) = lin.exact.clone().unwrap_or_else(|| panic!("{p}"));
            let l = Linearized {
                pattern,
                groups,
                ..Linearized::empty(lin.names.clone())
            };
            for hay in [
                "D 1: Too many au [pre]",
                "D 1: Too many a [pre]",
                "D 1: Too many auth [pre]",
                "D 1: Too [pre]",
                "D 1: T",
                "D 1: Too many au",
                "D 1: fine [pre]",
                "D u bob 1: Too many au [pre] 2: x",
                "D u a 1: x 2: Too many au",
                "D u a 1: Too many au 2: ok [pre] ",
                "xab",
                "xa",
                "xac ",
                "xb b",
                "xaab1",
                "xa1",
                "xaa1",
                "xaba1",
                "x1",
            ] {
                assert_eq!(search(&l, hay), Some(fancy(p, hay)), "{p} / {hay}");
            }
        }
        // The run may stop inside the literal and the rest go on with it: kept as checks.
        for p in [
            r"^x(?!ab)\w+b",
            r"^x(?!ab)[a-z]+(?:b|c)?$",
            r"^x(?!a b)[^\[]+\s*b",
        ] {
            assert!(lin(p).exact.is_none(), "{p}");
        }
        // A class without every character of the literal, a lazy run: kept as checks.
        for p in [r"^x(?!a:)\w+$", r"^x(?!ab)\w+?$"] {
            assert!(lin(p).exact.is_none(), "{p}");
        }
    }

    #[test]
    fn unsupported_constructs_stay_with_the_backtracker() {
        assert!(linearize(r"(a)\1").is_none());
        assert!(linearize(r"(?<=a)b").is_none());
        assert!(linearize(r"(?!a|b)c").is_none());
        assert!(linearize(r"(?:(?!ab)cd)*").is_none());
    }

    #[test]
    fn checks_read_marker_spans() {
        let hay = b"abc from x";
        assert!(!Check::NoneIn(1, " from ".into()).holds(hay, |_| Some((0, 4))));
        assert!(Check::NoneIn(1, " from ".into()).holds(hay, |_| Some((0, 3))));
        assert!(Check::NotAt(1, "abc".into()).holds(hay, |_| Some((1, 1))));
        assert!(!Check::NotAt(1, "abc".into()).holds(hay, |_| Some((0, 0))));
        assert!(Check::At(1, "abc".into()).holds(hay, |_| None));
    }
}
