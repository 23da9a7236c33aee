//! `-i`: fail2ban-client's interactive mode, a `fail2ban> ` prompt with line editing and a
//! history kept in `~/.jailor_client_history`.
use std::process::ExitCode;

use rustyline::error::ReadlineError;

use super::{shlex, ClientArgs, Session};

/// Reads and runs commands until `exit`, `quit` or end of input.
pub(super) fn run(session: &Session, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME")
        .map(|home| std::path::PathBuf::from(home).join(".jailor_client_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    loop {
        match editor.readline("fail2ban> ") {
            Ok(line) => {
                let Some(words) = shlex::split(&line) else {
                    eprintln!("ERROR   unbalanced quotes");
                    continue;
                };
                if words.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                if matches!(words[0].as_str(), "exit" | "quit") {
                    break;
                }
                session.command(args, &words);
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}
