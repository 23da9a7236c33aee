//! The Prometheus endpoint (`jailor server --metrics ADDR`, or `metrics = ADDR` in
//! `[Definition]` of `fail2ban.conf`/`jailor.conf`): `GET /metrics` answers the text format
//! with every running jail's counters and the process's memory and CPU.
//!
//! A tiny HTTP/1.0 responder on its own thread: one connection at a time, the request head
//! capped at 8 KiB and 5 s, the answer written and the connection closed. It only reads
//! atomics, so a scrape never waits for a reader, the keeper or an action.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::jail_counters::{JailCounters, Registry};
use crate::logf;

/// The longest request head read.
const MAX_HEAD: usize = 8192;
/// How long a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the endpoint's address: `PORT` (on 127.0.0.1), `HOST:PORT` or `[V6]:PORT`;
/// `off`/`no`/`none` disable it (`Ok(None)`).
pub(crate) fn bind(addr: &str) -> Result<Option<TcpListener>, Error> {
    let Some(addr) = parse_addr(addr)? else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr).map_err(|source| ErrorKind::Io {
        what: format!("binding the metrics endpoint {addr}"),
        source,
    })?;
    Ok(Some(listener))
}

fn parse_addr(text: &str) -> Result<Option<SocketAddr>, Error> {
    let text = text.trim();
    if matches!(
        text.to_ascii_lowercase().as_str(),
        "" | "off" | "no" | "none" | "false" | "0"
    ) {
        return Ok(None);
    }
    if let Ok(port) = text.parse::<u16>() {
        return Ok(Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)));
    }
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(Some(a));
    }
    let bad = || -> Error {
        ErrorKind::System(format!(
            "metrics = {text:?}: expected PORT, HOST:PORT or [IPv6]:PORT"
        ))
        .into()
    };
    text.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .map(Some)
        .ok_or_else(bad)
}

/// Serves `listener` on a thread for the life of the process.
pub(crate) fn serve(listener: TcpListener, registry: Arc<Registry>) -> Result<(), Error> {
    let local = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(s) => answer(s, &registry),
                    Err(e) => {
                        logf!(WARNING, "fail2ban.server", "metrics endpoint: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
        .map_err(|e| ErrorKind::System(format!("cannot start the metrics thread: {e}")))?;
    logf!(
        INFO,
        "fail2ban.server",
        "Metrics served on http://{local}/metrics"
    );
    Ok(())
}

/// Reads one request and answers it; errors only end the connection.
fn answer(mut stream: TcpStream, registry: &Registry) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    let first = head.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, kind, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(registry),
        ),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "not found\n".to_owned()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed\n".to_owned(),
        ),
    };
    let mut out = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        out.push_str(&body);
    }
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}

/// The request head up to its blank line (or whatever came within the cap and the timeout).
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            break;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// One metric family: its name, type, help and how to read it from a jail's counters.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    read: fn(&JailCounters) -> u64,
}

const FAMILIES: [Family; 16] = [
    Family {
        name: "jailor_lines_read_total",
        kind: "counter",
        help: "Log lines (or journal entries) the jail read.",
        read: |s| JailCounters::get(&s.lines),
    },
    Family {
        name: "jailor_lines_matched_total",
        kind: "counter",
        help: "Lines in which the jail's filter found a failure.",
        read: |s| JailCounters::get(&s.matched),
    },
    Family {
        name: "jailor_lines_dropped_total",
        kind: "counter",
        help: "Lines not matched: no date, a date that cannot be converted, or too old at start.",
        read: |s| JailCounters::get(&s.dropped),
    },
    Family {
        name: "jailor_lines_cut_total",
        kind: "counter",
        help: "Lines cut at the line length limit.",
        read: |s| JailCounters::get(&s.cut),
    },
    Family {
        name: "jailor_regex_limit_hits_total",
        kind: "counter",
        help: "Regex searches abandoned at the backtracking limit.",
        read: |s| JailCounters::get(&s.regex_limit_hits),
    },
    Family {
        name: "jailor_failures_total",
        kind: "counter",
        help: "Failures counted (fail2ban's Total failed).",
        read: |s| JailCounters::get(&s.failed_total),
    },
    Family {
        name: "jailor_failed_current",
        kind: "gauge",
        help: "Addresses with failures, not banned yet (fail2ban's Currently failed).",
        read: |s| JailCounters::get(&s.failed_current),
    },
    Family {
        name: "jailor_bans_total",
        kind: "counter",
        help: "Bans, restored ones included (fail2ban's Total banned).",
        read: |s| JailCounters::get(&s.banned_total),
    },
    Family {
        name: "jailor_banned_current",
        kind: "gauge",
        help: "Addresses banned now (fail2ban's Currently banned).",
        read: |s| JailCounters::get(&s.banned_current),
    },
    Family {
        name: "jailor_unbans_total",
        kind: "counter",
        help: "Unbans, expired or asked for.",
        read: |s| JailCounters::get(&s.unbans),
    },
    Family {
        name: "jailor_action_errors_total",
        kind: "counter",
        help: "Action commands that failed.",
        read: |s| JailCounters::get(&s.action_errors),
    },
    Family {
        name: "jailor_addresses_evicted_total",
        kind: "counter",
        help: "Addresses whose failures were forgotten at the tracked-address cap (maxtrackedaddresses).",
        read: |s| JailCounters::get(&s.evicted),
    },
    Family {
        name: "jailor_keeper_queue_full_total",
        kind: "counter",
        help: "Messages from the jail's reader that found the keeper's bounded queue full and waited.",
        read: |s| JailCounters::get(&s.keeper_queue_full),
    },
    Family {
        name: "jailor_action_queue_full_total",
        kind: "counter",
        help: "Action jobs that found the jail's bounded worker queue full and were held back.",
        read: |s| JailCounters::get(&s.action_queue_full),
    },
    Family {
        name: "jailor_action_backlog",
        kind: "gauge",
        help: "Action jobs the keeper holds for the jail's actions beyond the worker's queue.",
        read: |s| JailCounters::get(&s.action_backlog),
    },
    Family {
        name: "jailor_action_backlog_full_total",
        kind: "counter",
        help: "Times the keeper's backlog for the jail's actions reached maxactionbacklog and held the jail's reader back.",
        read: |s| JailCounters::get(&s.action_backlog_full),
    },
];

/// The text format of every running jail's counters and the process's resources.
pub(crate) fn render(registry: &Registry) -> String {
    let jails = registry.snapshot();
    let mut out = String::with_capacity(1024 + jails.len() * 600);
    for f in &FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (jail, stats) in &jails {
            let _ = writeln!(
                out,
                "{}{{jail=\"{}\"}} {}",
                f.name,
                escape_label(jail),
                (f.read)(stats)
            );
        }
    }
    let _ = writeln!(out, "# HELP jailor_jails Jails running.");
    let _ = writeln!(out, "# TYPE jailor_jails gauge");
    let _ = writeln!(out, "jailor_jails {}", jails.len());
    if let Some(fleet) = registry.fleet() {
        render_fleet(&mut out, &fleet);
    }
    if let Some(runner) = registry.runner() {
        let _ = writeln!(
            out,
            "# HELP jailor_action_process_waits_total Action commands that waited at the bound on concurrent action processes."
        );
        let _ = writeln!(out, "# TYPE jailor_action_process_waits_total counter");
        let _ = writeln!(out, "jailor_action_process_waits_total {}", runner.waits());
        let _ = writeln!(
            out,
            "# HELP jailor_action_processes_running Action processes running now."
        );
        let _ = writeln!(out, "# TYPE jailor_action_processes_running gauge");
        let _ = writeln!(out, "jailor_action_processes_running {}", runner.running());
        let _ = writeln!(
            out,
            "# HELP jailor_action_processes_max The bound on concurrent action processes."
        );
        let _ = writeln!(out, "# TYPE jailor_action_processes_max gauge");
        let _ = writeln!(
            out,
            "jailor_action_processes_max {}",
            runner.options().max_concurrent.max(1)
        );
    }
    if let Some(rss) = resident_bytes() {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory of the jailor process."
        );
        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
    }
    if let Some(cpu) = cpu_seconds() {
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total User and system CPU time of the jailor process."
        );
        let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter");
        let _ = writeln!(out, "process_cpu_seconds_total {cpu:.2}");
    }
    out
}

/// The fleet's counters (only when a `[Fleet]` engine runs), labelled with the engine.
fn render_fleet(out: &mut String, s: &jailor_fleet::StatsSnapshot) {
    let engine = escape_label(&s.engine);
    let families: [(&str, &str, &str, u64); 5] = [
        (
            "jailor_fleet_connected",
            "gauge",
            "1 when the fleet's publisher and subscriber are connected to the broker.",
            u64::from(s.connected),
        ),
        (
            "jailor_fleet_outbox",
            "gauge",
            "Local fleet events waiting for the broker's acknowledgement.",
            s.outbox,
        ),
        (
            "jailor_fleet_published_total",
            "counter",
            "Local fleet events the broker acknowledged.",
            s.published,
        ),
        (
            "jailor_fleet_received_total",
            "counter",
            "Fleet events received from other hosts.",
            s.received,
        ),
        (
            "jailor_fleet_applied_total",
            "counter",
            "Received fleet events that changed a ban here.",
            s.applied,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name}{{engine=\"{engine}\"}} {value}");
    }
    let name = "jailor_fleet_rejected_total";
    let _ = writeln!(
        out,
        "# HELP {name} Received fleet events refused by the receiver policy, by reason."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for (reason, value) in [
        ("origin", s.rejected_origin),
        ("allowlist", s.rejected_allowlist),
        ("prefix", s.rejected_prefix),
        ("signature", s.rejected_signature),
        ("ratelimit", s.rejected_ratelimit),
        ("invalid", s.invalid),
    ] {
        let _ = writeln!(
            out,
            "{name}{{engine=\"{engine}\",reason=\"{reason}\"}} {value}"
        );
    }
}

/// A label value with the text format's escapes (`\\`, `\"`, `\n`).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User plus system time of `/proc/self/stat`, in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces and parentheses).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after `) `.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the C library.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) as f64 / ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback_and_can_be_off() {
        assert_eq!(
            parse_addr("9191").unwrap(),
            Some("127.0.0.1:9191".parse().unwrap())
        );
        assert_eq!(
            parse_addr("[::1]:9191").unwrap(),
            Some("[::1]:9191".parse().unwrap())
        );
        assert_eq!(parse_addr("off").unwrap(), None);
        assert!(parse_addr("not an address").is_err());
    }

    #[test]
    fn the_text_has_help_type_and_one_sample_per_jail() {
        let r = Registry::default();
        let s = Arc::<JailCounters>::default();
        JailCounters::add(&s.lines, 12);
        JailCounters::add(&s.failed_total, 4);
        r.insert("ss\"h", s);
        r.insert("web", Arc::<JailCounters>::default());
        let text = render(&r);
        assert!(
            text.contains("jailor_lines_read_total{jail=\"ss\\\"h\"} 12\n"),
            "{text}"
        );
        assert!(
            text.contains("jailor_failures_total{jail=\"web\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE jailor_banned_current gauge\n"),
            "{text}"
        );
        assert!(text.contains("jailor_jails 2\n"), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, FAMILIES.len() * 2 + 3);
    }
}
