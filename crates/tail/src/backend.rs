//! `backend`: how the tailer learns that a file changed.

use crate::error::{Error, ErrorKind};

/// fail2ban's `backend` for log files.
///
/// Polling is always the truth: every followed path is checked at least once per
/// [`poll interval`](crate::TailerBuilder::poll_interval). inotify only wakes the tailer
/// early, so a missed or overflowing event costs latency, never a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backend {
    /// inotify when the kernel offers it, else polling.
    #[default]
    Auto,
    /// Only polling.
    Polling,
    /// inotify wake-ups plus polling (also for the names `pyinotify` and `gamin`). Falls back
    /// to polling with a warning when inotify cannot be set up, as fail2ban does.
    Inotify,
}

impl Backend {
    /// Parses a `backend` value; arguments in brackets (`polling[x=y]`) are ignored.
    ///
    /// `systemd` is refused here: the journal is not a file.
    pub fn parse(value: &str) -> Result<Backend, Error> {
        let name = value.split('[').next().unwrap_or("").trim();
        match name.to_ascii_lowercase().as_str() {
            "auto" => Ok(Backend::Auto),
            "polling" => Ok(Backend::Polling),
            "pyinotify" | "inotify" | "gamin" => Ok(Backend::Inotify),
            other => Err(ErrorKind::UnknownBackend {
                name: value.to_string(),
                hint: if other == "systemd" {
                    "; systemd reads the journal, not files"
                } else {
                    ""
                },
            }
            .into()),
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Polling => "polling",
            Backend::Inotify => "inotify",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_fail2ban_names() {
        assert_eq!(Backend::parse("auto").unwrap(), Backend::Auto);
        assert_eq!(Backend::parse("polling").unwrap(), Backend::Polling);
        assert_eq!(Backend::parse("pyinotify").unwrap(), Backend::Inotify);
        assert_eq!(Backend::parse("gamin").unwrap(), Backend::Inotify);
        assert_eq!(
            Backend::parse("Polling[foo=bar]").unwrap(),
            Backend::Polling
        );
    }

    #[test]
    fn refuses_others() {
        let err = Backend::parse("systemd[journalflags=4]").unwrap_err();
        assert!(err.to_string().contains("journal"), "{err}");
        assert!(Backend::parse("kqueue").is_err());
    }
}
