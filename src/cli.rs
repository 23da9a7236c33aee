//! The command-line interface: argument definitions and dispatch to one file per command in
//! `src/cmd/`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd;

/// jailor: a fail2ban-compatible intrusion-prevention daemon.
#[derive(Debug, Parser)]
#[command(name = "jailor", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version.
    Version,
    /// Print the command stream fail2ban-client would send to its server (like `fail2ban-client -d`).
    Dump {
        /// The configuration folder (default: /etc/jailor when installed, else the embedded default;
        /// `-c /etc/fail2ban` reads fail2ban's own configuration).
        #[arg(short = 'c', long = "conf")]
        conf: Option<PathBuf>,
        /// Print one JSON array of commands instead of Python-repr lines.
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration: every enabled jail, its filter and its actions.
    Check {
        /// The configuration folder (default: /etc/jailor when installed, else the embedded default;
        /// `-c /etc/fail2ban` reads fail2ban's own configuration).
        #[arg(short = 'c', long = "conf")]
        conf: Option<PathBuf>,
    },
    /// Send a command to the daemon (fail2ban-client's options and commands).
    Client(cmd::client::ClientArgs),
    /// Test a filter or failregex on a log file or line (fail2ban-regex's equivalent).
    Regex(cmd::regex::RegexArgs),
    /// Run the jails: the daemon (fail2ban-server's options).
    Server {
        /// The configuration folder (as for `check`).
        #[arg(short = 'c', long = "conf")]
        conf: Option<PathBuf>,
        #[command(flatten)]
        args: cmd::server::ServerArgs,
    },
    /// Show jailor's main job without touching the firewall: run one jail over a log (a built-in
    /// sample sshd log by default) and print the bans the daemon would make.
    Demo {
        /// The configuration folder (as for `check`).
        #[arg(short = 'c', long = "conf")]
        conf: Option<PathBuf>,
        /// The jail to run.
        #[arg(short = 'j', long = "jail", default_value = "sshd")]
        jail: String,
        /// A log file to read instead of the built-in sample.
        log: Option<PathBuf>,
    },
    /// Flag filter regexes an attacker could steer: unanchored, an address after a wildcard or
    /// a user field with nothing pinning it, an address inside a user name/URL/mail address,
    /// patterns the linear engine cannot run.
    LintFilter(cmd::lint_filter::LintArgs),
    /// Import fail2ban's database (its bans and ban counts) into jailor's store.
    ImportFail2banDb(cmd::import::ImportArgs),
    /// Write man pages or shell completions (for packaging).
    #[command(hide = true)]
    Generate(cmd::man::GenerateArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Version => {
            println!("jailor {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Dump { conf, json } => cmd::dump::run(config_base(conf)?.path(), json),
        Command::Client(args) => cmd::client::run(args),
        Command::Regex(args) => cmd::regex::run(args),
        Command::Check { conf } => cmd::check::run(config_base(conf)?.path()),
        Command::Server { conf, args } => cmd::server::run(config_base(conf)?.path(), args),
        Command::Demo { conf, jail, log } => {
            let base = config_base(conf)?;
            cmd::demo::run(base.path(), &base.describe(), &jail, log)
        }
        Command::LintFilter(args) => {
            let base = config_base(args.conf.clone())?;
            cmd::lint_filter::run(base.path(), &args.filters)
        }
        Command::ImportFail2banDb(args) => cmd::import::run(args),
        Command::Generate(args) => cmd::man::run(args),
    }
}

/// The process's arguments, with the subcommand a link's name implies inserted: invoked as
/// `fail2ban-client`, `fail2ban-server` or `fail2ban-regex`, jailor behaves as that command.
pub fn args_from_env() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let name = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let sub = match name {
        "fail2ban-client" => Some("client"),
        "fail2ban-server" => Some("server"),
        "fail2ban-regex" => Some("regex"),
        _ => None,
    };
    if let Some(sub) = sub {
        args.insert(1.min(args.len()), sub.into());
        // fail2ban's commands read /etc/fail2ban unless told otherwise; jailor's own default
        // (/etc/jailor or the embedded configuration) applies only to `jailor ...`.
        let has_conf = args.iter().skip(2).any(|a| {
            let a = a.to_string_lossy();
            a == "-c"
                || a == "--conf"
                || a.starts_with("--conf=")
                || (a.starts_with("-c") && a.len() > 2)
        });
        if !has_conf {
            args.insert(2.min(args.len()), "-c".into());
            args.insert(3.min(args.len()), jailor_config::DEFAULT_BASE.into());
        }
    }
    args
}

/// The configuration folder a command reads: `-c DIR`, else `/etc/jailor`, else the embedded
/// default (kept alive by the returned value).
pub fn config_base(conf: Option<PathBuf>) -> anyhow::Result<jailor_config::embedded::ConfigBase> {
    use anyhow::Context;
    jailor_config::embedded::ConfigBase::resolve(conf.as_deref())
        .context("cannot write the embedded default configuration to a temporary folder")
}
