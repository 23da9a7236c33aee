//! fail2ban-client's human output (its "beautifier") and jailor's `--json` output.

use std::fmt::Write as _;

use crate::request::{JailQuery, JailSetting, Request, ServerOption};
use crate::response::{
    BanEntry, Failure, FleetStatus, JailStats, JailStatus, LogSource, Response, ServerStatus,
};

/// fail2ban-client's text for `response` to `request`, without a final newline.
///
/// Failures render as their message; the caller prints them and exits with 255.
pub fn render(request: &Request, response: &Response) -> String {
    if let Response::Error(Failure { message, .. }) = response {
        return message.clone();
    }
    match (request, response) {
        (Request::Ping, _) => "Server replied: pong".into(),
        (Request::Echo { .. }, Response::List(words)) => words.join(" "),
        (Request::Stop, _) => "Shutdown successful".into(),
        (Request::Reload { .. } | Request::Restart { .. }, Response::Done) => "OK".into(),
        (Request::StartJail { .. }, _) => "Jail started".into(),
        (Request::StopJail { .. }, _) => "Jail stopped".into(),
        (Request::AddJail { jail, .. }, _) => format!("Added jail {jail}"),
        (Request::FlushLogs, Response::Text(t)) => format!("logs: {t}"),
        (Request::Status { .. }, Response::ServerStatus(s)) => server_status(s, None),
        (Request::Status { .. }, Response::AllStatus { server, jails }) => {
            server_status(server, Some(jails))
        }
        (_, Response::JailStatus(j)) => {
            let mut out = format!("Status for the jail: {}\n", j.jail);
            jail_status(&mut out, j, "");
            trim_newline(out)
        }
        (_, Response::Stats(rows)) => stats_table(rows),
        (_, Response::FleetStatus(f)) => fleet_status(f.as_ref()),
        (_, Response::Banned(jails)) => {
            let items: Vec<String> = jails
                .iter()
                .map(|j| format!("{{{}: {}}}", py_str(&j.jail), py_list(&j.ips)))
                .collect();
            format!("[{}]", items.join(", "))
        }
        (_, Response::BannedBy(lists)) => {
            let items: Vec<String> = lists.iter().map(|l| py_list(l)).collect();
            format!("[{}]", items.join(", "))
        }
        (_, Response::BanTimes(entries)) => ban_times(entries),
        (Request::GetServer { option }, _) => server_option(*option, response),
        (Request::SetServer { setting }, _) => server_option(setting.option(), response),
        (Request::GetJail { jail, query }, _) => jail_query(jail, query, response),
        (Request::SetJail { jail, setting }, _) => jail_setting(jail, setting, response),
        _ => value(response),
    }
}

/// The `--json` output of one command: a stable envelope around the typed response.
///
/// Success: `{"ok": true, "command": [words], "response": {"type": ..., "data": ...}}`.
/// Failure: `{"ok": false, "command": [words], "error": {"kind": ..., "message": ...}}`.
/// The shapes of `type`/`data` are documented in `crates/proto/PROTOCOL.md`.
pub fn json(words: &[String], response: &Response) -> serde_json::Value {
    match response {
        Response::Error(failure) => serde_json::json!({
            "ok": false,
            "command": words,
            "error": failure,
        }),
        other => serde_json::json!({
            "ok": true,
            "command": words,
            "response": other,
        }),
    }
}

/// The `--json` output of a failure that never reached the daemon (bad words, no daemon).
pub fn json_error(words: &[String], kind: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "ok": false,
        "command": words,
        "error": {"kind": kind, "message": message},
    })
}

fn trim_newline(mut s: String) -> String {
    while s.ends_with('\n') {
        s.pop();
    }
    s
}

/// `status --fleet` in the tree layout of `status`.
fn fleet_status(f: Option<&FleetStatus>) -> String {
    let Some(f) = f else {
        return "Fleet bans are off (no engine in [Fleet])".into();
    };
    let r = &f.rejected;
    let connected = if f.connected { "yes" } else { "no" };
    format!(
        "Fleet status\n\
         |- Engine:\t{} (origin {})\n\
         |- Connected:\t{connected}\n\
         |- Outbox:\t{}\n\
         |- Published:\t{}\n\
         |- Received:\t{}\n\
         |- Applied:\t{}\n\
         `- Rejected:\t{} (origin {}, allowlist {}, prefix {}, signature {}, ratelimit {}, invalid {})",
        f.engine,
        f.origin,
        f.outbox,
        f.published,
        f.received,
        f.applied,
        r.total,
        r.origin,
        r.allowlist,
        r.prefix,
        r.signature,
        r.ratelimit,
        r.invalid
    )
}

fn server_status(s: &ServerStatus, jails: Option<&Vec<JailStatus>>) -> String {
    let mut out = String::from("Status\n");
    let _ = writeln!(out, "|- Number of jail:\t{}", s.jails.len());
    let last = if jails.is_some() { "|-" } else { "`-" };
    let _ = writeln!(out, "{last} Jail list:\t{}", s.jails.join(", "));
    if let Some(jails) = jails {
        out.push_str("`- Status for the jails:\n");
        for (i, j) in jails.iter().enumerate() {
            let last = i + 1 == jails.len();
            let (head, pad) = if last {
                ("`-", "      ")
            } else {
                ("|-", "   |  ")
            };
            let _ = writeln!(out, "   {head} Jail: {}", j.jail);
            jail_status(&mut out, j, pad);
        }
    }
    trim_newline(out)
}

/// The `|- Filter ... `- Actions` tree of one jail, each line prefixed by `pad`.
fn jail_status(out: &mut String, j: &JailStatus, pad: &str) {
    let f = &j.filter;
    let _ = writeln!(out, "{pad}|- Filter");
    let _ = writeln!(out, "{pad}|  |- Currently failed:\t{}", f.currently_failed);
    let _ = writeln!(out, "{pad}|  |- Total failed:\t{}", f.total_failed);
    match &f.source {
        LogSource::Files(files) => {
            let _ = writeln!(out, "{pad}|  `- File list:\t{}", files.join(" "));
        }
        LogSource::Journal(matches) => {
            let _ = writeln!(out, "{pad}|  `- Journal matches:\t{}", matches.join(" + "));
        }
    }
    let a = &j.actions;
    let _ = writeln!(out, "{pad}`- Actions");
    let mut rows: Vec<(&str, String)> = vec![
        ("Currently banned", a.currently_banned.to_string()),
        ("Total banned", a.total_banned.to_string()),
    ];
    if let Some(ips) = &a.banned {
        rows.push(("Banned IP list", ips.join(" ")));
    }
    if let Some(c) = &a.cymru {
        rows.push(("Banned ASN list", c.asn.join(" ")));
        rows.push(("Banned Country list", c.country.join(" ")));
        rows.push(("Banned RIR list", c.rir.join(" ")));
    }
    for (i, (name, value)) in rows.iter().enumerate() {
        let head = if i + 1 == rows.len() { "`-" } else { "|-" };
        let _ = writeln!(out, "{pad}   {head} {name}:\t{value}");
    }
}

/// The `stats` table, laid out as fail2ban-client draws it.
fn stats_table(rows: &[JailStats]) -> String {
    let jw = rows
        .iter()
        .map(|r| r.jail.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let bw = rows
        .iter()
        .map(|r| r.backend.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let nums = |f: &dyn Fn(&JailStats) -> u64| {
        rows.iter()
            .map(|r| f(r).to_string().len())
            .max()
            .unwrap_or(0)
            .max(3)
    };
    let (w1, w2) = (
        nums(&|r| r.failed_current).max(nums(&|r| r.banned_current)),
        nums(&|r| r.failed_total).max(nums(&|r| r.banned_total)),
    );
    let cell = w1 + w2 + 5; // " cur │ tot "
    let bar = |n: usize| "═".repeat(n);
    let mut out = String::new();
    let _ = writeln!(
        out,
        " {:jw$} ║ {:bw$} ║ {:cell2$}║ {:cell3$}",
        "",
        "",
        "Filter",
        "Actions",
        cell2 = cell - 1,
        cell3 = cell - 2
    );
    let _ = writeln!(
        out,
        " {:jw$} ║ {:bw$} ╟{}╫{}",
        "Jail",
        "Backend",
        "─".repeat(cell),
        "─".repeat(cell)
    );
    let _ = writeln!(
        out,
        " {:jw$} ║ {:bw$} ║ {:>w1$} │ {:>w2$} ║ {:>w1$} │ {:>w2$}",
        "", "", "cur", "tot", "cur", "tot"
    );
    let _ = writeln!(
        out,
        "{}╬{}╬{}╬{}",
        bar(jw + 2),
        bar(bw + 2),
        bar(cell),
        bar(cell)
    );
    for r in rows {
        let _ = writeln!(
            out,
            " {:jw$} ║ {:bw$} ║ {:>w1$} │ {:>w2$} ║ {:>w1$} │ {:>w2$}",
            r.jail, r.backend, r.failed_current, r.failed_total, r.banned_current, r.banned_total
        );
    }
    let _ = write!(
        out,
        "{}╩{}╩{}╩{}",
        bar(jw + 2),
        bar(bw + 2),
        bar(cell),
        bar(cell)
    );
    out
}

fn ban_times(entries: &[BanEntry]) -> String {
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{} \t{} + {} = {}",
                e.ip,
                local_time(e.start),
                e.bantime,
                local_time(e.end)
            )
        })
        .collect();
    lines.join("\n")
}

/// `YYYY-mm-dd HH:MM:SS` in the system's time zone.
fn local_time(ts: i64) -> String {
    match jiff::Timestamp::from_second(ts) {
        Ok(t) => t
            .to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

fn server_option(option: ServerOption, response: &Response) -> String {
    let v = plain(response);
    match option {
        ServerOption::LogLevel => format!("Current logging level is '{v}'"),
        ServerOption::LogTarget => format!("Current logging target is:\n`- {v}"),
        ServerOption::SyslogSocket => format!("Current syslog socket is:\n`- {v}"),
        // fail2ban answers None for the database options while the database is disabled.
        ServerOption::DbFile | ServerOption::DbPurgeAge if matches!(response, Response::Null) => {
            "Database currently disabled".into()
        }
        ServerOption::DbFile => format!("Current database file is:\n`- {v}"),
        ServerOption::DbPurgeAge => format!("Current database purge age is:\n`- {v}seconds"),
        ServerOption::DbMaxMatches => v,
    }
}

/// A tree of items under a title: `|- a` ... `` `- z ``.
fn tree(title: &str, items: &[String]) -> String {
    let mut out = String::from(title);
    for (i, item) in items.iter().enumerate() {
        let head = if i + 1 == items.len() { "`-" } else { "|-" };
        let _ = write!(out, "\n{head} {item}");
    }
    out
}

fn ignore_ips(response: &Response) -> String {
    match response {
        Response::List(ips) if !ips.is_empty() => {
            tree("These IP addresses/networks are ignored:", ips)
        }
        Response::List(_) => "No IP address/network is ignored".into(),
        other => value(other),
    }
}

fn regexes(response: &Response) -> String {
    match response {
        Response::List(res) if !res.is_empty() => {
            let items: Vec<String> = res
                .iter()
                .enumerate()
                .map(|(i, r)| format!("[{i}]: {r}"))
                .collect();
            tree("The following regular expression are defined:", &items)
        }
        Response::List(_) => "No regular expression is defined".into(),
        other => value(other),
    }
}

fn log_paths(response: &Response) -> String {
    match response {
        Response::List(files) if !files.is_empty() => tree("Current monitored log file(s):", files),
        Response::List(_) => "No file is currently monitored".into(),
        other => value(other),
    }
}

fn journal_matches(response: &Response) -> String {
    match response {
        Response::List(m) if !m.is_empty() => {
            format!("Current match filter:\n{}", m.join(" + "))
        }
        Response::List(_) | Response::Null => "No journal match filter set".into(),
        other => value(other),
    }
}

fn date_pattern(response: &Response) -> String {
    match response {
        Response::Null => "Current date pattern set to: Default Detectors".into(),
        Response::Text(p) => format!("Current date pattern set to: {p}"),
        Response::DatePattern {
            pattern: None,
            name,
        } => format!("Current date pattern set to: {name}"),
        Response::DatePattern {
            pattern: Some(p),
            name,
        } => format!("Current date pattern set to: {p} ({name})"),
        other => value(other),
    }
}

fn jail_query(jail: &str, query: &JailQuery, response: &Response) -> String {
    match (query, response) {
        (JailQuery::IgnoreIp, r) => ignore_ips(r),
        (JailQuery::FailRegex | JailQuery::IgnoreRegex, r) => regexes(r),
        (JailQuery::LogPath, r) => log_paths(r),
        (JailQuery::JournalMatch, r) => journal_matches(r),
        (JailQuery::DatePattern, r) => date_pattern(r),
        (JailQuery::LogEncoding, r) => format!("Current log encoding is set to:\n{}", plain(r)),
        (JailQuery::Actions, Response::List(a)) if a.is_empty() => {
            format!("No actions for jail {jail}")
        }
        (JailQuery::Actions, Response::List(a)) => {
            format!(
                "The jail {jail} has the following actions:\n{}",
                a.join(", ")
            )
        }
        (JailQuery::ActionProperties { action }, Response::List(p)) => format!(
            "The jail {jail} action {action} has the following properties:\n{}",
            p.join(", ")
        ),
        (JailQuery::ActionMethods { action }, Response::List(m)) => format!(
            "The jail {jail} action {action} has the following methods:\n{}",
            m.join(", ")
        ),
        (JailQuery::BanIp { separator, .. }, Response::List(ips)) => {
            ips.join(separator.as_deref().unwrap_or(" "))
        }
        (_, r) => value(r),
    }
}

fn jail_setting(jail: &str, setting: &JailSetting, response: &Response) -> String {
    match setting {
        JailSetting::AddIgnoreIp { .. } | JailSetting::DelIgnoreIp { .. } => ignore_ips(response),
        JailSetting::AddFailRegex { .. }
        | JailSetting::DelFailRegex { .. }
        | JailSetting::AddIgnoreRegex { .. }
        | JailSetting::DelIgnoreRegex { .. } => regexes(response),
        JailSetting::AddLogPath { .. } | JailSetting::DelLogPath { .. } => log_paths(response),
        JailSetting::AddJournalMatch { .. } | JailSetting::DelJournalMatch { .. } => {
            journal_matches(response)
        }
        JailSetting::DatePattern { .. } => date_pattern(response),
        JailSetting::LogEncoding { .. } => {
            format!("Current log encoding is set to:\n{}", plain(response))
        }
        JailSetting::AddAction { action, .. } if matches!(response, Response::Done) => {
            format!("Added action {action} to jail {jail}")
        }
        _ => value(response),
    }
}

/// A scalar as fail2ban prints it without a layout (`True`, `None`, `600`, a Python list).
fn value(response: &Response) -> String {
    match response {
        Response::Done => String::new(),
        Response::Pong => "pong".into(),
        Response::Text(t) => t.clone(),
        Response::Number(n) => n.to_string(),
        Response::Bool(true) => "True".into(),
        Response::Bool(false) => "False".into(),
        Response::Null => "None".into(),
        Response::List(items) => py_list(items),
        Response::Numbers(ns) if ns.len() == 1 => ns[0].to_string(),
        Response::Numbers(ns) => {
            let items: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
            format!("[{}]", items.join(", "))
        }
        Response::Error(f) => f.message.clone(),
        Response::ServerStatus(s) => server_status(s, None),
        Response::AllStatus { server, jails } => server_status(server, Some(jails)),
        Response::JailStatus(j) => {
            let mut out = format!("Status for the jail: {}\n", j.jail);
            jail_status(&mut out, j, "");
            trim_newline(out)
        }
        Response::Stats(rows) => stats_table(rows),
        Response::FleetStatus(f) => fleet_status(f.as_ref()),
        Response::DatePattern { .. } => date_pattern(response),
        Response::IgnoreCache(c) => {
            format!("[{}, {}, {}]", py_str(&c.key), c.max_count, c.max_time)
        }
        Response::Banned(_) | Response::BannedBy(_) | Response::BanTimes(_) => {
            render(&Request::Banned { ips: Vec::new() }, response)
        }
    }
}

/// A scalar without Python's quoting (for layouts that embed it).
fn plain(response: &Response) -> String {
    match response {
        Response::List(items) => items.join(" "),
        other => value(other),
    }
}

/// Python's `repr` of a string.
fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr` of a list of strings.
fn py_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| py_str(s)).collect();
    format!("[{}]", items.join(", "))
}
