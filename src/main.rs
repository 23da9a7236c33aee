//! `jailor`: the command-line entry point. A thin layer over the library crates.
use clap::Parser;

mod cli;
mod cmd;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse_from(cli::args_from_env());
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("jailor: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
