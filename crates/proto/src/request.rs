//! Typed requests: one variant per `fail2ban-client` command (FAIL2BAN-SPEC §7.2).
//!
//! Values the daemon interprets with its configuration rules (time values such as `10m`, regexes,
//! date patterns, log targets) travel as the text the user typed; values with a fixed syntax
//! (counts, booleans, indexes, flavors) are parsed by [`Request::from_words`] and travel typed.

use serde::{Deserialize, Serialize};

/// One control request, as sent from the client to the daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// `ping [timeout]`: is the daemon alive? (The timeout is the client's wait.)
    Ping,
    /// `echo WORD...`: the words back.
    Echo {
        /// The words.
        words: Vec<String>,
    },
    /// `version`: the daemon's version.
    Version,
    /// `stats` / `statistic` / `statistics`: per-jail counters.
    Stats,
    /// `status`: the list of jails; `status --all [FLAVOR]` adds every jail's status.
    Status {
        /// `--all`: every jail's status too.
        all: bool,
        /// How much each jail status shows.
        flavor: Flavor,
    },
    /// `status --fleet`: the fleet engine, its connection, outbox and counters.
    FleetStatus,
    /// `status JAIL [FLAVOR]`: one jail's counters, files and bans.
    JailStatus {
        /// The jail.
        jail: String,
        /// How much to show.
        flavor: Flavor,
    },
    /// `banned`: every jail's banned addresses; `banned IP...`: the jails banning each address.
    Banned {
        /// The addresses asked about (empty: all bans).
        ips: Vec<String>,
    },
    /// `start JAIL`: start one jail. (`start` alone starts the daemon, client side.)
    StartJail {
        /// The jail.
        jail: String,
    },
    /// `stop`: stop the daemon.
    Stop,
    /// `stop JAIL`: stop and remove one jail; `stop --all`: every jail, the daemon keeps running.
    StopJail {
        /// The jail, or `None` for `--all`.
        jail: Option<String>,
    },
    /// `reload [--restart] [--unban] [--all]`, `reload [...] [--if-exists] JAIL`, and
    /// `restart [--unban] [--if-exists] JAIL` (which is `reload --restart JAIL`).
    ///
    /// The daemon re-reads its configuration itself: a configuration error leaves the running
    /// jails as they were and comes back as an error response.
    Reload {
        /// The jail, or `None` for all jails.
        jail: Option<String>,
        /// `--restart`: stop and start the jail(s) instead of updating them in place.
        restart: bool,
        /// `--unban`: unban everything of the reloaded jail(s) first.
        unban: bool,
        /// `--all`: also (re)start jails that are not running.
        all: bool,
        /// `--if-exists`: no error when the jail is not in the configuration.
        if_exists: bool,
    },
    /// `restart` without a jail: stop and start the daemon (answered by the daemon as a
    /// full `reload --restart`).
    Restart {
        /// `--unban`: unban everything first.
        unban: bool,
    },
    /// `unban --all` or `unban IP...`: unban in every jail; answers the count unbanned.
    Unban {
        /// The addresses, networks or names; empty with `all`.
        ips: Vec<String>,
        /// `--all`: every ban of every jail.
        all: bool,
    },
    /// `add JAIL [BACKEND]`: create a jail (used by configuration streams).
    AddJail {
        /// The jail.
        jail: String,
        /// Its backend (`auto` when omitted).
        backend: String,
    },
    /// `set OPTION VALUE`: a daemon-wide setting.
    SetServer {
        /// The setting and its new value.
        setting: ServerSetting,
    },
    /// `get OPTION`: a daemon-wide setting.
    GetServer {
        /// The setting.
        option: ServerOption,
    },
    /// `set JAIL ...`: change a jail.
    SetJail {
        /// The jail.
        jail: String,
        /// What to change.
        setting: JailSetting,
    },
    /// `get JAIL ...`: read a jail's setting or state.
    GetJail {
        /// The jail.
        jail: String,
        /// What to read.
        query: JailQuery,
    },
    /// `flushlogs`: reopen the log file (after rotation).
    FlushLogs,
    /// `sleep SECONDS`: the daemon's command thread waits (for tests and streams).
    Sleep {
        /// Seconds to wait.
        seconds: f64,
    },
    /// `server-status`: answers "Server ready" once start-up finished.
    ServerStatus,
}

/// How much a jail status shows (`status JAIL FLAVOR`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// Counters, files and the banned address list (the default).
    #[default]
    Basic,
    /// Counters and files, no address list.
    Short,
    /// Counters as `(current, total)` pairs.
    Stats,
    /// Basic plus the banned addresses' ASN, country and RIR (Team Cymru's DNS service).
    Cymru,
}

impl Flavor {
    /// The flavor named `word`; `None` for a name fail2ban does not know (it then warns and
    /// shows the basic flavor).
    pub fn from_word(word: &str) -> Option<Flavor> {
        match word.to_ascii_lowercase().as_str() {
            "basic" => Some(Flavor::Basic),
            "short" => Some(Flavor::Short),
            "stats" => Some(Flavor::Stats),
            "cymru" => Some(Flavor::Cymru),
            _ => None,
        }
    }

    /// The flavor's command-line word.
    pub fn as_word(self) -> &'static str {
        match self {
            Flavor::Basic => "basic",
            Flavor::Short => "short",
            Flavor::Stats => "stats",
            Flavor::Cymru => "cymru",
        }
    }
}

/// A daemon-wide option (`set|get OPTION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerOption {
    /// `loglevel`: CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG, TRACEDEBUG, HEAVYDEBUG or 5–50.
    LogLevel,
    /// `logtarget`: STDOUT, STDERR, SYSLOG, SYSTEMD-JOURNAL or a file, with `[k=v, ...]` options.
    LogTarget,
    /// `syslogsocket`: `auto` or a path.
    SyslogSocket,
    /// `dbfile`: the database file, or `None`.
    DbFile,
    /// `dbmaxmatches`: matches kept per ban in the database.
    DbMaxMatches,
    /// `dbpurgeage`: how long bans stay in the database (a time value).
    DbPurgeAge,
}

impl ServerOption {
    /// Every option, in fail2ban's help order.
    pub const ALL: [ServerOption; 6] = [
        ServerOption::LogLevel,
        ServerOption::LogTarget,
        ServerOption::SyslogSocket,
        ServerOption::DbFile,
        ServerOption::DbMaxMatches,
        ServerOption::DbPurgeAge,
    ];

    /// The option's command-line word.
    pub fn as_word(self) -> &'static str {
        match self {
            ServerOption::LogLevel => "loglevel",
            ServerOption::LogTarget => "logtarget",
            ServerOption::SyslogSocket => "syslogsocket",
            ServerOption::DbFile => "dbfile",
            ServerOption::DbMaxMatches => "dbmaxmatches",
            ServerOption::DbPurgeAge => "dbpurgeage",
        }
    }

    /// The option named `word`.
    pub fn from_word(word: &str) -> Option<ServerOption> {
        ServerOption::ALL.into_iter().find(|o| o.as_word() == word)
    }
}

/// A daemon-wide option with its new value (`set OPTION VALUE`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "option", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerSetting {
    /// `set loglevel LEVEL`: the level's canonical name (numbers are kept as typed).
    LogLevel(String),
    /// `set logtarget TARGET`.
    LogTarget(String),
    /// `set syslogsocket auto|PATH`.
    SyslogSocket(String),
    /// `set dbfile FILE|None`.
    DbFile(String),
    /// `set dbmaxmatches N`.
    DbMaxMatches(u64),
    /// `set dbpurgeage TIME` (as typed, e.g. `1d`).
    DbPurgeAge(String),
}

impl ServerSetting {
    /// The option this setting changes.
    pub fn option(&self) -> ServerOption {
        match self {
            ServerSetting::LogLevel(_) => ServerOption::LogLevel,
            ServerSetting::LogTarget(_) => ServerOption::LogTarget,
            ServerSetting::SyslogSocket(_) => ServerOption::SyslogSocket,
            ServerSetting::DbFile(_) => ServerOption::DbFile,
            ServerSetting::DbMaxMatches(_) => ServerOption::DbMaxMatches,
            ServerSetting::DbPurgeAge(_) => ServerOption::DbPurgeAge,
        }
    }
}

/// The `bantime.*` options of a jail (`bantime.increment` and its parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanTimeOption {
    /// `bantime.increment`: true/false.
    Increment,
    /// `bantime.factor`.
    Factor,
    /// `bantime.formula`.
    Formula,
    /// `bantime.multipliers`.
    Multipliers,
    /// `bantime.maxtime`.
    MaxTime,
    /// `bantime.rndtime`.
    RndTime,
    /// `bantime.overalljails`.
    OverallJails,
}

impl BanTimeOption {
    /// Every option, in fail2ban's order.
    pub const ALL: [BanTimeOption; 7] = [
        BanTimeOption::Increment,
        BanTimeOption::Factor,
        BanTimeOption::Formula,
        BanTimeOption::Multipliers,
        BanTimeOption::MaxTime,
        BanTimeOption::RndTime,
        BanTimeOption::OverallJails,
    ];

    /// The full option word, e.g. `bantime.increment`.
    pub fn as_word(self) -> &'static str {
        match self {
            BanTimeOption::Increment => "bantime.increment",
            BanTimeOption::Factor => "bantime.factor",
            BanTimeOption::Formula => "bantime.formula",
            BanTimeOption::Multipliers => "bantime.multipliers",
            BanTimeOption::MaxTime => "bantime.maxtime",
            BanTimeOption::RndTime => "bantime.rndtime",
            BanTimeOption::OverallJails => "bantime.overalljails",
        }
    }

    /// The option named `word` (the full `bantime.x` word).
    pub fn from_word(word: &str) -> Option<BanTimeOption> {
        BanTimeOption::ALL.into_iter().find(|o| o.as_word() == word)
    }
}

/// What `set JAIL ...` changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "set", rename_all = "snake_case")]
#[non_exhaustive]
pub enum JailSetting {
    /// `idle on|off`.
    Idle {
        /// On: the jail reads but does not ban.
        on: bool,
    },
    /// `ignoreself true|false`.
    IgnoreSelf {
        /// Ignore the host's own addresses.
        value: bool,
    },
    /// `addignoreip IP...`.
    AddIgnoreIp {
        /// Addresses, networks or names.
        values: Vec<String>,
    },
    /// `delignoreip IP...`.
    DelIgnoreIp {
        /// Addresses, networks or names.
        values: Vec<String>,
    },
    /// `ignorecommand COMMAND`.
    IgnoreCommand {
        /// The command line (empty: none).
        value: String,
    },
    /// `ignorecache OPTIONS`.
    IgnoreCache {
        /// fail2ban's `key=..., max-count=..., max-time=...` text.
        value: String,
    },
    /// `addlogpath FILE [tail|head]`.
    AddLogPath {
        /// The file (or glob).
        path: String,
        /// `tail`: start at the end; `head` (the default): from the beginning.
        tail: bool,
    },
    /// `dellogpath FILE`.
    DelLogPath {
        /// The file.
        path: String,
    },
    /// `logencoding ENCODING`.
    LogEncoding {
        /// `auto`, `utf-8`, `latin-1`, ...
        value: String,
    },
    /// `addjournalmatch MATCH...`.
    AddJournalMatch {
        /// `FIELD=value` words (`+` separates alternatives).
        values: Vec<String>,
    },
    /// `deljournalmatch MATCH...`.
    DelJournalMatch {
        /// `FIELD=value` words.
        values: Vec<String>,
    },
    /// `prefregex REGEX`.
    PrefRegex {
        /// The regex.
        value: String,
    },
    /// `addfailregex REGEX`.
    AddFailRegex {
        /// The regex.
        value: String,
    },
    /// `delfailregex INDEX`.
    DelFailRegex {
        /// Its index in `get JAIL failregex`.
        index: usize,
    },
    /// `addignoreregex REGEX`.
    AddIgnoreRegex {
        /// The regex.
        value: String,
    },
    /// `delignoreregex INDEX`.
    DelIgnoreRegex {
        /// Its index in `get JAIL ignoreregex`.
        index: usize,
    },
    /// `findtime TIME`.
    FindTime {
        /// A time value as typed (`600`, `10m`).
        value: String,
    },
    /// `bantime TIME`.
    BanTime {
        /// A time value as typed (`-1` bans forever).
        value: String,
    },
    /// `bantime.OPTION VALUE`.
    BanTimeExtra {
        /// The option.
        option: BanTimeOption,
        /// Its value as typed.
        value: String,
    },
    /// `datepattern PATTERN`.
    DatePattern {
        /// The pattern (or `{^LN-BEG}`, `Epoch`, ...).
        value: String,
    },
    /// `logtimezone TZ`.
    LogTimeZone {
        /// `UTC`, `UTC+0200`, ...
        value: String,
    },
    /// `usedns yes|warn|no|raw`.
    UseDns {
        /// The mode.
        value: String,
    },
    /// `attempt IP [FAILURE...]`: count a failure for `ip` by hand.
    Attempt {
        /// The address.
        ip: String,
        /// Optional matched lines.
        failures: Vec<String>,
    },
    /// `banip IP...`: ban by hand; answers the count newly banned.
    BanIp {
        /// The addresses.
        ips: Vec<String>,
    },
    /// `unbanip [--report-absent] IP...`: unban by hand; answers the count unbanned.
    UnbanIp {
        /// The addresses.
        ips: Vec<String>,
        /// Fail for an address that is not banned.
        report_absent: bool,
    },
    /// `maxretry N`.
    MaxRetry {
        /// Failures before a ban.
        value: u64,
    },
    /// `maxmatches N`.
    MaxMatches {
        /// Matches kept per ticket.
        value: u64,
    },
    /// `maxlines N`.
    MaxLines {
        /// Lines in the multi-line buffer.
        value: u64,
    },
    /// `addaction ACTION [PYTHONFILE JSONKWARGS]`.
    AddAction {
        /// The action's name.
        action: String,
        /// fail2ban's Python action file and its JSON keyword arguments, when given.
        python: Option<(String, String)>,
    },
    /// `delaction ACTION`.
    DelAction {
        /// The action's name.
        action: String,
    },
    /// `action ACTION KEY [VALUE]`: set a property (`actionban`, `timeout`, any tag) or, without
    /// a value or for a method name, call a method with optional JSON keyword arguments.
    Action {
        /// The action's name.
        action: String,
        /// The property or method.
        key: String,
        /// The new value (or the method's JSON keyword arguments).
        value: Option<String>,
    },
}

/// What `get JAIL ...` reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "get", rename_all = "snake_case")]
#[non_exhaustive]
pub enum JailQuery {
    /// `banned [IP...]`: the banned addresses, or 1/0 per address asked.
    Banned {
        /// The addresses asked about (empty: the list).
        ips: Vec<String>,
    },
    /// `banip [SEP|--with-time]`: the banned addresses joined by `SEP` (a space by default),
    /// or one line per ban with its start, duration and end.
    BanIp {
        /// The separator.
        separator: Option<String>,
        /// `--with-time`.
        with_time: bool,
    },
    /// `logpath`.
    LogPath,
    /// `logencoding`.
    LogEncoding,
    /// `journalmatch`.
    JournalMatch,
    /// `ignoreself`.
    IgnoreSelf,
    /// `ignoreip`.
    IgnoreIp,
    /// `ignorecommand`.
    IgnoreCommand,
    /// `ignorecache`.
    IgnoreCache,
    /// `prefregex`.
    PrefRegex,
    /// `failregex`.
    FailRegex,
    /// `ignoreregex`.
    IgnoreRegex,
    /// `findtime`.
    FindTime,
    /// `bantime`.
    BanTime,
    /// `bantime.OPTION`.
    BanTimeExtra {
        /// The option.
        option: BanTimeOption,
    },
    /// `datepattern`.
    DatePattern,
    /// `logtimezone`.
    LogTimeZone,
    /// `usedns`.
    UseDns,
    /// `maxretry`.
    MaxRetry,
    /// `maxmatches`.
    MaxMatches,
    /// `maxlines`.
    MaxLines,
    /// `idle`.
    Idle,
    /// `actions`: the jail's action names.
    Actions,
    /// `action ACTION PROPERTY`.
    Action {
        /// The action's name.
        action: String,
        /// The property.
        property: String,
    },
    /// `actionproperties ACTION`.
    ActionProperties {
        /// The action's name.
        action: String,
    },
    /// `actionmethods ACTION`.
    ActionMethods {
        /// The action's name.
        action: String,
    },
}
