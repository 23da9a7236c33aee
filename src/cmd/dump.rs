//! `jailor dump`: the command stream fail2ban-client would send, as Python-repr lines or JSON.
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use jailor_config::{command_repr, Loader, Value};

/// Converts a stream value to JSON.
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::None => serde_json::Value::Null,
        Value::List(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Dict(items) => {
            serde_json::Value::Object(items.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        // `Value` is exhaustive today; a future variant prints as null rather than failing.
        #[allow(unreachable_patterns)]
        _ => serde_json::Value::Null,
    }
}

/// Prints the stream for the configuration under `conf`.
pub fn run(conf: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = Loader::new(conf)
        .read_all()
        .with_context(|| format!("cannot read the configuration in {}", conf.display()))?;
    let stream = cfg.stream();
    let mut out = std::io::stdout().lock();
    if json {
        let arr = serde_json::Value::Array(
            stream
                .iter()
                .map(|c| serde_json::Value::Array(c.iter().map(to_json).collect()))
                .collect(),
        );
        writeln!(out, "{arr}")?;
    } else {
        for c in &stream {
            writeln!(out, "{}", command_repr(c))?;
        }
    }
    for w in &cfg.warnings {
        eprintln!("jailor: warning: {w}");
    }
    for j in cfg.jails.iter().flatten() {
        for w in &j.warnings {
            eprintln!("jailor: warning: jail {}: {w}", j.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}
