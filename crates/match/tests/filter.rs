//! fail2ban's line-processing semantics through `Filter`.

use std::sync::Arc;

use jailor_match::{ErrorKind, FailureId, Filter, FilterOptions, RegexRole, UseDns, Value};

fn filter(fail: &[&str]) -> FilterOptions {
    FilterOptions {
        failregex: fail.iter().map(|s| s.to_string()).collect(),
        usedns: UseDns::No,
        ..FilterOptions::default()
    }
}

fn ids(f: &mut Filter, line: &str) -> Vec<String> {
    f.process("", "", line, 0.0)
        .into_iter()
        .map(|x| x.id.to_string())
        .collect()
}

#[test]
fn prefregex_content_and_first_match() {
    let mut o = filter(&[
        r"^Failed \S+ for (?:invalid user )?<F-USER>\S+</F-USER> from <HOST>",
        r"^Invalid user <F-USER>\S+</F-USER> from <HOST>",
    ]);
    o.prefregex = Some(r"^ host sshd\[\d+\]: <F-CONTENT>.+</F-CONTENT>$".into());
    let mut f = Filter::new(o).unwrap();
    let r = f.process(
        "",
        "Jan  1 10:00:00",
        " host sshd[7]: Failed password for bob from 192.0.2.4 port 22",
        5.0,
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].id, FailureId::Addr("192.0.2.4".parse().unwrap()));
    assert_eq!(r[0].user.as_deref(), Some("bob"));
    assert_eq!(r[0].time, 5.0);
    assert_eq!(r[0].regex_index, 0);
    assert_eq!(
        *r[0].matches,
        vec![
            "Jan  1 10:00:00 host sshd[7]: Failed password for bob from 192.0.2.4 port 22"
                .to_string()
        ]
    );
    // The prefregex must match; the content is what the failregexes see (`^`).
    assert!(f
        .process("", "", " host other[7]: Invalid user x from 192.0.2.4", 0.0)
        .is_empty());
    let r = f.process("", "", " host sshd[7]: Invalid user x from 192.0.2.5", 0.0);
    assert_eq!(
        (r[0].regex_index, r[0].id.to_string()),
        (1, "192.0.2.5".into())
    );
}

#[test]
fn check_all_reports_every_matching_regex() {
    let mut o = filter(&[r"from <ADDR>", r"for \S+ from <ADDR>"]);
    let mut f = Filter::new(o.clone()).unwrap();
    assert_eq!(f.process("", "", "x for y from 10.0.0.1", 0.0).len(), 1);
    o.check_all = true;
    let mut f = Filter::new(o).unwrap();
    let r = f.process("", "", "x for y from 10.0.0.1", 0.0);
    assert_eq!(
        r.iter().map(|x| x.regex_index).collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[test]
fn errors_name_the_regex() {
    let e = Filter::new(filter(&["ok <HOST>", "no id here"])).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoFailureId("no id here".into()));
    assert!(e.to_string().contains("failregex #1"), "{e}");
    assert!(e
        .to_string()
        .starts_with("failregex #1 'no id here': No failure-id group in 'no id here'"));
    let e = Filter::new(filter(&["  "])).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::EmptyRegex);
    let e = Filter::new(filter(&["<HOST>", "(<HOST>"])).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Syntax { .. }));
    assert!(e.to_string().contains("failregex #1 '(<HOST>'"), "{e}");
    // An id group in the prefregex is enough.
    let mut o = filter(&["tail"]);
    o.prefregex = Some("^<F-ID>\\w+</F-ID> <F-CONTENT>.+</F-CONTENT>$".into());
    let mut f = Filter::new(o).unwrap();
    assert_eq!(ids(&mut f, "abc tail"), vec!["abc"]);
}

#[test]
fn many_failregexes_compile_on_two_threads_with_errors_in_order() {
    // Ten failregexes: #4 to #9 compile on a helper thread; the error reported is
    // still the first in order, the prefregex's before any failregex's.
    let mut pats: Vec<String> = (0..10).map(|i| format!("^r{i} <HOST>$")).collect();
    pats[3] = "no id here".into();
    pats[7] = "(<HOST>".into();
    let refs: Vec<&str> = pats.iter().map(String::as_str).collect();
    let e = Filter::new(filter(&refs)).unwrap_err();
    assert!(
        e.to_string().starts_with("failregex #3 'no id here'"),
        "{e}"
    );
    pats[3] = "^r3 <HOST>$".into();
    let refs: Vec<&str> = pats.iter().map(String::as_str).collect();
    let e = Filter::new(filter(&refs)).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Syntax { .. }));
    assert!(e.to_string().contains("failregex #7 '(<HOST>'"), "{e}");
    let mut o = filter(&refs);
    o.prefregex = Some("(".into());
    let e = Filter::new(o).unwrap_err();
    assert!(e.to_string().contains("prefregex #0"), "{e}");
    // All valid: each line goes to its own failregex, in order.
    pats[7] = "^r7 <HOST>$".into();
    let refs: Vec<&str> = pats.iter().map(String::as_str).collect();
    let mut f = Filter::new(filter(&refs)).unwrap();
    for i in 0..10 {
        let out = f.process("", "", &format!("r{i} 10.0.0.{i}"), 0.0);
        assert_eq!(out.len(), 1, "r{i}");
        assert_eq!(out[0].regex_index, i);
    }
}

#[test]
fn ignoreregex_first_when_fewer_and_on_matched_lines() {
    // 1 ignoreregex < 4 failregexes - 2: tested on the whole buffer first.
    let mut o = filter(&["a <ADDR>", "b <ADDR>", "c <ADDR>", "d <ADDR>"]);
    o.ignoreregex = vec!["trusted".into()];
    let mut f = Filter::new(o).unwrap();
    assert_eq!(ids(&mut f, "a 10.0.0.1 trusted"), Vec::<String>::new());
    assert_eq!(ids(&mut f, "a 10.0.0.1"), vec!["10.0.0.1"]);
    assert_eq!(f.stats().ignored, 1);
    // Otherwise after a match, and the next failregex is tried.
    let mut o = filter(&["^x <ADDR> (?!y)", "^x <ADDR>"]);
    o.ignoreregex = vec!["skip".into()];
    o.check_all = false;
    let mut f = Filter::new(o).unwrap();
    assert!(f.process("", "", "x 10.0.0.2 skip", 0.0).is_empty());
    assert_eq!(f.process("", "", "x 10.0.0.2 z", 0.0)[0].regex_index, 0);
}

#[test]
fn addresses_cidr_mapped_and_raw_ids() {
    let mut f = Filter::new(filter(&[
        r"^h <HOST>$",
        r"^s <SUBNET>$",
        r"^i <F-ID/> <ADDR>$",
        r"^r <F-ID/>$",
    ]))
    .unwrap();
    assert_eq!(ids(&mut f, "h ::ffff:192.0.2.9"), vec!["192.0.2.9"]);
    assert_eq!(ids(&mut f, "h [2001:db8::1]"), vec!["2001:db8::1"]);
    assert_eq!(ids(&mut f, "s 192.0.2.9/24"), vec!["192.0.2.0/24"]);
    assert_eq!(ids(&mut f, "s 2001:db8::7/64"), vec!["2001:db8::/64"]);
    assert_eq!(ids(&mut f, "r session-42"), vec!["session-42"]);
    let r = f.process("", "", "i sess 10.1.1.1", 0.0);
    assert_eq!(r[0].id, FailureId::Raw("sess".into()));
    assert_eq!(r[0].ip, Some(FailureId::Addr("10.1.1.1".parse().unwrap())));
    assert_eq!(r[0].fid.as_deref(), Some("sess"));
    // usedns=no: <HOST> never captures a name, so an injected name gives nothing.
    assert!(ids(&mut f, "h evil.example.org").is_empty());
}

#[test]
fn usedns_raw_yes_and_pluggable_resolution() {
    let mut o = filter(&[r"^h <HOST>$"]);
    o.usedns = UseDns::Raw;
    let mut f = Filter::new(o.clone()).unwrap();
    assert_eq!(ids(&mut f, "h box.example"), vec!["box.example"]);
    o.usedns = UseDns::Yes;
    let mut f = Filter::new(o).unwrap();
    assert!(
        ids(&mut f, "h box.example").is_empty(),
        "no resolver: no resolution"
    );
    f.set_resolver(Arc::new(|name: &str| {
        if name == "box.example" {
            vec!["192.0.2.1".parse().unwrap(), "2001:db8::2".parse().unwrap()]
        } else {
            vec![]
        }
    }));
    assert_eq!(
        ids(&mut f, "h box.example"),
        vec!["192.0.2.1", "2001:db8::2"]
    );
    assert_eq!(ids(&mut f, "h 192.0.2.3"), vec!["192.0.2.3"]);
}

#[test]
fn alt_and_tuple_groups_merge() {
    let mut f = Filter::new(filter(&[
        r"^x (?:u=<F-USER>\S+</F-USER>|a=<F-ALT_USER>\S+</F-ALT_USER>|b=<F-ALT_USER_2>\S+</F-ALT_USER_2>|c=<F-ALT_USER3>\S+</F-ALT_USER3>) (?:<F-TUPLE_K_1>\w+</F-TUPLE_K_1>|-):<F-TUPLE_K_2>\w+</F-TUPLE_K_2> <ADDR> <F-FOO>\w+</F-FOO>$",
    ]))
    .unwrap();
    let user = |f: &mut Filter, l: &str| f.process("", "", l, 0.0)[0].user.clone();
    assert_eq!(
        user(&mut f, "x u=bob p:q 1.2.3.4 zz").as_deref(),
        Some("bob")
    );
    assert_eq!(user(&mut f, "x a=al p:q 1.2.3.4 zz").as_deref(), Some("al"));
    assert_eq!(user(&mut f, "x b=bb p:q 1.2.3.4 zz").as_deref(), Some("bb"));
    let r = f.process("", "", "x c=cc -:q 1.2.3.4 zz", 0.0);
    assert_eq!(r[0].user, None);
    assert_eq!(r[0].fields["user3"], Value::Text("cc".into()));
    assert_eq!(r[0].fields["foo"], Value::Text("zz".into()));
    assert_eq!(
        r[0].fields["k"],
        Value::Tuple(vec![None, None, Some("q".into())])
    );
}

#[test]
fn nofail_without_mlfid_is_flagged() {
    let mut f = Filter::new(filter(&[r"^nf <F-NOFAIL>x</F-NOFAIL> <ADDR>$"])).unwrap();
    let r = f.process("", "", "nf x 10.0.0.9", 0.0);
    assert!(r[0].nofail);
}

fn mlf() -> Filter {
    Filter::new(filter(&[
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: <F-NOFAIL>connect</F-NOFAIL> from <ADDR>$",
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: user <F-USER>\w+</F-USER> <F-MLFGAINED>ok</F-MLFGAINED>$",
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: user <F-USER>\w+</F-USER> <F-NOFAIL>try</F-NOFAIL>$",
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: auth failed$",
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: <F-MLFFORGET>bye</F-MLFFORGET>$",
    ]))
    .unwrap()
}

#[test]
fn mlfid_nofail_then_failure() {
    let mut f = mlf();
    // Remembered (user, address) but not a failure.
    assert!(f.process("", "", "c[1]: user bob try", 0.0).is_empty());
    assert!(f
        .process("", "", "c[1]: connect from 192.0.2.1", 0.0)
        .is_empty());
    let r = f.process("", "", "c[1]: auth failed", 1.0);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].id.to_string(), "192.0.2.1");
    assert_eq!(r[0].user.as_deref(), Some("bob"));
    assert!(!r[0].nofail);
    // Earlier information lines come first in the matches.
    assert_eq!(
        r[0].matches.last().map(String::as_str),
        Some("c[1]: auth failed")
    );
    assert_eq!(
        *r[0].matches,
        vec![
            "c[1]: user bob try",
            "c[1]: connect from 192.0.2.1",
            "c[1]: auth failed"
        ]
    );
}

#[test]
fn failures_without_their_lines_are_otherwise_the_same() {
    let lines = [
        "c[1]: user bob try",
        "c[1]: connect from 192.0.2.1",
        "c[2]: connect from 192.0.2.2",
        "c[1]: auth failed",
        "c[2]: user ann ok",
        "c[2]: auth failed",
        "c[2]: bye",
    ];
    let (mut keep, mut lean) = (mlf(), mlf());
    lean.set_keep_matches(false);
    let mut found = 0;
    for (t, l) in lines.iter().enumerate() {
        let a = keep.process("", "", l, t as f64);
        let mut b = lean.process("", "", l, t as f64);
        assert!(b.iter().all(|f| f.matches.is_empty()), "{l}");
        for (x, y) in a.iter().zip(&mut b) {
            assert!(!x.matches.is_empty());
            y.matches = x.matches.clone();
        }
        assert_eq!(a, b, "{l}");
        found += a.len();
    }
    assert!(found >= 2);
}

#[test]
fn a_full_mlfid_cache_drops_its_first_stored_entry_among_equal_times() {
    let mut f = mlf();
    // 101 ids at the same time: the cache holds 100, so the first stored one goes.
    for i in 0..=100 {
        let line = format!("c[{i}]: connect from 192.0.2.{}", i % 250 + 1);
        assert!(f.process("", "", &line, 5.0).is_empty());
    }
    let r = f.process("", "", "c[1]: auth failed", 5.0);
    assert_eq!(ids_of(&r), ["192.0.2.2"]);
    let r = f.process("", "", "c[100]: auth failed", 5.0);
    assert_eq!(ids_of(&r), ["192.0.2.101"]);
    // c[0] was dropped: its failure waits for an address.
    assert!(f.process("", "", "c[0]: auth failed", 5.0).is_empty());
}

fn ids_of(r: &[jailor_match::Failure]) -> Vec<String> {
    r.iter().map(|x| x.id.to_string()).collect()
}

#[test]
fn mlfid_pending_failure_counts_when_id_appears() {
    let mut f = mlf();
    assert!(f.process("", "", "c[2]: auth failed", 0.0).is_empty());
    let r = f.process("", "", "c[2]: connect from 192.0.2.2", 0.0);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].id.to_string(), "192.0.2.2");
    assert_eq!(
        *r[0].matches,
        vec!["c[2]: auth failed", "c[2]: connect from 192.0.2.2"]
    );
}

#[test]
fn mlfid_multiple_users_clear_nofail() {
    let mut f = mlf();
    assert!(f
        .process("", "", "c[3]: connect from 192.0.2.3", 0.0)
        .is_empty());
    assert!(f.process("", "", "c[3]: user bob try", 0.0).is_empty());
    let r = f.process("", "", "c[3]: user al try", 0.0);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].users, vec!["al", "bob"]);
}

#[test]
fn mlfgained_resets_pending_and_mlfforget_drops_the_entry() {
    let mut f = mlf();
    assert!(f.process("", "", "c[4]: auth failed", 0.0).is_empty());
    // Success: the pending failure is forgotten, nothing is counted.
    assert!(f.process("", "", "c[4]: user bob ok", 0.0).is_empty());
    assert!(f
        .process("", "", "c[4]: connect from 192.0.2.4", 0.0)
        .is_empty());
    // Forget: a later failure for the same id has no address any more.
    f.process("", "", "c[4]: bye", 0.0);
    assert!(f.process("", "", "c[4]: auth failed", 0.0).is_empty());
    assert_eq!(
        ids(&mut f, "c[4]: connect from 192.0.2.5"),
        vec!["192.0.2.5"]
    );
}

fn mlf_closing() -> Filter {
    Filter::new(filter(&[
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: user <F-USER>\w+</F-USER> <F-NOFAIL>try</F-NOFAIL>$",
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: auth failed$",
        r"^c\[<F-MLFID>\d+</F-MLFID>\]: <F-MLFFORGET>closed</F-MLFFORGET>(?: user <F-USER>\w+</F-USER>)? by <ADDR> <F-NOFAIL>preauth</F-NOFAIL>$",
    ]))
    .unwrap()
}

#[test]
fn a_closing_nofail_line_forgets_quietly_unless_pending_or_a_second_user() {
    let mut f = mlf_closing();
    // No entry: nothing.
    assert!(f
        .process("", "", "c[8]: closed by 192.0.2.8 preauth", 0.0)
        .is_empty());
    // A pending failure is counted against the closing line's address, then forgotten.
    assert!(f.process("", "", "c[5]: auth failed", 0.0).is_empty());
    let r = f.process("", "", "c[5]: closed by 192.0.2.5 preauth", 0.0);
    assert_eq!(ids_of(&r), ["192.0.2.5"]);
    assert!(f.process("", "", "c[5]: auth failed", 0.0).is_empty());
    // A second user makes a failure.
    assert!(f.process("", "", "c[6]: user bob try", 0.0).is_empty());
    let r = f.process("", "", "c[6]: closed user al by 192.0.2.6 preauth", 0.0);
    assert_eq!(ids_of(&r), ["192.0.2.6"]);
    assert_eq!(r[0].users, vec!["al", "bob"]);
    // The same user: nothing, and the entry (with its address) is gone.
    assert!(f.process("", "", "c[7]: user bob try", 0.0).is_empty());
    assert!(f
        .process("", "", "c[7]: closed user bob by 192.0.2.7 preauth", 0.0)
        .is_empty());
    assert!(f.process("", "", "c[7]: auth failed", 0.0).is_empty());
    // An entry older than the cache's time to live counts as none.
    assert!(f.process("", "", "c[9]: auth failed", 0.0).is_empty());
    assert!(f
        .process("", "", "c[9]: closed by 192.0.2.9 preauth", 1000.0)
        .is_empty());
}

#[test]
fn multi_line_buffer_cuts_dates_and_consumes_matched_lines() {
    let mut o = filter(&[r"^ login <F-USER>\w+</F-USER>\n denied <ADDR>$"]);
    o.maxlines = 3;
    let mut f = Filter::new(o).unwrap();
    assert!(f.process("", "10:00:01", " login bob", 1.0).is_empty());
    let r = f.process("", "10:00:02", " denied 10.0.0.1", 2.0);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].user.as_deref(), Some("bob"));
    assert_eq!(
        *r[0].matches,
        vec!["10:00:01 login bob", "10:00:02 denied 10.0.0.1"]
    );
    // Matched lines left the buffer: the same "denied" line alone does not match again.
    assert!(f
        .process("", "10:00:03", " denied 10.0.0.1", 3.0)
        .is_empty());
}

#[test]
fn skiplines_are_returned_to_the_buffer() {
    let mut o = filter(&[r"^ a <F-ID>\w+</F-ID><SKIPLINES> z <ADDR>$"]);
    o.maxlines = 4;
    let mut f = Filter::new(o).unwrap();
    f.process("", "", " a s1", 0.0);
    f.process("", "", " noise", 0.0);
    let r = f.process("", "", " z 10.0.0.3", 0.0);
    assert_eq!(r.len(), 1);
    assert_eq!(*r[0].matches, vec![" a s1", " z 10.0.0.3"]);
    assert_eq!(r[0].id, FailureId::Raw("s1".into()));
}

#[test]
fn long_lines_are_cut_and_counted() {
    let mut o = filter(&[r"from <ADDR>"]);
    o.line_cap = 1024;
    let mut f = Filter::new(o).unwrap();
    let long = format!("{} from 10.0.0.1", "é".repeat(600));
    assert!(
        f.process("", "", &long, 0.0).is_empty(),
        "the address was past the cap"
    );
    assert_eq!(f.stats().cut_lines, 1);
    assert_eq!(ids(&mut f, "x from 10.0.0.1"), vec!["10.0.0.1"]);
    assert_eq!(f.stats().lines, 2);
}

#[test]
fn regexes_lists_every_role_in_order_with_its_engine() {
    let mut o = filter(&[
        r"^Failed for <HOST>",
        // A back-reference needs the backtracking engine.
        r"^(?P<w>\w+) \1 from <HOST>",
    ]);
    o.prefregex = Some(r"^sshd: <F-CONTENT>.+</F-CONTENT>$".into());
    o.ignoreregex = vec![r"^Failed for 192\.0\.2\.1$".into()];
    let f = Filter::new(o).unwrap();
    let got: Vec<(String, usize, bool)> = f
        .regexes()
        .map(|(role, i, re)| (role.to_string(), i, re.is_linear()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("prefregex".to_string(), 0, true),
            ("failregex".to_string(), 0, true),
            ("failregex".to_string(), 1, false),
            ("ignoreregex".to_string(), 0, true),
        ]
    );
    let (role, _, re) = f.regexes().nth(1).unwrap();
    assert_eq!(role, RegexRole::Failregex);
    // The pattern as compiled: tags expanded.
    assert!(re.as_python().starts_with("^Failed for "));
    assert!(!re.as_python().contains("<HOST>"));
}
