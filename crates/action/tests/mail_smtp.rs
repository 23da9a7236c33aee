//! The mail action against a tiny SMTP sink the test runs on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;

use jailor_action::native::mail::{BanNotice, MailConfig, Mailer};
use jailor_action::ErrorKind;

/// What the sink received in one SMTP session.
#[derive(Debug, Default)]
struct Received {
    from: String,
    rcpt: Vec<String>,
    /// The message, dot-unstuffed, lines joined by `\n`.
    data: String,
}

/// An SMTP sink for one session, speaking just enough SMTP: 220, 250, 354, 221.
fn sink() -> (u16, JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        session(stream)
    });
    (port, thread)
}

fn session(stream: TcpStream) -> Received {
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut got = Received::default();
    out.write_all(b"220 sink ready\r\n").unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            return got;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250 sink\r\n").unwrap();
        } else if upper.starts_with("MAIL FROM:") {
            got.from = command[10..].trim().to_owned();
            out.write_all(b"250 OK\r\n").unwrap();
        } else if upper.starts_with("RCPT TO:") {
            got.rcpt.push(command[8..].trim().to_owned());
            out.write_all(b"250 OK\r\n").unwrap();
        } else if upper == "DATA" {
            out.write_all(b"354 go on\r\n").unwrap();
            let mut lines = Vec::new();
            loop {
                line.clear();
                assert!(reader.read_line(&mut line).unwrap() > 0, "DATA cut short");
                assert!(line.ends_with("\r\n"), "bare line ending in DATA: {line:?}");
                let l = line.trim_end_matches("\r\n");
                if l == "." {
                    break;
                }
                lines.push(l.strip_prefix('.').unwrap_or(l).to_owned());
            }
            got.data = lines.join("\n");
            out.write_all(b"250 queued\r\n").unwrap();
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n").unwrap();
            return got;
        } else {
            out.write_all(b"250 OK\r\n").unwrap();
        }
    }
}

fn config(port: u16) -> MailConfig {
    let mut c = MailConfig::new("jailor@gate.example.org", ["admin@example.org"]);
    c.host = "127.0.0.1".into();
    c.port = port;
    c
}

/// Headers (unfolded) and body of a message.
fn split(data: &str) -> (Vec<String>, String) {
    let (head, body) = data.split_once("\n\n").unwrap();
    let mut headers: Vec<String> = Vec::new();
    for line in head.lines() {
        match headers.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => headers.push(line.to_owned()),
        }
    }
    let qp = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("Content-Transfer-Encoding: quoted-printable"));
    let body = if qp { unquote(body) } else { body.to_owned() };
    (headers, body)
}

/// Decodes quoted-printable text (soft breaks `=\n`, `=XX` bytes).
fn unquote(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn mail_log_text_stays_in_the_body() {
    let (port, sink) = sink();
    let mailer = Mailer::new(&config(port)).unwrap();
    let lines = vec![
        "sshd[1]: Invalid user x\r\nBcc: victim@example.net from 192.0.2.7".to_owned(),
        "Subject: you have been hacked".to_owned(),
        "\r\n\r\nTo: other@example.net".to_owned(),
        ".".to_owned(),
        "..leading dots".to_owned(),
    ];
    mailer
        .send_ban(&BanNotice {
            jail: "sshd",
            address: "192.0.2.7".parse().unwrap(),
            failures: 5,
            bantime: Some(600),
            lines: &lines,
        })
        .unwrap();
    let got = sink.join().unwrap();
    assert_eq!(got.from, "<jailor@gate.example.org>");
    assert_eq!(
        got.rcpt,
        vec!["<admin@example.org>"],
        "no injected recipient"
    );

    let (headers, body) = split(&got.data);
    let named = |name: &str| -> Vec<&String> {
        headers
            .iter()
            .filter(|h| {
                h.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .collect()
    };
    assert_eq!(
        named("Subject"),
        vec!["Subject: [jailor] sshd: banned 192.0.2.7"]
    );
    assert!(named("Bcc").is_empty(), "{headers:?}");
    assert_eq!(named("To"), vec!["To: admin@example.org"]);
    assert_eq!(named("From").len(), 1);

    assert!(
        body.contains("banned by jailor after 5 failures in the jail sshd, for 600 seconds."),
        "{body}"
    );
    assert!(
        body.contains("sshd[1]: Invalid user x\\r\\nBcc: victim@example.net from 192.0.2.7\n"),
        "{body}"
    );
    assert!(body.contains("\nSubject: you have been hacked\n"), "{body}");
    assert!(
        body.contains("\n\\r\\n\\r\\nTo: other@example.net\n"),
        "{body}"
    );
    assert!(
        body.contains("\n.\n..leading dots\n"),
        "dot-stuffing undone: {body}"
    );
}

#[test]
fn mail_start_and_stop_notices() {
    for start in [true, false] {
        let (port, sink) = sink();
        let mut c = config(port);
        c.dest = vec!["a@example.org, b@example.org".into()];
        let mailer = Mailer::new(&c).unwrap();
        if start {
            mailer.send_start("nginx-http-auth").unwrap();
        } else {
            mailer.send_stop("nginx-http-auth").unwrap();
        }
        let got = sink.join().unwrap();
        assert_eq!(got.rcpt, vec!["<a@example.org>", "<b@example.org>"]);
        let word = if start { "started" } else { "stopped" };
        let (headers, body) = split(&got.data);
        assert!(
            headers.contains(&format!("Subject: [jailor] nginx-http-auth: {word}")),
            "{headers:?}"
        );
        assert!(body.contains(&format!(
            "The jail nginx-http-auth has been {word} by jailor."
        )));
    }
}

#[test]
fn mail_injection_in_the_jail_name_is_refused_before_sending() {
    let (port, _sink) = sink();
    let mailer = Mailer::new(&config(port)).unwrap();
    let e = mailer.send_start("sshd\r\nBcc: x@y").unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidProperty { .. }), "{e}");
    // Unblock the sink thread, which waits for a connection; it is not joined.
    drop(TcpStream::connect(("127.0.0.1", port)));
}

#[test]
fn mail_unreachable_server_is_an_error() {
    // A port nobody listens on: bind one, then free it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = Mailer::new(&config(port)).unwrap();
    let e = mailer.send_stop("sshd").unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Mail(_)), "{e}");
}
