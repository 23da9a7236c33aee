//! `jailor import-fail2ban-db`: brings fail2ban's bans and ban counts into jailor's store.
//!
//! The reading and the decisions live in `jailor_store` ([`jailor_store::Fail2banDb`],
//! [`jailor_store::plan_import`]); this file finds the two databases and prints the plan.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use jailor_store::{DbFile, Fail2banDb, ImportDecision, ImportPlan, Store, StoreOptions};

/// Where fail2ban keeps its database on Debian and most distributions.
const FAIL2BAN_DB: &str = "/var/lib/fail2ban/fail2ban.sqlite3";

/// fail2ban's default `bantime` (10 minutes), for a jail that does not set one.
const DEFAULT_BANTIME: i64 = 600;

/// `jailor import-fail2ban-db`'s arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// fail2ban's database (opened read-only, never changed).
    #[arg(default_value = FAIL2BAN_DB)]
    path: PathBuf,
    /// Print what would be imported; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The configuration folder whose `dbfile` names jailor's store (as for `check`).
    #[arg(short = 'c', long = "conf")]
    conf: Option<PathBuf>,
    /// jailor's database to import into, instead of the configuration's `dbfile`.
    #[arg(long = "dbfile", value_name = "JAILOR_DB")]
    dbfile: Option<PathBuf>,
}

/// Runs the import (or the dry run) and prints one line per ban and a summary.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let base = crate::cli::config_base(args.conf.clone())?;
    let target = match &args.dbfile {
        Some(path) => path.clone(),
        None => configured_store(base.path())?,
    };
    if same_file(&target, &args.path) {
        bail!(
            "{} is fail2ban's database itself; jailor imports into its own",
            target.display()
        );
    }
    let source = Fail2banDb::open(&args.path)?;
    let bans = source.bans()?;
    let mut store = open_store(&target, args.dry_run)?;
    let bantimes = if bans
        .iter()
        .any(|b| b.bantime == jailor_store::UNKNOWN_BANTIME)
    {
        jail_bantimes(base.path())
    } else {
        Default::default()
    };
    let plan = jailor_store::plan_import(&store, bans, |jail| bantimes.get(jail).copied())?;
    let now = jiff::Timestamp::now().as_second();
    print_plan(&plan, now, args.dry_run);
    let verb = if args.dry_run {
        "would be imported"
    } else {
        "imported"
    };
    let written = if args.dry_run {
        plan.to_write().count()
    } else {
        plan.apply(&mut store)?
    };
    let active = plan.to_write().filter(|b| b.is_active(now)).count();
    println!(
        "{written} of {} bans from {} {verb} into {} ({active} still in force)",
        plan.bans.len(),
        source.database(),
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// jailor's database as the daemon chooses it: the configuration's `dbfile`, or
/// `jailor.sqlite3` beside it when `dbfile` names fail2ban's own database.
fn configured_store(base: &Path) -> anyhow::Result<PathBuf> {
    let server = jailor_config::Loader::new(base)
        .read_server()
        .with_context(|| format!("reading the configuration in {}", base.display()))?;
    let path = match DbFile::parse(&server.dbfile) {
        DbFile::Path(path) => path,
        DbFile::Disabled | DbFile::Memory => bail!(
            "dbfile = {} in {} keeps no database to import into; give one with --dbfile",
            server.dbfile.trim(),
            base.display()
        ),
    };
    let is_fail2bans = path.file_name().is_some_and(|n| n == "fail2ban.sqlite3")
        || (path.is_file() && Fail2banDb::open(&path).is_ok());
    Ok(if is_fail2bans {
        path.with_file_name(jailor_daemon::JAILOR_DB)
    } else {
        path
    })
}

/// Opens jailor's store. A dry run never creates it: a missing store is planned against an
/// empty in-memory one.
fn open_store(path: &Path, dry_run: bool) -> anyhow::Result<Store> {
    if dry_run && !path.exists() {
        return Ok(Store::open_in_memory()?);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(Store::open_with(path, StoreOptions::default())?)
}

/// The configured jails' bantimes, for fail2ban's bans of unknown length.
fn jail_bantimes(base: &Path) -> std::collections::HashMap<String, i64> {
    let Ok(cfg) = jailor_config::Loader::new(base).read_all() else {
        return Default::default();
    };
    cfg.jails
        .iter()
        .filter_map(|j| j.as_ref().ok())
        .map(|j| {
            let bantime = match j.time("bantime") {
                Some(Ok(t)) => t as i64,
                _ => DEFAULT_BANTIME,
            };
            (j.name.clone(), bantime)
        })
        .collect()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn print_plan(plan: &ImportPlan, now: i64, dry_run: bool) {
    for planned in &plan.bans {
        let b = &planned.ban;
        let what = match planned.decision {
            ImportDecision::Add | ImportDecision::Replace if dry_run => "would import",
            ImportDecision::Add | ImportDecision::Replace => "import",
            ImportDecision::AlreadyImported => "skip (already imported)",
            ImportDecision::StoreIsNewer => "skip (jailor has a later ban)",
            ImportDecision::UnknownBantime => "skip (unknown bantime, jail not configured)",
            _ => "skip",
        };
        let left = match b.end() {
            None => "permanent".to_owned(),
            Some(end) if end > now => format!("{}s left", end - now),
            Some(_) => "expired".to_owned(),
        };
        let start = jiff::Timestamp::from_second(b.time_of_ban)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| b.time_of_ban.to_string());
        println!(
            "{what}: [{}] {} banned {start} for {}s ({left}), ban count {}",
            b.jail, b.id, b.bantime, b.ban_count
        );
    }
}
