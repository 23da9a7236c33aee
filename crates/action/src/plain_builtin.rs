//! Recognises command texts that can run in the co-process itself, without the subshell's
//! fork: one simple command whose name is `echo`, `printf`, `true` or `false`, with only
//! plain or quoted words and file redirections.
//!
//! Why that is the same as a subshell: these are regular (not special) builtins, so a
//! failed redirection or a bad argument is reported with a status and the shell goes on;
//! none of them can assign a variable, define a function, change the directory, `umask`,
//! traps, options or descriptors beyond the command's own redirections, which the shell
//! undoes after it. Without an unescaped `$` or `` ` `` outside single quotes nothing is expanded,
//! so no per-command variable is read and nothing can assign through `${x=}`; without
//! `;`, `&`, `|`, parentheses, braces or a newline it is one command; a text that does not
//! parse (an unclosed quote, a redirection without its word) is refused here and gets its
//! syntax error from a subshell, since inside `eval` in the co-process it would end the
//! co-process. `:` is left out: it is a special builtin, and its failed redirection would
//! end the shell. The check is lexical and conservative: anything it does not know is
//! refused and runs in a subshell as before.

/// The builtins that may run in the co-process.
const NAMES: [&str; 4] = ["echo", "printf", "true", "false"];

/// Whether `script` is one such command (see the module's comment).
pub(crate) fn runs_in_place(script: &str) -> bool {
    let text = script.trim_end_matches([' ', '\t', '\n']);
    let bytes = text.as_bytes();
    let mut i = 0;
    skip_blanks(bytes, &mut i);
    // The command name: a plain word, exactly one of the names, then a blank or the end.
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_lowercase() {
        i += 1;
    }
    let name = &text[start..i];
    if !NAMES.contains(&name) || (i < bytes.len() && !is_blank(bytes[i])) {
        return false;
    }
    let mut first_argument = true;
    loop {
        skip_blanks(bytes, &mut i);
        if i >= bytes.len() {
            return true;
        }
        if let Some(after) = redirection(bytes, i) {
            i = after;
            skip_blanks(bytes, &mut i);
            if i >= bytes.len() || !word(bytes, &mut i) {
                return false;
            }
            continue;
        }
        if let Some(after) = duplication(bytes, i) {
            i = after;
            continue;
        }
        let word_start = i;
        if !word(bytes, &mut i) {
            return false;
        }
        // bash's `printf -v NAME` assigns a variable: no option to printf at all.
        if first_argument && name == "printf" && starts_with_dash(&bytes[word_start..i]) {
            return false;
        }
        first_argument = false;
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_blanks(bytes: &[u8], i: &mut usize) {
    while *i < bytes.len() && is_blank(bytes[*i]) {
        *i += 1;
    }
}

/// A plain word character outside quotes: nothing the shell expands or treats as an
/// operator (`=` is plain after the command name).
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'_' | b'.' | b'/' | b':' | b'@' | b'%' | b'+' | b',' | b'=' | b'-'
        )
}

/// A file redirection at `i` (`>`, `>>`, `<`, optionally after one digit): the index after
/// the operator, whose word follows.
fn redirection(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if bytes.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    match (bytes.get(j), bytes.get(j + 1)) {
        (Some(b'>'), Some(b'>')) => Some(j + 2),
        (Some(b'>'), Some(b'&' | b'|' | b'<')) | (Some(b'<'), Some(b'<' | b'>' | b'&')) => None,
        (Some(b'>' | b'<'), _) => Some(j + 1),
        _ => None,
    }
}

/// A duplication `[digit]>&digit` at `i`, followed by a blank or the end: the index after it.
fn duplication(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if bytes.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    if bytes.get(j) != Some(&b'>') || bytes.get(j + 1) != Some(&b'&') {
        return None;
    }
    if !bytes.get(j + 2).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let end = j + 3;
    (end == bytes.len() || is_blank(bytes[end])).then_some(end)
}

/// Reads one word (plain characters and quoted parts, up to a blank, a redirection or the
/// end); `false` when it holds anything outside the safe set or a quote is not closed.
fn word(bytes: &[u8], i: &mut usize) -> bool {
    let start = *i;
    while *i < bytes.len() {
        let b = bytes[*i];
        if is_blank(b) || ((b == b'>' || b == b'<') && *i > start) {
            break;
        }
        match b {
            b'\'' => match bytes[*i + 1..].iter().position(|c| *c == b'\'') {
                Some(n) => *i += n + 2,
                None => return false,
            },
            b'"' => {
                *i += 1;
                loop {
                    match bytes.get(*i) {
                        Some(b'"') => break,
                        // An escaped character is literal, whatever it is.
                        Some(b'\\') if *i + 1 < bytes.len() => *i += 2,
                        Some(b'$' | b'`' | b'\\') | None => return false,
                        Some(_) => *i += 1,
                    }
                }
                *i += 1;
            }
            // An escaped character is literal (an escaped newline joins lines: what
            // follows is still checked).
            b'\\' if *i + 1 < bytes.len() => *i += 2,
            b if is_plain(b) => *i += 1,
            _ => return false,
        }
    }
    *i > start
}

/// Whether a word's text, once its quotes are taken out, starts with `-`.
fn starts_with_dash(word: &[u8]) -> bool {
    word.iter()
        .copied()
        .find(|b| *b != b'\'' && *b != b'"')
        .is_some_and(|b| b == b'-')
}

#[cfg(test)]
mod tests {
    use super::runs_in_place;

    #[test]
    fn plain_echo_and_printf_with_file_redirections_run_in_place() {
        for text in [
            "echo \"ban 192.0.2.1\" >> /tmp/target",
            "echo 'ban 192.0.2.1' >>'/tmp/a b'",
            "printf %b \"ALL: 192.0.2.1\\n\" >> '/etc/hosts.deny'",
            "echo a\\ b \"a\\\"b \\$x \\`id\\`\" \\$x \\; \\' \\\\",
            "printf '%s\\n' 'a b' \"c\" 2>/dev/null",
            "  echo a b c  \n",
            "true",
            "false >/dev/null 2>&1",
            "echo x >&2",
            "echo 'it''s' \"q\"'r' plain=value a,b:c@d%e+f",
            "echo 'héllo \u{c1}\u{88}' \"\u{c2}\"",
            "echo x 2> /tmp/err < /dev/null",
        ] {
            assert!(runs_in_place(text), "{text:?}");
        }
    }

    #[test]
    fn anything_that_could_change_the_shell_or_fail_to_parse_is_refused() {
        for text in [
            "x=1",
            "x=1 echo a",
            "exit 3",
            "cd /",
            "set -e",
            "eval echo a",
            "exec echo a",
            "trap 'echo a' EXIT",
            "umask 077",
            ". /etc/profile",
            ": > /tmp/x",
            "read x",
            "export A=1",
            "f() { echo a; }",
            "echo $(id)",
            "echo `id`",
            "echo $x",
            "echo \"$x\"",
            "echo ${x:=1}",
            "echo \"${x=1}\"",
            "echo a\\",
            "echo \"a\\",
            "echo a\\\n; x=1",
            "echo \"\\$x$x\"",
            "echo a; echo b",
            "echo a && echo b",
            "echo a | cat",
            "echo a &",
            "echo a\necho b",
            "(echo a)",
            "{ echo a; }",
            "echo 'unclosed",
            "echo \"unclosed",
            "echo a >",
            "echo a >> ",
            "echo a <<EOF",
            "echo a <>/tmp/x",
            "echo a >|/tmp/x",
            "echo a >&-",
            "echo a >&$fd",
            "echo *",
            "echo ~",
            "echo a # comment",
            "echo [a]",
            "echo!",
            "echoes a",
            "/bin/echo a",
            "\"echo\" a",
            "printf -v x a",
            "printf '-v' x a",
            "printf \"-v\" x",
            "",
        ] {
            assert!(!runs_in_place(text), "{text:?}");
        }
        // An option to echo only changes its output.
        assert!(runs_in_place("echo -n a"));
        assert!(runs_in_place("printf a -v"));
    }
}
