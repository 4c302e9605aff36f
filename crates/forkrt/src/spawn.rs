//! The spawn start method: re-execute the current binary and hand the child
//! its task over an inherited socket.
//!
//! Parent side: `socketpair` (both ends close-on-exec) → `posix_spawn` of
//! `/proc/self/exe` with `FORKRT_ROLE=spawn:<fd>:<ppid>` in the environment,
//! the child's end being the only fd made inheritable, and only in that child
//! → write the REQUEST frame → wait (bounded by the handshake timeout) for
//! READY, ERROR, or EOF. The child side lives in `guard.rs`.

use std::ffi::{CString, OsStr};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::state::{self, ROLE_ENV, RtFd};
use crate::sys::{self, Pid};
use crate::wire::{self, ChildRequest, ErrorReport, FrameReader, Read, kind};

/// Test knob: use fork+exec instead of posix_spawn (the portable fallback).
const FALLBACK_ENV: &str = "FORKRT_SPAWN_FALLBACK";

/// Path that re-executes exactly this binary. On Linux `/proc/self/exe`
/// resolves to the running inode even if the file on disk was replaced or
/// deleted, so parent and child are always the same build.
fn exe() -> &'static CString {
    static EXE: OnceLock<CString> = OnceLock::new();
    EXE.get_or_init(|| {
        if cfg!(any(target_os = "linux", target_os = "android"))
            && std::path::Path::new("/proc/self/exe").exists()
        {
            return c"/proc/self/exe".to_owned();
        }
        let p = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
        CString::new(p.as_os_str().as_bytes()).expect("no NUL in a path")
    })
}

/// This process's whole command line, for the child's `argv`: a spawned
/// child (and the forkserver, so its children) sees the caller's arguments,
/// as CPython carries `sys.argv` over. (A Rust program's arguments never
/// change, so they are collected once.)
fn argv() -> &'static [CString] {
    static ARGV: OnceLock<Vec<CString>> = OnceLock::new();
    ARGV.get_or_init(|| {
        let mut v: Vec<CString> = std::env::args_os()
            .filter_map(|a| CString::new(a.as_bytes()).ok())
            .collect();
        if v.is_empty() {
            v.push(c"forkrt-child".to_owned());
        }
        v
    })
}

/// The current environment (so that, as in Python, a spawned child sees the
/// parent's environment at spawn time), minus any stale role, plus `role`:
/// `KEY=value` strings, each NUL-terminated, in one buffer (one allocation,
/// not one per variable), and where each starts.
fn child_env(role: &str) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::with_capacity(4096);
    let mut starts = Vec::with_capacity(64);
    for (k, v) in std::env::vars_os() {
        if k == OsStr::new(ROLE_ENV) || k.as_bytes().contains(&0) || v.as_bytes().contains(&0) {
            continue;
        }
        starts.push(buf.len());
        buf.extend_from_slice(k.as_bytes());
        buf.push(b'=');
        buf.extend_from_slice(v.as_bytes());
        buf.push(0);
    }
    starts.push(buf.len());
    buf.extend_from_slice(ROLE_ENV.as_bytes());
    buf.push(b'=');
    buf.extend_from_slice(role.as_bytes());
    buf.push(0);
    (buf, starts)
}

/// Starts a re-executed copy of this binary with the given role
/// (`spawn` or `forkserver`). Returns its pid and the parent's end of the
/// channel (non-blocking, close-on-exec, registered).
pub(crate) fn launch(role: &str) -> Result<(Pid, RtFd)> {
    let mut pair = RtFd::create(sys::socketpair, |(a, b)| vec![a, b])
        .map_err(|e| Error::io("socketpair for a spawned child", e))?;
    let child_end = pair.pop().expect("two fds");
    let parent_end = pair.pop().expect("two fds");
    let child_fd = child_end.raw();
    let ppid = sys::getpid();
    let name = crate::guard::binary_name();
    let (env, starts) = child_env(&format!("{role}:{CHILD_FD}:{ppid}:{name}"));
    let envp: Vec<*const libc::c_char> = starts
        .iter()
        .map(|&i| env[i..].as_ptr().cast())
        .chain([std::ptr::null()])
        .collect();
    let argv: Vec<*const libc::c_char> = argv()
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    // Children's stdin is /dev/null (as in CPython), set up by the spawn
    // itself rather than by the child.
    let devnull = sys::devnull();
    let closefrom = addclosefrom();
    let use_fallback =
        closefrom.is_none() || std::env::var_os(FALLBACK_ENV).is_some_and(|v| v == "1");
    let pid = match closefrom {
        Some(closefrom) if !use_fallback => {
            posix_spawn(child_fd, devnull, closefrom, &argv, &envp)?
        }
        _ => fork_exec(child_fd, devnull, &argv, &envp)?,
    };
    drop(child_end);
    sys::set_nonblocking(parent_end.raw(), true)
        .map_err(|e| Error::io("fcntl on a spawn channel", e))?;
    Ok((pid, parent_end))
}

/// The fd number of the channel in a spawned child. Like CPython's spawn
/// (`close_fds=True`), the child gets stdin/stdout/stderr and this one fd,
/// nothing else.
const CHILD_FD: libc::c_int = 3;

type AddCloseFrom =
    unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, libc::c_int) -> libc::c_int;

/// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, looked up at
/// run time so that binaries still load on older C libraries (which use
/// the fork+exec fallback).
fn addclosefrom() -> Option<AddCloseFrom> {
    static F: OnceLock<Option<usize>> = OnceLock::new();
    let addr = *F.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
        let p = unsafe {
            libc::dlsym(
                libc::RTLD_DEFAULT,
                c"posix_spawn_file_actions_addclosefrom_np".as_ptr(),
            )
        };
        (!p.is_null()).then_some(p as usize)
    });
    // SAFETY: the symbol has exactly this C signature.
    addr.map(|a| unsafe { std::mem::transmute::<usize, AddCloseFrom>(a) })
}

/// posix_spawn: on glibc this is clone(CLONE_VM|CLONE_VFORK)+exec, so its
/// cost does not grow with the parent's memory. The file actions put the
/// channel on fd 3 (a dup2 result is inheritable; for `child_fd == 3`
/// glibc ≥ 2.29 clears FD_CLOEXEC) and close everything from fd 4 up.
fn posix_spawn(
    child_fd: libc::c_int,
    devnull: Option<libc::c_int>,
    closefrom: AddCloseFrom,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> Result<Pid> {
    // SAFETY: the file actions and attributes are initialised before use and
    // destroyed afterwards; argv/envp are NULL-terminated arrays of valid C
    // strings that outlive the call.
    unsafe {
        let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut fa);
        libc::posix_spawnattr_init(&mut attr);
        // stdin first: the runtime's /dev/null may itself be fd 3, which the
        // channel's dup2 would replace.
        let mut rc = match devnull {
            Some(null) => libc::posix_spawn_file_actions_adddup2(&mut fa, null, 0),
            None => 0,
        };
        if rc == 0 {
            rc = libc::posix_spawn_file_actions_adddup2(&mut fa, child_fd, CHILD_FD);
        }
        if rc == 0 {
            rc = closefrom(&mut fa, CHILD_FD + 1);
        }
        if rc == 0 {
            // Children start with an empty signal mask whatever the calling
            // thread had blocked.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::posix_spawnattr_setsigmask(&mut attr, &empty);
            libc::posix_spawnattr_setflags(&mut attr, libc::POSIX_SPAWN_SETSIGMASK as _);
            let mut pid: libc::pid_t = 0;
            rc = libc::posix_spawn(
                &mut pid,
                exe().as_ptr(),
                &fa,
                &attr,
                argv.as_ptr() as *const *mut libc::c_char,
                envp.as_ptr() as *const *mut libc::c_char,
            );
            libc::posix_spawn_file_actions_destroy(&mut fa);
            libc::posix_spawnattr_destroy(&mut attr);
            if rc == 0 {
                return Ok(pid);
            }
        } else {
            libc::posix_spawn_file_actions_destroy(&mut fa);
            libc::posix_spawnattr_destroy(&mut attr);
        }
        Err(Error::io(
            "posix_spawn of the current executable",
            std::io::Error::from_raw_os_error(rc),
        ))
    }
}

/// The portable fallback: fork, move the channel to fd 3, close the rest,
/// exec. The child only makes async-signal-safe calls.
fn fork_exec(
    child_fd: libc::c_int,
    devnull: Option<libc::c_int>,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> Result<Pid> {
    // An error pipe tells the parent whether exec failed.
    let (err_r, err_w) = sys::pipe_cloexec().map_err(|e| Error::io("pipe", e))?;
    let err_fd = std::os::fd::AsRawFd::as_raw_fd(&err_w);
    // SAFETY: sysconf has no preconditions.
    let max_fd = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(256, 65_536) as libc::c_int;
    // Resolved before the fork: its first use initialises a `OnceLock` (allocates).
    let exe = exe();
    // SAFETY: the child only calls async-signal-safe functions (fcntl,
    // sigprocmask, execve, write, _exit) on data prepared before the fork.
    // fork-lint: allow(FL007) -- the child execs at once, calling only async-signal-safe functions.
    let pid = unsafe { sys::fork() }.map_err(|e| Error::io("fork for spawn", e))?;
    if pid == 0 {
        // SAFETY: see above; all pointers were built before the fork.
        unsafe {
            // stdin first (see `posix_spawn`).
            if let Some(null) = devnull {
                libc::dup2(null, 0);
            }
            if child_fd == CHILD_FD {
                let flags = libc::fcntl(child_fd, libc::F_GETFD);
                libc::fcntl(child_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else {
                libc::dup2(child_fd, CHILD_FD);
            }
            // Close everything above the channel except the error pipe
            // (close-on-exec, so exec closes it): close_range(2) where the
            // kernel has it (5.9+), a loop otherwise.
            if !close_range(CHILD_FD + 1, err_fd - 1) || !close_range(err_fd + 1, libc::c_int::MAX)
            {
                for fd in CHILD_FD + 1..max_fd {
                    if fd != err_fd {
                        libc::close(fd);
                    }
                }
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            libc::write(err_fd, (&errno as *const i32).cast(), 4);
        }
        sys::exit_now(127);
    }
    drop(err_w);
    let mut buf = [0u8; 4];
    let n = sys::read(std::os::fd::AsRawFd::as_raw_fd(&err_r), &mut buf).unwrap_or(0);
    if n == 4 {
        let _ = sys::waitpid(pid, false);
        return Err(Error::io(
            "exec of the current executable",
            std::io::Error::from_raw_os_error(i32::from_ne_bytes(buf)),
        ));
    }
    Ok(pid)
}

/// `close_range(first, last)` (async-signal-safe); false if unsupported.
fn close_range(first: libc::c_int, last: libc::c_int) -> bool {
    if first > last {
        return true;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: close_range takes plain integers; closing descriptors of
        // this (just forked) process is memory-safe.
        unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) == 0 }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        false
    }
}

/// Waits for a child that is going away anyway: a bounded wait, then
/// SIGKILL and a final reap, so that neither a zombie nor a hang remains.
pub(crate) fn reap_bounded(pid: Pid, grace: Duration) -> Option<i32> {
    let deadline = Instant::now() + grace;
    let mut step = 0;
    loop {
        match sys::waitpid(pid, true) {
            Ok(Some(code)) => return Some(code),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            let _ = sys::kill(pid, libc::SIGKILL);
            return sys::waitpid(pid, false).ok().flatten();
        }
        sys::backoff_sleep(&mut step);
    }
}

/// Sends `parts` (with `fds` on the first byte) and waits for the child's
/// first frame, turning EOF and timeout into the guard errors. The writing
/// has a deadline on progress (a large argument takes as long as its
/// transfer); the answer must come within the handshake timeout of the last
/// byte, plus the decoding allowance for an argument of `args_len` bytes. On
/// error the child is reaped.
pub(crate) fn handshake(
    pid: Pid,
    chan: &RtFd,
    parts: &[&[u8]],
    fds: &[RawFd],
    args_len: u64,
    reader: &mut FrameReader,
) -> Result<(u8, Vec<u8>)> {
    let timeout = state::handshake_timeout();
    let fail_timeout = || {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::waitpid(pid, false);
        Error::HandshakeTimeout {
            pid: pid as u32,
            timeout,
        }
    };
    match wire::send_all(chan.raw(), parts, fds, timeout).1 {
        Ok(true) => {}
        Ok(false) => return Err(fail_timeout()),
        Err(Error::Io { source, .. })
            if matches!(source.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) =>
        {
            // The child is gone already; the read below reports how.
        }
        Err(e) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, false);
            return Err(e);
        }
    }
    let deadline = Instant::now() + wire::decode_allowance(args_len);
    match wire::read_frame(chan.raw(), reader, Some(deadline)) {
        Ok(Read::Frame(k, p)) => Ok((k, p)),
        Ok(Read::Timeout) => Err(fail_timeout()),
        Ok(Read::Eof) => {
            let exitcode = reap_bounded(pid, Duration::from_secs(2));
            Err(Error::ChildExitedBeforeGuard {
                pid: pid as u32,
                exitcode,
            })
        }
        Err(e) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, false);
            Err(e)
        }
    }
}

/// Starts a task by spawn. Returns the child's pid once the child has
/// decoded its arguments.
/// Started from a thread other than the main one, the child keeps its end of
/// the channel armed to kill it when the parent's end closes (see
/// [`sys::die_when_closed`]), and the parent's end is returned: the caller
/// keeps it until the child is reaped.
pub(crate) fn start(req: &ChildRequest, args: &[u8], fds: &[RawFd]) -> Result<(Pid, Option<RtFd>)> {
    let envelope = wire::frame(kind::REQUEST, req);
    start_watched(&envelope, args, fds, !sys::on_main_thread())
}

/// Starts a spawn child and sends it `bytes` as its first message. `start`
/// sends a well-formed REQUEST; tests use this to send corrupt ones.
pub(crate) fn start_raw(bytes: &[u8], args: &[u8]) -> Result<Pid> {
    start_watched(bytes, args, &[], false).map(|(pid, _)| pid)
}

fn start_watched(
    envelope: &[u8],
    args: &[u8],
    fds: &[RawFd],
    watch: bool,
) -> Result<(Pid, Option<RtFd>)> {
    let (pid, chan) = launch(if watch { "spawn-watched" } else { "spawn" })?;
    let mut reader = FrameReader::default();
    let (k, payload) = handshake(
        pid,
        &chan,
        &[envelope, args],
        fds,
        args.len() as u64,
        &mut reader,
    )?;
    match k {
        kind::READY => Ok((pid, watch.then_some(chan))),
        kind::ERROR => {
            let report: ErrorReport = wire::decode("error report", &payload)?;
            let _ = reap_bounded(pid, Duration::from_secs(2));
            Err(report.into_error())
        }
        other => {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, false);
            Err(Error::protocol(format!(
                "unexpected frame kind {other:#x} from a spawned child"
            )))
        }
    }
}
