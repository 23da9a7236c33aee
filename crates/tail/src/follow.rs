//! One followed file: its open handle, offsets, the partial last line, and line splitting.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::encoding::Encoding;
use crate::fingerprint::{head_unchanged, read_head, FileKey, Fingerprint, Head};
use crate::line::{FileId, LineRef};
use crate::stats::Stats;

/// Where in a newly followed file reading begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    /// The byte offset.
    pub(crate) offset: u64,
    /// Whether `offset` is inside a line whose rest must be skipped.
    pub(crate) skipping: bool,
}

/// Everything lines are handed to while reading.
pub(crate) struct Sink<'s, F> {
    pub(crate) encoding: Encoding,
    pub(crate) max_line: usize,
    pub(crate) scratch: &'s mut String,
    pub(crate) stats: &'s mut Stats,
    pub(crate) on_line: &'s mut F,
}

impl<F: FnMut(&LineRef<'_>)> Sink<'_, F> {
    fn emit(
        &mut self,
        file: FileId,
        path: &Path,
        fingerprint: &Fingerprint,
        raw: &[u8],
        offset: u64,
        truncated: bool,
    ) {
        let mut bytes = raw;
        while let [rest @ .., b'\r'] = bytes {
            bytes = rest;
        }
        let (text, replaced) = self.encoding.decode(bytes, self.scratch);
        self.stats.lines += 1;
        self.stats.truncated_lines += u64::from(truncated);
        self.stats.replaced_lines += u64::from(replaced);
        (self.on_line)(&LineRef {
            file,
            path,
            fingerprint,
            bytes,
            text,
            offset,
            truncated,
        });
    }
}

/// A file being followed.
#[derive(Debug)]
pub(crate) struct Followed {
    pub(crate) id: FileId,
    /// The path it was last seen under.
    pub(crate) path: PathBuf,
    pub(crate) key: FileKey,
    file: File,
    head: Option<Head>,
    fingerprint: Fingerprint,
    /// Just after the last delivered (or skipped) byte.
    offset: u64,
    /// The incomplete last line, read but not delivered.
    carry: Vec<u8>,
    /// Inside an over-long line whose rest is being skipped.
    skipping: bool,
    /// The size seen at the last check, to notice growth.
    last_size: u64,
    /// The scan generation in which a followed path last resolved to this file.
    pub(crate) seen_gen: u64,
    /// When no followed path resolved to it any more (rotated away or deleted).
    pub(crate) gone_since: Option<Instant>,
    /// When it last grew, to know when a rotated-away file has gone quiet.
    pub(crate) last_growth: Instant,
    /// Its inotify watch, if any.
    pub(crate) watch: Option<i32>,
}

impl Followed {
    /// Starts following an open file.
    pub(crate) fn new(
        id: FileId,
        path: PathBuf,
        key: FileKey,
        file: File,
        head: Option<Head>,
        start: Start,
        gen: u64,
    ) -> Followed {
        Followed {
            id,
            path,
            key,
            file,
            head,
            fingerprint: Fingerprint {
                key: Some(key),
                first_line_md5: head.map(|h| h.md5),
            },
            offset: start.offset,
            carry: Vec::new(),
            skipping: start.skipping,
            last_size: start.offset,
            seen_gen: gen,
            gone_since: None,
            last_growth: Instant::now(),
            watch: None,
        }
    }

    /// The position to store: the offset just after the last delivered line.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The file's identity.
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Where the next read begins.
    pub(crate) fn read_pos(&self) -> u64 {
        self.offset + self.carry.len() as u64
    }

    /// The size of the open file (which may no longer have a name).
    pub(crate) fn size(&self) -> io::Result<u64> {
        self.file.metadata().map(|m| m.len())
    }

    /// Detects truncation and in-place rewrites before reading up to `size`.
    pub(crate) fn check(&mut self, size: u64, stats: &mut Stats) -> io::Result<()> {
        if size < self.read_pos() {
            stats.truncations += 1;
            tracing::info!(path = %self.path.display(), size, offset = self.read_pos(),
                "log truncation detected, reading from the start");
            self.restart()?;
        } else if size != self.last_size {
            match self.head {
                Some(head) if !head_unchanged(&self.file, &head)? => {
                    stats.rotations += 1;
                    tracing::info!(path = %self.path.display(),
                        "log rotation detected (first line changed), reading from the start");
                    self.restart()?;
                }
                Some(_) => {}
                None => self.set_head(read_head(&self.file)?),
            }
        }
        if size > self.last_size {
            self.last_growth = Instant::now();
        }
        self.last_size = size;
        Ok(())
    }

    fn restart(&mut self) -> io::Result<()> {
        self.offset = 0;
        self.carry.clear();
        self.skipping = false;
        self.set_head(read_head(&self.file)?);
        Ok(())
    }

    fn set_head(&mut self, head: Option<Head>) {
        self.head = head;
        self.fingerprint.first_line_md5 = head.map(|h| h.md5);
    }

    /// Reads and delivers complete lines up to `size`, at most about `budget` bytes.
    /// Returns whether unread bytes remain.
    pub(crate) fn read<F: FnMut(&LineRef<'_>)>(
        &mut self,
        size: u64,
        buf: &mut [u8],
        sink: &mut Sink<'_, F>,
        budget: u64,
    ) -> io::Result<bool> {
        let mut done = 0u64;
        loop {
            let pos = self.read_pos();
            if pos >= size || buf.is_empty() {
                return Ok(false);
            }
            if done >= budget {
                return Ok(true);
            }
            let want = usize::try_from(size - pos).map_or(buf.len(), |n| n.min(buf.len()));
            let n = match self.file.read_at(&mut buf[..want], pos) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(false);
            }
            if self.head.is_none() {
                // The first line may have just been completed: know it before delivering it.
                self.set_head(read_head(&self.file)?);
            }
            self.consume(&buf[..n], pos, sink);
            done += n as u64;
            sink.stats.bytes += n as u64;
        }
    }

    /// Splits `chunk` (which starts at file offset `base`) into lines.
    fn consume<F: FnMut(&LineRef<'_>)>(&mut self, chunk: &[u8], base: u64, sink: &mut Sink<'_, F>) {
        let max = sink.max_line;
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            let piece = &chunk[start..nl];
            let end = base + nl as u64 + 1;
            if self.skipping {
                self.skipping = false;
            } else if self.carry.is_empty() {
                let cut = piece.len().min(max);
                let fp = self.fingerprint;
                sink.emit(
                    self.id,
                    &self.path,
                    &fp,
                    &piece[..cut],
                    end,
                    piece.len() > max,
                );
            } else {
                let room = max.saturating_sub(self.carry.len());
                let cut = piece.len().min(room);
                self.carry.extend_from_slice(&piece[..cut]);
                let fp = self.fingerprint;
                sink.emit(
                    self.id,
                    &self.path,
                    &fp,
                    &self.carry,
                    end,
                    piece.len() > room,
                );
                self.carry.clear();
            }
            self.offset = end;
            start = nl + 1;
        }
        let rest = &chunk[start..];
        let end = base + chunk.len() as u64;
        if self.skipping {
            self.offset = end;
            return;
        }
        let room = max.saturating_sub(self.carry.len());
        if rest.len() > room {
            // Deliver what fits now rather than hold an unbounded line in memory.
            self.carry.extend_from_slice(&rest[..room]);
            let fp = self.fingerprint;
            sink.emit(self.id, &self.path, &fp, &self.carry, end, true);
            self.carry.clear();
            self.skipping = true;
            self.offset = end;
        } else {
            self.carry.extend_from_slice(rest);
        }
    }

    /// Delivers a final line that never got its newline, when the file is dropped.
    pub(crate) fn finish<F: FnMut(&LineRef<'_>)>(&mut self, sink: &mut Sink<'_, F>) {
        if !self.carry.is_empty() {
            let end = self.read_pos();
            let fp = self.fingerprint;
            sink.emit(self.id, &self.path, &fp, &self.carry, end, false);
            self.carry.clear();
            self.offset = end;
        }
    }
}
