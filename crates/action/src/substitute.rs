//! Static tag substitution: an action's properties replace `<tag>`s in its commands.
//!
//! This is fail2ban's `replaceTag` over the action's properties: recursive (a property's value
//! may hold tags), at most 26 passes, `tag?family=X` preferred over `tag` when the family is
//! known, `<br>`, `<sp>`, `<fq-hostname>` and `<sh-hostname>` as fallbacks, unknown tags kept
//! (they are the dynamic tags, such as `<ip>`, filled in at ban time).

use std::collections::HashMap;

use crate::error::{Error, ErrorKind};
use crate::family::Family;
use crate::hostnames::HostNames;
use crate::tags::{pieces, Piece};

/// At most this many passes over a text (fail2ban's limit of 25 replacements plus the first).
const MAX_PASSES: usize = 26;

/// Resolves tags against one action's properties, for one family, remembering resolved values.
pub(crate) struct Substituter<'a> {
    properties: &'a HashMap<String, String>,
    family: Family,
    hosts: &'a HostNames,
    resolved: HashMap<String, String>,
    in_progress: Vec<String>,
}

impl<'a> Substituter<'a> {
    pub(crate) fn new(
        properties: &'a HashMap<String, String>,
        family: Family,
        hosts: &'a HostNames,
    ) -> Substituter<'a> {
        Substituter {
            properties,
            family,
            hosts,
            resolved: HashMap::new(),
            in_progress: Vec::new(),
        }
    }

    /// The fully substituted value of property `name` (its `?family=` variant when there is
    /// one), or `None` when there is no such property.
    pub(crate) fn property(&mut self, name: &str) -> Result<Option<String>, Error> {
        let key = match self.family.condition() {
            Some(cond) if self.properties.contains_key(&format!("{name}{cond}")) => {
                format!("{name}{cond}")
            }
            _ if self.properties.contains_key(name) => name.to_owned(),
            _ => return Ok(None),
        };
        if let Some(v) = self.resolved.get(&key) {
            return Ok(Some(v.clone()));
        }
        if self.in_progress.contains(&key) {
            return Err(Error::new(ErrorKind::SelfReference(name.to_owned())));
        }
        let raw = self.properties.get(&key).cloned().unwrap_or_default();
        self.in_progress.push(key.clone());
        let value = self.text(&raw);
        self.in_progress.pop();
        let value = value?;
        self.resolved.insert(key, value.clone());
        Ok(Some(value))
    }

    /// `text` with every known tag replaced, pass after pass until nothing changes.
    pub(crate) fn text(&mut self, text: &str) -> Result<String, Error> {
        let mut current = text.to_owned();
        for _ in 0..MAX_PASSES {
            let mut next = String::with_capacity(current.len());
            let mut changed = false;
            for piece in pieces(&current) {
                match piece {
                    Piece::Text(t) => next.push_str(t),
                    Piece::Tag(tag) => match self.tag(tag)? {
                        Some(value) => {
                            next.push_str(&value);
                            changed = true;
                        }
                        None => {
                            next.push('<');
                            next.push_str(tag);
                            next.push('>');
                        }
                    },
                }
            }
            if !changed {
                return Ok(next);
            }
            current = next;
        }
        Err(Error::new(ErrorKind::TooDeep(
            current.chars().take(120).collect(),
        )))
    }

    /// The value of one tag: a property, else one of the fallback tags.
    fn tag(&mut self, tag: &str) -> Result<Option<String>, Error> {
        if let Some(v) = self.property(tag)? {
            return Ok(Some(v));
        }
        Ok(match tag {
            "br" => Some("\n".to_owned()),
            "sp" => Some(" ".to_owned()),
            "fq-hostname" => Some(self.hosts.fq().to_owned()),
            "sh-hostname" => Some(self.hosts.short().to_owned()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(list: &[(&str, &str)]) -> HashMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn hosts() -> HostNames {
        HostNames::new("gate.example.org")
    }

    fn subst(list: &[(&str, &str)], family: Family, text: &str) -> Result<String, Error> {
        let p = props(list);
        let h = hosts();
        Substituter::new(&p, family, &h).text(text)
    }

    #[test]
    fn recursive_values() {
        let list = [
            ("iptables", "iptables <lockingopt>"),
            ("lockingopt", "-w"),
            ("chain", "f2b-<name>"),
            ("name", "sshd"),
        ];
        assert_eq!(
            subst(&list, Family::Inet4, "<iptables> -I <chain> -s <ip>").unwrap(),
            "iptables -w -I f2b-sshd -s <ip>"
        );
    }

    #[test]
    fn tags_built_from_tags() {
        let list = [("mode", "normal"), ("mdre-normal", "N"), ("mdre-ddos", "D")];
        assert_eq!(
            subst(&list, Family::Any, "x <mdre-<mode>> y").unwrap(),
            "x N y"
        );
    }

    #[test]
    fn conditional_values_win_for_their_family() {
        let list = [
            ("blocktype", "REJECT"),
            ("blocktype?family=inet6", "REJECT6"),
            ("iptables", "iptables"),
            ("iptables?family=inet6", "ip6tables"),
        ];
        assert_eq!(
            subst(&list, Family::Inet4, "<iptables> -j <blocktype>").unwrap(),
            "iptables -j REJECT"
        );
        assert_eq!(
            subst(&list, Family::Inet6, "<iptables> -j <blocktype>").unwrap(),
            "ip6tables -j REJECT6"
        );
        assert_eq!(
            subst(&list, Family::Any, "<iptables> -j <blocktype>").unwrap(),
            "iptables -j REJECT"
        );
    }

    #[test]
    fn unknown_tags_and_fallbacks() {
        let list = [("sender", "fail2ban")];
        assert_eq!(
            subst(
                &list,
                Family::Any,
                "From: <sendername> <<sender>><br>on <fq-hostname>/<sh-hostname><sp>!"
            )
            .unwrap(),
            "From: <sendername> <fail2ban>\non gate.example.org/gate !"
        );
        // A property overrides a fallback.
        let list = [("br", "BR")];
        assert_eq!(subst(&list, Family::Any, "a<br>b").unwrap(), "aBRb");
    }

    #[test]
    fn self_reference_is_an_error() {
        let err = subst(&[("a", "x <a>")], Family::Any, "<a>").unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::SelfReference(t) if t == "a"),
            "{err}"
        );
        let err = subst(
            &[("a", "<b>"), ("b", "<c>"), ("c", "<a>")],
            Family::Any,
            "<a>",
        )
        .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::SelfReference(_)), "{err}");
    }

    #[test]
    fn endless_growth_is_an_error() {
        // Each pass builds a new tag from the previous one's value.
        // `<x>` gives `<x`, which with the next `>` is `<x>` again: one more pass per `>`.
        let list = [("x", "<x")];
        let text = format!("<x{}", ">".repeat(30));
        let err = subst(&list, Family::Any, &text).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::TooDeep(_)), "{err}");
        let text = format!("<x{}", ">".repeat(10));
        assert_eq!(subst(&list, Family::Any, &text).unwrap(), "<x");
    }

    #[test]
    fn a_value_used_twice_is_resolved_once() {
        let list = [("a", "<b><b>"), ("b", "<c>"), ("c", "z")];
        assert_eq!(subst(&list, Family::Any, "<a>-<b>").unwrap(), "zz-z");
    }
}
