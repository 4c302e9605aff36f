//! The wire format shared by the spawn channel and the forkserver socket.
//!
//! Every message is a frame: `"FK"`, a version byte, a kind byte, the
//! payload length (u32 little-endian), then the payload (postcard). Frames
//! are read with deadlines so that a silent, slow or lying peer is an error,
//! never a hang; lengths are capped and buffers grow only as bytes actually
//! arrive, so a corrupt length cannot make us allocate gigabytes.

// fork-lint: allow-file(FL004) -- frames are built in children of the single-threaded
// forkserver, and in fork-method children after the user's task has run.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sys;

pub(crate) const MAGIC: [u8; 2] = *b"FK";
pub(crate) const VERSION: u8 = 1;
pub(crate) const HEADER: usize = 8;
/// Largest payload accepted (arguments included).
pub(crate) const MAX_PAYLOAD: usize = 1 << 30;

/// Frame kinds.
pub(crate) mod kind {
    /// parent → child: [`super::ChildRequest`].
    pub const REQUEST: u8 = 0x01;
    /// child → parent: the child reached its guard and decoded its task.
    pub const READY: u8 = 0x02;
    /// either way: [`super::ErrorReport`].
    pub const ERROR: u8 = 0x03;
    /// parent → forkserver: [`super::ForkserverInit`].
    pub const FS_INIT: u8 = 0x10;
    /// forkserver → parent: [`super::ForkserverReady`].
    pub const FS_READY: u8 = 0x11;
    /// server → client: its nonce and its proof over both nonces (64 bytes).
    pub const CHALLENGE: u8 = 0x20;
    /// client → server: its proof over both nonces (32 bytes).
    pub const AUTH: u8 = 0x21;
    /// server → client: authentication failed (a message), then close.
    pub const REFUSED: u8 = 0x22;
    /// forkserver child → client: pid (u32), the task is about to run.
    pub const STARTED: u8 = 0x23;
    /// server → client: (pid u32, exitcode i32).
    pub const EXIT: u8 = 0x24;
    /// client → server: signal number (i32) to send to the child.
    pub const SIGNAL: u8 = 0x25;
    /// client → server, first thing after connecting: the client's 32-byte
    /// nonce, which the server must answer with proof that it holds the key.
    pub const HELLO: u8 = 0x26;
    /// forkserver child → server: the argument bytes have all arrived (sent
    /// for large arguments only; the decode deadline starts here).
    pub const RECEIVED: u8 = 0x27;
    /// server → client, on the control connection: `(seq u64, ErrorReport)`
    /// about a request whose descriptors (its channel among them) the server
    /// could not take.
    pub const CONTROL_ERROR: u8 = 0x28;
}

/// What a child needs to run a task. The encoded argument (`args_len`
/// bytes) follows the frame unframed, so that neither side copies it into a
/// frame and the forkserver's child, not the server, reads it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct ChildRequest {
    pub task: String,
    pub site: String,
    pub fingerprint: u64,
    pub args_len: u64,
    /// Descriptors passed with the request (SCM_RIGHTS): the queues and
    /// connections inside the argument.
    pub nfds: u32,
    pub name: String,
    pub ident: Vec<u32>,
    pub daemon: bool,
    pub parent_pid: u32,
    pub parent_name: String,
    /// The caller's working directory at `start()` (a forkserver child
    /// changes to it, as CPython's do).
    pub cwd: Vec<u8>,
    /// Forkserver: the request's number on its control connection (control
    /// errors name it); 0 under spawn.
    pub seq: u64,
}

/// Error codes carried by [`ErrorReport`].
pub(crate) mod errcode {
    pub const DECODE: u8 = 1;
    pub const NOT_REGISTERED: u8 = 2;
    pub const PROTOCOL: u8 = 3;
    pub const OTHER: u8 = 4;
    /// The child did not decode its arguments within the handshake timeout.
    pub const TIMEOUT: u8 = 5;
    /// A resource ran out (descriptors, processes); the message says which.
    pub const RESOURCE: u8 = 6;
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct ErrorReport {
    pub code: u8,
    pub task: String,
    /// The child's pid, where one exists (0 otherwise).
    pub pid: u32,
    pub message: String,
}

impl ErrorReport {
    pub(crate) fn into_error(self) -> Error {
        match self.code {
            errcode::DECODE => Error::Decode {
                task: self.task,
                message: self.message,
            },
            errcode::TIMEOUT => Error::HandshakeTimeout {
                pid: self.pid,
                timeout: crate::state::handshake_timeout(),
            },
            errcode::PROTOCOL => Error::Protocol {
                message: self.message,
            },
            errcode::RESOURCE => Error::ResourceLimit {
                message: self.message,
            },
            errcode::NOT_REGISTERED => Error::Protocol {
                message: format!(
                    "the child does not know task `{}` ({}); was the binary replaced on disk?",
                    self.task, self.message
                ),
            },
            _ => Error::Protocol {
                message: self.message,
            },
        }
    }
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct ForkserverInit {
    pub key: Vec<u8>,
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct ForkserverReady {
    pub path: String,
}

/// Builds one frame.
/// A frame without payload, built without allocating (children send READY
/// and RECEIVED this way).
pub(crate) const fn empty_frame(kind: u8) -> [u8; HEADER] {
    [MAGIC[0], MAGIC[1], VERSION, kind, 0, 0, 0, 0]
}

pub(crate) fn frame_raw(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Builds one frame with a postcard payload.
pub(crate) fn frame<T: Serialize>(kind: u8, msg: &T) -> Vec<u8> {
    let payload = postcard::to_allocvec(msg).expect("runtime messages always serialize");
    frame_raw(kind, &payload)
}

/// Decodes a postcard payload, rejecting trailing bytes.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, payload: &[u8]) -> Result<T> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(Error::protocol(format!(
            "{what}: {} unexpected trailing bytes",
            rest.len()
        ))),
        Err(e) => Err(Error::protocol(format!("{what}: {e}"))),
    }
}

/// Accumulates bytes and pops complete frames.
#[derive(Default, Debug)]
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    /// Largest payload accepted; 0 means [`MAX_PAYLOAD`].
    limit: usize,
}

impl FrameReader {
    /// A reader that rejects frames with a payload over `limit` bytes as soon
    /// as their header arrives (unauthenticated peers).
    pub(crate) fn with_limit(limit: usize) -> Self {
        FrameReader {
            buf: Vec::new(),
            limit,
        }
    }

    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Takes the bytes buffered after the last complete frame.
    pub(crate) fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Reads at most `max` bytes from `fd` straight into the buffer, with
    /// any SCM_RIGHTS descriptors appended to `fds` (when given). No stack
    /// buffer: in the forkserver and in a client that forks, every stack page
    /// a call reaches is a copy-on-write fault after each fork, and a large
    /// buffer pushes the callees' frames pages further down.
    pub(crate) fn fill(
        &mut self,
        fd: RawFd,
        max: usize,
        fds: Option<&mut Vec<std::os::fd::OwnedFd>>,
    ) -> std::io::Result<usize> {
        match fds {
            Some(fds) => self.fill_fds(fd, max, fds).map(|(n, _)| n),
            None => {
                let len = self.buf.len();
                self.buf.resize(len + max, 0);
                let r = sys::read(fd, &mut self.buf[len..]);
                self.buf.truncate(len + *r.as_ref().unwrap_or(&0));
                r
            }
        }
    }

    /// [`FrameReader::fill`] with descriptors, also telling whether some
    /// were lost (see `sys::recv_with_fds_truncated`).
    pub(crate) fn fill_fds(
        &mut self,
        fd: RawFd,
        max: usize,
        fds: &mut Vec<std::os::fd::OwnedFd>,
    ) -> std::io::Result<(usize, bool)> {
        let len = self.buf.len();
        self.buf.resize(len + max, 0);
        let r = sys::recv_with_fds_truncated(fd, &mut self.buf[len..], fds, 0);
        self.buf.truncate(len + r.as_ref().map_or(0, |r| r.0));
        r
    }

    /// Bytes read from the stream elsewhere, in order before what follows.
    pub(crate) fn put_back(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    #[cfg(test)]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.put_back(bytes);
    }

    /// True if some bytes of an incomplete frame are buffered.
    pub(crate) fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Pops one complete frame, `Ok(None)` if more bytes are needed, an
    /// error if the header is invalid.
    pub(crate) fn pop(&mut self) -> Result<Option<(u8, Vec<u8>)>> {
        if self.buf.len() < HEADER {
            // Validate what we have so garbage fails fast.
            let n = self.buf.len().min(3);
            if self.buf[..n.min(2)] != MAGIC[..n.min(2)] || (n == 3 && self.buf[2] != VERSION) {
                return Err(self.bad_header());
            }
            return Ok(None);
        }
        if self.buf[..2] != MAGIC || self.buf[2] != VERSION {
            return Err(self.bad_header());
        }
        let kind = self.buf[3];
        let len = u32::from_le_bytes(self.buf[4..8].try_into().expect("4 bytes")) as usize;
        let limit = if self.limit == 0 {
            MAX_PAYLOAD
        } else {
            self.limit
        };
        if len > limit {
            return Err(Error::protocol(format!(
                "frame of {len} bytes exceeds the {limit}-byte limit"
            )));
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER..HEADER + len].to_vec();
        self.buf.drain(..HEADER + len);
        Ok(Some((kind, payload)))
    }

    fn bad_header(&self) -> Error {
        let shown: Vec<String> = self
            .buf
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        Error::protocol(format!(
            "bad frame header [{}] (expected magic \"FK\" version {VERSION})",
            shown.join(" ")
        ))
    }
}

/// The outcome of a deadline-bounded read.
#[derive(Debug)]
pub(crate) enum Read {
    Frame(u8, Vec<u8>),
    /// The peer closed the channel at a frame boundary.
    Eof,
    Timeout,
}

/// Reads one frame from a non-blocking fd, waiting at most until `deadline`.
/// EOF in the middle of a frame is a protocol error (truncated message).
pub(crate) fn read_frame(
    fd: RawFd,
    reader: &mut FrameReader,
    deadline: Option<Instant>,
) -> Result<Read> {
    read_frame_inner(fd, reader, deadline, None)
}

/// Bytes asked of the kernel per read of frames (runtime frames are small).
const READ_CHUNK: usize = 512;

fn read_frame_inner(
    fd: RawFd,
    reader: &mut FrameReader,
    deadline: Option<Instant>,
    mut fds: Option<&mut Vec<std::os::fd::OwnedFd>>,
) -> Result<Read> {
    loop {
        if let Some((k, p)) = reader.pop()? {
            return Ok(Read::Frame(k, p));
        }
        match reader.fill(fd, READ_CHUNK, fds.as_deref_mut()) {
            Ok(0) => {
                return if reader.has_partial() {
                    Err(Error::protocol(
                        "channel closed in the middle of a frame (truncated message)",
                    ))
                } else {
                    Ok(Read::Eof)
                };
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let ev = sys::poll_one(fd, libc::POLLIN, deadline)
                    .map_err(|e| Error::io("poll on a runtime channel", e))?;
                if ev == 0 {
                    return Ok(Read::Timeout);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                return if reader.has_partial() {
                    Err(Error::protocol("channel reset in the middle of a frame"))
                } else {
                    Ok(Read::Eof)
                };
            }
            Err(e) => return Err(Error::io("read from a runtime channel", e)),
        }
    }
}

pub(crate) fn write_all(fd: RawFd, mut bytes: &[u8], deadline: Option<Instant>) -> Result<bool> {
    while !bytes.is_empty() {
        match sys::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let ev = sys::poll_one(fd, libc::POLLOUT, deadline)
                    .map_err(|e| Error::io("poll on a runtime channel", e))?;
                if ev == 0 {
                    return Ok(false);
                }
            }
            Err(e) => return Err(Error::io("write to a runtime channel", e)),
        }
    }
    Ok(true)
}

/// Sends `parts` in order on a non-blocking socket, with `fds` attached to
/// the first byte, giving up when no byte could be written for `idle`: a
/// deadline on progress, not on the whole transfer, so that a large
/// argument takes as long as it needs. Returns how many bytes were written
/// and `Ok(true)` when all were, `Ok(false)` on a stall.
pub(crate) fn send_all(
    fd: RawFd,
    parts: &[&[u8]],
    fds: &[RawFd],
    idle: Duration,
) -> (usize, Result<bool>) {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut written = 0usize;
    let mut deadline = Instant::now() + idle;
    while written < total {
        let mut skip = written;
        let mut slices = Vec::with_capacity(parts.len());
        for p in parts {
            if skip >= p.len() {
                skip -= p.len();
                continue;
            }
            slices.push(std::io::IoSlice::new(&p[skip..]));
            skip = 0;
        }
        let fds_now = if written == 0 { fds } else { &[] };
        match sys::send_with_fds(fd, &slices, fds_now) {
            Ok(n) => {
                written += n;
                deadline = Instant::now() + idle;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                match sys::poll_one(fd, libc::POLLOUT, Some(deadline)) {
                    Ok(0) => return (written, Ok(false)),
                    Ok(_) => {}
                    Err(e) => return (written, Err(Error::io("poll on a runtime channel", e))),
                }
            }
            Err(e) => return (written, Err(Error::io("write to a runtime channel", e))),
        }
    }
    (written, Ok(true))
}

/// Reads the `len` argument bytes that follow a request: first what
/// `reader` already buffered, then from `fd`, failing when no byte arrives
/// for `idle` (a stalled transfer) or the channel closes.
pub(crate) fn read_args(
    fd: RawFd,
    reader: &mut FrameReader,
    len: u64,
    idle: Duration,
) -> Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| Error::protocol("argument length overflows"))?;
    let mut out = reader.take_rest();
    if out.len() > len {
        return Err(Error::protocol(format!(
            "{} bytes after a {len}-byte argument",
            out.len() - len
        )));
    }
    // Reserved once (no reallocation copying hundreds of megabytes while
    // the sender waits), but never beyond the argument size limit: a
    // corrupt length cannot make us allocate more.
    out.reserve(
        len.min(crate::state::max_arg_bytes().max(64 << 20))
            .saturating_sub(out.len()),
    );
    let mut deadline = Instant::now() + idle;
    let mut chunk = vec![0u8; (len - out.len()).clamp(1, 1 << 20)];
    while out.len() < len {
        let want = (len - out.len()).min(chunk.len());
        match sys::read(fd, &mut chunk[..want]) {
            Ok(0) => {
                return Err(Error::protocol(format!(
                    "the channel closed after {} of {len} argument bytes",
                    out.len()
                )));
            }
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                deadline = Instant::now() + idle;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let ev = sys::poll_one(fd, libc::POLLIN, Some(deadline))
                    .map_err(|e| Error::io("poll on a runtime channel", e))?;
                if ev == 0 {
                    return Err(Error::protocol(format!(
                        "the argument transfer stalled: no byte for {} ms after {} of {len} bytes",
                        idle.as_millis(),
                        out.len()
                    )));
                }
            }
            Err(e) => return Err(Error::io("read from a runtime channel", e)),
        }
    }
    Ok(out)
}

/// Reads one frame like [`read_frame`], collecting SCM_RIGHTS descriptors
/// that arrive with it into `fds`.
pub(crate) fn read_frame_fds(
    fd: RawFd,
    reader: &mut FrameReader,
    deadline: Option<Instant>,
    fds: &mut Vec<std::os::fd::OwnedFd>,
) -> Result<Read> {
    read_frame_inner(fd, reader, deadline, Some(fds))
}

/// How long a child may take to decode an argument of `len` bytes once it
/// has them: the handshake timeout, plus as much again per 64 MiB.
pub(crate) fn decode_allowance(len: u64) -> Duration {
    let t = crate::state::handshake_timeout();
    t + t * u32::try_from(len >> 26).unwrap_or(u32::MAX).min(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_roundtrip_and_split() {
        let a = frame(kind::EXIT, &(7u32, -9i32));
        let b = frame_raw(kind::READY, &[]);
        let mut r = FrameReader::default();
        let all: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        for byte in &all[..5] {
            r.extend(&[*byte]);
            assert!(r.pop().unwrap().is_none());
        }
        r.extend(&all[5..]);
        let (k, p) = r.pop().unwrap().unwrap();
        assert_eq!(k, kind::EXIT);
        assert_eq!(decode::<(u32, i32)>("exit", &p).unwrap(), (7, -9));
        assert_eq!(r.pop().unwrap().unwrap(), (kind::READY, vec![]));
        assert!(r.pop().unwrap().is_none());
    }

    #[test]
    fn garbage_is_rejected_early() {
        let mut r = FrameReader::default();
        r.extend(b"X");
        assert!(r.pop().is_err());
        let mut r = FrameReader::default();
        r.extend(&[b'F', b'K', 99]);
        assert!(r.pop().is_err());
        let mut r = FrameReader::default();
        r.extend(&frame_raw(1, &[])[..4]);
        r.extend(&u32::MAX.to_le_bytes());
        assert!(r.pop().is_err());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut p = postcard::to_allocvec(&5u32).unwrap();
        p.push(0);
        assert!(decode::<u32>("x", &p).is_err());
    }
}
