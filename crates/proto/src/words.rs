//! `fail2ban-client`'s command words to a [`Request`] and back.
//!
//! The error texts are the ones fail2ban's server answers for the same words, so a script that
//! greps them keeps working; jailor checks them in the client, before any connection.

use crate::error::Error;
use crate::request::{
    BanTimeOption, Flavor, JailQuery, JailSetting, Request, ServerOption, ServerSetting,
};

/// fail2ban's answer to a command it does not know.
pub const INVALID_COMMAND: &str = "Invalid command";
/// fail2ban's answer to a known command with too few words.
pub const SHORT_COMMAND: &str = "Sorry but the command is invalid";
/// fail2ban's answer to `get JAIL <unknown>`.
pub const INVALID_GET: &str = "Invalid command (no get action or not yet implemented)";

/// The log levels `set loglevel` accepts by name (numbers 1–50 are accepted too).
pub const LOG_LEVELS: [&str; 8] = [
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG",
    "TRACEDEBUG",
    "HEAVYDEBUG",
];

impl Request {
    /// Parses `fail2ban-client`'s command words (everything after its options), e.g.
    /// `["set", "sshd", "banip", "192.0.2.1"]`.
    ///
    /// `start` without a jail is not a request: the client starts the daemon itself, so it is
    /// an error here.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidCommand`](crate::ErrorKind::InvalidCommand) or
    /// [`ErrorKind::InvalidValue`](crate::ErrorKind::InvalidValue) with fail2ban's text, for
    /// example `Invalid command 'foo' (no set action or not yet implemented)`.
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Result<Request, Error> {
        let words: Vec<&str> = words.iter().map(AsRef::as_ref).collect();
        let Some((&first, rest)) = words.split_first() else {
            return Err(Error::invalid_command(SHORT_COMMAND));
        };
        Ok(match first {
            "ping" => Request::Ping,
            "echo" => Request::Echo { words: owned(rest) },
            "version" => Request::Version,
            "stats" | "statistic" | "statistics" => Request::Stats,
            "flushlogs" => Request::FlushLogs,
            "server-status" => Request::ServerStatus,
            "status" => parse_status(rest)?,
            "banned" => Request::Banned { ips: owned(rest) },
            "start" => match rest {
                [jail] => Request::StartJail {
                    jail: jail.to_string(),
                },
                [] => {
                    return Err(Error::invalid_command(
                        "`start` without a jail starts the server: the client does it",
                    ))
                }
                _ => return Err(Error::invalid_command(SHORT_COMMAND)),
            },
            "stop" => match rest {
                [] => Request::Stop,
                ["--all"] => Request::StopJail { jail: None },
                [jail] => Request::StopJail {
                    jail: Some(jail.to_string()),
                },
                _ => return Err(Error::invalid_command(SHORT_COMMAND)),
            },
            "restart" => parse_reload(rest, true)?,
            "reload" => parse_reload(rest, false)?,
            "unban" => match rest {
                [] => return Err(Error::invalid_command(SHORT_COMMAND)),
                ["--all"] => Request::Unban {
                    ips: Vec::new(),
                    all: true,
                },
                ips => Request::Unban {
                    ips: owned(ips),
                    all: false,
                },
            },
            "add" => match rest {
                [jail] => Request::AddJail {
                    jail: jail.to_string(),
                    backend: "auto".into(),
                },
                // fail2ban ignores words after the backend.
                [jail, backend, ..] => Request::AddJail {
                    jail: jail.to_string(),
                    backend: backend.to_string(),
                },
                _ => return Err(Error::invalid_command(SHORT_COMMAND)),
            },
            "sleep" => match rest {
                [s] => Request::Sleep {
                    seconds: parse_float(s)?,
                },
                _ => return Err(Error::invalid_command(SHORT_COMMAND)),
            },
            "set" => parse_set(rest)?,
            "get" => parse_get(rest)?,
            _ => return Err(Error::invalid_command(INVALID_COMMAND)),
        })
    }

    /// The command words of this request, in the canonical form [`Request::from_words`]
    /// parses back to the same request.
    pub fn to_words(&self) -> Vec<String> {
        let mut w: Vec<String> = Vec::new();
        match self {
            Request::Ping => w.push("ping".into()),
            Request::Echo { words } => {
                w.push("echo".into());
                w.extend(words.iter().cloned());
            }
            Request::Version => w.push("version".into()),
            Request::Stats => w.push("stats".into()),
            Request::FlushLogs => w.push("flushlogs".into()),
            Request::ServerStatus => w.push("server-status".into()),
            Request::Status { all, flavor } => {
                w.push("status".into());
                if *all {
                    w.push("--all".into());
                    w.push(flavor.as_word().into());
                }
            }
            Request::FleetStatus => w.extend(["status".into(), "--fleet".into()]),
            Request::JailStatus { jail, flavor } => {
                w.extend(["status".into(), jail.clone(), flavor.as_word().into()]);
            }
            Request::Banned { ips } => {
                w.push("banned".into());
                w.extend(ips.iter().cloned());
            }
            Request::StartJail { jail } => w.extend(["start".into(), jail.clone()]),
            Request::Stop => w.push("stop".into()),
            Request::StopJail { jail } => {
                w.push("stop".into());
                w.push(jail.clone().unwrap_or_else(|| "--all".into()));
            }
            Request::Restart { unban } => {
                w.push("restart".into());
                if *unban {
                    w.push("--unban".into());
                }
            }
            Request::Reload {
                jail,
                restart,
                unban,
                all,
                if_exists,
            } => {
                w.push("reload".into());
                for (on, flag) in [
                    (*restart, "--restart"),
                    (*unban, "--unban"),
                    (*all, "--all"),
                    (*if_exists, "--if-exists"),
                ] {
                    if on {
                        w.push(flag.into());
                    }
                }
                w.extend(jail.iter().cloned());
            }
            Request::Unban { ips, all } => {
                w.push("unban".into());
                if *all {
                    w.push("--all".into());
                }
                w.extend(ips.iter().cloned());
            }
            Request::AddJail { jail, backend } => {
                w.extend(["add".into(), jail.clone(), backend.clone()]);
            }
            Request::Sleep { seconds } => w.extend(["sleep".into(), seconds.to_string()]),
            Request::SetServer { setting } => {
                w.extend(["set".into(), setting.option().as_word().into()]);
                w.push(match setting {
                    ServerSetting::LogLevel(v)
                    | ServerSetting::LogTarget(v)
                    | ServerSetting::SyslogSocket(v)
                    | ServerSetting::DbFile(v)
                    | ServerSetting::DbPurgeAge(v) => v.clone(),
                    ServerSetting::DbMaxMatches(n) => n.to_string(),
                });
            }
            Request::GetServer { option } => w.extend(["get".into(), option.as_word().into()]),
            Request::SetJail { jail, setting } => {
                w.extend(["set".into(), jail.clone()]);
                set_words(setting, &mut w);
            }
            Request::GetJail { jail, query } => {
                w.extend(["get".into(), jail.clone()]);
                get_words(query, &mut w);
            }
        }
        w
    }
}

fn owned(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

fn parse_status(rest: &[&str]) -> Result<Request, Error> {
    // An unknown flavor is fail2ban's basic output (it only warns).
    let flavor = |w: Option<&&str>| w.and_then(|w| Flavor::from_word(w)).unwrap_or_default();
    Ok(match rest {
        [] => Request::Status {
            all: false,
            flavor: Flavor::Basic,
        },
        ["--fleet"] => Request::FleetStatus,
        ["--all", more @ ..] if more.len() <= 1 => Request::Status {
            all: true,
            flavor: flavor(more.first()),
        },
        [jail, more @ ..] if more.len() <= 1 => Request::JailStatus {
            jail: jail.to_string(),
            flavor: flavor(more.first()),
        },
        _ => return Err(Error::invalid_command(SHORT_COMMAND)),
    })
}

fn parse_reload(rest: &[&str], restart_cmd: bool) -> Result<Request, Error> {
    let (mut restart, mut unban, mut all, mut if_exists) = (restart_cmd, false, false, false);
    let mut jail = None;
    for &word in rest {
        match word {
            "--restart" if !restart_cmd => restart = true,
            "--unban" => unban = true,
            "--all" if !restart_cmd => all = true,
            "--if-exists" => if_exists = true,
            w if w.starts_with("--") => return Err(Error::invalid_command(INVALID_COMMAND)),
            w if jail.is_none() => jail = Some(w.to_string()),
            _ => return Err(Error::invalid_command(SHORT_COMMAND)),
        }
    }
    if restart_cmd && jail.is_none() {
        if if_exists {
            return Err(Error::invalid_command(SHORT_COMMAND));
        }
        return Ok(Request::Restart { unban });
    }
    Ok(Request::Reload {
        jail,
        restart,
        unban,
        all,
        if_exists,
    })
}

fn parse_int(word: &str) -> Result<u64, Error> {
    word.trim().parse().map_err(|_| {
        Error::invalid_value(format!("invalid literal for int() with base 10: '{word}'"))
    })
}

fn parse_float(word: &str) -> Result<f64, Error> {
    match word.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(Error::invalid_value(format!(
            "could not convert string to float: '{word}'"
        ))),
    }
}

/// fail2ban's boolean words (`true/yes/on/1`, `false/no/off/0`, any case).
fn parse_bool(word: &str) -> Result<bool, Error> {
    match word.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(Error::invalid_value(format!(
            "Invalid boolean value '{word}'"
        ))),
    }
}

fn parse_loglevel(word: &str) -> Result<String, Error> {
    let upper = word.to_ascii_uppercase();
    if LOG_LEVELS.contains(&upper.as_str()) {
        return Ok(upper);
    }
    match word.parse::<u8>() {
        Ok(n) if (1..=50).contains(&n) => Ok(n.to_string()),
        _ => Err(Error::invalid_value(format!("Invalid log level '{word}'"))),
    }
}

fn parse_set(rest: &[&str]) -> Result<Request, Error> {
    match rest {
        [] | [_] => Err(Error::invalid_command(SHORT_COMMAND)),
        [name, value] if ServerOption::from_word(name).is_some() => {
            let value = value.to_string();
            let setting = match ServerOption::from_word(name) {
                Some(ServerOption::LogLevel) => ServerSetting::LogLevel(parse_loglevel(&value)?),
                Some(ServerOption::LogTarget) => ServerSetting::LogTarget(value),
                Some(ServerOption::SyslogSocket) => ServerSetting::SyslogSocket(value),
                Some(ServerOption::DbFile) => ServerSetting::DbFile(value),
                Some(ServerOption::DbMaxMatches) => ServerSetting::DbMaxMatches(parse_int(&value)?),
                Some(ServerOption::DbPurgeAge) | None => ServerSetting::DbPurgeAge(value),
            };
            Ok(Request::SetServer { setting })
        }
        [jail, key, args @ ..] => Ok(Request::SetJail {
            jail: jail.to_string(),
            setting: parse_jail_set(key, args)?,
        }),
    }
}

fn parse_jail_set(key: &str, args: &[&str]) -> Result<JailSetting, Error> {
    let unknown = || {
        Error::invalid_command(format!(
            "Invalid command '{key}' (no set action or not yet implemented)"
        ))
    };
    // Every setting takes at least one value; a single-value setting takes the first word,
    // as fail2ban does.
    let Some(&first) = args.first() else {
        return Err(if set_key_known(key) {
            Error::invalid_command(SHORT_COMMAND)
        } else {
            unknown()
        });
    };
    let one = || first.to_string();
    Ok(match key {
        "idle" => JailSetting::Idle {
            on: parse_bool(first)?,
        },
        "ignoreself" => JailSetting::IgnoreSelf {
            value: parse_bool(first)?,
        },
        "addignoreip" => JailSetting::AddIgnoreIp {
            values: owned(args),
        },
        "delignoreip" => JailSetting::DelIgnoreIp {
            values: owned(args),
        },
        "ignorecommand" => JailSetting::IgnoreCommand { value: one() },
        "ignorecache" => JailSetting::IgnoreCache { value: one() },
        "addlogpath" => JailSetting::AddLogPath {
            path: one(),
            tail: match args.get(1) {
                None | Some(&"head") => false,
                Some(&"tail") => true,
                Some(_) => return Err(Error::invalid_command(SHORT_COMMAND)),
            },
        },
        "dellogpath" => JailSetting::DelLogPath { path: one() },
        "logencoding" => JailSetting::LogEncoding { value: one() },
        "addjournalmatch" => JailSetting::AddJournalMatch {
            values: owned(args),
        },
        "deljournalmatch" => JailSetting::DelJournalMatch {
            values: owned(args),
        },
        "prefregex" => JailSetting::PrefRegex { value: one() },
        "addfailregex" => JailSetting::AddFailRegex { value: one() },
        "delfailregex" => JailSetting::DelFailRegex {
            index: parse_index(first)?,
        },
        "addignoreregex" => JailSetting::AddIgnoreRegex { value: one() },
        "delignoreregex" => JailSetting::DelIgnoreRegex {
            index: parse_index(first)?,
        },
        "findtime" => JailSetting::FindTime { value: one() },
        "bantime" => JailSetting::BanTime { value: one() },
        "datepattern" => JailSetting::DatePattern { value: one() },
        "logtimezone" => JailSetting::LogTimeZone { value: one() },
        "usedns" => JailSetting::UseDns { value: one() },
        "attempt" => JailSetting::Attempt {
            ip: one(),
            failures: owned(&args[1..]),
        },
        "banip" => JailSetting::BanIp { ips: owned(args) },
        "unbanip" => {
            let report_absent = first == "--report-absent";
            let ips = if report_absent { &args[1..] } else { args };
            if ips.is_empty() {
                return Err(Error::invalid_command(SHORT_COMMAND));
            }
            JailSetting::UnbanIp {
                ips: owned(ips),
                report_absent,
            }
        }
        "maxretry" => JailSetting::MaxRetry {
            value: parse_int(first)?,
        },
        "maxmatches" => JailSetting::MaxMatches {
            value: parse_int(first)?,
        },
        "maxlines" => JailSetting::MaxLines {
            value: parse_int(first)?,
        },
        "addaction" => JailSetting::AddAction {
            action: one(),
            python: match args {
                [_] => None,
                [_, file, kwargs] => Some((file.to_string(), kwargs.to_string())),
                [_, file] => Some((file.to_string(), "{}".to_string())),
                _ => return Err(Error::invalid_command(SHORT_COMMAND)),
            },
        },
        "delaction" => JailSetting::DelAction { action: one() },
        "action" => match args {
            [action, key] => JailSetting::Action {
                action: action.to_string(),
                key: key.to_string(),
                value: None,
            },
            [action, key, value] => JailSetting::Action {
                action: action.to_string(),
                key: key.to_string(),
                value: Some(value.to_string()),
            },
            _ => return Err(Error::invalid_command(SHORT_COMMAND)),
        },
        _ => match BanTimeOption::from_word(key) {
            Some(option) => JailSetting::BanTimeExtra {
                option,
                value: one(),
            },
            None => return Err(unknown()),
        },
    })
}

fn set_key_known(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "idle",
        "ignoreself",
        "addignoreip",
        "delignoreip",
        "ignorecommand",
        "ignorecache",
        "addlogpath",
        "dellogpath",
        "logencoding",
        "addjournalmatch",
        "deljournalmatch",
        "prefregex",
        "addfailregex",
        "delfailregex",
        "addignoreregex",
        "delignoreregex",
        "findtime",
        "bantime",
        "datepattern",
        "logtimezone",
        "usedns",
        "attempt",
        "banip",
        "unbanip",
        "maxretry",
        "maxmatches",
        "maxlines",
        "addaction",
        "delaction",
        "action",
    ];
    KEYS.contains(&key) || BanTimeOption::from_word(key).is_some()
}

fn parse_index(word: &str) -> Result<usize, Error> {
    parse_int(word).and_then(|n| {
        usize::try_from(n).map_err(|_| Error::invalid_value(format!("index out of range: {n}")))
    })
}

fn parse_get(rest: &[&str]) -> Result<Request, Error> {
    match rest {
        [] => Err(Error::invalid_command(SHORT_COMMAND)),
        [name] => match ServerOption::from_word(name) {
            Some(option) => Ok(Request::GetServer { option }),
            None => Err(Error::invalid_command(SHORT_COMMAND)),
        },
        [jail, key, args @ ..] => Ok(Request::GetJail {
            jail: jail.to_string(),
            query: parse_jail_get(key, args)?,
        }),
    }
}

fn parse_jail_get(key: &str, args: &[&str]) -> Result<JailQuery, Error> {
    let action = || match args.first() {
        Some(a) => Ok(a.to_string()),
        None => Err(Error::invalid_command(SHORT_COMMAND)),
    };
    Ok(match key {
        "banned" => JailQuery::Banned { ips: owned(args) },
        "banip" => match args {
            [] => JailQuery::BanIp {
                separator: None,
                with_time: false,
            },
            ["--with-time"] => JailQuery::BanIp {
                separator: None,
                with_time: true,
            },
            [sep] => JailQuery::BanIp {
                separator: Some(sep.to_string()),
                with_time: false,
            },
            _ => return Err(Error::invalid_command(SHORT_COMMAND)),
        },
        "logpath" => JailQuery::LogPath,
        "logencoding" => JailQuery::LogEncoding,
        "journalmatch" => JailQuery::JournalMatch,
        "ignoreself" => JailQuery::IgnoreSelf,
        "ignoreip" => JailQuery::IgnoreIp,
        "ignorecommand" => JailQuery::IgnoreCommand,
        "ignorecache" => JailQuery::IgnoreCache,
        "prefregex" => JailQuery::PrefRegex,
        "failregex" => JailQuery::FailRegex,
        "ignoreregex" => JailQuery::IgnoreRegex,
        "findtime" => JailQuery::FindTime,
        "bantime" => JailQuery::BanTime,
        "datepattern" => JailQuery::DatePattern,
        "logtimezone" => JailQuery::LogTimeZone,
        "usedns" => JailQuery::UseDns,
        "maxretry" => JailQuery::MaxRetry,
        "maxmatches" => JailQuery::MaxMatches,
        "maxlines" => JailQuery::MaxLines,
        "idle" => JailQuery::Idle,
        "actions" => JailQuery::Actions,
        "action" => match args {
            [action, property] => JailQuery::Action {
                action: action.to_string(),
                property: property.to_string(),
            },
            _ => return Err(Error::invalid_command(SHORT_COMMAND)),
        },
        "actionproperties" => JailQuery::ActionProperties { action: action()? },
        "actionmethods" => JailQuery::ActionMethods { action: action()? },
        _ => match BanTimeOption::from_word(key) {
            Some(option) => JailQuery::BanTimeExtra { option },
            None => return Err(Error::invalid_command(INVALID_GET)),
        },
    })
}

fn set_words(setting: &JailSetting, w: &mut Vec<String>) {
    let mut push = |items: &[&str]| w.extend(items.iter().map(|s| s.to_string()));
    match setting {
        JailSetting::Idle { on } => push(&["idle", if *on { "on" } else { "off" }]),
        JailSetting::IgnoreSelf { value } => push(&["ignoreself", bool_word(*value)]),
        JailSetting::AddIgnoreIp { values } => push_all(w, "addignoreip", values),
        JailSetting::DelIgnoreIp { values } => push_all(w, "delignoreip", values),
        JailSetting::IgnoreCommand { value } => push(&["ignorecommand", value]),
        JailSetting::IgnoreCache { value } => push(&["ignorecache", value]),
        JailSetting::AddLogPath { path, tail } => {
            push(&["addlogpath", path, if *tail { "tail" } else { "head" }])
        }
        JailSetting::DelLogPath { path } => push(&["dellogpath", path]),
        JailSetting::LogEncoding { value } => push(&["logencoding", value]),
        JailSetting::AddJournalMatch { values } => push_all(w, "addjournalmatch", values),
        JailSetting::DelJournalMatch { values } => push_all(w, "deljournalmatch", values),
        JailSetting::PrefRegex { value } => push(&["prefregex", value]),
        JailSetting::AddFailRegex { value } => push(&["addfailregex", value]),
        JailSetting::DelFailRegex { index } => push(&["delfailregex", &index.to_string()]),
        JailSetting::AddIgnoreRegex { value } => push(&["addignoreregex", value]),
        JailSetting::DelIgnoreRegex { index } => push(&["delignoreregex", &index.to_string()]),
        JailSetting::FindTime { value } => push(&["findtime", value]),
        JailSetting::BanTime { value } => push(&["bantime", value]),
        JailSetting::BanTimeExtra { option, value } => push(&[option.as_word(), value]),
        JailSetting::DatePattern { value } => push(&["datepattern", value]),
        JailSetting::LogTimeZone { value } => push(&["logtimezone", value]),
        JailSetting::UseDns { value } => push(&["usedns", value]),
        JailSetting::Attempt { ip, failures } => {
            push(&["attempt", ip]);
            w.extend(failures.iter().cloned());
        }
        JailSetting::BanIp { ips } => push_all(w, "banip", ips),
        JailSetting::UnbanIp { ips, report_absent } => {
            push(&["unbanip"]);
            if *report_absent {
                w.push("--report-absent".into());
            }
            w.extend(ips.iter().cloned());
        }
        JailSetting::MaxRetry { value } => push(&["maxretry", &value.to_string()]),
        JailSetting::MaxMatches { value } => push(&["maxmatches", &value.to_string()]),
        JailSetting::MaxLines { value } => push(&["maxlines", &value.to_string()]),
        JailSetting::AddAction { action, python } => {
            push(&["addaction", action]);
            if let Some((file, kwargs)) = python {
                w.extend([file.clone(), kwargs.clone()]);
            }
        }
        JailSetting::DelAction { action } => push(&["delaction", action]),
        JailSetting::Action { action, key, value } => {
            push(&["action", action, key]);
            w.extend(value.iter().cloned());
        }
    }
}

fn push_all(w: &mut Vec<String>, key: &str, values: &[String]) {
    w.push(key.into());
    w.extend(values.iter().cloned());
}

fn bool_word(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn get_words(query: &JailQuery, w: &mut Vec<String>) {
    let word = match query {
        JailQuery::Banned { ips } => return push_all(w, "banned", ips),
        JailQuery::BanIp {
            separator,
            with_time,
        } => {
            w.push("banip".into());
            if *with_time {
                w.push("--with-time".into());
            } else {
                w.extend(separator.iter().cloned());
            }
            return;
        }
        JailQuery::Action { action, property } => {
            w.extend(["action".into(), action.clone(), property.clone()]);
            return;
        }
        JailQuery::ActionProperties { action } => {
            w.extend(["actionproperties".into(), action.clone()]);
            return;
        }
        JailQuery::ActionMethods { action } => {
            w.extend(["actionmethods".into(), action.clone()]);
            return;
        }
        JailQuery::BanTimeExtra { option } => option.as_word(),
        JailQuery::LogPath => "logpath",
        JailQuery::LogEncoding => "logencoding",
        JailQuery::JournalMatch => "journalmatch",
        JailQuery::IgnoreSelf => "ignoreself",
        JailQuery::IgnoreIp => "ignoreip",
        JailQuery::IgnoreCommand => "ignorecommand",
        JailQuery::IgnoreCache => "ignorecache",
        JailQuery::PrefRegex => "prefregex",
        JailQuery::FailRegex => "failregex",
        JailQuery::IgnoreRegex => "ignoreregex",
        JailQuery::FindTime => "findtime",
        JailQuery::BanTime => "bantime",
        JailQuery::DatePattern => "datepattern",
        JailQuery::LogTimeZone => "logtimezone",
        JailQuery::UseDns => "usedns",
        JailQuery::MaxRetry => "maxretry",
        JailQuery::MaxMatches => "maxmatches",
        JailQuery::MaxLines => "maxlines",
        JailQuery::Idle => "idle",
        JailQuery::Actions => "actions",
    };
    w.push(word.into());
}
