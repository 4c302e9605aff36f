//! The forkserver start method.
//!
//! On first use the parent spawns a server (this same binary, role
//! `forkserver`) and sends it a random 32-byte key over the inherited spawn
//! channel. The server is single-threaded: it creates a private directory
//! (mode 0700) holding a listening Unix socket (mode 0600), answers READY
//! with the socket's path, and then loops on poll(2) over the listener, the
//! channel to its parent (EOF = the parent is gone → exit), a SIGCHLD
//! signalfd (a self-pipe off Linux), and its connections. After READY it
//! removes directories that this user's dead servers left behind (see
//! [`sweep_stale_dirs`]).
//!
//! A client process connects once and keeps the connection (its *control*
//! connection; made again if it closes or the server is restarted):
//!
//! ```text
//! client → server  HELLO      client nonce Nc (32 bytes)
//! server → client  CHALLENGE  server nonce Ns ‖ HMAC(key, "server" ‖ Nc ‖ Ns)
//!                             (the client checks it before sending anything else)
//! client → server  AUTH       HMAC(key, "client" ‖ Ns ‖ Nc)
//! server → client  REFUSED    (bad AUTH, over 256 bytes unauthenticated; then close)
//! ```
//!
//! Per start, the client makes a socket pair, the child's *channel*:
//!
//! ```text
//! client → channel    the argument, if small (≤ SMALL_ARGS), before the request
//! client → server     REQUEST   ChildRequest (with its number, seq) on the control
//!                               connection, with stdout, stderr, the channel's other
//!                               end and the argument's descriptors as SCM_RIGHTS
//! client → channel    a larger argument, as the child reads it
//! server: fork → the child reads its argument from the channel, decodes it and
//!                reports to the server over a private pipe
//! server → channel    STARTED   pid         (or ERROR: decode failure, timeout, …)
//! client → channel    SIGNAL    signum      (terminate/kill; any time)
//! server → channel    EXIT      pid, exitcode (-signum if killed)
//! server → control    CONTROL_ERROR (seq, ErrorReport): only for a request whose
//!                     descriptors the server could not take (out of descriptors);
//!                     the client looks for it when its channel closes without a word
//! ```
//!
//! The channel is private to the two authenticated parties (it travels over
//! the authenticated connection), so it needs no authentication of its own,
//! and the server treats it as it treated a per-start connection before:
//! it keeps an exited child as a zombie (it peeks with `waitid(WNOWAIT)`)
//! until the client closes the channel, so a SIGNAL can never hit a
//! recycled pid. All writes on a channel come from the server, so messages
//! never interleave.
//!
//! Latency: one connection instead of one per start saves a connect, a
//! round trip and four HMACs per start; children and the server touch few
//! pages per start (see `fork_and_run`), because after each fork every page
//! either of them writes is a copy-on-write fault.

// fork-lint: allow-file(FL004, FL007) -- the forkserver never starts a thread, so each
// child it forks is a consistent, single-threaded copy (the invariant `serve` keeps).

use std::collections::VecDeque;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};

use crate::error::{Error, Result};
use crate::registry;
use crate::state::{self, RtFd, Runtime};
use crate::sys::{self, Pid};
use crate::wire::{
    self, ChildRequest, ErrorReport, ForkserverInit, ForkserverReady, FrameReader, Read, errcode,
    kind,
};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const AUTH_CONTEXT: &[u8] = b"forkrt-forkserver-v2";
pub(crate) const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 32;
/// What an unauthenticated peer may send before it is cut off.
const PRE_AUTH_MAX: usize = 256;
/// Largest frame an unauthenticated peer may announce (HELLO and AUTH carry 32 bytes).
const PRE_AUTH_FRAME_MAX: usize = 64;
/// Largest request envelope (the argument itself follows unframed).
const ENVELOPE_MAX: usize = 1 << 20;
/// Arguments up to this size are written before the request, and read by
/// the child in one system call into a stack buffer.
const SMALL_ARGS: usize = 512;
/// Arguments above this size make the child report RECEIVED, which starts
/// the server's decode deadline; smaller ones are covered by one deadline.
const RECEIVED_THRESHOLD: u64 = 64 << 10;

/// HMAC-SHA256 over a role, both nonces and the key: the server proves
/// itself with role "server", the client with role "client" (CPython 3.14
/// authenticates both ends of its forkserver connection the same way).
fn auth_tag(key: &[u8], role: &[u8], first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(AUTH_CONTEXT);
    mac.update(role);
    mac.update(first);
    mac.update(second);
    mac.finalize().into_bytes().to_vec()
}

fn auth_ok(key: &[u8], role: &[u8], first: &[u8], second: &[u8], tag: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(AUTH_CONTEXT);
    mac.update(role);
    mac.update(first);
    mac.update(second);
    mac.verify_slice(tag).is_ok() // constant-time comparison
}

// ---------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------

/// The parent's view of its running forkserver.
#[derive(Debug)]
pub(crate) struct ServerHandle {
    pub pid: Pid,
    /// Our end of the spawn channel. The server exits when it reads EOF.
    _alive: RtFd,
    pub path: PathBuf,
    key: [u8; KEY_LEN],
    generation: u64,
    /// Our authenticated connection to the server, made on first use and
    /// kept: every request of this process goes over it.
    control: Option<Control>,
}

/// A client's connection to its server, authenticated both ways once (see
/// the module docs). It carries the requests, each with the socket of its
/// child's own channel, and from the server only the errors about requests
/// whose channel the server could not take.
#[derive(Debug)]
struct Control {
    conn: RtFd,
    reader: FrameReader,
    /// Control errors read by a start they were not for: `(seq, report)`.
    stray: Vec<(u64, ErrorReport)>,
}

/// Request numbers (control errors name the request they are about).
static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

/// A fresh request number.
pub(crate) fn next_seq() -> u64 {
    NEXT_SEQ.fetch_add(1, Ordering::Relaxed)
}

fn remove_socket_dir(path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}

static GENERATION: AtomicI32 = AtomicI32::new(0);

/// Returns a live server, starting one if there is none or the previous one
/// died.
fn ensure_server(rt: &mut Runtime) -> Result<&mut ServerHandle> {
    if let Some(h) = &rt.forkserver {
        match sys::waitpid(h.pid, true) {
            Ok(None) => return Ok(rt.forkserver.as_mut().expect("checked")),
            // Exited (now reaped) or not our child any more: start a new one.
            _ => {
                let h = rt.forkserver.take().expect("checked");
                remove_socket_dir(&h.path);
            }
        }
    }
    Ok(rt.forkserver.insert(start_server()?))
}

fn start_server() -> Result<ServerHandle> {
    let key: [u8; KEY_LEN] =
        sys::random_bytes().map_err(|e| Error::io("getrandom for the forkserver key", e))?;
    let (pid, chan) = crate::spawn::launch("forkserver")?;
    let init = wire::frame(kind::FS_INIT, &ForkserverInit { key: key.to_vec() });
    let mut reader = FrameReader::default();
    let (k, payload) = crate::spawn::handshake(pid, &chan, &[&init], &[], 0, &mut reader)?;
    let unavailable = |reason: String| {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::waitpid(pid, false);
        Error::ForkserverUnavailable { reason }
    };
    match k {
        kind::FS_READY => {
            let ready: ForkserverReady =
                wire::decode("forkserver ready", &payload).map_err(|e| unavailable(e.detail()))?;
            Ok(ServerHandle {
                pid,
                _alive: chan,
                path: PathBuf::from(ready.path),
                key,
                generation: GENERATION.fetch_add(1, Ordering::Relaxed) as u64,
                control: None,
            })
        }
        kind::ERROR => {
            let report: ErrorReport =
                wire::decode("forkserver error", &payload).map_err(|e| unavailable(e.detail()))?;
            Err(unavailable(format!(
                "the server failed to start: {}",
                report.message
            )))
        }
        other => Err(unavailable(format!(
            "unexpected frame kind {other:#x} from the forkserver"
        ))),
    }
}

/// A child started through the forkserver, seen from the client.
#[derive(Debug)]
pub(crate) struct ServedChild {
    pub pid: Pid,
    /// Closed as soon as EXIT arrives, so that the server reaps the zombie
    /// and the descriptor is not held by a joined `Process`.
    conn: Option<RtFd>,
    reader: FrameReader,
    pub exit: Option<i32>,
}

/// Why one attempt to use the server failed.
enum Attempt {
    /// Failed; whether the server must be restarted depends on whether it
    /// is really gone, and a retry on whether any of the request went out.
    Failed {
        error: Error,
        /// Some byte of the request (past authentication) was written.
        request_written: bool,
        /// The failure looks like the server's death (EOF, refused, reset):
        /// give its process a moment to be seen exiting.
        maybe_dead: bool,
        /// The server it concerns.
        generation: u64,
    },
    /// The control connection was closed (by the server, which may have
    /// died) before any byte of the request was written: connect again.
    Reconnect { error: Error, generation: u64 },
    /// This start failed; the server is fine.
    Fatal(Error),
}

/// Starts a task through the forkserver. The server is restarted only when
/// its process is really gone, and the request is re-sent only if none of
/// it was written (a task never runs twice for one `start()`); any other
/// failure fails this start alone.
pub(crate) fn start(req: &mut ChildRequest, args: &[u8], fds: &[RawFd]) -> Result<ServedChild> {
    req.seq = next_seq();
    let envelope = wire::frame(kind::REQUEST, &*req);
    // A closed control connection, then a dead server: at most a reconnect
    // and a restart, and only while nothing of the request was written.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match request_child(&envelope, req.seq, args, fds) {
            Ok(child) => return Ok(child),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Reconnect { error, generation }) => {
                // If the server is gone, forget it (a new one starts);
                // if not, connect again.
                let _ = server_gone(generation, false);
                error
            }
            Err(Attempt::Failed {
                error,
                request_written,
                maybe_dead,
                generation,
            }) => {
                if !server_gone(generation, maybe_dead) {
                    return Err(error);
                }
                if request_written {
                    return Err(Error::ForkserverUnavailable {
                        reason: format!(
                            "the forkserver died after it received this request ({}); the task \
                             may have started, so it is not sent again. The next start restarts \
                             the server",
                            error.detail()
                        ),
                    });
                }
                error
            }
        };
        if attempts == 3 {
            return Err(Error::ForkserverUnavailable {
                reason: format!("the restarted server failed too: {}", error.detail()),
            });
        }
    }
}

/// True if the server of `generation` is gone (then it is reaped and
/// forgotten, so that the next start launches a new one). A live server is
/// never killed here: a failed start must not take running children down.
fn server_gone(generation: u64, maybe_dead: bool) -> bool {
    let mut rt = state::rt();
    let Some(h) = rt
        .forkserver
        .as_ref()
        .filter(|h| h.generation == generation)
    else {
        return true; // another thread replaced it already
    };
    let pid = h.pid;
    // EOF reaches us while the dying server closes its files, a moment
    // before it becomes a zombie.
    let deadline = Instant::now()
        + if maybe_dead {
            Duration::from_millis(500)
        } else {
            Duration::ZERO
        };
    let mut step = 0;
    loop {
        match sys::waitpid(pid, true) {
            Ok(None) if Instant::now() < deadline => sys::backoff_sleep(&mut step),
            Ok(None) => return false,
            _ => {
                let h = rt.forkserver.take().expect("checked");
                remove_socket_dir(&h.path);
                return true;
            }
        }
    }
}

/// Refuses a socket whose directory or file another user owns, or whose
/// directory others can write: someone could have put their own server
/// there. (Authentication would catch it too; this keeps us from even
/// connecting.)
fn check_socket(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let bad = |what: String| {
        Err(Error::ForkserverUnavailable {
            reason: format!(
                "{what}; refusing to connect (another user could have replaced the forkserver). \
                 Point TMPDIR or XDG_RUNTIME_DIR at a directory only you can write"
            ),
        })
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if !m.is_dir() => bad(format!("{} is not a directory", dir.display())),
        Ok(m) if m.uid() != uid => bad(format!(
            "the socket directory {} belongs to uid {}, not to this user",
            dir.display(),
            m.uid()
        )),
        Ok(m) if m.mode() & 0o077 != 0 => bad(format!(
            "the socket directory {} has mode {:o}, open to other users",
            dir.display(),
            m.mode() & 0o777
        )),
        Ok(_) => match std::fs::symlink_metadata(path) {
            Ok(m) if m.uid() != uid => bad(format!(
                "the socket {} belongs to uid {}, not to this user",
                path.display(),
                m.uid()
            )),
            _ => Ok(()),
        },
        Err(e) => Err(Error::ForkserverUnavailable {
            reason: format!("cannot check the socket directory {}: {e}", dir.display()),
        }),
    }
}

/// Connects to the server at `path` and authenticates both ways: our
/// nonce, its proof over both nonces (checked before we send anything else),
/// our proof.
fn connect(path: &Path, key: &[u8], generation: u64) -> std::result::Result<Control, Attempt> {
    let failed = |error: Error, maybe_dead: bool| Attempt::Failed {
        error,
        request_written: false,
        maybe_dead,
        generation,
    };
    check_socket(path).map_err(Attempt::Fatal)?;
    let conn = match RtFd::one(|| UnixStream::connect(path).map(OwnedFd::from)) {
        Ok(c) => c,
        Err(e) => {
            let dead = matches!(
                e.raw_os_error(),
                Some(libc::ECONNREFUSED | libc::ENOENT | libc::ECONNRESET)
            );
            return Err(failed(Error::io("connect to the forkserver", e), dead));
        }
    };
    sys::set_nonblocking(conn.raw(), true)
        .map_err(|e| Attempt::Fatal(Error::io("fcntl on the forkserver connection", e)))?;
    let timeout = state::handshake_timeout();
    let deadline = Instant::now() + timeout;
    let nonce: [u8; NONCE_LEN] = sys::random_bytes()
        .map_err(|e| Attempt::Fatal(Error::io("getrandom for a forkserver nonce", e)))?;
    let hello = wire::frame_raw(kind::HELLO, &nonce);
    match wire::write_all(conn.raw(), &hello, Some(deadline)) {
        Ok(true) => {}
        Ok(false) => {
            return Err(failed(
                Error::protocol("the forkserver does not read"),
                false,
            ));
        }
        Err(e) => {
            // A server out of descriptors answers and closes at once; its
            // reason may already be waiting.
            let mut reader = FrameReader::default();
            if let Ok(Read::Frame(kind::ERROR, p)) =
                wire::read_frame(conn.raw(), &mut reader, Some(Instant::now()))
            {
                if let Ok(report) = wire::decode::<ErrorReport>("forkserver error report", &p) {
                    return Err(Attempt::Fatal(report.into_error()));
                }
            }
            return Err(failed(e, true));
        }
    }
    let mut reader = FrameReader::default();
    let challenge = match wire::read_frame(conn.raw(), &mut reader, Some(deadline)) {
        Ok(Read::Frame(kind::CHALLENGE, c)) if c.len() == 2 * NONCE_LEN => c,
        Ok(Read::Frame(kind::ERROR, p)) => {
            let report: ErrorReport =
                wire::decode("forkserver error report", &p).map_err(Attempt::Fatal)?;
            return Err(Attempt::Fatal(report.into_error()));
        }
        Ok(Read::Frame(k, p)) => {
            return Err(Attempt::Fatal(Error::protocol(format!(
                "expected a challenge from the forkserver, got frame kind {k:#x} ({} bytes)",
                p.len()
            ))));
        }
        Ok(Read::Eof) => {
            return Err(failed(
                Error::protocol("the forkserver closed the connection"),
                true,
            ));
        }
        Ok(Read::Timeout) => {
            return Err(failed(
                Error::protocol(format!(
                    "the forkserver did not answer within {} ms",
                    timeout.as_millis()
                )),
                false,
            ));
        }
        Err(e) => return Err(failed(e, true)),
    };
    let (server_nonce, proof) = challenge.split_at(NONCE_LEN);
    if !auth_ok(key, b"server", &nonce, server_nonce, proof) {
        return Err(Attempt::Fatal(Error::ForkserverUnavailable {
            reason: format!(
                "the process listening on {} did not prove that it is this program's forkserver \
                 (wrong key); nothing was sent to it. Another process may have taken the socket's \
                 place: check who can write to its directory",
                path.display()
            ),
        }));
    }
    let auth = wire::frame_raw(kind::AUTH, &auth_tag(key, b"client", server_nonce, &nonce));
    match wire::write_all(conn.raw(), &auth, Some(deadline)) {
        Ok(true) => Ok(Control {
            conn,
            reader,
            stray: Vec::new(),
        }),
        Ok(false) => Err(failed(
            Error::protocol("the forkserver does not read"),
            false,
        )),
        Err(e) => Err(failed(e, true)),
    }
}

/// Sends one request (`envelope`, the REQUEST frame numbered `seq`) over
/// the control connection, with our stdout and stderr, the child's end of a
/// fresh socket pair and the argument's descriptors; writes the argument on
/// our end, and waits there for STARTED.
fn request_child(
    envelope: &[u8],
    seq: u64,
    args: &[u8],
    fds: &[RawFd],
) -> std::result::Result<ServedChild, Attempt> {
    // The child's channel (close-on-exec, registered: a concurrent fork
    // never inherits it).
    let mut pair = RtFd::create(sys::socketpair, |(a, b)| vec![a, b])
        .map_err(|e| Attempt::Fatal(Error::io("socketpair for a forkserver child", e)))?;
    let theirs = pair.pop().expect("two fds");
    let mine = pair.pop().expect("two fds");
    sys::set_nonblocking(mine.raw(), true)
        .map_err(|e| Attempt::Fatal(Error::io("fcntl on a forkserver channel", e)))?;
    let timeout = state::handshake_timeout();
    // A small argument goes first: it then waits in the channel for the
    // child, which reads it in one go (see `SMALL_ARGS`). The server never
    // reads the channel before the child has its argument.
    let early = args.len() <= SMALL_ARGS;
    if early && !args.is_empty() {
        // (A fresh socket's buffer takes it at once.)
        let deadline = Some(Instant::now() + timeout);
        if !wire::write_all(mine.raw(), args, deadline).map_err(Attempt::Fatal)? {
            return Err(Attempt::Fatal(Error::protocol(
                "a fresh forkserver channel did not take a small argument",
            )));
        }
    }
    let generation = {
        let mut rt = state::rt();
        let h = ensure_server(&mut rt).map_err(Attempt::Fatal)?;
        let generation = h.generation;
        if h.control.is_none() {
            h.control = Some(connect(&h.path, &h.key, generation)?);
        }
        let control = h.control.as_mut().expect("connected");
        // Our stdout/stderr travel with the request, so the child writes
        // where the caller writes now, not where the server was started.
        let mut all_fds = vec![1, 2, theirs.raw()];
        all_fds.extend_from_slice(fds);
        let (written, sent) = wire::send_all(control.conn.raw(), &[envelope], &all_fds, timeout);
        let failed = |error: Error, maybe_dead: bool| Attempt::Failed {
            error,
            request_written: written > 0,
            maybe_dead,
            generation,
        };
        match sent {
            Ok(true) => {}
            Ok(false) => {
                return Err(failed(
                    Error::protocol(format!(
                        "the forkserver took no byte of the request for {} ms ({written} of {} \
                         bytes sent)",
                        timeout.as_millis(),
                        envelope.len()
                    )),
                    false,
                ));
            }
            Err(error) => {
                h.control = None;
                if written == 0 {
                    return Err(Attempt::Reconnect { error, generation });
                }
                return Err(failed(error, true));
            }
        }
        generation
    };
    drop(theirs);
    // A larger argument goes to the child itself as it reads (the server
    // never reads it).
    if !early {
        match wire::send_all(mine.raw(), &[args], &[], timeout).1 {
            Ok(true) => {}
            Ok(false) => {
                return Err(Attempt::Fatal(Error::protocol(format!(
                    "the forkserver child took no byte of its argument for {} ms",
                    timeout.as_millis()
                ))));
            }
            // Closed by the server or the child: their reason follows.
            Err(_) => {}
        }
    }
    // The server bounds the child's reading and decoding and reports it;
    // this deadline is only a backstop for a wedged server.
    let backstop = Instant::now() + timeout + wire::decode_allowance(args.len() as u64);
    let mut reader = FrameReader::default();
    let closed = |why: Error| match control_error(seq) {
        Some(e) => Attempt::Fatal(e),
        None => Attempt::Failed {
            error: why,
            request_written: true,
            maybe_dead: true,
            generation,
        },
    };
    match wire::read_frame(mine.raw(), &mut reader, Some(backstop)) {
        Ok(Read::Frame(kind::STARTED, p)) => {
            let pid: u32 = wire::decode("started", &p).map_err(Attempt::Fatal)?;
            Ok(ServedChild {
                pid: pid as Pid,
                conn: Some(mine),
                reader,
                exit: None,
            })
        }
        Ok(Read::Frame(kind::EXIT, p)) => {
            // Died before reporting (e.g. killed while decoding).
            let (pid, code): (u32, i32) = wire::decode("exit", &p).map_err(Attempt::Fatal)?;
            Ok(ServedChild {
                pid: pid as Pid,
                conn: None,
                reader,
                exit: Some(code),
            })
        }
        Ok(Read::Frame(kind::ERROR, p)) => {
            let report: ErrorReport = wire::decode("error report", &p).map_err(Attempt::Fatal)?;
            Err(Attempt::Fatal(report.into_error()))
        }
        Ok(Read::Frame(k, _)) => Err(Attempt::Fatal(Error::protocol(format!(
            "unexpected frame kind {k:#x} from the forkserver"
        )))),
        Ok(Read::Eof) => Err(closed(Error::protocol(
            "the forkserver closed the connection before the child started",
        ))),
        Ok(Read::Timeout) => Err(Attempt::Fatal(Error::ForkserverUnavailable {
            reason: "the server did not answer a request in time".into(),
        })),
        Err(e) => Err(closed(e)),
    }
}

/// The server's answer on the control connection to request `seq`, if it
/// gave one: it answers there when it could not take the request's
/// descriptors (out of descriptors), so our channel closed without a word.
fn control_error(seq: u64) -> Option<Error> {
    let mut rt = state::rt();
    let control = rt.forkserver.as_mut()?.control.as_mut()?;
    let mine = |s: u64| s == seq || s == 0;
    if let Some(i) = control.stray.iter().position(|(s, _)| mine(*s)) {
        return Some(control.stray.swap_remove(i).1.into_error());
    }
    // It answers at once; a dead server's connection reaches EOF.
    let deadline = Some(Instant::now() + Duration::from_millis(500));
    loop {
        match wire::read_frame(control.conn.raw(), &mut control.reader, deadline) {
            Ok(Read::Frame(kind::CONTROL_ERROR, p)) => {
                let Ok((s, report)) = wire::decode::<(u64, ErrorReport)>("control error", &p)
                else {
                    continue;
                };
                if mine(s) {
                    return Some(report.into_error());
                }
                control.stray.push((s, report));
            }
            Ok(Read::Frame(..)) => {}
            Ok(Read::Timeout) => return None,
            Ok(Read::Eof) | Err(_) => {
                rt.forkserver.as_mut()?.control = None;
                return None;
            }
        }
    }
}

impl ServedChild {
    /// Waits for EXIT until `deadline` (`None` = forever). Returns the exit
    /// code if the child has exited.
    pub(crate) fn wait(&mut self, deadline: Option<Instant>) -> Result<Option<i32>> {
        if self.exit.is_some() {
            return Ok(self.exit);
        }
        let Some(conn) = &self.conn else {
            return Err(Error::protocol("forkserver connection already closed"));
        };
        match wire::read_frame(conn.raw(), &mut self.reader, deadline)? {
            Read::Frame(kind::EXIT, p) => {
                let (_pid, code): (u32, i32) = wire::decode("exit", &p)?;
                self.exit = Some(code);
                self.conn = None;
                Ok(self.exit)
            }
            Read::Frame(k, _) => Err(Error::protocol(format!(
                "unexpected frame kind {k:#x} from the forkserver"
            ))),
            Read::Timeout => Ok(None),
            Read::Eof => {
                // The child died with the server (PDEATHSIG); it reads as
                // ended, with CPython's exit code for this case.
                self.exit = Some(SERVER_DIED_EXITCODE);
                self.conn = None;
                Err(Error::ForkserverUnavailable {
                    reason: format!(
                        "the forkserver exited while child {} was running (the child was killed \
                         with it; its exit code reads {SERVER_DIED_EXITCODE})",
                        self.pid
                    ),
                })
            }
        }
    }

    /// Non-blocking check.
    pub(crate) fn poll(&mut self) -> Result<Option<i32>> {
        self.wait(Some(Instant::now()))
    }

    /// Asks the server to send `sig` to the child.
    pub(crate) fn signal(&mut self, sig: libc::c_int) -> Result<()> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        let frame = wire::frame(kind::SIGNAL, &sig);
        let deadline = Some(Instant::now() + state::handshake_timeout());
        match wire::write_all(conn.raw(), &frame, deadline) {
            Ok(_) => Ok(()),
            // The server is gone, and the child with it.
            Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EPIPE) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The exit code of a child whose forkserver died (CPython reports 255).
pub(crate) const SERVER_DIED_EXITCODE: i32 = 255;

// Test hooks (see `__private`).

/// Path of the running server's socket, starting the server if needed.
pub(crate) fn socket_path() -> Result<PathBuf> {
    let mut rt = state::rt();
    Ok(ensure_server(&mut rt)?.path.clone())
}

/// Pid of the running server, if any.
pub(crate) fn server_pid() -> Option<u32> {
    state::rt().forkserver.as_ref().map(|h| h.pid as u32)
}

/// Closes this process's connection to its server (the next start
/// connects, and so authenticates, again).
pub(crate) fn disconnect() {
    if let Some(h) = state::rt().forkserver.as_mut() {
        h.control = None;
    }
}

/// Sends an already-built REQUEST frame (possibly corrupt) and `args`
/// through a properly authenticated connection.
pub(crate) fn start_raw(request: &[u8], args: &[u8]) -> Result<ServedChild> {
    let mut reconnected = false;
    loop {
        return match request_child(request, 0, args, &[]) {
            Ok(c) => Ok(c),
            Err(Attempt::Reconnect { .. }) if !reconnected => {
                reconnected = true;
                continue;
            }
            Err(
                Attempt::Fatal(e)
                | Attempt::Failed { error: e, .. }
                | Attempt::Reconnect { error: e, .. },
            ) => Err(e),
        };
    }
}

// ---------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------

/// How the server learns that a child exited. On Linux a signalfd with
/// SIGCHLD blocked: no handler runs on the server's stack (a signal frame,
/// several KiB with the vector registers, lands on stack pages that every
/// fork has made copy-on-write). Elsewhere a self-pipe written by a handler.
/// Children unblock every signal and restore the default action.
fn sigchld_channel() -> std::io::Result<(OwnedFd, Option<OwnedFd>)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: plain sigset operations on a local set; signalfd returns a
    // fresh descriptor that nobody else owns.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((<OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd), None))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let (r, w) = sys::pipe_cloexec()?;
        let _ = sys::set_nonblocking(r.as_raw_fd(), true);
        let _ = sys::set_nonblocking(w.as_raw_fd(), true);
        SIGCHLD_PIPE.store(w.as_raw_fd(), Ordering::Relaxed);
        sys::set_signal(libc::SIGCHLD, Some(on_sigchld));
        Ok((r, Some(w)))
    }
}

/// Write end of the SIGCHLD self-pipe (-1 when not installed).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
static SIGCHLD_PIPE: AtomicI32 = AtomicI32::new(-1);

#[cfg(not(any(target_os = "linux", target_os = "android")))]
extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = SIGCHLD_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) and errno access are async-signal-safe; errno is
        // saved and restored so the interrupted code does not see it change.
        unsafe {
            let saved = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            libc::write(fd, [1u8].as_ptr().cast(), 1);
            set_errno(saved);
        }
    }
}

/// Restores errno (used by the signal handler).
///
/// # Safety
/// Writes the calling thread's errno.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
unsafe fn set_errno(v: i32) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe {
        *libc::__errno_location() = v;
    }
    #[cfg(target_vendor = "apple")]
    // SAFETY: __error returns this thread's errno slot.
    unsafe {
        *libc::__error() = v;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    let _ = v;
}

enum ConnState {
    /// Accepted; waiting for the client's HELLO nonce.
    Hello,
    /// CHALLENGE (with our proof) sent; waiting for AUTH.
    Authing {
        nonce: [u8; NONCE_LEN],
    },
    /// Authenticated: the client's control connection, carrying requests.
    Control,
    /// A child's channel, received with its request; forked at once.
    Channel,
    /// Forked; the child reads its argument from the connection (so the
    /// server does not read it meanwhile) and reports on `verdict`.
    Starting {
        pid: Pid,
        verdict: OwnedFd,
        vreader: FrameReader,
        args_len: u64,
    },
    Running {
        pid: Pid,
    },
    /// EXIT sent; the zombie is reaped when the client closes.
    Exited {
        pid: Pid,
    },
    Closed,
}

impl ConnState {
    fn pre_auth(&self) -> bool {
        matches!(self, ConnState::Hello | ConnState::Authing { .. })
    }
}

/// The descriptors that came with one request on a control connection
/// (with its first byte): stdout, stderr, the child's channel, then the
/// argument's.
struct FdGroup {
    fds: Vec<OwnedFd>,
    /// False if the kernel dropped some (out of descriptors: MSG_CTRUNC).
    complete: bool,
}

struct Conn {
    fd: OwnedFd,
    reader: FrameReader,
    /// A child's channel: the descriptors received for it (stdout, stderr,
    /// then the argument's).
    fds: Vec<OwnedFd>,
    /// A control connection: descriptor groups of requests not yet read,
    /// in order (each request carries at least three, so the kernel hands
    /// them over one request at a time, at its first byte).
    groups: VecDeque<FdGroup>,
    /// Bytes received before authentication.
    pre_auth_bytes: usize,
    client_nonce: [u8; NONCE_LEN],
    state: ConnState,
    deadline: Option<Instant>,
}

struct Server {
    key: Vec<u8>,
    listener: UnixListener,
    alive: RtFd,
    /// Readable when a child changed state: a signalfd (Linux), else the
    /// read end of a self-pipe whose write end (`sig_w`) a handler writes.
    sig_r: OwnedFd,
    sig_w: Option<OwnedFd>,
    /// Kept open to be closed when descriptors run out, so that the waiting
    /// client can still be accepted and told why (instead of spinning on a
    /// listener that stays readable).
    reserve: Option<OwnedFd>,
    /// The listener is not polled until then (after running out of
    /// descriptors even with the reserve).
    listen_paused_until: Option<Instant>,
    conns: Vec<Conn>,
    /// Children whose client went away before they exited.
    orphans: Vec<Pid>,
    path: PathBuf,
    timeout: Duration,
    /// The server's working directory (a child changes only if the
    /// caller's differs).
    cwd: Vec<u8>,
    /// Looked up once: children flush it after their task.
    stdout: std::io::Stdout,
}

fn open_reserve() -> Option<OwnedFd> {
    std::fs::File::open("/dev/null").ok().map(OwnedFd::from)
}

/// Entry point of the server process (called by the guard). Never returns.
pub(crate) fn serve(chan: RtFd) -> ! {
    let timeout = state::handshake_timeout();
    let deadline = Instant::now() + timeout;
    let mut reader = FrameReader::default();
    let init: ForkserverInit = match wire::read_frame(chan.raw(), &mut reader, Some(deadline)) {
        Ok(Read::Frame(kind::FS_INIT, p)) => match wire::decode("forkserver init", &p) {
            Ok(init) => init,
            Err(e) => fatal_start(&chan, e.detail()),
        },
        Ok(Read::Eof) => sys::exit_now(0),
        Ok(other) => fatal_start(&chan, format!("unexpected first message {other:?}")),
        Err(e) => fatal_start(&chan, e.detail()),
    };
    if init.key.len() != KEY_LEN {
        fatal_start(&chan, "bad key length".into());
    }
    // Ctrl-C goes to the whole foreground process group; like CPython's
    // forkserver, the server ignores it (its children restore the default)
    // and leaves when its parent does.
    sys::ignore_signal(libc::SIGINT);
    sys::stdin_to_devnull();
    let (listener, path) = match bind_private_socket() {
        Ok(v) => v,
        Err(e) => fatal_start(&chan, e),
    };
    let (sig_r, sig_w) = match sigchld_channel() {
        Ok(p) => p,
        Err(e) => fatal_start(&chan, Error::io("a descriptor for SIGCHLD", e).detail()),
    };
    let ready = wire::frame(
        kind::FS_READY,
        &ForkserverReady {
            path: path.to_string_lossy().into_owned(),
        },
    );
    if !matches!(
        wire::write_all(chan.raw(), &ready, Some(deadline)),
        Ok(true)
    ) {
        remove_socket_dir(&path);
        sys::exit_now(1);
    }
    if let Some(base) = path.parent().and_then(Path::parent) {
        sweep_stale_dirs(base, STALE_AFTER);
    }
    let mut server = Server {
        key: init.key,
        listener,
        alive: chan,
        sig_r,
        sig_w,
        reserve: open_reserve(),
        listen_paused_until: None,
        conns: Vec::new(),
        orphans: Vec::new(),
        path,
        timeout,
        cwd: std::env::current_dir()
            .map(|d| d.into_os_string().into_encoded_bytes())
            .unwrap_or_default(),
        stdout: std::io::stdout(),
    };
    server.run()
}

fn fatal_start(chan: &RtFd, message: String) -> ! {
    let report = ErrorReport {
        code: errcode::OTHER,
        task: String::new(),
        pid: sys::getpid() as u32,
        message: message.clone(),
    };
    let deadline = Some(Instant::now() + Duration::from_secs(1));
    let _ = wire::write_all(chan.raw(), &wire::frame(kind::ERROR, &report), deadline);
    eprintln!("forkrt: forkserver: {message}");
    sys::exit_now(1)
}

/// Whether `dir` may hold the socket directory: owned by this user or root,
/// and not writable by others unless sticky (like /tmp, where others cannot
/// rename or remove our entries).
fn base_dir_ok(dir: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let m = std::fs::metadata(dir).map_err(|e| {
        format!(
            "cannot use {} for the forkserver socket: {e}",
            dir.display()
        )
    })?;
    if !m.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if m.uid() != uid && m.uid() != 0 {
        return Err(format!(
            "refusing to put the forkserver socket in {}: it belongs to uid {}, another user; \
             point TMPDIR or XDG_RUNTIME_DIR at a directory of your own",
            dir.display(),
            m.uid()
        ));
    }
    if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
        return Err(format!(
            "refusing to put the forkserver socket in {}: other users can write to it (mode {:o}, \
             not sticky) and could replace the socket directory; point TMPDIR or XDG_RUNTIME_DIR \
             at a directory only you can write",
            dir.display(),
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Creates `forkrt-XXXXXX` (mode 0700, by mkdtemp) with a listening socket
/// `s` (mode 0600) inside, under `$XDG_RUNTIME_DIR` if usable, else the
/// temporary directory (`$TMPDIR`, `/tmp`).
fn bind_private_socket() -> std::result::Result<(UnixListener, PathBuf), String> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|d| d.as_os_str().len() <= 80 && base_dir_ok(d).is_ok());
    let base = match xdg {
        Some(d) => d,
        None => {
            let mut base = std::env::temp_dir();
            // sun_path holds 108 bytes; fall back to /tmp for very long TMPDIRs.
            if base.as_os_str().len() > 80 {
                base = PathBuf::from("/tmp");
            }
            base_dir_ok(&base)?;
            base
        }
    };
    let template = base.join("forkrt-XXXXXX");
    let mut bytes = CString::new(template.as_os_str().as_bytes())
        .map_err(|_| "TMPDIR contains NUL".to_string())?
        .into_bytes_with_nul();
    // SAFETY: bytes is a writable NUL-terminated template ending in XXXXXX.
    let r = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
    if r.is_null() {
        return Err(format!(
            "cannot create a private directory in {}: {}",
            base.display(),
            std::io::Error::last_os_error()
        ));
    }
    bytes.pop();
    let dir = PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
    // mkdtemp creates 0700 already; make it explicit against odd umasks.
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    let path = dir.join("s");
    let listener = UnixListener::bind(&path).map_err(|e| {
        let _ = std::fs::remove_dir(&dir);
        format!("cannot bind {}: {e}", path.display())
    })?;
    // The 0700 directory already keeps others out; 0600 on the socket is
    // the second lock. (Between bind and chmod nobody else can reach it.)
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("fcntl: {e}"))?;
    Ok((listener, path))
}

/// What the server says when it runs out of descriptors.
fn out_of_fds(doing: &str) -> String {
    format!(
        "the forkserver (pid {}) ran out of file descriptors (too many open files) {doing}; \
         raise the open-file limit (ulimit -n) of the program, or keep fewer processes running \
         at once",
        sys::getpid()
    )
}

/// How old a dead server's socket must be before another server removes it: a
/// live server binds and listens in one call, so this only guards against a
/// clock step.
const STALE_AFTER: Duration = Duration::from_secs(10);

/// An empty server directory is left only by a server killed while making or
/// removing it; a minute is far more than either step takes.
const EMPTY_STALE_AFTER: Duration = Duration::from_secs(60);

/// How long ago the file was last modified.
fn age(meta: &std::fs::Metadata) -> Option<Duration> {
    meta.modified().ok()?.elapsed().ok()
}

/// Removes the directories of this user's forkservers that died without
/// cleaning up (SIGKILLed together with their parent, e.g. a whole process
/// group killed by a test harness or a supervisor): a `forkrt-XXXXXX`
/// directory we own whose socket, older than `min_age`, refuses connections
/// has no server behind it. Runs in the server, after READY, so it costs no
/// start latency.
pub(crate) fn sweep_stale_dirs(base: &Path, min_age: Duration) -> usize {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.as_bytes();
        if !(name.len() == "forkrt-XXXXXX".len() && name.starts_with(b"forkrt-")) {
            continue;
        }
        let dir = entry.path();
        let dir_meta = match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() && m.uid() == uid => m,
            _ => continue,
        };
        let socket = dir.join("s");
        let Ok(meta) = std::fs::symlink_metadata(&socket) else {
            // Killed between mkdtemp and bind, or between unlink and rmdir.
            if age(&dir_meta).is_some_and(|a| a >= EMPTY_STALE_AFTER.max(min_age))
                && std::fs::remove_dir(&dir).is_ok()
            {
                removed += 1;
            }
            continue;
        };
        if !meta.file_type().is_socket() || age(&meta).is_none_or(|a| a < min_age) {
            continue;
        }
        if let Err(e) = UnixStream::connect(&socket)
            && e.kind() == std::io::ErrorKind::ConnectionRefused
        {
            remove_socket_dir(&socket);
            removed += 1;
        }
    }
    removed
}

/// Peeks at a child's exit without reaping it (the zombie keeps the pid
/// reserved until the client is done with it).
fn peek_exit(pid: Pid) -> Option<i32> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: info is a valid out-parameter; siginfo accessors read the
        // fields waitid filled in.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            if r != 0 || info.si_pid() == 0 {
                return None;
            }
            let status = info.si_status();
            Some(match info.si_code {
                libc::CLD_EXITED => status,
                _ => -status,
            })
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // Without a portable WNOWAIT decoder, reap right away.
        sys::waitpid(pid, true).ok().flatten()
    }
}

/// Answers a request that cannot be read (a control connection out of
/// step) on its own channel, if it came with one: ERROR with `message`.
/// Returns whether it could.
fn answer_on_channel(group: Option<FdGroup>, message: &str) -> bool {
    let Some(chan) = group.and_then(|g| g.fds.into_iter().nth(2)) else {
        return false;
    };
    let report = ErrorReport {
        code: errcode::PROTOCOL,
        task: String::new(),
        pid: 0,
        message: message.to_string(),
    };
    // A fresh channel's buffer always takes this small frame.
    let _ = sys::write(chan.as_raw_fd(), &wire::frame(kind::ERROR, &report));
    true
}

impl Server {
    fn run(&mut self) -> ! {
        // Reused every round: no allocation per poll.
        let mut pfds: Vec<libc::pollfd> = Vec::new();
        let mut map: Vec<(usize, bool)> = Vec::new();
        loop {
            self.conns.retain(|c| !matches!(c.state, ConnState::Closed));
            let listening = self.listen_paused_until.is_none_or(|t| Instant::now() >= t);
            if listening {
                self.listen_paused_until = None;
            }
            pfds.clear();
            map.clear();
            pfds.extend([
                libc::pollfd {
                    fd: self.alive.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    // A negative fd is ignored by poll(2).
                    fd: if listening {
                        self.listener.as_raw_fd()
                    } else {
                        -1
                    },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.sig_r.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ]);
            // Per connection: the socket (except while the child reads its
            // argument from it), or the verdict pipe while starting.
            let mut next_deadline: Option<Instant> = self.listen_paused_until;
            for (i, c) in self.conns.iter().enumerate() {
                if let ConnState::Starting { verdict, .. } = &c.state {
                    pfds.push(libc::pollfd {
                        fd: verdict.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    map.push((i, true));
                } else {
                    pfds.push(libc::pollfd {
                        fd: c.fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    map.push((i, false));
                }
                if let Some(d) = c.deadline {
                    next_deadline = Some(next_deadline.map_or(d, |n: Instant| n.min(d)));
                }
            }
            let timeout = sys::poll_timeout(next_deadline);
            // SAFETY: pfds is a valid array of pfds.len() pollfds.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                self.shutdown(1);
            }
            if pfds[0].revents != 0 {
                self.check_alive();
            }
            if pfds[2].revents != 0 {
                // (A signalfd reads whole 128-byte records.)
                let mut buf = [0u8; 512];
                while matches!(sys::read(self.sig_r.as_raw_fd(), &mut buf), Ok(n) if n > 0) {}
            }
            for (j, &(i, is_verdict)) in map.iter().enumerate() {
                if pfds[3 + j].revents == 0 {
                    continue;
                }
                if is_verdict {
                    self.on_verdict(i);
                } else {
                    self.on_readable(i);
                }
            }
            if pfds[1].revents != 0 {
                self.accept_all();
            }
            // Exits are checked every round: SIGCHLD only says "something
            // changed" and signals coalesce.
            self.check_children();
            self.check_deadlines();
        }
    }

    fn check_alive(&mut self) {
        let mut buf = [0u8; 64];
        match sys::read(self.alive.raw(), &mut buf) {
            Ok(0) => self.shutdown(0),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => self.shutdown(0),
        }
    }

    /// The parent is gone: remove the socket and leave. Children die with
    /// us (each set PR_SET_PDEATHSIG).
    fn shutdown(&mut self, code: i32) -> ! {
        remove_socket_dir(&self.path);
        sys::exit_now(code)
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let fd = OwnedFd::from(stream);
                    let _ = sys::set_nonblocking(fd.as_raw_fd(), true);
                    let i = self.conns.len();
                    self.conns.push(Conn {
                        fd,
                        reader: FrameReader::with_limit(PRE_AUTH_FRAME_MAX),
                        fds: Vec::new(),
                        groups: VecDeque::new(),
                        pre_auth_bytes: 0,
                        client_nonce: [0; NONCE_LEN],
                        state: ConnState::Hello,
                        deadline: Some(Instant::now() + self.timeout),
                    });
                    // The client sends HELLO right after connecting: read it
                    // now rather than after another round of poll.
                    self.on_readable(i);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.refuse_for_lack_of_fds();
                    return;
                }
                // Anything else (ECONNABORTED, ...) concerns that one client.
                Err(_) => continue,
            }
        }
    }

    /// Out of descriptors with a client waiting: the listener stays readable,
    /// so retrying at once would spin. Give the reserve descriptor to the
    /// client just long enough to tell it why, then keep serving the others.
    fn refuse_for_lack_of_fds(&mut self) {
        if self.reserve.take().is_some() {
            if let Ok((stream, _)) = self.listener.accept() {
                let fd = OwnedFd::from(stream);
                let report = ErrorReport {
                    code: errcode::RESOURCE,
                    task: String::new(),
                    pid: 0,
                    message: out_of_fds("and could not take this start"),
                };
                // A fresh socket's buffer always takes this small frame.
                let _ = sys::write(fd.as_raw_fd(), &wire::frame(kind::ERROR, &report));
            }
            self.reserve = open_reserve();
        }
        if self.reserve.is_none() {
            // Not even the reserve: pause listening for a moment.
            self.listen_paused_until = Some(Instant::now() + Duration::from_millis(50));
        }
    }

    fn send(&mut self, i: usize, frame: &[u8]) {
        let fd = self.conns[i].fd.as_raw_fd();
        // Server → client messages are tiny and the client only reads, so a
        // short deadline only trips on a client that stopped reading.
        let deadline = Some(Instant::now() + Duration::from_millis(100));
        if !matches!(wire::write_all(fd, frame, deadline), Ok(true)) {
            self.close(i);
        }
    }

    fn send_error(&mut self, i: usize, code: u8, task: &str, pid: u32, message: String) {
        let report = ErrorReport {
            code,
            task: task.to_string(),
            pid,
            message,
        };
        self.send(i, &wire::frame(kind::ERROR, &report));
    }

    /// Closes a connection; a child still running becomes an orphan to be
    /// reaped when it exits, an exited one is reaped now.
    fn close(&mut self, i: usize) {
        let state = std::mem::replace(&mut self.conns[i].state, ConnState::Closed);
        match state {
            ConnState::Exited { pid } => {
                let _ = sys::waitpid(pid, false);
            }
            ConnState::Starting { pid, .. } | ConnState::Running { pid } => self.orphans.push(pid),
            _ => {}
        }
        self.conns[i].fds.clear();
        self.conns[i].groups.clear();
        self.conns[i].reader = FrameReader::default();
        self.conns[i].deadline = None;
    }

    fn on_readable(&mut self, i: usize) {
        // Small reads: a request envelope is a few hundred bytes, and each
        // heap page the server writes is a copy-on-write fault after a fork.
        const CHUNK: usize = 512;
        loop {
            let c = &mut self.conns[i];
            if matches!(
                c.state,
                ConnState::Closed | ConnState::Channel | ConnState::Starting { .. }
            ) {
                return;
            }
            // An unauthenticated peer gets PRE_AUTH_MAX bytes, no more.
            let cap = if c.state.pre_auth() {
                let left = PRE_AUTH_MAX.saturating_sub(c.pre_auth_bytes);
                if left == 0 {
                    self.refuse(
                        i,
                        &format!("more than {PRE_AUTH_MAX} bytes before authenticating"),
                    );
                    return;
                }
                left.min(CHUNK)
            } else {
                CHUNK
            };
            let mut fds = Vec::new();
            let (eof, more) = match c.reader.fill_fds(c.fd.as_raw_fd(), cap, &mut fds) {
                Ok((0, _)) => (true, false),
                Ok((n, truncated)) => {
                    // Descriptors come with requests, on a control connection
                    // (the first may arrive with AUTH, before it is checked:
                    // an unauthenticated peer may have one group pending).
                    let control = matches!(
                        c.state,
                        ConnState::Hello | ConnState::Authing { .. } | ConnState::Control
                    );
                    if control
                        && (truncated || !fds.is_empty())
                        && (!c.state.pre_auth() || c.groups.is_empty())
                    {
                        c.groups.push_back(FdGroup {
                            fds,
                            complete: !truncated,
                        });
                    }
                    if c.state.pre_auth() {
                        c.pre_auth_bytes += n;
                    }
                    (false, true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => (false, false),
                Err(_) => (true, false),
            };
            // Frames that arrived before EOF still count (a client's last
            // SIGNAL is typically followed at once by its close).
            loop {
                if matches!(
                    self.conns[i].state,
                    ConnState::Closed | ConnState::Channel | ConnState::Starting { .. }
                ) {
                    return;
                }
                match self.conns[i].reader.pop() {
                    Ok(Some((k, payload))) => self.on_frame(i, k, payload),
                    Ok(None) => break,
                    Err(e) => {
                        if self.conns[i].state.pre_auth() {
                            self.refuse(i, &e.detail());
                        } else if matches!(self.conns[i].state, ConnState::Control) {
                            // Out of step: no later request can be trusted.
                            // Shut down before answering, so that the client's
                            // next request finds it closed (and connects again).
                            let group = self.conns[i].groups.pop_front();
                            sys::shutdown(self.conns[i].fd.as_raw_fd());
                            self.close(i);
                            answer_on_channel(group, &e.detail());
                        } else {
                            self.send_error(i, errcode::PROTOCOL, "", 0, e.detail());
                            self.close(i);
                        }
                        return;
                    }
                }
            }
            if eof {
                self.close(i);
                return;
            }
            if !more {
                return;
            }
        }
    }

    fn refuse(&mut self, i: usize, why: &str) {
        self.send(i, &wire::frame_raw(kind::REFUSED, why.as_bytes()));
        self.close(i);
    }

    fn on_frame(&mut self, i: usize, k: u8, payload: Vec<u8>) {
        match (&self.conns[i].state, k) {
            (ConnState::Hello, kind::HELLO) if payload.len() == NONCE_LEN => {
                let Ok(nonce) = sys::random_bytes::<NONCE_LEN>() else {
                    self.refuse(i, "no randomness for a challenge");
                    return;
                };
                self.conns[i].client_nonce.copy_from_slice(&payload);
                let mut challenge = nonce.to_vec();
                challenge.extend(auth_tag(&self.key, b"server", &payload, &nonce));
                self.conns[i].state = ConnState::Authing { nonce };
                self.send(i, &wire::frame_raw(kind::CHALLENGE, &challenge));
            }
            (ConnState::Authing { nonce }, kind::AUTH) => {
                let c = &self.conns[i];
                if auth_ok(&self.key, b"client", nonce, &c.client_nonce, &payload) {
                    let c = &mut self.conns[i];
                    c.state = ConnState::Control;
                    c.reader.set_limit(ENVELOPE_MAX);
                    // Kept for the client's life.
                    c.deadline = None;
                } else {
                    self.refuse(i, "authentication failed");
                }
            }
            (ConnState::Hello | ConnState::Authing { .. }, _) => {
                self.refuse(i, "authentication required")
            }
            (ConnState::Control, kind::REQUEST) => self.start_request(i, &payload),
            (ConnState::Control, other) => {
                let group = self.conns[i].groups.pop_front();
                let message = format!("unexpected frame kind {other:#x}");
                if !answer_on_channel(group, &message) {
                    self.send_control_error(i, 0, errcode::PROTOCOL, "", message);
                }
            }
            (ConnState::Running { pid }, kind::SIGNAL) => {
                let pid = *pid;
                if let Ok(sig) = wire::decode::<i32>("signal", &payload) {
                    let _ = sys::kill(pid, sig);
                }
            }
            (ConnState::Exited { .. }, kind::SIGNAL) => {}
            (_, other) => {
                self.send_error(
                    i,
                    errcode::PROTOCOL,
                    "",
                    0,
                    format!("unexpected frame kind {other:#x}"),
                );
                self.close(i);
            }
        }
    }

    /// A REQUEST on control connection `ctl`: its channel becomes a
    /// connection of its own, and the child is forked.
    fn start_request(&mut self, ctl: usize, payload: &[u8]) {
        let group = self.conns[ctl].groups.pop_front();
        let req = wire::decode::<ChildRequest>("request", payload);
        let Some(FdGroup { mut fds, .. }) = group.filter(|g| g.complete && g.fds.len() >= 3) else {
            // The kernel drops passed descriptors it cannot install
            // (EMFILE), the request's channel among them: answer here.
            let (seq, task) = req.map_or((0, String::new()), |r| (r.seq, r.task));
            let message = out_of_fds("and could not receive the caller's descriptors");
            self.send_control_error(ctl, seq, errcode::RESOURCE, &task, message);
            return;
        };
        let chan = fds.remove(2);
        let _ = sys::set_nonblocking(chan.as_raw_fd(), true);
        let i = self.conns.len();
        self.conns.push(Conn {
            fd: chan,
            reader: FrameReader::default(),
            fds,
            groups: VecDeque::new(),
            pre_auth_bytes: 0,
            client_nonce: [0; NONCE_LEN],
            state: ConnState::Channel,
            deadline: None,
        });
        match req {
            Ok(req) => self.fork_child(i, req),
            Err(e) => {
                self.send_error(i, errcode::PROTOCOL, "", 0, e.detail());
                self.close(i);
            }
        }
    }

    fn send_control_error(&mut self, ctl: usize, seq: u64, code: u8, task: &str, message: String) {
        let report = ErrorReport {
            code,
            task: task.to_string(),
            pid: 0,
            message,
        };
        self.send(ctl, &wire::frame(kind::CONTROL_ERROR, &(seq, report)));
    }

    fn fork_child(&mut self, i: usize, req: ChildRequest) {
        if req.fingerprint != registry::fingerprint() {
            self.send_error(
                i,
                errcode::PROTOCOL,
                &req.task,
                0,
                "the forkserver runs a different build of this program (task registry \
                 fingerprint differs)"
                    .into(),
            );
            self.close(i);
            return;
        }
        let Some(entry) = registry::by_name(&req.task, &req.site) else {
            self.send_error(
                i,
                errcode::NOT_REGISTERED,
                &req.task,
                0,
                format!("no task registered at {}", req.site),
            );
            self.close(i);
            return;
        };
        if self.conns[i].fds.len() != 2 + req.nfds as usize {
            // The kernel drops passed descriptors it cannot install (EMFILE).
            let message = out_of_fds("and could not receive the caller's descriptors");
            self.send_error(i, errcode::RESOURCE, &req.task, 0, message);
            self.close(i);
            return;
        }
        let (verdict_r, verdict_w) = match sys::pipe_cloexec() {
            Ok(p) => p,
            Err(e) => {
                let message = match e.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE) => out_of_fds("while starting this task"),
                    _ => Error::io("pipe for a forkserver child", e).detail(),
                };
                self.send_error(i, errcode::RESOURCE, &req.task, 0, message);
                self.close(i);
                return;
            }
        };
        // The caller's working directory, if the child must change to it
        // (made here: the child does not allocate).
        let cwd = (!req.cwd.is_empty() && self.cwd != req.cwd)
            .then(|| CString::new(req.cwd.clone()).ok())
            .flatten();
        let args_len = req.args_len;
        match self.fork_and_run(i, &verdict_r, &verdict_w, req, entry, cwd) {
            Err((e, task)) => {
                let message = Error::io("fork in the forkserver", e).detail();
                self.send_error(i, errcode::RESOURCE, &task, 0, message);
                self.close(i);
            }
            Ok(pid) => {
                drop(verdict_w);
                let _ = sys::set_nonblocking(verdict_r.as_raw_fd(), true);
                let c = &mut self.conns[i];
                c.fds.clear();
                // Argument bytes read along with the envelope are the child's now.
                drop(c.reader.take_rest());
                c.reader = FrameReader::default();
                // A large argument takes as long as its transfer; the
                // child bounds that itself and reports RECEIVED.
                c.deadline = (args_len <= RECEIVED_THRESHOLD)
                    .then(|| Instant::now() + self.timeout + wire::decode_allowance(args_len));
                c.state = ConnState::Starting {
                    pid,
                    verdict: verdict_r,
                    vreader: FrameReader::default(),
                    args_len,
                };
            }
        }
    }

    /// Forks; the child runs the task (never returning), the parent gets its
    /// pid. A function of its own, small enough for the compiler to inline
    /// the child's helpers into it: the child then runs this function and
    /// few other pages of code (the same reasons as `fork::run`).
    #[inline(never)]
    fn fork_and_run(
        &mut self,
        i: usize,
        verdict_r: &OwnedFd,
        verdict_w: &OwnedFd,
        req: ChildRequest,
        entry: &'static registry::TaskEntry,
        cwd: Option<CString>,
    ) -> std::result::Result<Pid, (std::io::Error, String)> {
        // SAFETY: the server is single-threaded, so the child is a complete
        // copy in a consistent state.
        match unsafe { sys::fork() } {
            Err(e) => Err((e, req.task)),
            Ok(0) => {
                sys::raw::close(verdict_r.as_raw_fd());
                self.child_after_fork(i, verdict_w.as_raw_fd(), req, entry, cwd)
            }
            Ok(pid) => Ok(pid),
        }
    }

    /// In the forked child: shed the server, read the argument, become the
    /// task, never return. System calls are inlined (`sys::raw`), nothing is
    /// allocated, and the slow paths (a large argument, a different working
    /// directory, errors) are out of line.
    #[inline(always)]
    fn child_after_fork(
        &mut self,
        i: usize,
        vfd: RawFd,
        req: ChildRequest,
        entry: &'static registry::TaskEntry,
        cwd: Option<CString>,
    ) -> ! {
        let server_pid = sys::raw::getppid();
        let conn_fd = self.conns[i].fd.as_raw_fd();
        // stdin is /dev/null, as in every child: the reserve descriptor is one.
        match &self.reserve {
            Some(null) => sys::raw::dup2(null.as_raw_fd(), 0),
            None => sys::stdin_to_devnull(),
        }
        // Close every server fd but ours (no destructors: we _exit).
        sys::raw::close(self.listener.as_raw_fd());
        sys::raw::close(self.sig_r.as_raw_fd());
        if let Some(w) = &self.sig_w {
            sys::raw::close(w.as_raw_fd());
        }
        if let Some(r) = &self.reserve {
            sys::raw::close(r.as_raw_fd());
        }
        // The SIGCHLD handler (whose pipe is closed) is the server's.
        sys::raw::default_action(libc::SIGCHLD);
        sys::raw::default_action(libc::SIGINT);
        sys::raw::unblock_all_signals();
        for (j, c) in self.conns.iter().enumerate() {
            if j != i {
                sys::raw::close(c.fd.as_raw_fd());
                for fd in &c.fds {
                    sys::raw::close(fd.as_raw_fd());
                }
                for fd in c.groups.iter().flat_map(|g| &g.fds) {
                    sys::raw::close(fd.as_raw_fd());
                }
            }
            if let ConnState::Starting { verdict, .. } = &c.state {
                sys::raw::close(verdict.as_raw_fd());
            }
        }
        let passed = &self.conns[i].fds;
        {
            // Anything else the runtime registered in the server (the
            // channel to its parent among them) is the server's too.
            let mut reg = state::fds();
            for &fd in reg.iter() {
                if fd != vfd && fd != conn_fd && !passed.iter().any(|p| p.as_raw_fd() == fd) {
                    sys::raw::close(fd);
                }
            }
            reg.clear();
            state::reset_cached_fds();
        }
        if !sys::raw::die_with_parent() || sys::raw::getppid() != server_pid {
            sys::raw::exit(1);
        }
        if let [out, err, ..] = &passed[..] {
            sys::raw::dup2(out.as_raw_fd(), 1);
            sys::raw::dup2(err.as_raw_fd(), 2);
            sys::raw::close(out.as_raw_fd());
            sys::raw::close(err.as_raw_fd());
        }
        let task = &req.task;
        {
            let mut rt = state::rt();
            let me = state::Identity {
                name: Some(req.name),
                ident: state::Ident::from_slice(&req.ident),
                daemon: req.daemon,
            };
            let parent = state::Identity::named(req.parent_name);
            state::become_child(&mut rt, me, Some(parent), req.parent_pid);
        }
        // As CPython's forkserver children, run where the caller runs now
        // (the server started in the caller's directory of that time).
        if let Some(dir) = cwd
            && sys::raw::chdir(&dir) != 0
        {
            let e = std::io::Error::last_os_error();
            let dir = dir.to_string_lossy();
            let e = Error::protocol(format!(
                "cannot change to the caller's working directory {dir}: {e}"
            ));
            self.child_failed(vfd, task, e, errcode::OTHER);
        }
        // The argument comes on the channel; a small one is there already
        // (the client writes it before the request), a larger one is read
        // with deadlines, out of line.
        let args_len = req.args_len;
        let mut small = [0u8; SMALL_ARGS];
        let got = match usize::try_from(args_len) {
            Ok(n @ 1..=SMALL_ARGS) => sys::raw::read(conn_fd, &mut small[..n]).max(0) as usize,
            _ => 0,
        };
        let large;
        let args: &[u8] = if got as u64 == args_len {
            &small[..got]
        } else {
            large = match self.read_large_args(i, vfd, args_len, &small[..got]) {
                Ok(a) => a,
                Err(e) => self.child_failed(vfd, task, e, errcode::PROTOCOL),
            };
            &large
        };
        sys::raw::close(conn_fd);
        let decoded = if self.conns[i].fds.len() == 2 {
            (entry.decode)(args)
        } else {
            Self::decode_with_fds(entry, args, &self.conns[i].fds[2..])
        };
        let call = match decoded {
            Ok(call) => call,
            Err(e) => self.child_failed(vfd, task, e, errcode::DECODE),
        };
        // (A local, not a promoted constant: no read-only data page.)
        let ready = wire::empty_frame(kind::READY);
        sys::raw::write(vfd, &ready);
        sys::raw::close(vfd);
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
            Ok(()) => 0,
            Err(payload) => {
                // Dropping a panic payload can itself panic; never risk it here.
                std::mem::forget(payload);
                1
            }
        };
        // (stderr is unbuffered: nothing to flush.)
        let _ = (&self.stdout).flush();
        state::join_children();
        sys::raw::exit(code)
    }

    /// The child of a start whose argument carries descriptors.
    #[cold]
    #[inline(never)]
    fn decode_with_fds(
        entry: &'static registry::TaskEntry,
        args: &[u8],
        fds: &[OwnedFd],
    ) -> Result<Box<dyn FnOnce()>> {
        // SAFETY: received for this child alone; its copies in the
        // server's structures are never dropped (the child leaves by _exit).
        let fds = fds
            .iter()
            .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd.as_raw_fd()) })
            .collect();
        crate::codec::decoding_with_fds(fds, || (entry.decode)(args))
    }

    /// A forkserver child reads an argument that was not there at once
    /// (`got` is what was), then reports RECEIVED if it is large (the decode
    /// deadline starts then).
    #[cold]
    #[inline(never)]
    fn read_large_args(&mut self, i: usize, vfd: RawFd, len: u64, got: &[u8]) -> Result<Vec<u8>> {
        let c = &mut self.conns[i];
        c.reader.put_back(got);
        let args = wire::read_args(c.fd.as_raw_fd(), &mut c.reader, len, self.timeout)?;
        if len > RECEIVED_THRESHOLD {
            let deadline = Some(Instant::now() + self.timeout);
            let _ = wire::write_all(vfd, &wire::empty_frame(kind::RECEIVED), deadline);
        }
        Ok(args)
    }

    /// A forkserver child that cannot run its task: the error goes to the
    /// server (and on to the client) and to stderr.
    #[cold]
    #[inline(never)]
    fn child_failed(&self, vfd: RawFd, task: &str, e: Error, code: u8) -> ! {
        let report = ErrorReport {
            code,
            task: task.to_string(),
            pid: sys::getpid() as u32,
            message: e.detail(),
        };
        let deadline = Some(Instant::now() + self.timeout);
        let _ = wire::write_all(vfd, &wire::frame(kind::ERROR, &report), deadline);
        eprintln!("forkrt: forkserver child: {e}");
        crate::fork::flush_stdio();
        sys::exit_now(1)
    }

    /// The child's verdict pipe is readable: RECEIVED → start the decode
    /// deadline; READY → STARTED, ERROR → ERROR, EOF without a verdict →
    /// STARTED (the exit status will follow).
    fn on_verdict(&mut self, i: usize) {
        let timeout = self.timeout;
        let c = &mut self.conns[i];
        let ConnState::Starting {
            pid,
            verdict,
            vreader,
            args_len,
        } = &mut c.state
        else {
            return;
        };
        let pid = *pid;
        let done: std::result::Result<(), ErrorReport> = loop {
            match vreader.pop() {
                Ok(Some((kind::READY, _))) => break Ok(()),
                Ok(Some((kind::RECEIVED, _))) => {
                    c.deadline = Some(Instant::now() + timeout + wire::decode_allowance(*args_len));
                    continue;
                }
                Ok(Some((kind::ERROR, p))) => {
                    break Err(wire::decode("child error", &p).unwrap_or(ErrorReport {
                        code: errcode::PROTOCOL,
                        task: String::new(),
                        pid: pid as u32,
                        message: "garbled error report from a forkserver child".into(),
                    }));
                }
                Ok(Some(_)) => continue,
                Ok(None) => {}
                // Garbage from our own child: let the exit status speak.
                Err(_) => break Ok(()),
            }
            match vreader.fill(verdict.as_raw_fd(), 512, None) {
                Ok(0) => break Ok(()), // died without a verdict: EXIT follows
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => break Ok(()),
            }
        };
        c.state = ConnState::Running { pid };
        c.deadline = None;
        match done {
            Ok(()) => self.send(i, &wire::frame(kind::STARTED, &(pid as u32))),
            Err(report) => self.send(i, &wire::frame(kind::ERROR, &report)),
        }
    }

    fn check_children(&mut self) {
        for i in 0..self.conns.len() {
            let pid = match &self.conns[i].state {
                ConnState::Starting { pid, .. } | ConnState::Running { pid } => *pid,
                _ => continue,
            };
            let Some(code) = peek_exit(pid) else { continue };
            if matches!(self.conns[i].state, ConnState::Starting { .. }) {
                // Deliver the verdict first (the pipe is at EOF now).
                self.on_verdict(i);
                if matches!(self.conns[i].state, ConnState::Closed) {
                    continue;
                }
            }
            self.conns[i].state = ConnState::Exited { pid };
            self.send(i, &wire::frame(kind::EXIT, &(pid as u32, code)));
        }
        self.orphans
            .retain(|&pid| matches!(sys::waitpid(pid, true), Ok(None)));
    }

    fn check_deadlines(&mut self) {
        let now = Instant::now();
        for i in 0..self.conns.len() {
            if self.conns[i].deadline.is_none_or(|d| d > now) {
                continue;
            }
            self.conns[i].deadline = None;
            match self.conns[i].state {
                ConnState::Hello | ConnState::Authing { .. } => {
                    self.refuse(i, "timed out waiting for authentication and request")
                }
                ConnState::Starting { pid, .. } => {
                    // The child is stuck decoding: kill it; EXIT follows.
                    let _ = sys::kill(pid, libc::SIGKILL);
                    self.conns[i].state = ConnState::Running { pid };
                    let message = format!(
                        "forkserver child {pid} did not decode its arguments within {} ms",
                        self.timeout.as_millis()
                    );
                    self.send_error(i, errcode::TIMEOUT, "", pid as u32, message);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_only_dead_servers_directories() {
        let base = std::env::temp_dir().join(format!("forkrt-sweep-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        let make = |name: &str| {
            let dir = base.join(name);
            std::fs::create_dir(&dir).unwrap();
            dir
        };
        // A server SIGKILLed: its socket file stays, nobody listens.
        let dead = make("forkrt-dead00");
        drop(UnixListener::bind(dead.join("s")).unwrap());
        // A live server.
        let live = make("forkrt-live00");
        let _listener = UnixListener::bind(live.join("s")).unwrap();
        // A directory just made by mkdtemp, not bound yet; and one that is not ours by name.
        let fresh = make("forkrt-fresh0");
        let other = make("other-dead00");
        drop(UnixListener::bind(other.join("s")).unwrap());

        assert_eq!(sweep_stale_dirs(&base, Duration::ZERO), 1);
        assert!(!dead.exists(), "the dead server's directory is removed");
        assert!(live.join("s").exists(), "a live server's socket is kept");
        assert!(
            fresh.exists() && other.join("s").exists(),
            "a fresh empty directory and other names are kept"
        );

        // A dead socket younger than the age bound is kept (a server may be starting).
        let young = make("forkrt-young0");
        drop(UnixListener::bind(young.join("s")).unwrap());
        assert_eq!(sweep_stale_dirs(&base, Duration::from_secs(3600)), 0);
        assert!(young.join("s").exists());

        // An empty directory left by a server killed before bind, two minutes ago.
        let empty = make("forkrt-empty0");
        let past = std::time::SystemTime::now() - Duration::from_secs(120);
        std::fs::File::open(&empty)
            .unwrap()
            .set_modified(past)
            .unwrap();
        assert_eq!(
            sweep_stale_dirs(&base, Duration::ZERO),
            2,
            "the empty one and 'young'"
        );
        assert!(!empty.exists() && !young.exists() && fresh.exists());

        std::fs::remove_dir_all(&base).unwrap();
    }
}
