//! The co-process against real `sh -c`, its isolation between commands, timeouts and
//! replacement.

use super::*;
use crate::exec::Exec;
use crate::runner::{ActionRunner, RunnerOptions};

const SHELL: &str = "/bin/sh";
const LONG: Duration = Duration::from_secs(30);
const GRACE: Duration = Duration::from_millis(100);

fn coshell() -> CoShell {
    CoShell::spawn(Path::new(SHELL), 64 * 1024).unwrap()
}

fn sh_c(script: &str, env: &[(String, String)]) -> RunOutput {
    Exec {
        shell: Path::new(SHELL),
        timeout: LONG,
        kill_grace: GRACE,
        output_limit: 64 * 1024,
    }
    .run(script, env)
    .unwrap()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Texts with quotes, newlines, `'`, errors, substitutions; every one runs in the same
/// co-process, one after the other, and must print and end exactly as with `sh -c`.
#[test]
fn tricky_texts_run_exactly_as_with_sh_c() {
    // Quotes, substitutions, a newline, and the UTF-8 bytes 0x80-0x8f that dash uses inside
    // its parser as markers (they must stay plain bytes in a quoted word).
    let nasty = "'; echo pwned; ' $(echo pwned) `echo pwned` \"\n\\' ) ; exit 9 \
                 \u{c0}\u{c1}\u{c2}\u{c3}\u{c4}\u{c5}\u{c6}\u{c7}\u{c8}\u{c9}\u{ca}\u{cb}\u{81}\u{88}\t\r";
    let vars = env(&[
        ("f2bV_0_F_USER", nasty),
        ("f2bV_1_matches", "line 1\nline 2\n"),
    ]);
    let texts = [
        "echo 'it'\\''s'",
        "printf '%s\\n' \"a b\" 'c  d'",
        "echo one\necho two\n\n",
        "printf '[%s]\\n' \"$f2bV_0_F_USER\"",
        "printf '%s' \"${f2bV_1_matches}\" | wc -l",
        "echo '\"${f2bV_0_F_USER}\"'",
        "echo ${#f2bV_0_F_USER}",
        "exit 5",
        "false; exit",
        "echo a; no_such_command_jailor; echo b",
        "if then",
        "echo before\nif then\necho after",
        "echo \"unterminated",
        "echo ')'; echo '); echo injected; ('",
        "echo \\'; echo \"\\\"\"; echo '\\n'",
        "echo `echo backtick` $(echo dollar)",
        "echo $0 $# $LINENO",
        "set -- a b; echo $# \"$@\"",
        "cat /nonexistent/jailor",
        "echo x >&3",
        "read x; echo \"[$x]\"; cat",
        "trap 'echo trapped' EXIT; echo body",
        "f() { return 3; }; f; echo $?",
        "cd / && pwd",
        "kill -0 $PPID && echo parent",
        "echo done; exec echo replaced; echo never",
        "printf 'no newline'",
        "echo 'héllo ☃ \u{c1}\u{c8}\u{ca}' \"\u{c2}\u{c9}\"",
        "echo a | tr a b",
        "sleep 0.05 & wait; echo waited",
        "env | sort",
        "echo out; echo err >&2; exit 42",
        "set -e; false; echo not reached",
        "x=1; echo ${x:+set} ${y:-unset}",
        "ulimit -n; umask",
        "# only a comment",
        "",
    ];
    let mut co = coshell();
    for text in texts {
        let want = sh_c(text, &vars);
        let got = co.run(text, &vars, LONG, GRACE).unwrap();
        assert_eq!(
            (&got.status, &got.stdout, &got.stderr),
            (&want.status, &want.stdout, &want.stderr),
            "text {text:?}"
        );
        assert!(co.alive(), "{text:?}");
    }
}

#[test]
fn nothing_leaks_from_one_command_to_the_next() {
    let mut co = coshell();
    let first = "x=leaked; export Y=leaked; cd /; umask 077; trap 'echo trap' EXIT; \
                 f() { echo f; }; alias ll=ls; set -e -u; exit 3";
    let out = co.run(first, &[], LONG, GRACE).unwrap();
    assert_eq!(out.status, RunStatus::Exited(3));
    assert_eq!(out.stdout, "trap\n");
    let probe = "echo \"[${x-}] [${Y-}] [$(pwd)] [$(umask)] [$-]\"; \
                 command -v f ll || echo none; trap";
    let got = co.run(probe, &[], LONG, GRACE).unwrap();
    let fresh = sh_c(probe, &[]);
    assert_eq!(
        got,
        RunOutput {
            elapsed: got.elapsed,
            ..fresh
        }
    );
    assert!(got.stdout.starts_with("[] [] ["), "{:?}", got.stdout);
    // Per-command variables do not stay either.
    co.run("true", &env(&[("f2bV_0_x", "v")]), LONG, GRACE)
        .unwrap();
    let out = co.run("echo \"[${f2bV_0_x-}]\"", &[], LONG, GRACE).unwrap();
    assert_eq!(out.stdout, "[]\n");
}

/// Output a background process writes between two commands is nobody's: the next command
/// (in place or in a subshell) gets only its own, on both pipes.
#[test]
fn output_between_commands_is_dropped_and_each_pipe_kept() {
    let mut co = coshell();
    // Writes to the co-process's pipes after its command has ended.
    let bg = "( sleep 0.2; echo late; echo late >&2 ) &";
    co.run(bg, &[], LONG, GRACE).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(in_place("echo now >&2", &[]));
    let out = co.run("echo now >&2", &[], LONG, GRACE).unwrap();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", "now\n"));
    let out = co
        .run("echo out; echo err >&2; exit 4", &[], LONG, GRACE)
        .unwrap();
    assert_eq!(out.status, RunStatus::Exited(4));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", "err\n")
    );
}

#[test]
fn a_command_reading_stdin_gets_dev_null_not_the_protocol() {
    let mut co = coshell();
    let out = co
        .run("cat; read line; echo \"[$line] $?\"", &[], LONG, GRACE)
        .unwrap();
    assert_eq!(out.stdout, "[] 1\n");
    // The next command is read by the shell, not swallowed by the previous one.
    let out = co.run("echo next", &[], LONG, GRACE).unwrap();
    assert_eq!(out.stdout, "next\n");
    assert_eq!(out.status, RunStatus::Exited(0));
}

#[test]
fn exit_codes_and_stderr_are_the_commands() {
    let mut co = coshell();
    let out = co
        .run("echo out; echo oops >&2; exit 3", &[], LONG, GRACE)
        .unwrap();
    assert_eq!(out.status, RunStatus::Exited(3));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", "oops\n")
    );
    let out = co.run("no-such-command-jailor", &[], LONG, GRACE).unwrap();
    assert_eq!(out.status, RunStatus::Exited(127));
    assert_eq!(out.hint(), Some("command not found"));
    assert_eq!(
        out.stderr,
        format!("{SHELL}: 1: no-such-command-jailor: not found\n")
    );
    // A command's own eval keeps its prefix, as with sh -c.
    let text = "eval 'no-such-command-jailor'";
    let out = co.run(text, &[], LONG, GRACE).unwrap();
    assert_eq!(out.stderr, sh_c(text, &[]).stderr);
    assert!(out.stderr.contains("eval: "), "{:?}", out.stderr);
}

#[test]
fn large_output_on_both_pipes_is_read_while_the_command_runs() {
    let mut co = CoShell::spawn(Path::new(SHELL), 16).unwrap();
    let out = co
        .run(
            "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; echo done >&2",
            &[],
            LONG,
            GRACE,
        )
        .unwrap();
    assert_eq!(out.status, RunStatus::Exited(0));
    assert_eq!((out.stdout.len(), out.stderr.len()), (16, 16));
    let out = co.run("echo small", &[], LONG, GRACE).unwrap();
    assert_eq!(out.stdout, "small\n");
}

/// Whether the process is gone (or a zombie nobody reaped yet).
fn gone(pid: libc::pid_t) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn wait_gone(pids: &[libc::pid_t]) -> Vec<libc::pid_t> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<_> = pids.iter().copied().filter(|p| !gone(*p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_hanging_command_is_killed_with_its_children_and_the_shell_is_retired() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let text = format!(
        "sleep 300 & echo $! > {p}\n(trap '' TERM; exec sleep 301) & echo $! >> {p}\nsleep 302",
        p = pids.display()
    );
    let mut co = coshell();
    let shell_pid = co.pid() as libc::pid_t;
    let started = Instant::now();
    let out = co
        // Long enough for both background jobs to record their pids on a loaded machine.
        .run(&text, &[], Duration::from_secs(3), GRACE)
        .unwrap();
    assert!(
        matches!(out.status, RunStatus::TimedOut(_)),
        "{:?}",
        out.status
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!co.alive());
    let mut all: Vec<libc::pid_t> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(all.len(), 2);
    all.push(shell_pid);
    let left = wait_gone(&all);
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(co.run("true", &[], LONG, GRACE).is_err());
}

#[test]
fn a_command_that_kills_its_group_reports_the_signal() {
    let mut co = coshell();
    let out = co.run("kill -KILL 0", &[], LONG, GRACE).unwrap();
    assert_eq!(out.status, RunStatus::Signaled(libc::SIGKILL));
    assert!(!co.alive());
}

#[test]
fn a_killed_co_process_is_replaced() {
    let runner = ActionRunner::new(RunnerOptions {
        max_concurrent: 1,
        ..RunnerOptions::default()
    });
    let out = runner.run("echo one", &[], LONG).unwrap();
    assert_eq!(out.stdout, "one\n");
    let first = runner.idle_pids();
    assert_eq!(first.len(), 1);
    // SAFETY: kill has no memory-safety preconditions; the pid is our idle co-process.
    unsafe {
        libc::kill(first[0] as libc::pid_t, libc::SIGKILL);
    }
    let left = wait_gone(&[first[0] as libc::pid_t]);
    assert!(left.is_empty());
    // The dead one is noticed and the command still runs; the next has a new co-process.
    let out = runner.run("echo two", &[], LONG).unwrap();
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (RunStatus::Exited(0), "two\n")
    );
    runner.run("true", &[], LONG).unwrap();
    let second = runner.idle_pids();
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    // A timeout retires the co-process too; the next command gets a fresh one.
    let out = runner
        .run("sleep 30", &[], Duration::from_millis(300))
        .unwrap();
    assert!(matches!(out.status, RunStatus::TimedOut(_)));
    assert!(runner.idle_pids().is_empty());
    assert_eq!(
        runner.run("echo three", &[], LONG).unwrap().stdout,
        "three\n"
    );
    assert_eq!(runner.idle_pids().len(), 1);
}

#[test]
fn what_cannot_run_in_a_co_process_is_recognised() {
    assert!(suits("echo <ip>", &env(&[("f2bV_0_x", "a'b\nc")])));
    assert!(!suits("echo $$", &[]));
    assert!(!suits("echo ${$}", &[]));
    assert!(!suits("echo a\0b", &[]));
    assert!(!suits("true", &env(&[("BAD-NAME", "x")])));
    assert!(!suits("true", &env(&[("1x", "x")])));
    // `$$` still runs, with sh -c: the shell's pid is its process group.
    let runner = ActionRunner::default();
    let out = runner.run("echo $$; ps -o pgid= -p $$", &[], LONG).unwrap();
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 2, "{:?}", out.stdout);
    assert_eq!(lines[0], lines[1]);
}

/// Plain builtins run in the co-process itself (no subshell): the files they write, their
/// status, output and error messages are those of `sh -c`, and the co-process goes on.
#[test]
fn plain_builtins_in_place_give_what_sh_c_gives() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        "echo \"ban 192.0.2.1\" >> {d}/target",
        "printf %b \"ALL: 192.0.2.1\\n\" >> '{d}/hosts deny'",
        "printf '%s|%s\\n' a 'b c' \"d\" >>{d}/target 2>>{d}/err",
        "echo x > {d}/missing/dir/file",
        "printf '%d\\n' notanumber",
        "printf",
        "echo to-stderr >&2",
        "echo x >&9",
        "echo x >&0",
        "echo x 2>&0 >/dev/full",
        "echo -n no-newline",
        "true > {d}/empty",
        "false",
        "echo x < {d}/nonexistent",
        "echo \\$HOME \"\\$PWD \\`id\\`\" plain=word",
    ];
    let mut co = coshell();
    for (n, template) in texts.iter().enumerate() {
        let mut outputs = Vec::new();
        for how in ["sh", "co"] {
            let sub = dir.path().join(format!("{how}{n}"));
            std::fs::create_dir(&sub).unwrap();
            let text = template.replace("{d}", &sub.display().to_string());
            assert!(in_place(&text, &[]), "{text:?}");
            let vars = env(&[("f2bV_0_x", "v")]);
            let out = match how {
                "sh" => sh_c(&text, &vars),
                _ => co.run(&text, &vars, LONG, GRACE).unwrap(),
            };
            let mut files: Vec<(String, String)> = std::fs::read_dir(&sub)
                .unwrap()
                .map(|e| e.unwrap())
                .map(|e| {
                    let content = std::fs::read_to_string(e.path()).unwrap();
                    (e.file_name().to_string_lossy().into_owned(), content)
                })
                .collect();
            files.sort();
            let stderr = out.stderr.replace(&sub.display().to_string(), "{d}");
            outputs.push((out.status, out.stdout, stderr, files));
        }
        assert_eq!(outputs[0], outputs[1], "text {template:?}");
        assert!(co.alive(), "{template:?}");
    }
    // The same co-process ran them all and nothing of them stayed in it.
    let probe = "echo \"[$(pwd)] [$(umask)] [$-]\"; trap; alias";
    let got = co.run(probe, &[], LONG, GRACE).unwrap();
    let want = sh_c(probe, &[]);
    assert_eq!((got.stdout, got.stderr), (want.stdout, want.stderr));
}

/// Texts outside the safe set still run in a subshell: what they change does not stay in
/// the co-process (if one of them ran in place, the probe after it would differ or the
/// co-process would have ended).
#[test]
fn commands_outside_the_safe_set_still_run_in_a_subshell() {
    let texts = [
        "x=1",
        "exit 3",
        "cd /",
        "set -e",
        "echo $(x=2)",
        "echo ${x:=3}",
        "umask 077",
        "trap 'echo trapped' EXIT",
        ": > /nonexistent/jailor/x",
        "echo a; x=4",
        "printf -v x a",
        "echo 'unclosed",
        "echo a >",
        "f() { echo f; }",
    ];
    let probe = "echo \"[${x-unset}] [$(pwd)] [$(umask)] [$-]\"; trap; command -v f || echo none";
    let mut co = coshell();
    let fresh = sh_c(probe, &[]);
    for text in texts {
        assert!(!in_place(text, &[]), "{text:?}");
        assert!(frame(text, &[]).starts_with("( "), "{text:?}");
        let want = sh_c(text, &[]);
        let got = co.run(text, &[], LONG, GRACE).unwrap();
        assert_eq!(
            (&got.status, &got.stdout, &got.stderr),
            (&want.status, &want.stdout, &want.stderr),
            "text {text:?}"
        );
        assert!(co.alive(), "{text:?}");
        let after = co.run(probe, &[], LONG, GRACE).unwrap();
        assert_eq!(
            (&after.stdout, &after.stderr),
            (&fresh.stdout, &fresh.stderr),
            "after {text:?}"
        );
    }
    // Variables other than the per-command ones keep a plain builtin in a subshell.
    assert!(!in_place("echo a", &env(&[("LC_ALL", "C")])));
    assert!(frame("echo a", &[]).starts_with("{ "));
}
