//! The command-line interface: argument definitions and dispatch to the library crates.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Version => {
            println!("jailor {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
