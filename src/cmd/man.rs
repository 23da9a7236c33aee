//! `jailor generate`: man pages and shell completions from the CLI definition, for packaging.
//!
//! `packaging/build-deb.sh` runs `jailor generate man DIR` and `jailor generate completions
//! DIR` before `cargo deb`, so the pages always match the binary that is packaged. The
//! subcommand is hidden from `--help`. jailor.conf(5) is written by hand
//! (`packaging/man/jailor.conf.5`).
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory, Subcommand};
use clap_complete::Shell;

/// `jailor generate`'s arguments.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Write jailor.1 and one jailor-SUBCOMMAND.1 per subcommand into DIR.
    Man {
        /// The folder to write into (created if missing).
        dir: PathBuf,
    },
    /// Write completions into DIR: jailor.bash, _jailor (zsh) and jailor.fish.
    Completions {
        /// The folder to write into (created if missing).
        dir: PathBuf,
    },
}

/// Writes the man pages or the completions and lists the files written.
pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let written = match args.what {
        What::Man { dir } => man_pages(&dir)?,
        What::Completions { dir } => completions(&dir)?,
    };
    for path in written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// jailor(1), then one page per visible subcommand, named as `man jailor-server` finds it.
fn man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let cmd = crate::cli::Cli::command();
    let mut written = Vec::new();
    let page = |cmd: clap::Command, name: &str| -> anyhow::Result<PathBuf> {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .title(name.to_uppercase())
            .source(format!("jailor {}", env!("CARGO_PKG_VERSION")))
            .manual("jailor manual")
            .render(&mut out)
            .with_context(|| format!("rendering {name}(1)"))?;
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("jailor-{}", sub.get_name());
        // A subcommand's page shows its usage as `jailor NAME`, as it is typed.
        let sub = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("jailor {}", sub.get_name()));
        written.push(page(sub, &name)?);
    }
    written.insert(0, page(cmd, "jailor")?);
    Ok(written)
}

/// Completion scripts for bash, zsh and fish, under the names their Debian folders expect.
fn completions(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let mut written = Vec::new();
    for (shell, file) in [
        (Shell::Bash, "jailor.bash"),
        (Shell::Zsh, "_jailor"),
        (Shell::Fish, "jailor.fish"),
    ] {
        let mut cmd = crate::cli::Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "jailor", &mut out);
        let path = dir.join(file);
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
