// Shared by the adversarial corpus test and bench (included with `include!`).

/// Every (filter, variant, role, pattern, multiline) of the corpus' expanded filters.
pub fn corpus_patterns(corpus: &std::path::Path) -> Vec<(String, String, bool)> {
    let text = std::fs::read_to_string(corpus.join("reference/filters_expanded.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out: Vec<(String, String, bool)> = Vec::new();
    for (name, f) in v.as_object().unwrap() {
        for var in f["variants"].as_array().into_iter().flatten() {
            let multiline = var["maxlines"].as_u64().is_some_and(|m| m > 1);
            let mut push = |role: &str, p: &serde_json::Value| {
                if let Some(p) = p.as_str() {
                    let key = format!("{name} {role}");
                    if !out.iter().any(|(_, q, _)| q == p) {
                        out.push((key, p.to_owned(), multiline));
                    }
                }
            };
            push("prefregex", &var["prefregex"]);
            for (i, p) in var["failregex"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                push(&format!("failregex#{}", i + 1), p);
            }
            for (i, p) in var["ignoreregex"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                push(&format!("ignoreregex#{}", i + 1), p);
            }
        }
    }
    out
}

/// 100 KB lines built to make backtracking engines slow (plus fail2ban's final newline).
pub fn adversarial_lines() -> Vec<(&'static str, String)> {
    const N: usize = 100_000;
    let rep = |s: &str| {
        let mut l = s.repeat(N / s.len());
        l.push('\n');
        l
    };
    vec![
        ("spaces", rep(" ")),
        ("a-space", rep("a ")),
        ("from-ip", format!("Invalid user x{}", rep(" from 1.2.3.4"))),
        ("ip-space", rep("1.2.3.4 ")),
        ("colons", rep("1:")),
        ("word", rep("a")),
        ("brackets", format!("host sshd[1]: {}", rep("[] "))),
        ("kv", format!("authentication failure; {}", rep("user= "))),
        ("quotes", rep("\"a\" ")),
    ]
}
