//! `jailor server`: runs the jails (fail2ban-server's options and meanings).
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

/// fail2ban-server's options.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Stay in the foreground.
    #[arg(short = 'f')]
    foreground: bool,
    /// Go to the background (the default).
    #[arg(short = 'b', conflicts_with = "foreground")]
    background: bool,
    /// The control socket path (default: `socket` of fail2ban.conf).
    #[arg(short = 's', long = "socket")]
    socket: Option<PathBuf>,
    /// The pidfile path (default: `pidfile` of fail2ban.conf).
    #[arg(short = 'p', long = "pidfile")]
    pidfile: Option<PathBuf>,
    /// Force: remove a stale socket file.
    #[arg(short = 'x')]
    force: bool,
    /// Log target: a file, STDOUT, STDERR, SYSLOG or SYSTEMD-JOURNAL (overrides logtarget).
    #[arg(long)]
    logtarget: Option<String>,
    /// Log level (overrides loglevel).
    #[arg(long)]
    loglevel: Option<String>,
    /// Serve Prometheus metrics on GET /metrics at ADDR: PORT (on 127.0.0.1), HOST:PORT or
    /// [IPv6]:PORT; `off` disables them (overrides `metrics` of fail2ban.conf).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
}

/// Runs the server with the configuration under `conf` until SIGTERM/SIGINT.
pub fn run(conf: &Path, args: ServerArgs) -> anyhow::Result<ExitCode> {
    let _ = args.background; // the default; accepted for fail2ban-server's command line
    let opts = jailor_daemon::ServerOptions {
        conf: conf.to_path_buf(),
        foreground: args.foreground,
        socket: args.socket,
        pidfile: args.pidfile,
        force: args.force,
        logtarget: args.logtarget,
        loglevel: args.loglevel,
        metrics: args.metrics,
    };
    jailor_daemon::run(&opts)?;
    Ok(ExitCode::SUCCESS)
}
