//! `logencoding`: turning a line's bytes into text.

use crate::error::{Error, ErrorKind};

/// How a log file's bytes are decoded (fail2ban's `logencoding`).
///
/// Decoding never fails: bytes the encoding cannot represent become U+FFFD, as Python's
/// `errors='replace'` does, and the line is counted in
/// [`Stats::replaced_lines`](crate::Stats::replaced_lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// fail2ban's default: the locale's encoding, which is UTF-8 on every supported system.
    #[default]
    Auto,
    /// UTF-8; invalid sequences become U+FFFD.
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// ASCII; bytes 0x80 and above become U+FFFD.
    Ascii,
}

impl Encoding {
    /// The names [`Encoding::parse`] accepts (case, `-`, `_` and spaces do not matter).
    pub const SUPPORTED: &'static [&'static str] = &[
        "auto",
        "utf-8",
        "utf8",
        "latin-1",
        "latin1",
        "iso-8859-1",
        "l1",
        "cp819",
        "ascii",
        "us-ascii",
    ];

    /// Parses a `logencoding` value, e.g. `auto`, `UTF-8`, `latin-1`, `iso8859_1`, `ascii`.
    ///
    /// An encoding this crate does not decode is an error listing the supported names, so a
    /// configuration mistake is reported at start rather than turning lines into garbage.
    pub fn parse(name: &str) -> Result<Encoding, Error> {
        let norm: String = name
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        let enc = match norm.as_str() {
            "auto" => Encoding::Auto,
            "utf8" | "u8" | "utf" => Encoding::Utf8,
            "latin1" | "latin" | "iso88591" | "l1" | "cp819" | "8859" | "iso8859" => {
                Encoding::Latin1
            }
            "ascii" | "usascii" | "646" => Encoding::Ascii,
            _ => {
                return Err(ErrorKind::UnknownEncoding {
                    name: name.to_string(),
                    supported: Self::SUPPORTED,
                }
                .into())
            }
        };
        Ok(enc)
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Latin1 => "latin-1",
            Encoding::Ascii => "ascii",
        }
    }

    /// Decodes `bytes`, borrowing them when they are already valid text and writing into
    /// `scratch` otherwise. The flag tells whether anything was replaced by U+FFFD.
    pub(crate) fn decode<'a>(self, bytes: &'a [u8], scratch: &'a mut String) -> (&'a str, bool) {
        // UTF-8 (the default): one validating pass, which also covers ASCII.
        if matches!(self, Encoding::Auto | Encoding::Utf8) {
            if let Ok(s) = std::str::from_utf8(bytes) {
                return (s, false);
            }
        } else if bytes.is_ascii() {
            // ASCII is valid in every supported encoding.
            return match std::str::from_utf8(bytes) {
                Ok(s) => (s, false),
                Err(_) => ("", false), // unreachable: ASCII is UTF-8
            };
        }
        scratch.clear();
        match self {
            Encoding::Auto | Encoding::Utf8 => {
                let mut replaced = false;
                for chunk in bytes.utf8_chunks() {
                    scratch.push_str(chunk.valid());
                    if !chunk.invalid().is_empty() {
                        scratch.push(char::REPLACEMENT_CHARACTER);
                        replaced = true;
                    }
                }
                (scratch.as_str(), replaced)
            }
            Encoding::Latin1 => {
                scratch.extend(bytes.iter().map(|&b| char::from(b)));
                (scratch.as_str(), false)
            }
            Encoding::Ascii => {
                scratch.extend(bytes.iter().map(|&b| {
                    if b.is_ascii() {
                        char::from(b)
                    } else {
                        char::REPLACEMENT_CHARACTER
                    }
                }));
                (scratch.as_str(), true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_spellings() {
        assert_eq!(Encoding::parse("UTF-8").unwrap(), Encoding::Utf8);
        assert_eq!(Encoding::parse("utf_8").unwrap(), Encoding::Utf8);
        assert_eq!(Encoding::parse("Latin-1").unwrap(), Encoding::Latin1);
        assert_eq!(Encoding::parse("iso8859_1").unwrap(), Encoding::Latin1);
        assert_eq!(Encoding::parse("ISO-8859-1").unwrap(), Encoding::Latin1);
        assert_eq!(Encoding::parse("ascii").unwrap(), Encoding::Ascii);
        assert_eq!(Encoding::parse(" auto ").unwrap(), Encoding::Auto);
    }

    #[test]
    fn unknown_encoding_lists_supported_ones() {
        let err = Encoding::parse("utf-16").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("utf-16"), "{msg}");
        assert!(msg.contains("latin-1") && msg.contains("ascii"), "{msg}");
        assert!(matches!(err.kind(), ErrorKind::UnknownEncoding { .. }));
    }

    #[test]
    fn utf8_replaces_invalid_bytes_like_python() {
        let mut s = String::new();
        let (text, replaced) = Encoding::Auto.decode(b"caf\xc3\xa9 \xff end", &mut s);
        assert_eq!(text, "café \u{fffd} end");
        assert!(replaced);
        let mut s = String::new();
        let (text, replaced) = Encoding::Utf8.decode("naïve".as_bytes(), &mut s);
        assert_eq!((text, replaced), ("naïve", false));
    }

    #[test]
    fn latin1_maps_every_byte() {
        let mut s = String::new();
        let (text, replaced) = Encoding::Latin1.decode(b"caf\xe9 \xff", &mut s);
        assert_eq!(text, "café ÿ");
        assert!(!replaced);
    }

    #[test]
    fn ascii_replaces_high_bytes() {
        let mut s = String::new();
        let (text, replaced) = Encoding::Ascii.decode(b"a\xe9b", &mut s);
        assert_eq!(text, "a\u{fffd}b");
        assert!(replaced);
    }
}
