//! A failure's named values by field index. A filter's field names (every named group of its
//! regexes, the bases of `alt_`/`tuple_` groups, the names with a meaning of their own) are
//! resolved once when it is built, so each line's groups go to fixed slots: no map, no name
//! compared per failure.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::engine::Regex;

/// A captured value: text, or the tuple built from `<F-TUPLE_X_n>` groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A group's text.
    Text(String),
    /// `(previous value of x, tuple_x_1, tuple_x_2, …)`, as fail2ban builds it.
    Tuple(Vec<Option<String>>),
}

impl Value {
    /// The text, if this is one.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            Value::Tuple(_) => None,
        }
    }

    /// Python's truthiness (an empty text or tuple is false).
    fn truthy(&self) -> bool {
        match self {
            Value::Text(t) => !t.is_empty(),
            Value::Tuple(t) => !t.is_empty(),
        }
    }
}

/// The named values of a failure (every non-empty named group of the prefregex and the
/// failregex, plus the `alt_`/`tuple_` merges), in name order.
#[derive(Clone, Default)]
pub struct Fields {
    names: Arc<[Box<str>]>,
    vals: Vec<Option<Value>>,
}

impl Fields {
    /// The value named `key` (a group name without `F-`, lower case: `user`, `mlfid`...).
    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = self.names.binary_search_by(|n| (**n).cmp(key)).ok()?;
        self.vals.get(i)?.as_ref()
    }

    /// Whether a value is named `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every value with its name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        (self.names.iter().zip(&self.vals)).filter_map(|(n, v)| Some((&**n, v.as_ref()?)))
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.vals.iter().filter(|v| v.is_some()).count()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.vals.iter().all(Option::is_none)
    }

    /// Slot `i`'s text.
    pub(crate) fn text(&self, i: usize) -> Option<&str> {
        self.vals.get(i)?.as_ref()?.as_text()
    }

    /// Slot `i`'s value.
    pub(crate) fn slot(&self, i: usize) -> Option<&Value> {
        self.vals.get(i)?.as_ref()
    }

    /// Whether slot `i` holds a true value (Python truthiness).
    pub(crate) fn flag(&self, i: usize) -> bool {
        self.slot(i).is_some_and(Value::truthy)
    }

    /// Sets slot `i`.
    pub(crate) fn set(&mut self, i: usize, v: Value) {
        if let Some(s) = self.vals.get_mut(i) {
            *s = Some(v);
        }
    }

    /// Empties slot `i`, returning what it held.
    pub(crate) fn take(&mut self, i: usize) -> Option<Value> {
        self.vals.get_mut(i)?.take()
    }

    /// Every value of `other` (same filter) replaces this one's in its slot.
    pub(crate) fn overlay(&mut self, other: Fields) {
        if self.vals.len() != other.vals.len() {
            *self = other;
            return;
        }
        for (mine, theirs) in self.vals.iter_mut().zip(other.vals) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = Value;

    /// The value named `key`; panics when there is none (tests).
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no field {key:?}"),
        }
    }
}

/// Slots of the names the filter's logic reads (always in the table).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Slots {
    pub(crate) fid: usize,
    pub(crate) ip4: usize,
    pub(crate) ip6: usize,
    pub(crate) dns: usize,
    pub(crate) cidr: usize,
    pub(crate) mlfid: usize,
    pub(crate) user: usize,
    pub(crate) nofail: usize,
    pub(crate) mlfforget: usize,
    pub(crate) mlfgained: usize,
}

const SPECIAL: [&str; 10] = [
    "fid",
    "ip4",
    "ip6",
    "dns",
    "cidr",
    "mlfid",
    "user",
    "nofail",
    "mlfforget",
    "mlfgained",
];

/// Where one regex's named groups go: plain slots, then `alt_` and `tuple_` merges.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupPlan {
    /// (group index, slot): a captured group's text replaces the slot's.
    plain: Vec<(usize, usize)>,
    /// (group index, base slot): fills the base when it is missing or empty.
    alts: Vec<(usize, usize)>,
    /// (group index, base slot): appended to the tuple under the base.
    tuples: Vec<(usize, usize)>,
}

/// A filter's field names and each regex's [`GroupPlan`].
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldTable {
    names: Arc<[Box<str>]>,
    /// The prefregex's groups (its content group left out).
    pub(crate) pref: GroupPlan,
    /// Each failregex's groups.
    pub(crate) fail: Vec<GroupPlan>,
    /// The slots the filter's logic reads.
    pub(crate) slots: Slots,
    /// By failregex: where the slots a forgetting hit is judged by come from, when a group
    /// of it or of the prefregex may set `mlfforget` and no `tuple_` group goes to them.
    pub(crate) quiet: Vec<Option<QuietReads>>,
}

/// Where one slot's text comes from in a hit of one failregex, in the order the fields are
/// built ([`GroupPlan::put`] for the prefregex, then [`GroupPlan::merge`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotReads {
    /// Prefregex groups (the last captured one wins).
    pref: Box<[usize]>,
    /// Failregex groups (the last captured one wins, over the prefregex's).
    plain: Box<[usize]>,
    /// `alt_` groups, each filling the slot while it is missing or empty.
    alts: Box<[usize]>,
}

impl SlotReads {
    fn new(pref: &GroupPlan, fail: &GroupPlan, s: usize) -> SlotReads {
        let of = |v: &[(usize, usize)]| v.iter().filter(|p| p.1 == s).map(|p| p.0).collect();
        SlotReads {
            pref: of(&pref.plain),
            plain: of(&fail.plain),
            alts: of(&fail.alts),
        }
    }

    /// The slot's text, from the prefregex's groups by `pref` and the failregex's by `fail`.
    pub(crate) fn text<T: AsRef<str>>(
        &self,
        pref: impl Fn(usize) -> Option<T>,
        fail: impl Fn(usize) -> Option<T>,
    ) -> Option<T> {
        let mut v = self.plain.iter().rev().find_map(|&g| fail(g));
        if v.is_none() {
            v = self.pref.iter().rev().find_map(|&g| pref(g));
        }
        for &g in self.alts.iter() {
            if v.as_ref().is_none_or(|x| x.as_ref().is_empty()) {
                if let Some(x) = fail(g) {
                    v = Some(x);
                }
            }
        }
        v
    }
}

/// The slots deciding whether a hit only makes its multi-line id forgotten.
#[derive(Debug, Clone, Default)]
pub(crate) struct QuietReads {
    /// `mlfforget`.
    pub(crate) forget: SlotReads,
    /// `nofail`.
    pub(crate) nofail: SlotReads,
    /// `mlfgained`.
    pub(crate) gained: SlotReads,
    /// `mlfid`.
    pub(crate) mlfid: SlotReads,
    /// `user`.
    pub(crate) user: SlotReads,
}

impl FieldTable {
    /// Resolves every group name of `pref` (but `content`) and of each failregex.
    pub(crate) fn new<'a>(
        pref: Option<&Regex>,
        fail: impl Iterator<Item = &'a Regex> + Clone,
    ) -> FieldTable {
        let mut all: BTreeSet<String> = SPECIAL.iter().map(|s| (*s).to_owned()).collect();
        if let Some(p) = pref {
            all.extend(p.group_names().map(|(_, n)| n.to_owned()));
        }
        for re in fail.clone() {
            for (_, n) in re.group_names() {
                all.insert(n.to_owned());
                if let Some(b) = n.strip_prefix("alt_").or_else(|| n.strip_prefix("tuple_")) {
                    all.insert(base_name(b).to_owned());
                }
            }
        }
        all.remove("content");
        let names: Arc<[Box<str>]> = all.into_iter().map(String::into_boxed_str).collect();
        let slot = |n: &str| names.binary_search_by(|x| (**x).cmp(n)).ok();
        let pref = GroupPlan {
            plain: pref
                .into_iter()
                .flat_map(|p| p.group_names())
                .filter_map(|(i, n)| Some((i, slot(n)?)))
                .collect(),
            ..GroupPlan::default()
        };
        let fail: Vec<GroupPlan> = fail
            .map(|re| {
                let mut plan = GroupPlan::default();
                for (i, n) in re.group_names() {
                    if let Some(s) = slot(n) {
                        plan.plain.push((i, s));
                    }
                    if let Some(b) = n.strip_prefix("alt_") {
                        plan.alts.extend(slot(base_name(b)).map(|s| (i, s)));
                    } else if let Some(b) = n.strip_prefix("tuple_") {
                        plan.tuples.extend(slot(base_name(b)).map(|s| (i, s)));
                    }
                }
                plan
            })
            .collect();
        let at = |n: &str| slot(n).unwrap_or(usize::MAX);
        let slots = Slots {
            fid: at("fid"),
            ip4: at("ip4"),
            ip6: at("ip6"),
            dns: at("dns"),
            cidr: at("cidr"),
            mlfid: at("mlfid"),
            user: at("user"),
            nofail: at("nofail"),
            mlfforget: at("mlfforget"),
            mlfgained: at("mlfgained"),
        };
        let read = [
            slots.mlfforget,
            slots.nofail,
            slots.mlfgained,
            slots.mlfid,
            slots.user,
        ];
        let quiet = (fail.iter())
            .map(|p| {
                let forgets = p.touches(slots.mlfforget) || pref.touches(slots.mlfforget);
                let tuple = p.tuples.iter().any(|t| read.contains(&t.1));
                (forgets && !tuple).then(|| QuietReads {
                    forget: SlotReads::new(&pref, p, slots.mlfforget),
                    nofail: SlotReads::new(&pref, p, slots.nofail),
                    gained: SlotReads::new(&pref, p, slots.mlfgained),
                    mlfid: SlotReads::new(&pref, p, slots.mlfid),
                    user: SlotReads::new(&pref, p, slots.user),
                })
            })
            .collect();
        FieldTable {
            names,
            pref,
            fail,
            slots,
            quiet,
        }
    }

    /// Empty fields for this filter.
    pub(crate) fn fields(&self) -> Fields {
        Fields {
            names: Arc::clone(&self.names),
            vals: vec![None; self.names.len()],
        }
    }
}

impl GroupPlan {
    /// The prefregex's groups into `fields`: each captured one's text.
    pub(crate) fn put(&self, fields: &mut Fields, group: impl Fn(usize) -> Option<String>) {
        for &(g, s) in &self.plain {
            if let Some(v) = group(g) {
                fields.set(s, Value::Text(v));
            }
        }
    }

    /// Whether a group of this regex goes to slot `s`.
    fn touches(&self, s: usize) -> bool {
        (self.plain.iter().chain(&self.alts).chain(&self.tuples)).any(|&(_, t)| t == s)
    }

    /// A failregex's groups merged into `fields`: captured groups replace, `alt_x[_n]` fills
    /// `x` when missing or empty, `tuple_x[_n]` appends to the tuple under `x`.
    pub(crate) fn merge(&self, fields: &mut Fields, group: impl Fn(usize) -> Option<String>) {
        self.put(fields, &group);
        for &(g, s) in &self.alts {
            let empty = fields.slot(s).is_none_or(|x| x.as_text() == Some(""));
            if let (true, Some(v)) = (empty, group(g)) {
                fields.set(s, Value::Text(v));
            }
        }
        for &(g, s) in &self.tuples {
            let mut t = match fields.take(s) {
                Some(Value::Tuple(t)) => t,
                Some(Value::Text(x)) => vec![Some(x)],
                None => vec![None],
            };
            t.push(group(g));
            fields.set(s, Value::Tuple(t));
        }
    }
}

/// `user_2` → `user`, `user3` → `user3` (a trailing `_<digits>` is an index).
fn base_name(s: &str) -> &str {
    match s.rsplit_once('_') {
        Some((b, n)) if !b.is_empty() && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            b
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::PyFlags;

    fn re(p: &str) -> Regex {
        Regex::new(p, PyFlags::default()).unwrap()
    }

    #[test]
    fn groups_land_in_name_order_with_alt_and_tuple_merges() {
        let f = re(r"(?P<user>\w*) (?P<alt_user_1>\w+) (?P<tuple_k>\w+) (?P<tuple_k_2>\w+)?");
        let t = FieldTable::new(None, [&f].into_iter());
        let mut fields = t.fields();
        let texts = [None, Some(""), Some("ann"), Some("p"), None];
        t.fail[0].merge(&mut fields, |i| {
            texts.get(i).copied().flatten().map(str::to_owned)
        });
        let got: Vec<(&str, &Value)> = fields.iter().collect();
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            got,
            [
                ("alt_user_1", &text("ann")),
                ("k", &Value::Tuple(vec![None, Some("p".into()), None])),
                ("tuple_k", &text("p")),
                ("user", &text("ann")),
            ]
        );
        // The slots read without building the fields give the same texts.
        let user = SlotReads::new(&GroupPlan::default(), &t.fail[0], t.slots.user);
        let group = |i: usize| texts.get(i).copied().flatten();
        assert_eq!(user.text(|_| None, group), Some("ann"));
        let pref = GroupPlan {
            plain: vec![(7, t.slots.user), (8, t.slots.user)],
            ..GroupPlan::default()
        };
        let pref_texts = |i: usize| (i == 7).then_some("pre");
        let only_pref = SlotReads::new(&pref, &GroupPlan::default(), t.slots.user);
        assert_eq!(only_pref.text(pref_texts, group), Some("pre"));
        // A captured failregex group wins over the prefregex's; an empty one is then filled
        // by the alt group.
        let both = SlotReads::new(&pref, &t.fail[0], t.slots.user);
        assert_eq!(both.text(pref_texts, group), Some("ann"));
        assert_eq!(fields.get("user3"), None);
        assert!(fields.contains_key("tuple_k") && fields.len() == 4);
        assert_eq!(
            t.slots.user,
            t.names.iter().position(|n| &**n == "user").unwrap()
        );
    }
}
