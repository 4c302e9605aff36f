//! The forkserver start method.
//!
//! On first use the parent spawns a server (this same binary, role
//! `forkserver`) and sends it a random 32-byte key over the inherited spawn
//! channel. The server is single-threaded: it creates a private directory
//! (mode 0700) holding a listening Unix socket (mode 0600), answers READY
//! with the socket's path, and then loops on poll(2) over the listener, the
//! channel to its parent (EOF = the parent is gone → exit), a SIGCHLD
//! self-pipe, and its connections. After READY it removes directories that
//! this user's dead servers left behind (see [`sweep_stale_dirs`]).
//!
//! Per request (one connection per process):
//!
//! ```text
//! server → client  CHALLENGE  32 random bytes
//! client → server  AUTH       HMAC-SHA256(key, "forkrt-forkserver-v1" ‖ challenge)
//! client → server  REQUEST    ChildRequest, with the client's stdout/stderr as SCM_RIGHTS
//! server → client  REFUSED    (bad AUTH; then the connection is closed)
//! server: fork → the child decodes its arguments and reports to the server
//!                over a private pipe
//! server → client  STARTED    pid         (or ERROR: decode failure, timeout, …)
//! client → server  SIGNAL     signum      (terminate/kill; any time)
//! server → client  EXIT       pid, exitcode (-signum if killed)
//! ```
//!
//! The server keeps an exited child as a zombie (it peeks with
//! `waitid(WNOWAIT)`) until the client closes the connection, so a SIGNAL
//! can never hit a recycled pid. All writes on a connection come from the
//! server, so messages never interleave.

// fork-lint: allow-file(FL004, FL007) -- the forkserver never starts a thread, so each
// child it forks is a consistent, single-threaded copy (the invariant `serve` keeps).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
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

const AUTH_CONTEXT: &[u8] = b"forkrt-forkserver-v1";
pub(crate) const KEY_LEN: usize = 32;

fn auth_tag(key: &[u8], challenge: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(AUTH_CONTEXT);
    mac.update(challenge);
    mac.finalize().into_bytes().to_vec()
}

fn auth_ok(key: &[u8], challenge: &[u8], tag: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(AUTH_CONTEXT);
    mac.update(challenge);
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
}

impl ServerHandle {
    /// Kills and reaps the server and removes its directory.
    fn discard(self) {
        let _ = sys::kill(self.pid, libc::SIGKILL);
        let _ = sys::waitpid(self.pid, false);
        remove_socket_dir(&self.path);
    }
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
fn ensure_server(rt: &mut Runtime) -> Result<(PathBuf, [u8; KEY_LEN], u64)> {
    if let Some(h) = &rt.forkserver {
        match sys::waitpid(h.pid, true) {
            Ok(None) => return Ok((h.path.clone(), h.key, h.generation)),
            // Exited (now reaped) or not our child any more: start a new one.
            _ => {
                let h = rt.forkserver.take().expect("checked");
                remove_socket_dir(&h.path);
            }
        }
    }
    let h = start_server()?;
    let info = (h.path.clone(), h.key, h.generation);
    rt.forkserver = Some(h);
    Ok(info)
}

fn start_server() -> Result<ServerHandle> {
    let key: [u8; KEY_LEN] =
        sys::random_bytes().map_err(|e| Error::io("getrandom for the forkserver key", e))?;
    let (pid, chan) = crate::spawn::launch("forkserver")?;
    let init = wire::frame(kind::FS_INIT, &ForkserverInit { key: key.to_vec() });
    let mut reader = FrameReader::default();
    let (k, payload) = crate::spawn::handshake(pid, &chan, &init, &mut reader)?;
    let unavailable = |reason: String| {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::waitpid(pid, false);
        Error::ForkserverUnavailable { reason }
    };
    match k {
        kind::FS_READY => {
            let ready: ForkserverReady = wire::decode("forkserver ready", &payload)
                .map_err(|e| unavailable(e.to_string()))?;
            Ok(ServerHandle {
                pid,
                _alive: chan,
                path: PathBuf::from(ready.path),
                key,
                generation: GENERATION.fetch_add(1, Ordering::Relaxed) as u64,
            })
        }
        kind::ERROR => {
            let report: ErrorReport = wire::decode("forkserver error", &payload)
                .map_err(|e| unavailable(e.to_string()))?;
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
    /// The server is gone or unresponsive: restart it and retry once.
    ServerGone(String),
    Fatal(Error),
}

/// Starts a task through the forkserver, restarting the server once if it
/// died since the last start.
pub(crate) fn start(req: &ChildRequest) -> Result<ServedChild> {
    let request = wire::frame(kind::REQUEST, req);
    let mut retried = false;
    loop {
        let (path, key, generation) = {
            let mut rt = state::rt();
            ensure_server(&mut rt)?
        };
        match request_child(&path, &key, &request) {
            Ok(child) => return Ok(child),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::ServerGone(reason)) => {
                let mut rt = state::rt();
                if rt
                    .forkserver
                    .as_ref()
                    .is_some_and(|h| h.generation == generation)
                {
                    rt.forkserver.take().expect("checked").discard();
                }
                if retried {
                    return Err(Error::ForkserverUnavailable {
                        reason: format!("the restarted server failed too: {reason}"),
                    });
                }
                retried = true;
            }
        }
    }
}

/// Connects to the server at `path`, authenticates, sends `request` (one
/// pre-built frame; tests pass corrupt ones) and waits for STARTED.
fn request_child(
    path: &Path,
    key: &[u8],
    request: &[u8],
) -> std::result::Result<ServedChild, Attempt> {
    let gone = |what: &str, e: &dyn std::fmt::Display| Attempt::ServerGone(format!("{what}: {e}"));
    let conn = RtFd::one(|| UnixStream::connect(path).map(OwnedFd::from))
        .map_err(|e| gone("connect to the forkserver", &e))?;
    sys::set_nonblocking(conn.raw(), true).map_err(|e| Attempt::Fatal(Error::io("fcntl", e)))?;
    let timeout = state::handshake_timeout();
    let deadline = Instant::now() + timeout;
    let mut reader = FrameReader::default();
    let challenge = match wire::read_frame(conn.raw(), &mut reader, Some(deadline)) {
        Ok(Read::Frame(kind::CHALLENGE, c)) => c,
        Ok(Read::Frame(k, _)) => {
            return Err(Attempt::Fatal(Error::protocol(format!(
                "expected a challenge from the forkserver, got frame kind {k:#x}"
            ))));
        }
        Ok(Read::Eof) => return Err(gone("forkserver", &"closed the connection")),
        Ok(Read::Timeout) => return Err(gone("forkserver", &"did not answer")),
        Err(e) => return Err(gone("forkserver", &e)),
    };
    let mut out = wire::frame_raw(kind::AUTH, &auth_tag(key, &challenge));
    out.extend_from_slice(request);
    // Our stdout/stderr travel with the first byte, so the child writes
    // where the caller writes now, not where the server was started.
    let sent = sys::send_with_fds(conn.raw(), &out, &[1, 2])
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            }
        })
        .map_err(|e| gone("send to the forkserver", &e))?;
    if sent == 0 && !out.is_empty() {
        // Nothing went out (full buffer): retry the first byte with the fds.
        let ev = sys::poll_one(conn.raw(), libc::POLLOUT, Some(deadline))
            .map_err(|e| Attempt::Fatal(Error::io("poll", e)))?;
        if ev == 0 {
            return Err(gone("forkserver", &"does not read its socket"));
        }
        return request_child_rest(conn, reader, &out, 0, deadline, true);
    }
    request_child_rest(conn, reader, &out, sent, deadline, false)
}

fn request_child_rest(
    conn: RtFd,
    mut reader: FrameReader,
    out: &[u8],
    sent: usize,
    deadline: Instant,
    resend_fds: bool,
) -> std::result::Result<ServedChild, Attempt> {
    let gone = |what: &str, e: &dyn std::fmt::Display| Attempt::ServerGone(format!("{what}: {e}"));
    let mut sent = sent;
    if resend_fds {
        sent = sys::send_with_fds(conn.raw(), out, &[1, 2])
            .map_err(|e| gone("send to the forkserver", &e))?;
    }
    match wire::write_all(conn.raw(), &out[sent..], Some(deadline)) {
        Ok(true) => {}
        Ok(false) => return Err(gone("forkserver", &"does not read its socket")),
        Err(e) => return Err(gone("send to the forkserver", &e)),
    }
    // The server bounds the child's decoding by the handshake timeout and
    // reports it; our own deadline is only a backstop for a wedged server.
    let backstop = deadline + state::handshake_timeout();
    match wire::read_frame(conn.raw(), &mut reader, Some(backstop)) {
        Ok(Read::Frame(kind::STARTED, p)) => {
            let pid: u32 = wire::decode("started", &p).map_err(Attempt::Fatal)?;
            Ok(ServedChild {
                pid: pid as Pid,
                conn: Some(conn),
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
        Ok(Read::Frame(kind::REFUSED, p)) => {
            let why = String::from_utf8_lossy(&p).into_owned();
            Err(Attempt::Fatal(Error::ForkserverUnavailable {
                reason: format!("the server refused the connection: {why}"),
            }))
        }
        Ok(Read::Frame(k, _)) => Err(Attempt::Fatal(Error::protocol(format!(
            "unexpected frame kind {k:#x} from the forkserver"
        )))),
        Ok(Read::Eof) => Err(gone("forkserver", &"closed the connection")),
        Ok(Read::Timeout) => Err(Attempt::Fatal(Error::ForkserverUnavailable {
            reason: "the server did not answer a request in time".into(),
        })),
        Err(e) => Err(Attempt::Fatal(e)),
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
            Read::Eof => Err(Error::ForkserverUnavailable {
                reason: format!(
                    "the forkserver exited while child {} was running (the child \
                             was killed with it)",
                    self.pid
                ),
            }),
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

// Test hooks (see `__private`).

/// Path of the running server's socket, starting the server if needed.
pub(crate) fn socket_path() -> Result<PathBuf> {
    let mut rt = state::rt();
    Ok(ensure_server(&mut rt)?.0)
}

/// Pid of the running server, if any.
pub(crate) fn server_pid() -> Option<u32> {
    state::rt().forkserver.as_ref().map(|h| h.pid as u32)
}

/// Sends an already-built REQUEST frame (possibly corrupt) through a
/// properly authenticated connection.
pub(crate) fn start_raw(request: &[u8]) -> Result<ServedChild> {
    let (path, key, _) = {
        let mut rt = state::rt();
        ensure_server(&mut rt)?
    };
    request_child(&path, &key, request).map_err(|a| match a {
        Attempt::Fatal(e) => e,
        Attempt::ServerGone(reason) => Error::ForkserverUnavailable { reason },
    })
}

// ---------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------

/// Write end of the SIGCHLD self-pipe (-1 when not installed).
static SIGCHLD_PIPE: AtomicI32 = AtomicI32::new(-1);

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
    Authing,
    Authed,
    /// Forked; waiting for the child's verdict on decoding its arguments.
    Starting {
        pid: Pid,
        verdict: OwnedFd,
        vreader: FrameReader,
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

struct Conn {
    fd: OwnedFd,
    reader: FrameReader,
    /// stdout/stderr received from the client.
    stdio: Vec<OwnedFd>,
    challenge: [u8; 32],
    state: ConnState,
    deadline: Option<Instant>,
}

struct Server {
    key: Vec<u8>,
    listener: UnixListener,
    alive: RtFd,
    sig_r: OwnedFd,
    sig_w: OwnedFd,
    conns: Vec<Conn>,
    /// Children whose client went away before they exited.
    orphans: Vec<Pid>,
    path: PathBuf,
    timeout: Duration,
}

/// Entry point of the server process (called by the guard). Never returns.
pub(crate) fn serve(chan: RtFd) -> ! {
    let timeout = state::handshake_timeout();
    let deadline = Instant::now() + timeout;
    let mut reader = FrameReader::default();
    let init: ForkserverInit = match wire::read_frame(chan.raw(), &mut reader, Some(deadline)) {
        Ok(Read::Frame(kind::FS_INIT, p)) => match wire::decode("forkserver init", &p) {
            Ok(init) => init,
            Err(e) => fatal_start(&chan, e.to_string()),
        },
        Ok(Read::Eof) => sys::exit_now(0),
        Ok(other) => fatal_start(&chan, format!("unexpected first message {other:?}")),
        Err(e) => fatal_start(&chan, e.to_string()),
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
    let (sig_r, sig_w) = match sys::pipe_cloexec() {
        Ok(p) => p,
        Err(e) => fatal_start(&chan, format!("pipe: {e}")),
    };
    let _ = sys::set_nonblocking(sig_r.as_raw_fd(), true);
    let _ = sys::set_nonblocking(sig_w.as_raw_fd(), true);
    SIGCHLD_PIPE.store(sig_w.as_raw_fd(), Ordering::Relaxed);
    sys::set_signal(libc::SIGCHLD, Some(on_sigchld));
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
        conns: Vec::new(),
        orphans: Vec::new(),
        path,
        timeout,
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

/// Creates `$TMPDIR/forkrt-XXXXXX` (mode 0700, by mkdtemp) with a listening
/// socket `s` (mode 0600) inside.
fn bind_private_socket() -> std::result::Result<(UnixListener, PathBuf), String> {
    let mut base = std::env::temp_dir();
    // sun_path holds 108 bytes; fall back to /tmp for very long TMPDIRs.
    if base.as_os_str().len() > 80 {
        base = PathBuf::from("/tmp");
    }
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

impl Server {
    fn run(&mut self) -> ! {
        loop {
            self.conns.retain(|c| !matches!(c.state, ConnState::Closed));
            let mut pfds = vec![
                libc::pollfd {
                    fd: self.alive.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.listener.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.sig_r.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // Per connection: the socket, then (while starting) the verdict pipe.
            let mut map: Vec<(usize, bool)> = Vec::new();
            let mut next_deadline: Option<Instant> = None;
            for (i, c) in self.conns.iter().enumerate() {
                pfds.push(libc::pollfd {
                    fd: c.fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                map.push((i, false));
                if let ConnState::Starting { verdict, .. } = &c.state {
                    pfds.push(libc::pollfd {
                        fd: verdict.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    map.push((i, true));
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
                let mut buf = [0u8; 64];
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
                    let challenge: [u8; 32] = match sys::random_bytes() {
                        Ok(c) => c,
                        Err(_) => continue,
                    };
                    let frame = wire::frame_raw(kind::CHALLENGE, &challenge);
                    // A fresh socket's buffer always takes 40 bytes.
                    if !matches!(sys::write(fd.as_raw_fd(), &frame), Ok(n) if n == frame.len()) {
                        continue;
                    }
                    self.conns.push(Conn {
                        fd,
                        reader: FrameReader::default(),
                        stdio: Vec::new(),
                        challenge,
                        state: ConnState::Authing,
                        deadline: Some(Instant::now() + self.timeout),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EMFILE and friends: try again on the next round.
                Err(_) => return,
            }
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
        self.conns[i].stdio.clear();
        self.conns[i].deadline = None;
    }

    fn on_readable(&mut self, i: usize) {
        if matches!(self.conns[i].state, ConnState::Closed) {
            return;
        }
        let mut buf = [0u8; 16 * 1024];
        let mut eof = false;
        loop {
            let c = &mut self.conns[i];
            let mut fds = Vec::new();
            match sys::recv_with_fds(c.fd.as_raw_fd(), &mut buf, &mut fds) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    // At most stdout+stderr; anything else is dropped (closed).
                    for fd in fds {
                        if c.stdio.len() < 2 {
                            c.stdio.push(fd);
                        }
                    }
                    c.reader.extend(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    eof = true;
                    break;
                }
            }
        }
        // Frames that arrived before EOF still count (a client's last
        // SIGNAL is typically followed at once by its close).
        loop {
            if matches!(self.conns[i].state, ConnState::Closed) {
                return;
            }
            match self.conns[i].reader.pop() {
                Ok(Some((k, payload))) => self.on_frame(i, k, payload),
                Ok(None) => break,
                Err(e) => {
                    if matches!(self.conns[i].state, ConnState::Authing) {
                        self.refuse(i, &e.to_string());
                    } else {
                        self.send_error(i, errcode::PROTOCOL, "", 0, e.to_string());
                        self.close(i);
                    }
                    return;
                }
            }
        }
        if eof {
            self.close(i);
        }
    }

    fn refuse(&mut self, i: usize, why: &str) {
        self.send(i, &wire::frame_raw(kind::REFUSED, why.as_bytes()));
        self.close(i);
    }

    fn on_frame(&mut self, i: usize, k: u8, payload: Vec<u8>) {
        match (&self.conns[i].state, k) {
            (ConnState::Authing, kind::AUTH) => {
                if auth_ok(&self.key, &self.conns[i].challenge, &payload) {
                    self.conns[i].state = ConnState::Authed;
                } else {
                    self.refuse(i, "authentication failed");
                }
            }
            (ConnState::Authing, _) => self.refuse(i, "authentication required"),
            (ConnState::Authed, kind::REQUEST) => self.fork_child(i, &payload),
            (ConnState::Starting { pid, .. } | ConnState::Running { pid }, kind::SIGNAL) => {
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

    fn fork_child(&mut self, i: usize, payload: &[u8]) {
        let req: ChildRequest = match wire::decode("request", payload) {
            Ok(r) => r,
            Err(e) => {
                self.send_error(i, errcode::PROTOCOL, "", 0, e.to_string());
                self.close(i);
                return;
            }
        };
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
        let (verdict_r, verdict_w) = match sys::pipe_cloexec() {
            Ok(p) => p,
            Err(e) => {
                self.send_error(i, errcode::OTHER, &req.task, 0, format!("pipe: {e}"));
                self.close(i);
                return;
            }
        };
        // SAFETY: the server is single-threaded, so the child is a complete
        // copy in a consistent state.
        match unsafe { sys::fork() } {
            Err(e) => {
                self.send_error(i, errcode::OTHER, &req.task, 0, format!("fork: {e}"));
                self.close(i);
            }
            Ok(0) => {
                drop(verdict_r);
                self.child_after_fork(i, verdict_w, req, entry)
            }
            Ok(pid) => {
                drop(verdict_w);
                let _ = sys::set_nonblocking(verdict_r.as_raw_fd(), true);
                let c = &mut self.conns[i];
                c.stdio.clear();
                c.state = ConnState::Starting {
                    pid,
                    verdict: verdict_r,
                    vreader: FrameReader::default(),
                };
                c.deadline = Some(Instant::now() + self.timeout);
            }
        }
    }

    /// In the forked child: shed the server, become the task, never return.
    fn child_after_fork(
        &mut self,
        i: usize,
        verdict: OwnedFd,
        req: ChildRequest,
        entry: &'static registry::TaskEntry,
    ) -> ! {
        let server_pid = sys::getppid();
        // Close every server fd but ours (no destructors: we _exit).
        sys::close(self.listener.as_raw_fd());
        sys::close(self.alive.raw());
        sys::close(self.sig_r.as_raw_fd());
        sys::close(self.sig_w.as_raw_fd());
        SIGCHLD_PIPE.store(-1, Ordering::Relaxed);
        sys::set_signal(libc::SIGCHLD, None);
        sys::set_signal(libc::SIGINT, None);
        sys::unblock_all_signals();
        let mut stdio: Vec<RawFd> = Vec::new();
        for (j, c) in self.conns.iter().enumerate() {
            sys::close(c.fd.as_raw_fd());
            if let ConnState::Starting { verdict, .. } = &c.state {
                sys::close(verdict.as_raw_fd());
            }
            for fd in &c.stdio {
                if j == i {
                    stdio.push(fd.as_raw_fd());
                } else {
                    sys::close(fd.as_raw_fd());
                }
            }
        }
        {
            // Anything else the runtime registered in the server (the
            // channel is among them, closed above) is the server's too.
            let mut reg = state::fds();
            for &fd in reg.iter() {
                if !stdio.contains(&fd) && fd != verdict.as_raw_fd() {
                    sys::close(fd);
                }
            }
            reg.clear();
            sys::reset_cached_fds();
        }
        if !sys::die_with_parent(server_pid) {
            sys::exit_now(1);
        }
        sys::stdin_to_devnull();
        if let [out, err] = stdio[..] {
            let _ = sys::dup2(out, 1);
            let _ = sys::dup2(err, 2);
            sys::close(out);
            sys::close(err);
        }
        {
            let mut rt = state::rt();
            state::become_child(
                &mut rt,
                req.name,
                req.ident,
                req.daemon,
                (req.parent_name, req.parent_pid),
            );
        }
        let vfd = verdict.as_raw_fd();
        let deadline = Some(Instant::now() + self.timeout);
        match (entry.decode)(&req.args) {
            Err(e) => {
                let report = ErrorReport {
                    code: errcode::DECODE,
                    task: req.task,
                    pid: sys::getpid() as u32,
                    message: match &e {
                        Error::Decode { message, .. } => message.clone(),
                        other => other.to_string(),
                    },
                };
                let _ = wire::write_all(vfd, &wire::frame(kind::ERROR, &report), deadline);
                eprintln!("forkrt: forkserver child: {e}");
                crate::fork::flush_stdio();
                sys::exit_now(1)
            }
            Ok(call) => {
                let _ = wire::write_all(vfd, &wire::frame_raw(kind::READY, &[]), deadline);
                sys::close(vfd);
                let code = crate::fork::run_task(call);
                sys::exit_now(code)
            }
        }
    }

    /// The child's verdict pipe is readable: READY → STARTED, ERROR → ERROR,
    /// EOF without a verdict → STARTED (the exit status will follow).
    fn on_verdict(&mut self, i: usize) {
        let ConnState::Starting {
            pid,
            verdict,
            vreader,
        } = &mut self.conns[i].state
        else {
            return;
        };
        let pid = *pid;
        let mut buf = [0u8; 4096];
        let done: std::result::Result<(), ErrorReport> = loop {
            match vreader.pop() {
                Ok(Some((kind::READY, _))) => break Ok(()),
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
            match sys::read(verdict.as_raw_fd(), &mut buf) {
                Ok(0) => break Ok(()), // died without a verdict: EXIT follows
                Ok(n) => vreader.extend(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => break Ok(()),
            }
        };
        self.conns[i].state = ConnState::Running { pid };
        self.conns[i].deadline = None;
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
                ConnState::Authing | ConnState::Authed => {
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
