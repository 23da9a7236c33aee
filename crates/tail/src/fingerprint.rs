//! File identity: device and inode plus a hash of the first line.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// How many bytes of a first line are hashed at most. A longer first line is identified by
/// its first `HEAD_CAP` bytes.
pub const HEAD_CAP: usize = 8192;

/// Where a file lives on disk: its device and inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl FileKey {
    /// The key of an opened file or a stat result.
    pub fn of(meta: &std::fs::Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// What makes a file the same file across restarts: its [`FileKey`] and the MD5 of its first
/// line (newline included, at most [`HEAD_CAP`] bytes).
///
/// The hash is the one fail2ban stores in its `logs.firstlinemd5` column, so positions can be
/// carried over from a fail2ban database (see [`Fingerprint::from_md5_hex`]). It is absent while
/// the file has no complete first line yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The device and inode, when known.
    pub key: Option<FileKey>,
    /// MD5 of the first line, when the file has one.
    pub first_line_md5: Option<[u8; 16]>,
}

impl Fingerprint {
    /// A fingerprint known only by its first line's MD5 in hex, as fail2ban stores it.
    /// Returns `None` when `hex` is not 32 hex digits.
    pub fn from_md5_hex(hex: &str) -> Option<Fingerprint> {
        let hex = hex.as_bytes();
        if hex.len() != 32 {
            return None;
        }
        let mut md5 = [0u8; 16];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            md5[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Fingerprint {
            key: None,
            first_line_md5: Some(md5),
        })
    }

    /// The first line's MD5 as 32 lowercase hex digits (fail2ban's `firstlinemd5`).
    pub fn md5_hex(&self) -> Option<String> {
        self.first_line_md5
            .map(|md5| md5.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether a position stored with this fingerprint may be applied to a file that now has
    /// the fingerprint `current`.
    ///
    /// Where both have a first-line hash they must agree, and where this one has a key the
    /// keys must agree too. Without a first-line hash only an equal key identifies the file.
    pub fn matches(&self, current: &Fingerprint) -> bool {
        let key_ok = match (self.key, current.key) {
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let head_ok = match (self.first_line_md5, current.first_line_md5) {
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
            (None, _) => self.key.is_some(),
        };
        key_ok && head_ok
    }
}

/// The identifying first line of an open file: how many bytes were hashed and their MD5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) len: usize,
    pub(crate) md5: [u8; 16],
}

/// Reads the file's first line (up to [`HEAD_CAP`] bytes). `None` while the file has neither
/// a newline nor `HEAD_CAP` bytes.
pub(crate) fn read_head(file: &File) -> io::Result<Option<Head>> {
    let mut buf = [0u8; HEAD_CAP];
    let mut filled = 0;
    while filled < HEAD_CAP {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(nl) = memchr::memchr(b'\n', &buf[filled..filled + n]) {
                    filled += nl + 1;
                    return Ok(Some(hash(&buf[..filled])));
                }
                filled += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled == HEAD_CAP).then(|| hash(&buf[..filled])))
}

/// Whether the file still starts with the bytes `head` was computed from.
pub(crate) fn head_unchanged(file: &File, head: &Head) -> io::Result<bool> {
    let mut buf = [0u8; HEAD_CAP];
    let want = &mut buf[..head.len.min(HEAD_CAP)];
    match file.read_exact_at(want, 0) {
        Ok(()) => Ok(hash(want).md5 == head.md5),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn hash(bytes: &[u8]) -> Head {
    Head {
        len: bytes.len(),
        md5: md5::compute(bytes).0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn md5_of_first_line_matches_fail2ban_column_format() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"hello\nworld\n").unwrap();
        let head = read_head(&f).unwrap().unwrap();
        assert_eq!(head.len, 6);
        let fp = Fingerprint {
            key: None,
            first_line_md5: Some(head.md5),
        };
        // md5("hello\n")
        assert_eq!(fp.md5_hex().unwrap(), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(Fingerprint::from_md5_hex(&fp.md5_hex().unwrap()), Some(fp));
        assert_eq!(Fingerprint::from_md5_hex("xyz"), None);
        assert_eq!(Fingerprint::from_md5_hex(&"g".repeat(32)), None);
    }

    #[test]
    fn no_head_until_first_newline_or_cap() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"partial").unwrap();
        assert_eq!(read_head(&f).unwrap(), None);
        f.write_all(&vec![b'x'; HEAD_CAP]).unwrap();
        assert_eq!(read_head(&f).unwrap().unwrap().len, HEAD_CAP);
    }

    #[test]
    fn head_change_is_seen() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"one\ntwo\n").unwrap();
        let head = read_head(&f).unwrap().unwrap();
        assert!(head_unchanged(&f, &head).unwrap());
        f.set_len(0).unwrap();
        assert!(!head_unchanged(&f, &head).unwrap());
        f.write_all_at(b"uno\n", 0).unwrap();
        assert!(!head_unchanged(&f, &head).unwrap());
    }

    #[test]
    fn matching_rules() {
        let k1 = Some(FileKey { dev: 1, ino: 2 });
        let k2 = Some(FileKey { dev: 1, ino: 3 });
        let a = Some([1u8; 16]);
        let b = Some([2u8; 16]);
        let fp = |key, first_line_md5| Fingerprint {
            key,
            first_line_md5,
        };
        assert!(fp(k1, a).matches(&fp(k1, a)));
        assert!(!fp(k1, a).matches(&fp(k2, a)), "other inode");
        assert!(!fp(k1, a).matches(&fp(k1, b)), "other first line");
        assert!(fp(None, a).matches(&fp(k2, a)), "imported md5 only");
        assert!(
            fp(k1, None).matches(&fp(k1, a)),
            "first line completed since"
        );
        assert!(!fp(None, None).matches(&fp(k1, a)), "nothing identifies");
        assert!(!fp(k1, a).matches(&fp(k1, None)), "first line gone");
    }
}
