//! The line fail2ban builds from a journal entry for `logtype = journal`.

/// Which fields name the process in the line.
///
/// fail2ban writes `SYSLOG_IDENTIFIER` and `SYSLOG_PID` when present, which any local
/// process can set (`logger -t sshd`); the trusted fields `_COMM` and `_PID` are written by
/// journald itself. Filters select entries by `journalmatch` (usually on trusted fields), so
/// the choice only changes the `<ident>[<pid>]:` text of the line. jailor prefers the trusted
/// fields (so a local user cannot put another program's name into the line); the backend
/// argument `journalidentity = syslog` gives fail2ban's line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Identity {
    /// `SYSLOG_IDENTIFIER`, else `_COMM`; `SYSLOG_PID`, else `_PID` (fail2ban's line).
    Syslog,
    /// `_COMM`, else `SYSLOG_IDENTIFIER`; `_PID`, else `SYSLOG_PID` (the default).
    #[default]
    Trusted,
}

/// The fields of one entry that the line is built from (raw bytes, as stored).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    pub hostname: Option<Vec<u8>>,
    pub syslog_identifier: Option<Vec<u8>>,
    pub comm: Option<Vec<u8>>,
    pub syslog_pid: Option<Vec<u8>>,
    pub pid: Option<Vec<u8>>,
    pub message: Option<Vec<u8>>,
    pub source_realtime: Option<Vec<u8>>,
}

/// The field names [`Fields`] is filled from, in its order.
pub(crate) const FIELD_NAMES: [&std::ffi::CStr; 7] = [
    c"_HOSTNAME",
    c"SYSLOG_IDENTIFIER",
    c"_COMM",
    c"SYSLOG_PID",
    c"_PID",
    c"MESSAGE",
    c"_SOURCE_REALTIME_TIMESTAMP",
];

impl Fields {
    /// The slot for the `i`-th of [`FIELD_NAMES`].
    pub(crate) fn slot(&mut self, i: usize) -> Option<&mut Option<Vec<u8>>> {
        Some(match i {
            0 => &mut self.hostname,
            1 => &mut self.syslog_identifier,
            2 => &mut self.comm,
            3 => &mut self.syslog_pid,
            4 => &mut self.pid,
            5 => &mut self.message,
            6 => &mut self.source_realtime,
            _ => return None,
        })
    }

    /// The entry's time in seconds: `_SOURCE_REALTIME_TIMESTAMP` when it parses (the time the
    /// sender stamped), else the journal's own realtime stamp.
    pub(crate) fn time(&self, realtime_usec: u64) -> f64 {
        let usec = self
            .source_realtime
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(realtime_usec);
        usec as f64 / 1e6
    }

    /// Builds the line into `out` (cleared first):
    /// `[<hostname> ][<ident>[\[<pid>\]]: ][kernel: [%12.6f] ]<MESSAGE>`, newlines in the
    /// message written as the two characters `\n`.
    ///
    /// Observed from fail2ban: an empty field counts as absent; a pid is only written after
    /// an identifier; entries from `kernel` carry the monotonic time in seconds.
    pub(crate) fn format(&self, identity: Identity, monotonic_usec: Option<u64>, out: &mut String) {
        out.clear();
        let (ident, pid) = match identity {
            Identity::Syslog => (
                present(&self.syslog_identifier).or(present(&self.comm)),
                present(&self.syslog_pid).or(present(&self.pid)),
            ),
            Identity::Trusted => (
                present(&self.comm).or(present(&self.syslog_identifier)),
                present(&self.pid).or(present(&self.syslog_pid)),
            ),
        };
        if let Some(host) = present(&self.hostname) {
            out.push_str(&String::from_utf8_lossy(host));
            out.push(' ');
        }
        if let Some(ident) = ident {
            out.push_str(&String::from_utf8_lossy(ident));
            if let Some(pid) = pid {
                out.push('[');
                out.push_str(&String::from_utf8_lossy(pid));
                out.push(']');
            }
            out.push_str(": ");
            if ident == b"kernel" {
                if let Some(mono) = monotonic_usec {
                    out.push_str(&format!("[{:12.6}] ", mono as f64 / 1e6));
                }
            }
        }
        let message = String::from_utf8_lossy(self.message.as_deref().unwrap_or_default());
        for (i, part) in message.split('\n').enumerate() {
            if i > 0 {
                out.push_str("\\n");
            }
            out.push_str(part);
        }
    }
}

/// A field's value, an empty one counting as absent (as in fail2ban).
fn present(v: &Option<Vec<u8>>) -> Option<&[u8]> {
    v.as_deref().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Fields {
        let mut fields = Fields::default();
        for (k, v) in pairs {
            let i = FIELD_NAMES
                .iter()
                .position(|n| n.to_bytes() == k.as_bytes())
                .unwrap();
            *fields.slot(i).unwrap() = Some(v.as_bytes().to_vec());
        }
        fields
    }

    fn line(fields: &Fields, identity: Identity, mono: Option<u64>) -> String {
        let mut out = String::from("stale");
        fields.format(identity, mono, &mut out);
        out
    }

    #[test]
    fn syslog_identity_first_like_fail2ban() {
        let e = f(&[
            ("_HOSTNAME", "web1"),
            ("SYSLOG_IDENTIFIER", "sshd-ident"),
            ("_COMM", "sshd"),
            ("SYSLOG_PID", "202"),
            ("_PID", "101"),
            ("MESSAGE", "Invalid user x from 192.0.2.7"),
        ]);
        assert_eq!(
            line(&e, Identity::Syslog, None),
            "web1 sshd-ident[202]: Invalid user x from 192.0.2.7"
        );
        assert_eq!(
            line(&e, Identity::Trusted, None),
            "web1 sshd[101]: Invalid user x from 192.0.2.7"
        );
    }

    #[test]
    fn missing_and_empty_parts() {
        let no_host_no_pid = f(&[("_COMM", "sshd"), ("MESSAGE", "m")]);
        assert_eq!(line(&no_host_no_pid, Identity::Syslog, None), "sshd: m");
        let pid_without_ident = f(&[("_HOSTNAME", "h"), ("_PID", "9"), ("MESSAGE", "m")]);
        assert_eq!(line(&pid_without_ident, Identity::Syslog, None), "h m");
        let empty_ident = f(&[
            ("_HOSTNAME", "h"),
            ("SYSLOG_IDENTIFIER", ""),
            ("_COMM", "x"),
            ("SYSLOG_PID", ""),
            ("_PID", "7"),
            ("MESSAGE", "m"),
        ]);
        assert_eq!(line(&empty_ident, Identity::Syslog, None), "h x[7]: m");
        let no_message = f(&[("_HOSTNAME", "h"), ("_COMM", "sshd"), ("_PID", "3")]);
        assert_eq!(line(&no_message, Identity::Syslog, None), "h sshd[3]: ");
    }

    #[test]
    fn kernel_gets_monotonic_seconds_and_newlines_are_escaped() {
        let k = f(&[
            ("_HOSTNAME", "h"),
            ("SYSLOG_IDENTIFIER", "kernel"),
            ("MESSAGE", "a\nb"),
        ]);
        assert_eq!(
            line(&k, Identity::Syslog, Some(1_234_567)),
            "h kernel: [    1.234567] a\\nb"
        );
    }

    #[test]
    fn source_time_wins_when_it_parses() {
        let mut e = f(&[("_SOURCE_REALTIME_TIMESTAMP", "1600000000500000")]);
        assert_eq!(e.time(1_700_000_000_000_000), 1_600_000_000.5);
        e.source_realtime = Some(b"garbage".to_vec());
        assert_eq!(e.time(1_700_000_000_000_000), 1_700_000_000.0);
    }
}
