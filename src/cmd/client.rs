//! `jailor client` (and `fail2ban-client` through a link): sends fail2ban-client's commands to
//! the daemon and prints its answers as fail2ban-client does, or as JSON with `--json`.
//!
//! Exit codes are fail2ban-client's: 0 on success, 255 on any failure.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use jailor_proto::{render, Client, ErrorKind, Request, Response};

mod interactive;
mod shlex;
mod start;

/// fail2ban-client's options.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The configuration folder (default: /etc/jailor when installed, else the embedded default;
    /// `-c /etc/fail2ban` reads fail2ban's own configuration).
    #[arg(short = 'c', long = "conf")]
    pub conf: Option<PathBuf>,
    /// The control socket (default: `socket` of fail2ban.conf).
    #[arg(short = 's', long = "socket")]
    socket: Option<PathBuf>,
    /// The pidfile, passed to the server on `start`.
    #[arg(short = 'p', long = "pidfile")]
    pidfile: Option<PathBuf>,
    /// Accepted for fail2ban-client's command line; jailor's process is always `jailor`.
    #[arg(long)]
    pname: Option<String>,
    /// Log level, passed to the server on `start`.
    #[arg(long)]
    loglevel: Option<String>,
    /// Log target, passed to the server on `start`.
    #[arg(long)]
    logtarget: Option<String>,
    /// Accepted for fail2ban-client's command line (the server reads it from fail2ban.conf).
    #[arg(long)]
    syslogsocket: Option<String>,
    /// Dump the configuration stream (as `jailor dump`) and exit.
    #[arg(short = 'd')]
    dump: bool,
    /// Dump the configuration stream (fail2ban's pretty form is the same lines here).
    #[arg(long = "dp", alias = "dump-pretty")]
    dump_pretty: bool,
    /// Test the configuration (as `jailor check`); with a command, run it when the test passes.
    #[arg(short = 't', long = "test")]
    test: bool,
    /// Interactive mode: read commands at a `fail2ban> ` prompt, with history.
    #[arg(short = 'i')]
    interactive: bool,
    /// Increase verbosity (accepted).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// Decrease verbosity (accepted).
    #[arg(short = 'q', action = clap::ArgAction::Count)]
    quiet: u8,
    /// On `start`: remove a stale socket (passed to the server).
    #[arg(short = 'x')]
    force: bool,
    /// On `start`: run the server in the background (the default).
    #[arg(short = 'b')]
    background: bool,
    /// On `start`: run the server in the foreground.
    #[arg(short = 'f', conflicts_with = "background")]
    foreground: bool,
    /// Accepted for fail2ban-client's command line.
    #[arg(long = "async")]
    async_start: bool,
    /// Seconds to wait for the server (start-up, and each answer); default 30.
    #[arg(long)]
    timeout: Option<f64>,
    /// Print a time abbreviation (`1h30m`, `2d`) in seconds and exit.
    #[arg(long)]
    str2sec: Option<String>,
    /// Print one JSON object per command (shape in crates/proto/PROTOCOL.md).
    #[arg(long)]
    json: bool,
    /// Print the short version (fail2ban's version jailor is compatible with) and exit.
    #[arg(short = 'V')]
    short_version: bool,
    /// Print the version and exit.
    #[arg(long = "version")]
    long_version: bool,
    /// The command and its arguments, e.g. `status sshd` or `set sshd banip 192.0.2.1`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// fail2ban-client's failure exit code.
pub const FAILURE: u8 = 255;

/// What one command run needs: where the socket is and how to print.
pub(crate) struct Session {
    socket: PathBuf,
    json: bool,
    timeout: Duration,
}

/// Runs fail2ban-client's command line; any failure exits with 255, as fail2ban-client.
pub fn run(args: ClientArgs) -> anyhow::Result<ExitCode> {
    run_inner(args).or_else(|e| {
        eprintln!("ERROR   {e:#}");
        Ok(ExitCode::from(FAILURE))
    })
}

fn run_inner(args: ClientArgs) -> anyhow::Result<ExitCode> {
    if let Some(s) = &args.str2sec {
        return Ok(match jailor_config::parse_time(s) {
            Ok(secs) => {
                println!("{}", secs as i64);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ERROR   {e}");
                ExitCode::from(FAILURE)
            }
        });
    }
    if args.short_version {
        println!("{}", jailor_config::FAIL2BAN_VERSION);
        return Ok(ExitCode::SUCCESS);
    }
    if args.long_version {
        println!(
            "Fail2Ban v{} (jailor {})",
            jailor_config::FAIL2BAN_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The configuration is read only when a step needs it (`-s` alone does not).
    let base = || crate::cli::config_base(args.conf.clone());
    if args.dump || args.dump_pretty {
        return failure_is_255(super::dump::run(base()?.path(), false)?);
    }
    if args.test {
        let code = super::check::run(base()?.path())?;
        if code != ExitCode::SUCCESS {
            println!("ERROR: test configuration failed");
            return Ok(ExitCode::from(FAILURE));
        }
        println!("OK: configuration test is successful");
        if args.command.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let socket = match &args.socket {
        Some(s) => s.clone(),
        None => match jailor_config::Loader::new(base()?.path()).read_server() {
            Ok(server) => PathBuf::from(server.socket),
            Err(e) => {
                eprintln!("ERROR   {e}");
                return Ok(ExitCode::from(FAILURE));
            }
        },
    };
    let timeout = Duration::from_secs_f64(
        args.timeout
            .filter(|t| t.is_finite() && *t > 0.0)
            .unwrap_or(30.0),
    );
    let session = Session {
        socket,
        json: args.json,
        timeout,
    };
    if args.interactive {
        return interactive::run(&session, &args);
    }
    if args.command.is_empty() {
        eprintln!("ERROR   no command given (see `jailor client --help`)");
        return Ok(ExitCode::from(FAILURE));
    }
    Ok(exit(session.command(&args, &args.command)))
}

fn failure_is_255(code: ExitCode) -> anyhow::Result<ExitCode> {
    Ok(if code == ExitCode::SUCCESS {
        code
    } else {
        ExitCode::from(FAILURE)
    })
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILURE)
    }
}

impl Session {
    /// Runs one command line's words; prints the outcome; true on success.
    pub(crate) fn command(&self, args: &ClientArgs, words: &[String]) -> bool {
        match words.first().map(String::as_str) {
            Some("start") if words.len() == 1 => {
                // `-f start` returns when the server has stopped: nothing to announce then.
                let ready = if args.foreground { "" } else { "Server ready" };
                let outcome = start::start(self, args).map(|()| ready);
                return self.report(words, outcome);
            }
            Some("restart") if !words[1..].iter().any(|w| !w.starts_with("--")) => {
                let outcome = start::restart(self, args, words).map(|stopped| match stopped {
                    true => "Shutdown successful\nServer ready",
                    false => "Server ready",
                });
                return self.report(words, outcome);
            }
            Some("help") => {
                println!("{HELP}");
                return true;
            }
            _ => {}
        }
        let request = match Request::from_words(words) {
            Ok(r) => r,
            Err(e) => return self.fail(words, &e),
        };
        let timeout = match (&request, words.get(1)) {
            (Request::Ping, Some(t)) => t
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t > 0.0)
                .map_or(self.timeout, Duration::from_secs_f64),
            _ => self.timeout,
        };
        match self.send(&request, timeout) {
            Ok(response) => self.print(&request, words, &response),
            Err(e) => self.fail(words, &e),
        }
    }

    /// Connects and sends one request.
    pub(crate) fn send(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, jailor_proto::Error> {
        Client::connect(&self.socket, Some(timeout))?.send(request)
    }

    fn print(&self, request: &Request, words: &[String], response: &Response) -> bool {
        if self.json {
            println!("{}", render::json(words, response));
        } else {
            let text = render(request, response);
            if let Response::Error(f) = response {
                eprintln!("ERROR   NOK: {}", f.message);
            }
            if !(text.is_empty() && matches!(response, Response::Done)) {
                println!("{text}");
            }
        }
        !response.is_error()
    }

    /// Prints the outcome of a client-side step (`start`, `restart`): fail2ban-client's text.
    fn report(&self, words: &[String], outcome: Result<&str, jailor_proto::Error>) -> bool {
        match outcome {
            Ok(text) => {
                if self.json {
                    println!("{}", render::json(words, &Response::Done));
                } else if !text.is_empty() {
                    println!("{text}");
                }
                true
            }
            Err(e) => self.fail(words, &e),
        }
    }

    /// Prints an error that never became a daemon response.
    fn fail(&self, words: &[String], e: &jailor_proto::Error) -> bool {
        if self.json {
            println!(
                "{}",
                render::json_error(words, error_kind(e.kind()), &e.to_string())
            );
            return false;
        }
        match e.kind() {
            // Bad words: fail2ban's server answers these, and its client prints the text.
            ErrorKind::InvalidCommand(msg) | ErrorKind::InvalidValue(msg) => {
                eprintln!("ERROR   NOK: {msg}");
                println!("{msg}");
            }
            _ => eprintln!("ERROR   {e}"),
        }
        false
    }
}

/// The `error.kind` of `--json` output for client-side failures.
fn error_kind(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidCommand(_) => "invalid_command",
        ErrorKind::InvalidValue(_) => "invalid_value",
        ErrorKind::NotRunning(_) => "not_running",
        ErrorKind::PermissionDenied(_) => "permission_denied",
        ErrorKind::AlreadyRunning(_) => "already_running",
        ErrorKind::VersionMismatch { .. } => "version_mismatch",
        ErrorKind::FrameTooLarge { .. } => "too_large",
        ErrorKind::Timeout => "timeout",
        _ => "failed",
    }
}

/// The interactive `help` text: fail2ban-client's command set.
const HELP: &str = "\
Commands (as fail2ban-client's):
  start | restart [--unban] [JAIL] | reload [--restart] [--unban] [--all] [--if-exists] [JAIL]
  stop [JAIL|--all] | unban --all | unban IP... | banned [IP...] | status [--all|--fleet] [FLAVOR]
  status JAIL [basic|short|stats|cymru] | stats | ping [TIMEOUT] | echo ... | version
  set|get loglevel|logtarget|syslogsocket|dbfile|dbmaxmatches|dbpurgeage [VALUE] | flushlogs
  add JAIL [BACKEND] | start JAIL
  set JAIL idle|ignoreself|addignoreip|delignoreip|ignorecommand|ignorecache|addlogpath|
           dellogpath|logencoding|addjournalmatch|deljournalmatch|prefregex|addfailregex|
           delfailregex|addignoreregex|delignoreregex|findtime|bantime|bantime.*|datepattern|
           logtimezone|usedns|attempt|banip|unbanip|maxretry|maxmatches|maxlines|addaction|
           delaction|action ... VALUE
  get JAIL banned|banip|logpath|logencoding|journalmatch|ignoreself|ignoreip|ignorecommand|
           ignorecache|prefregex|failregex|ignoreregex|findtime|bantime|bantime.*|datepattern|
           logtimezone|usedns|maxretry|maxmatches|maxlines|actions|action|actionproperties|
           actionmethods ...
  help | exit | quit";
