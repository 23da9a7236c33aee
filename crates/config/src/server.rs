//! `fail2ban.conf`: the server's own settings.

use crate::config::{Config, Vars};
use crate::error::Result;
use crate::stream::{Command, Value};
use crate::{parse_int, Loader};

/// The server settings of `fail2ban.conf` (`[Definition]`, `[Thread]`), with fail2ban's
/// defaults filled in where an option is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// `loglevel` (default `INFO`).
    pub loglevel: String,
    /// `logtarget` (default `/var/log/fail2ban.log`).
    pub logtarget: String,
    /// `syslogsocket` (default `auto`).
    pub syslogsocket: String,
    /// `socket` (default `/var/run/fail2ban/fail2ban.sock`).
    pub socket: String,
    /// `pidfile` (default `/var/run/fail2ban/fail2ban.pid`).
    pub pidfile: String,
    /// `allowipv6` (default `auto`).
    pub allowipv6: String,
    /// `dbfile` (default `/var/lib/fail2ban/fail2ban.sqlite3`; `:memory:` and `None` are special).
    pub dbfile: String,
    /// `dbmaxmatches`: `None` when not set, `Some(None)` when set but not an integer.
    pub dbmaxmatches: Option<Option<i64>>,
    /// `dbpurgeage` as written (a time value, default `1d`).
    pub dbpurgeage: String,
    /// `[Thread] stacksize` in KiB: `Some(None)` when set but not an integer.
    pub stacksize: Option<Option<i64>>,
    /// `metrics`: jailor's own option, the address of the Prometheus endpoint (`None`: off).
    pub metrics: Option<String>,
    /// `maxtrackedaddresses` of `[Definition]` (jailor's own option): the default of every
    /// jail that sets none itself, as written.
    pub maxtrackedaddresses: Option<String>,
    /// Things fail2ban would only warn about while reading these files.
    pub warnings: Vec<String>,
}

impl ServerSpec {
    /// Reads `fail2ban.conf` (and its `.d`/`.local` files) under the loader's base folder, or
    /// jailor's own `jailor.conf` set where the folder has one (jailor's default configuration).
    pub(crate) fn read(loader: &Loader) -> Result<ServerSpec> {
        let name = if crate::files::file_set(&loader.base, "jailor").is_empty() {
            "fail2ban"
        } else {
            "jailor"
        };
        let cfg = Config::read(&loader.base, name, &loader.statics())?;
        let vars = Vars::default();
        let get = |sec: &str, opt: &str, default: &str| -> Result<String> {
            Ok(cfg
                .get(sec, opt, &vars)?
                .map(|(v, _)| v)
                .unwrap_or_else(|| default.to_string()))
        };
        let opt_int = |sec: &str, opt: &str| -> Result<Option<Option<i64>>> {
            Ok(cfg.get(sec, opt, &vars)?.map(|(v, _)| parse_int(&v)))
        };
        Ok(ServerSpec {
            loglevel: get("Definition", "loglevel", "INFO")?,
            logtarget: get("Definition", "logtarget", "/var/log/fail2ban.log")?,
            syslogsocket: get("Definition", "syslogsocket", "auto")?,
            socket: get("Definition", "socket", "/var/run/fail2ban/fail2ban.sock")?,
            pidfile: get("Definition", "pidfile", "/var/run/fail2ban/fail2ban.pid")?,
            allowipv6: get("Definition", "allowipv6", "auto")?,
            dbfile: get("Definition", "dbfile", "/var/lib/fail2ban/fail2ban.sqlite3")?,
            dbmaxmatches: opt_int("Definition", "dbmaxmatches")?,
            dbpurgeage: get("Definition", "dbpurgeage", "1d")?,
            stacksize: opt_int("Thread", "stacksize")?,
            metrics: cfg
                .get("Definition", "metrics", &vars)?
                .map(|(v, _)| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            maxtrackedaddresses: cfg
                .get("Definition", "maxtrackedaddresses", &vars)?
                .map(|(v, _)| v),
            warnings: cfg.warnings().to_vec(),
        })
    }

    /// The commands fail2ban's client sends for these settings, in its order.
    pub fn stream(&self) -> Vec<Command> {
        let int = |v: &Option<i64>| v.map_or(Value::None, Value::Int);
        let mut out: Vec<Command> = Vec::new();
        if let Some(s) = &self.stacksize {
            out.push(vec![
                "set".into(),
                "thread".into(),
                Value::Dict(vec![("stacksize".into(), int(s))]),
            ]);
        }
        let set = |k: &str, v: Value| -> Command { vec!["set".into(), k.into(), v] };
        out.push(set("syslogsocket", self.syslogsocket.as_str().into()));
        out.push(set("loglevel", self.loglevel.as_str().into()));
        out.push(set("logtarget", self.logtarget.as_str().into()));
        out.push(set("allowipv6", self.allowipv6.as_str().into()));
        out.push(set("dbfile", self.dbfile.as_str().into()));
        if let Some(m) = &self.dbmaxmatches {
            out.push(set("dbmaxmatches", int(m)));
        }
        out.push(set("dbpurgeage", self.dbpurgeage.as_str().into()));
        out
    }
}

#[cfg(test)]
mod tests {
    /// `maxtrackedaddresses` comes with the rest of the configuration: a jail's own value
    /// or the jail files' `[DEFAULT]` in the jail, `[Definition]` of the server's file in
    /// the server settings; fail2ban's stream does not carry it.
    #[test]
    fn max_tracked_addresses_is_read_once_with_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("filter.d")).unwrap();
        std::fs::write(
            d.join("filter.d/f.conf"),
            "[Definition]\nfailregex = ^x <HOST>$\n",
        )
        .unwrap();
        std::fs::write(d.join("x.log"), "").unwrap();
        std::fs::write(
            d.join("fail2ban.conf"),
            "[Definition]\nmaxtrackedaddresses = 5000\n",
        )
        .unwrap();
        let jail = |name: &str, own: &str| {
            format!("[{name}]\nenabled = true\nfilter = f\nlogpath = x.log\naction =\n{own}\n")
        };
        std::fs::write(
            d.join("jail.conf"),
            format!(
                "{}{}",
                jail("own", "maxtrackedaddresses = 7"),
                jail("plain", "")
            ),
        )
        .unwrap();
        let cfg = crate::Loader::new(d).read_all().unwrap();
        assert_eq!(cfg.server.maxtrackedaddresses.as_deref(), Some("5000"));
        let spec = |name: &str| {
            cfg.jails
                .iter()
                .flatten()
                .find(|j| j.name == name)
                .unwrap()
                .clone()
        };
        assert_eq!(spec("own").option("maxtrackedaddresses"), Some("7"));
        assert_eq!(spec("plain").option("maxtrackedaddresses"), None);
        let stream = format!("{:?}", cfg.stream());
        assert!(!stream.contains("maxtrackedaddresses"), "{stream}");

        std::fs::write(
            d.join("jail.local"),
            "[DEFAULT]\nmaxtrackedaddresses = 300\n",
        )
        .unwrap();
        let cfg = crate::Loader::new(d).read_all().unwrap();
        let plain = cfg
            .jails
            .iter()
            .flatten()
            .find(|j| j.name == "plain")
            .unwrap();
        assert_eq!(plain.option("maxtrackedaddresses"), Some("300"));
    }
}
