//! Dynamic tag substitution: a ticket's values go into a command at ban time.
//!
//! Unlike the static pass, this is a single, non-recursive pass. Values fall in two classes:
//!
//! - **typed** values jailor produced or validated itself (the address, its family and
//!   reversed form, numbers, `0`/`1`) are written into the script;
//! - **text** (matched lines, `<F-*>` groups, raw ids, DNS names, the jail name, the raw
//!   ticket) never is: the tag becomes an expansion of an environment variable `f2bV_<tag>`
//!   set for that one process, written for the quoting around the tag (see
//!   the `shell_context` module). Shell metacharacters in log text are inert.
//!
//! fail2ban inlines text that has no metacharacters and escapes the rest the same way; jailor
//! uses the variable for all text, so the safety does not depend on a character list.

use std::collections::HashMap;

use crate::family::Family;
use crate::shell_context::{Quoting, ShellContext};
use crate::tags::{pieces, Piece};
use crate::ticket::{python_float, BanContext, Resolver, Ticket};

/// The kernel refuses a single environment string longer than 128 KiB (`MAX_ARG_STRLEN`).
const MAX_ENV_STRING: usize = 128 * 1024 - 1;

/// A tag's value at execution time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// Produced or validated by jailor: safe to write into the script.
    Typed(String),
    /// Anything else: passed as an environment variable.
    Text(String),
}

/// A script ready to run, with the variables it expands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub(crate) script: String,
    pub(crate) env: Vec<(String, String)>,
}

/// Replaces the tags `lookup` knows in `template` (one pass; unknown tags stay).
pub(crate) fn render(template: &str, mut lookup: impl FnMut(&str) -> Option<Value>) -> Rendered {
    let mut out = Rendered {
        script: String::with_capacity(template.len()),
        env: Vec::new(),
    };
    // Tag → variable name, so a tag used twice is one variable.
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut shell = ShellContext::default();
    for piece in pieces(template) {
        match piece {
            Piece::Text(t) => {
                out.script.push_str(t);
                shell.feed(t);
            }
            Piece::Tag(tag) => match lookup(tag) {
                None => {
                    out.script.push('<');
                    out.script.push_str(tag);
                    out.script.push('>');
                    shell.feed_word();
                }
                Some(Value::Typed(v)) => {
                    out.script.push_str(&v);
                    shell.feed_word();
                }
                Some(Value::Text(v)) => {
                    let name = match vars.get(tag) {
                        Some(name) => name.clone(),
                        None => {
                            let name = variable_name(tag, vars.len());
                            out.env.push((name.clone(), env_safe(&name, v)));
                            vars.insert(tag.to_owned(), name.clone());
                            name
                        }
                    };
                    match shell.quoting() {
                        Quoting::None => out.script.push_str(&format!("\"${{{name}}}\"")),
                        Quoting::Double => out.script.push_str(&format!("${{{name}}}")),
                        Quoting::Single => out.script.push_str(&format!("'\"${{{name}}}\"'")),
                    }
                    shell.feed_word();
                }
            },
        }
    }
    out
}

/// `f2bV_` and the tag with every character other than ASCII letters and digits as `_`,
/// numbered so that two tags never share a variable (`F-A-B` and `F-A_B`).
fn variable_name(tag: &str, index: usize) -> String {
    let clean: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("f2bV_{index}_{clean}")
}

/// A value the kernel accepts in an environment: no NUL, not longer than its limit.
fn env_safe(name: &str, value: String) -> String {
    let mut value = if value.contains('\0') {
        value.replace('\0', "\u{fffd}")
    } else {
        value
    };
    let max = MAX_ENV_STRING.saturating_sub(name.len() + 1);
    if value.len() > max {
        let mut cut = max;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value.truncate(cut);
    }
    value
}

/// The tags of commands that are not about a ticket (start, stop, flush, check, repair,
/// reload): `<family>` and `<time>`.
pub(crate) fn basic_value(tag: &str, family: Family, now: f64) -> Option<Value> {
    match tag {
        "family" => Some(Value::Typed(family.as_str().to_owned())),
        "time" => Some(Value::Typed(python_float(now))),
        _ => None,
    }
}

/// The tags of a per-ticket command.
pub(crate) struct TicketValues<'a> {
    pub(crate) ticket: &'a Ticket,
    pub(crate) context: &'a BanContext<'a>,
    pub(crate) resolver: Option<&'a dyn Resolver>,
}

impl TicketValues<'_> {
    pub(crate) fn value(&self, tag: &str) -> Option<Value> {
        let t = self.ticket;
        let typed = |s: String| Some(Value::Typed(s));
        let text = |s: String| Some(Value::Text(s));
        let jail = self.context.jail;
        match tag {
            "ip" => typed(t.address.to_string()),
            "family" => typed(t.address.family().as_str().to_owned()),
            "ip-rev" => typed(t.address.reversed()),
            "ip-host" => text(
                self.resolver
                    .and_then(|r| r.reverse(t.address.ip()))
                    .unwrap_or_default(),
            ),
            "fid" => match &t.fid {
                Some(fid) => text(fid.clone()),
                None => typed(t.address.to_string()),
            },
            "failures" => typed(t.failures.to_string()),
            "time" => typed(python_float(t.time)),
            "bantime" => typed(t.bantime.to_string()),
            "bancount" => typed(t.bancount.to_string()),
            "restored" => typed(u8::from(t.restored).to_string()),
            "matches" => text(t.matches.join("\n")),
            "raw-ticket" => text(t.to_string()),
            "ipmatches" | "ipjailmatches" => {
                let scope = (tag == "ipjailmatches").then_some(jail.name.as_str());
                let lines = self
                    .context
                    .history
                    .map(|h| h.matches(&t.address, scope))
                    .unwrap_or_default();
                text(lines.join("\n"))
            }
            "ipfailures" | "ipjailfailures" => {
                let scope = (tag == "ipjailfailures").then_some(jail.name.as_str());
                let n = self
                    .context
                    .history
                    .map(|h| h.failures(&t.address, scope))
                    .unwrap_or(0);
                typed(n.to_string())
            }
            "jail.name" => text(jail.name.clone()),
            "jail.banned" => typed(jail.banned.to_string()),
            "jail.banned_total" => typed(jail.banned_total.to_string()),
            "jail.found" => typed(jail.found.to_string()),
            "jail.found_total" => typed(jail.found_total.to_string()),
            _ => {
                let name = tag.strip_prefix("F-")?;
                let key = match name {
                    "ID" => "fid".to_owned(),
                    "PORT" => "fport".to_owned(),
                    other => other.to_lowercase(),
                };
                match t.data.get(&key) {
                    Some(v) => text(v.clone()),
                    // A missing group is an empty string, as in fail2ban.
                    None => typed(String::new()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_lookup(tag: &str) -> Option<Value> {
        match tag {
            "m" => Some(Value::Text("$(id)".into())),
            "ip" => Some(Value::Typed("1.2.3.4".into())),
            _ => None,
        }
    }

    #[test]
    fn typed_values_are_inlined_text_becomes_variables() {
        let r = render("ban <ip> <m> '<m>' \"x <m>\" <unknown>", text_lookup);
        assert_eq!(
            r.script,
            "ban 1.2.3.4 \"${f2bV_0_m}\" ''\"${f2bV_0_m}\"'' \"x ${f2bV_0_m}\" <unknown>"
        );
        assert_eq!(r.env, vec![("f2bV_0_m".to_owned(), "$(id)".to_owned())]);
    }

    #[test]
    fn not_recursive() {
        let r = render("<a>", |t| (t == "a").then(|| Value::Typed("<a>".into())));
        assert_eq!(r.script, "<a>");
    }

    #[test]
    fn variable_names_are_distinct_and_valid() {
        let r = render("<F-A-B> <F-A_B>", |t| Some(Value::Text(t.to_owned())));
        assert_eq!(r.env[0].0, "f2bV_0_F_A_B");
        assert_eq!(r.env[1].0, "f2bV_1_F_A_B");
    }

    #[test]
    fn env_values_are_made_acceptable() {
        assert_eq!(env_safe("v", "a\0b".into()), "a\u{fffd}b");
        let long = "é".repeat(100_000);
        let cut = env_safe("v", long);
        assert!(cut.len() <= MAX_ENV_STRING);
    }
}
