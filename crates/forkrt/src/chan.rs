//! `Queue<T>` and `Pipe<T>`/`Connection<T>`: Python's `multiprocessing`
//! channels, working across fork, spawn and forkserver children.
//!
//! Both are `SOCK_SEQPACKET` Unix socket pairs: every message is one record,
//! so many producers and many consumers can share one end in any number of
//! processes without a lock (a record is never split or interleaved), and
//! one producer's messages arrive in its order. A message is postcard
//! (the runtime's codec); one over [`INLINE_MAX`] travels in a sealed-off
//! memfd passed with the record, so records stay small, the socket buffer
//! bounds the number of messages in flight (a full queue blocks `put`:
//! back-pressure), and a large message never blocks the other end. Queues
//! and connections inside a message or a task argument cross as
//! descriptors (SCM_RIGHTS).

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec;
use crate::error::{Error, Result};
use crate::sys;

/// Messages up to this size travel in the record itself.
pub(crate) const INLINE_MAX: usize = 32 << 10;
const TAG_INLINE: u8 = 0;
const TAG_MEMFD: u8 = 1;

/// A SEQPACKET socket pair, both ends close-on-exec.
pub(crate) fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
    socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::io("socketpair for a queue or pipe", e.into()))
}

/// Sends `msg` as one record on `fd` (blocking while the socket buffer is
/// full, or until `deadline`). Returns false on timeout.
pub(crate) fn send_record<T: Serialize + ?Sized>(
    fd: RawFd,
    msg: &T,
    deadline: Option<Instant>,
) -> Result<bool> {
    let failed = |e: postcard::Error| Error::Decode {
        task: std::any::type_name::<T>().to_string(),
        message: format!("cannot serialize a message: {e}"),
    };
    let (encoded, mut fds) = codec::encoding_with_fds(|| -> Result<_> {
        let size = codec::encoded_size(msg).map_err(failed)?;
        if size <= INLINE_MAX {
            let mut v = vec![0u8; size];
            postcard::to_slice(msg, &mut v).map_err(failed)?;
            Ok((v, None))
        } else {
            // Serialized straight into a memfd's pages: one copy.
            let memfd = memfd_of(size)?;
            let map = Mapping::new(&memfd, size, true)?;
            // SAFETY: the mapping is `size` writable bytes, ours alone until unmapped.
            let slice = unsafe { std::slice::from_raw_parts_mut(map.ptr.cast::<u8>(), size) };
            postcard::to_slice(msg, slice).map_err(failed)?;
            drop(map);
            Ok((Vec::new(), Some(memfd)))
        }
    });
    let (bytes, memfd) = encoded?;
    let tag = [if memfd.is_some() {
        TAG_MEMFD
    } else {
        TAG_INLINE
    }];
    if let Some(m) = &memfd {
        fds.insert(0, m.as_raw_fd());
    }
    let parts = [std::io::IoSlice::new(&tag), std::io::IoSlice::new(&bytes)];
    loop {
        match sys::send_with_fds_flags(fd, &parts, &fds, libc::MSG_DONTWAIT) {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let ev = sys::poll_one(fd, libc::POLLOUT, deadline)
                    .map_err(|e| Error::io("poll on a queue or pipe", e))?;
                if ev == 0 {
                    return Ok(false);
                }
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => {
                return Err(Error::Disconnected);
            }
            Err(e) => return Err(Error::io("send on a queue or pipe", e)),
        }
    }
}

/// A memory mapping of a message memfd, unmapped on drop.
struct Mapping {
    ptr: *mut std::ffi::c_void,
    len: usize,
}

impl Mapping {
    fn new(fd: &OwnedFd, len: usize, write: bool) -> Result<Mapping> {
        use rustix::mm::{MapFlags, ProtFlags, mmap};
        let (prot, flags) = if write {
            (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED)
        } else {
            (ProtFlags::READ, MapFlags::PRIVATE)
        };
        // SAFETY: a fresh mapping (null hint) of an fd we own; unmapped on drop.
        let ptr = unsafe { mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) }
            .map_err(|e| Error::io("mmap of a message memfd", e.into()))?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`, no longer borrowed.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}

/// Receives one record from `fd` and decodes it, waiting until `deadline`
/// (`None` = forever). `Ok(None)` on timeout.
pub(crate) fn recv_record<T: DeserializeOwned>(
    fd: RawFd,
    deadline: Option<Instant>,
) -> Result<Option<T>> {
    recv_with(fd, deadline, |body| {
        crate::wire::decode("message", body).map_err(|e| Error::Decode {
            task: std::any::type_name::<T>().to_string(),
            message: e.detail(),
        })
    })
}

/// Receives one record and hands its body to `f` (with the record's
/// descriptors available to `Deserialize` impls), so that `f` may decode
/// borrowing from it: a large message is decoded straight from its memfd's
/// pages, with no copy.
pub(crate) fn recv_with<R>(
    fd: RawFd,
    deadline: Option<Instant>,
    f: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<Option<R>> {
    let mut buf = vec![0u8; INLINE_MAX + 1];
    loop {
        let mut fds = Vec::new();
        match sys::recv_with_fds_flags(fd, &mut buf, &mut fds, libc::MSG_DONTWAIT) {
            Ok(0) => return Err(Error::Disconnected),
            Ok(n) => return with_record(&buf[..n], fds, f).map(Some),
            // Another consumer took the record first, or none yet.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let ev = sys::poll_one(fd, libc::POLLIN, deadline)
                    .map_err(|e| Error::io("poll on a queue or pipe", e))?;
                if ev == 0 {
                    return Ok(None);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                return Err(Error::Disconnected);
            }
            Err(e) => return Err(Error::io("receive on a queue or pipe", e)),
        }
    }
}

fn with_record<R>(
    record: &[u8],
    mut fds: Vec<OwnedFd>,
    f: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    let (tag, body) = record
        .split_first()
        .ok_or_else(|| Error::protocol("empty record on a queue or pipe"))?;
    let map;
    let body = match *tag {
        TAG_INLINE => body,
        TAG_MEMFD if !fds.is_empty() => {
            // Decoded straight from the memfd's pages.
            let memfd = fds.remove(0);
            let len = rustix::fs::fstat(&memfd)
                .map_err(|e| Error::io("fstat of a message memfd", e.into()))?
                .st_size as usize;
            if len == 0 {
                return Err(Error::protocol("an empty message memfd"));
            }
            map = Mapping::new(&memfd, len, false)?;
            // SAFETY: a private read-only mapping of `len` bytes that lives
            // until the end of this function.
            unsafe { std::slice::from_raw_parts(map.ptr.cast::<u8>(), len) }
        }
        _ => return Err(Error::protocol("malformed record on a queue or pipe")),
    };
    codec::decoding_with_fds(fds, || f(body))
}

fn memfd_of(size: usize) -> Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
    let fd = memfd_create("forkrt-message", MemfdFlags::CLOEXEC)
        .map_err(|e| Error::io("memfd_create for a large message", e.into()))?;
    ftruncate(&fd, size as u64).map_err(|e| Error::io("ftruncate of a message memfd", e.into()))?;
    Ok(fd)
}

fn fd_index<S: Serializer>(fd: RawFd, what: &str) -> std::result::Result<u32, S::Error> {
    codec::pass_fd(fd).ok_or_else(|| {
        serde::ser::Error::custom(format!(
            "a forkrt {what} crosses processes only as a task argument or inside a message of \
             a Queue or Connection"
        ))
    })
}

fn take_index<'de, D: Deserializer<'de>>(
    i: u32,
    what: &str,
) -> std::result::Result<OwnedFd, D::Error> {
    codec::take_fd(i).ok_or_else(|| {
        serde::de::Error::custom(format!("the descriptor of a forkrt {what} did not arrive"))
    })
}

// ---------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------

struct QueueEnds {
    /// Producers send here.
    put: OwnedFd,
    /// Consumers receive here.
    get: OwnedFd,
}

/// A multi-producer, multi-consumer FIFO queue between processes, like
/// Python's `multiprocessing.Queue`.
///
/// `Clone` (clones share the queue) and can be passed to a task as (part of)
/// its argument under every start method: under fork it is inherited, under
/// spawn and forkserver its descriptors travel with the request. Each
/// producer's messages arrive in the order it put them. `put` blocks while
/// the queue is full (a bounded socket buffer: back-pressure); a message
/// over 32 KiB travels in a memfd, so a large message never blocks the
/// other side.
///
/// ```no_run
/// #[forkrt::task]
/// fn produce(q: forkrt::Queue<String>) {
///     q.put("hello".to_string()).unwrap();
/// }
///
/// #[forkrt::main]
/// fn main() -> forkrt::Result<()> {
///     let q = forkrt::Queue::<String>::new()?;
///     let mut p = forkrt::Process::new(produce, q.clone());
///     p.start()?;
///     assert_eq!(q.get()?, "hello");
///     p.join()
/// }
/// ```
pub struct Queue<T> {
    ends: Arc<QueueEnds>,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            ends: self.ends.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("put_fd", &self.ends.put.as_raw_fd())
            .field("get_fd", &self.ends.get.as_raw_fd())
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A new, empty queue.
    pub fn new() -> Result<Queue<T>> {
        let (put, get) = seqpacket_pair()?;
        Ok(Queue {
            ends: Arc::new(QueueEnds { put, get }),
            _t: PhantomData,
        })
    }

    /// Puts `item` at the end of the queue, waiting while it is full.
    pub fn put(&self, item: T) -> Result<()> {
        send_record(self.ends.put.as_raw_fd(), &item, None).map(drop)
    }

    /// Takes the next item, waiting for one.
    pub fn get(&self) -> Result<T> {
        recv_record(self.ends.get.as_raw_fd(), None)
            .map(|v| v.expect("no timeout without a deadline"))
    }

    /// Takes the next item, waiting at most `timeout`; `Ok(None)` if none
    /// arrived (Python's `get(timeout=...)` raising `queue.Empty`).
    pub fn get_timeout(&self, timeout: Duration) -> Result<Option<T>> {
        recv_record(self.ends.get.as_raw_fd(), Some(Instant::now() + timeout))
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let put = fd_index::<S>(self.ends.put.as_raw_fd(), "Queue")?;
        let get = fd_index::<S>(self.ends.get.as_raw_fd(), "Queue")?;
        (put, get).serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (put, get) = <(u32, u32)>::deserialize(d)?;
        let put = take_index::<D>(put, "Queue")?;
        let get = take_index::<D>(get, "Queue")?;
        Ok(Queue {
            ends: Arc::new(QueueEnds { put, get }),
            _t: PhantomData,
        })
    }
}

// ---------------------------------------------------------------------------
// Pipe and Connection
// ---------------------------------------------------------------------------

/// Python's `multiprocessing.Pipe()`: two connected, duplex [`Connection`]s.
pub struct Pipe<T>(PhantomData<fn(T) -> T>);

impl<T: Serialize + DeserializeOwned> Pipe<T> {
    /// Two connected ends; what one sends, the other receives, both ways.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Result<(Connection<T>, Connection<T>)> {
        let (a, b) = seqpacket_pair()?;
        Ok((Connection::from_fd(a), Connection::from_fd(b)))
    }
}

/// One end of a [`Pipe`], like Python's `multiprocessing.connection.Connection`.
///
/// Can be passed to a task as (part of) its argument under every start
/// method. When every copy of the other end is closed (in every process),
/// `recv` returns [`Error::Disconnected`].
///
/// ```no_run
/// #[forkrt::task]
/// fn echo(c: forkrt::Connection<u64>) {
///     let n = c.recv().unwrap();
///     c.send(&(n * 2)).unwrap();
/// }
///
/// #[forkrt::main]
/// fn main() -> forkrt::Result<()> {
///     let (here, there) = forkrt::Pipe::<u64>::new()?;
///     let mut p = forkrt::Process::new(echo, there);
///     p.start()?;
///     here.send(&21)?;
///     assert_eq!(here.recv()?, 42);
///     p.join()
/// }
/// ```
pub struct Connection<T> {
    fd: OwnedFd,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl<T> Connection<T> {
    pub(crate) fn from_fd(fd: OwnedFd) -> Self {
        Connection {
            fd,
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Connection<T> {
    /// Sends `msg` to the other end (waiting while its buffer is full).
    pub fn send(&self, msg: &T) -> Result<()> {
        send_record(self.fd.as_raw_fd(), msg, None).map(drop)
    }

    /// Receives the next message, waiting for one.
    pub fn recv(&self) -> Result<T> {
        recv_record(self.fd.as_raw_fd(), None).map(|v| v.expect("no timeout without a deadline"))
    }

    /// Receives the next message, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<T>> {
        recv_record(self.fd.as_raw_fd(), Some(Instant::now() + timeout))
    }

    /// Whether a message (or the other end's closing) is there to receive,
    /// waiting at most `timeout` (Python's `poll(timeout)`).
    pub fn poll(&self, timeout: Duration) -> Result<bool> {
        sys::poll_one(
            self.fd.as_raw_fd(),
            libc::POLLIN,
            Some(Instant::now() + timeout),
        )
        .map(|ev| ev != 0)
        .map_err(|e| Error::io("poll on a connection", e))
    }
}

impl<T> AsFd for Connection<T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl<T> Serialize for Connection<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        fd_index::<S>(self.fd.as_raw_fd(), "Connection")?.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Connection<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let i = u32::deserialize(d)?;
        Ok(Connection::from_fd(take_index::<D>(i, "Connection")?))
    }
}
