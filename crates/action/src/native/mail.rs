//! jailor's mail action: ban notices over SMTP, without `mail`, `sendmail` or a shell.
//!
//! The subject and every header are built from validated values only: the jail's name
//! (letters, digits, `_`, `.`, `-`), a typed [`Address`], numbers, and the configured
//! mailboxes (parsed and encoded by `lettre`). Log text goes into the body only, with control
//! characters shown escaped (`\r` as `\r`), so a log line cannot add a header or a recipient.
//!
//! The connection is plain SMTP (a local relay on 127.0.0.1:25 is the usual setup); TLS is
//! not built in.
//!
//! ```no_run
//! use jailor_action::native::mail::{BanNotice, MailConfig, Mailer};
//!
//! let mut config = MailConfig::new("root@localhost", ["admin@example.org"]);
//! config.port = 25;
//! let mailer = Mailer::new(&config)?;
//! let lines = vec!["sshd[42]: Failed password for root from 192.0.2.7".to_owned()];
//! mailer.send_ban(&BanNotice {
//!     jail: "sshd",
//!     address: "192.0.2.7".parse()?,
//!     failures: 5,
//!     bantime: Some(600),
//!     lines: &lines,
//! })?;
//! # Ok::<(), jailor_action::Error>(())
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

use crate::address::Address;
use crate::error::{Error, ErrorKind};

/// Where and how mail is sent (fail2ban's `smtp.py` options).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailConfig {
    /// The SMTP server (default `localhost`).
    pub host: String,
    /// Its port (default 25).
    pub port: u16,
    /// The sender's address (`sender`).
    pub sender: String,
    /// The sender's display name (`sendername`, default `jailor`).
    pub sender_name: String,
    /// The recipients (`dest`).
    pub dest: Vec<String>,
    /// The user name for SMTP authentication, if any.
    pub user: Option<String>,
    /// The password for SMTP authentication, if any.
    pub password: Option<String>,
    /// How long a connection or an answer may take (default 30 s).
    pub timeout: Duration,
}

impl MailConfig {
    /// Mail from `sender` to `dest` through `localhost:25`, without authentication.
    pub fn new<S: Into<String>>(sender: &str, dest: impl IntoIterator<Item = S>) -> MailConfig {
        MailConfig {
            host: "localhost".to_owned(),
            port: 25,
            sender: sender.to_owned(),
            sender_name: "jailor".to_owned(),
            dest: dest.into_iter().map(Into::into).collect(),
            user: None,
            password: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a ban notice says.
#[derive(Clone, Copy, Debug)]
pub struct BanNotice<'a> {
    /// The jail's name.
    pub jail: &'a str,
    /// The banned address or network.
    pub address: Address,
    /// How many failures led to the ban.
    pub failures: u32,
    /// The ban time in seconds; `None` for a permanent ban.
    pub bantime: Option<u64>,
    /// The matched log lines (untrusted text: body only).
    pub lines: &'a [String],
}

/// Sends notices through one SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: leave it out.
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the mailboxes and prepares the transport (nothing is sent yet).
    pub fn new(config: &MailConfig) -> Result<Mailer, Error> {
        let mailbox = |what: &str, addr: &str, name: Option<&str>| -> Result<Mailbox, Error> {
            let address = addr
                .trim()
                .parse()
                .map_err(|e| mail_error(format!("{what} {addr:?}: {e}")))?;
            Ok(Mailbox::new(name.map(str::to_owned), address))
        };
        let name = Some(config.sender_name.as_str()).filter(|n| !n.is_empty());
        let from = mailbox("sender", &config.sender, name)?;
        let to = config
            .dest
            .iter()
            .flat_map(|d| d.split(','))
            .filter(|d| !d.trim().is_empty())
            .map(|d| mailbox("recipient", d, None))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(mail_error("no recipient".into()));
        }
        let mut builder = SmtpTransport::builder_dangerous(config.host.as_str())
            .port(config.port)
            .timeout(Some(config.timeout));
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            to,
        })
    }

    /// Sends the notice of a ban.
    pub fn send_ban(&self, notice: &BanNotice<'_>) -> Result<(), Error> {
        let (subject, body) = ban_text(notice)?;
        self.send(&subject, body)
    }

    /// Sends the notice that a jail started.
    pub fn send_start(&self, jail: &str) -> Result<(), Error> {
        check_jail(jail)?;
        self.send(
            &format!("[jailor] {jail}: started"),
            format!("Hi,\n\nThe jail {jail} has been started by jailor.\n\nRegards,\njailor\n"),
        )
    }

    /// Sends the notice that a jail stopped.
    pub fn send_stop(&self, jail: &str) -> Result<(), Error> {
        check_jail(jail)?;
        self.send(
            &format!("[jailor] {jail}: stopped"),
            format!("Hi,\n\nThe jail {jail} has been stopped by jailor.\n\nRegards,\njailor\n"),
        )
    }

    fn send(&self, subject: &str, body: String) -> Result<(), Error> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder.body(body).map_err(|e| mail_error(e.to_string()))?;
        self.transport
            .send(&message)
            .map(drop)
            .map_err(|e| mail_error(e.to_string()))
    }
}

/// The subject and body of a ban notice.
fn ban_text(n: &BanNotice<'_>) -> Result<(String, String), Error> {
    check_jail(n.jail)?;
    let subject = format!("[jailor] {}: banned {}", n.jail, n.address);
    let mut body = String::with_capacity(256 + n.lines.iter().map(String::len).sum::<usize>());
    let _ = write!(
        body,
        "Hi,\n\nThe address {} has just been banned by jailor after {} failures in the jail {}",
        n.address, n.failures, n.jail
    );
    match n.bantime {
        Some(secs) => {
            let _ = writeln!(body, ", for {secs} seconds.");
        }
        None => body.push_str(", for good.\n"),
    }
    if !n.lines.is_empty() {
        body.push_str("\nThe log lines that led to the ban:\n\n");
        for line in n.lines {
            push_escaped(&mut body, line);
            body.push('\n');
        }
    }
    body.push_str("\nRegards,\njailor\n");
    Ok((subject, body))
}

/// Log text with its control characters made visible, so one log line stays one body line.
fn push_escaped(out: &mut String, line: &str) {
    for c in line.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

fn check_jail(jail: &str) -> Result<(), Error> {
    let ok = !jail.is_empty()
        && jail.len() <= 200
        && jail
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::InvalidProperty {
            name: "jail".into(),
            reason: format!(
                "{:?} is not a jail name",
                jail.chars().take(80).collect::<String>()
            ),
        }))
    }
}

fn mail_error(detail: String) -> Error {
    Error::new(ErrorKind::Mail(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_stays_on_its_line() {
        let lines = vec!["user x\r\nBcc: evil@example.com\u{1b}[2J".to_owned()];
        let n = BanNotice {
            jail: "sshd",
            address: "2001:db8::7".parse().unwrap(),
            failures: 3,
            bantime: None,
            lines: &lines,
        };
        let (subject, body) = ban_text(&n).unwrap();
        assert_eq!(subject, "[jailor] sshd: banned 2001:db8::7");
        assert!(body.contains("after 3 failures in the jail sshd, for good.\n"));
        assert!(
            body.contains("user x\\r\\nBcc: evil@example.com\\u{1b}[2J\n"),
            "{body}"
        );
        assert!(!body.contains('\r'));
    }

    #[test]
    fn jail_names_are_checked() {
        let n = BanNotice {
            jail: "sshd\r\nBcc: x@y",
            address: "192.0.2.1".parse().unwrap(),
            failures: 1,
            bantime: Some(1),
            lines: &[],
        };
        assert!(ban_text(&n).is_err());
    }

    #[test]
    fn bad_mailboxes_are_refused() {
        assert!(Mailer::new(&MailConfig::new("root@localhost", ["a@b"])).is_ok());
        assert!(Mailer::new(&MailConfig::new("root@localhost\r\nBcc: x@y", ["a@b"])).is_err());
        assert!(Mailer::new(&MailConfig::new("root@localhost", ["a@b\r\nBcc: x@y"])).is_err());
        assert!(Mailer::new(&MailConfig::new("root@localhost", Vec::<String>::new())).is_err());
    }
}
