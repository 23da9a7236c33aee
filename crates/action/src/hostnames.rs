//! This machine's names, for `<fq-hostname>` and `<sh-hostname>`.

/// The host names the fallback tags `<fq-hostname>` and `<sh-hostname>` stand for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostNames {
    fq: String,
    short: String,
}

impl HostNames {
    /// Names from a (possibly fully qualified) host name: the short name is the part before
    /// the first dot.
    pub fn new(name: &str) -> HostNames {
        let fq = name.trim().to_owned();
        let short = fq.split('.').next().unwrap_or_default().to_owned();
        HostNames { fq, short }
    }

    /// The kernel's host name (`/proc/sys/kernel/hostname`, else `/etc/hostname`, else
    /// `localhost`). Unlike Python's `getfqdn`, no DNS lookup is made: the fully qualified
    /// name is the host name as configured.
    pub fn detect() -> HostNames {
        let name = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        HostNames::new(&name)
    }

    /// The fully qualified name.
    pub fn fq(&self) -> &str {
        &self.fq
    }

    /// The name up to its first dot.
    pub fn short(&self) -> &str {
        &self.short
    }
}

impl Default for HostNames {
    fn default() -> HostNames {
        HostNames::detect()
    }
}
