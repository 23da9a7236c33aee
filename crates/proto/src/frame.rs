//! Framing: each message is a 4-byte big-endian length followed by that many bytes of JSON.
//!
//! The reader checks the announced length against a cap before allocating, so a peer cannot
//! make the other side reserve gigabytes with four bytes.

use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// The protocol version both sides announce in their first frame.
pub const PROTOCOL_VERSION: u32 = 1;

/// The protocol's name in the handshake, so a stray peer is recognised as such.
pub const PROTOCOL_NAME: &str = "jailor-control";

/// The largest request frame the server reads (1 MiB).
pub const MAX_REQUEST_FRAME: u32 = 1 << 20;

/// The largest response frame the client reads (64 MiB: `banned` on a busy host can list
/// hundreds of thousands of addresses).
pub const MAX_RESPONSE_FRAME: u32 = 64 << 20;

/// Writes `value` as one frame.
///
/// # Errors
/// [`ErrorKind::FrameTooLarge`] when the JSON is longer than `cap` (nothing is written), or an
/// I/O error.
pub fn write_frame<W: Write, T: Serialize>(
    writer: &mut W,
    value: &T,
    cap: u32,
) -> Result<(), Error> {
    let body = serde_json::to_vec(value).map_err(|e| ErrorKind::Malformed(e.to_string()))?;
    let len =
        u32::try_from(body.len())
            .ok()
            .filter(|&n| n <= cap)
            .ok_or(ErrorKind::FrameTooLarge {
                size: body.len() as u64,
                cap: u64::from(cap),
            })?;
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&body);
    writer
        .write_all(&buf)
        .and_then(|()| writer.flush())
        .map_err(|e| Error::io("writing a frame", e))
}

/// Reads one frame's bytes, refusing a length over `cap`.
///
/// # Errors
/// [`ErrorKind::Closed`] at a clean end of stream, [`ErrorKind::FrameTooLarge`], or an I/O
/// error (a timeout is [`ErrorKind::Timeout`]).
pub fn read_frame_bytes<R: Read>(reader: &mut R, cap: u32) -> Result<Vec<u8>, Error> {
    let mut len = [0u8; 4];
    reader
        .read_exact(&mut len)
        .map_err(|e| Error::io("reading a frame", e))?;
    let len = u32::from_be_bytes(len);
    if len > cap {
        return Err(ErrorKind::FrameTooLarge {
            size: u64::from(len),
            cap: u64::from(cap),
        }
        .into());
    }
    let mut body = vec![0u8; len as usize];
    reader
        .read_exact(&mut body)
        .map_err(|e| Error::io("reading a frame", e))?;
    Ok(body)
}

/// Reads one frame and decodes its JSON as `T`.
///
/// # Errors
/// As [`read_frame_bytes`], plus [`ErrorKind::Malformed`] when the JSON is not a `T`.
pub fn read_frame<R: Read, T: DeserializeOwned>(reader: &mut R, cap: u32) -> Result<T, Error> {
    let body = read_frame_bytes(reader, cap)?;
    serde_json::from_slice(&body).map_err(|e| ErrorKind::Malformed(e.to_string()).into())
}

/// The first frame each side sends: the protocol's name and version.
///
/// The server sends its hello first, as soon as it accepts a connection; when it refuses the
/// peer, `refused` says why and the connection is closed. The client answers with its own
/// hello (without `refused`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`PROTOCOL_NAME`].
    pub protocol: String,
    /// The sender's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// Why the server refuses this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

/// Why a server refuses a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// The peer is neither root nor the socket's owner.
    PermissionDenied,
    /// Too many connections are open.
    Busy,
}

impl Hello {
    /// This build's hello.
    pub fn current() -> Hello {
        Hello {
            protocol: PROTOCOL_NAME.to_string(),
            version: PROTOCOL_VERSION,
            refused: None,
        }
    }

    /// A server's refusal.
    pub fn refusal(why: Refusal) -> Hello {
        Hello {
            refused: Some(why),
            ..Hello::current()
        }
    }
}

/// Reads the peer's hello and checks its version.
///
/// A frame that is JSON but not a hello (an older or foreign peer) counts as version 0.
///
/// # Errors
/// [`ErrorKind::VersionMismatch`], or a framing error.
pub fn read_hello<R: Read>(reader: &mut R) -> Result<Hello, Error> {
    let body = read_frame_bytes(reader, 4096)?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ErrorKind::Malformed(e.to_string()))?;
    let theirs = match (value.get("protocol"), value.get("version")) {
        (Some(serde_json::Value::String(name)), Some(v)) if name == PROTOCOL_NAME => {
            v.as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
        }
        _ => 0,
    };
    if theirs != PROTOCOL_VERSION {
        return Err(ErrorKind::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs,
        }
        .into());
    }
    serde_json::from_value(value).map_err(|e| ErrorKind::Malformed(e.to_string()).into())
}
