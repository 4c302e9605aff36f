//! Thin wrappers over the raw system calls the runtime needs.
//!
//! Everything here is a direct syscall with EINTR handling and `io::Error`
//! conversion; policy lives in the callers.

use std::ffi::CStr;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

pub(crate) type Pid = libc::pid_t;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Retries `f` while it fails with EINTR.
fn retry(mut f: impl FnMut() -> libc::c_int) -> io::Result<libc::c_int> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

pub(crate) fn getpid() -> Pid {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::getpid() }
}

pub(crate) fn getppid() -> Pid {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::getppid() }
}

/// Leaves the process immediately: no atexit handlers, no destructors, no
/// stdio flushing. What a forked child must use so that it never runs the
/// parent's cleanup code.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// `fork()`. Returns 0 in the child.
///
/// # Safety
/// The caller must make sure the child only does what is safe after a fork
/// of a possibly multi-threaded process (see `fork.rs`).
#[inline]
pub(crate) unsafe fn fork() -> io::Result<Pid> {
    // SAFETY: forwarded to the caller.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        pid => Ok(pid),
    }
}

/// System calls for the code a child runs right after `fork()`.
///
/// Fork copies no page-table entries for file-backed text, so every code
/// page the child executes costs it a page fault (about 2 µs in a VM), and a
/// libc wrapper per call is a page each. On x86_64 and aarch64 Linux these
/// are the `syscall`/`svc` instruction inlined into the caller (what rustix
/// and musl do); elsewhere `libc::syscall`, one page for all of them. Errors
/// are returned as the raw negative errno and mostly ignored, as the callers
/// would.
pub(crate) mod raw {
    use super::Pid;

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[inline(always)]
    unsafe fn syscall5(n: libc::c_long, a: [usize; 5]) -> isize {
        let ret: isize;
        // SAFETY: the caller passes a system call number and arguments that
        // are valid for it; the kernel clobbers only rcx and r11.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") n as isize => ret,
                in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4],
                lateout("rcx") _, lateout("r11") _,
                options(nostack, preserves_flags),
            );
        }
        ret
    }

    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    #[inline(always)]
    unsafe fn syscall5(n: libc::c_long, a: [usize; 5]) -> isize {
        let ret: isize;
        // SAFETY: as above; the kernel preserves every register but x0.
        unsafe {
            core::arch::asm!(
                "svc 0",
                in("x8") n,
                inlateout("x0") a[0] as isize => ret,
                in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4],
                options(nostack, preserves_flags),
            );
        }
        ret
    }

    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    #[inline(always)]
    unsafe fn syscall5(n: libc::c_long, a: [usize; 5]) -> isize {
        // SAFETY: forwarded to the caller.
        unsafe { libc::syscall(n, a[0], a[1], a[2], a[3], a[4]) as isize }
    }

    #[inline(always)]
    fn sys(n: libc::c_long, a: [usize; 5]) -> isize {
        // SAFETY: every caller below passes plain integers, or pointers valid
        // for the call, as its system call expects.
        unsafe { syscall5(n, a) }
    }

    #[inline(always)]
    pub(crate) fn dup2(from: libc::c_int, to: libc::c_int) {
        if from != to {
            sys(libc::SYS_dup3, [from as usize, to as usize, 0, 0, 0]);
        }
    }

    #[inline(always)]
    pub(crate) fn close(fd: libc::c_int) {
        sys(libc::SYS_close, [fd as usize, 0, 0, 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn getpid() -> Pid {
        sys(libc::SYS_getpid, [0; 5]) as Pid
    }

    #[inline(always)]
    pub(crate) fn getppid() -> Pid {
        sys(libc::SYS_getppid, [0; 5]) as Pid
    }

    /// `PR_SET_PDEATHSIG(SIGKILL)`; the caller checks `getppid` after it.
    #[inline(always)]
    pub(crate) fn die_with_parent() -> bool {
        let kill = libc::SIGKILL as usize;
        sys(
            libc::SYS_prctl,
            [libc::PR_SET_PDEATHSIG as usize, kill, 0, 0, 0],
        ) == 0
    }

    /// `write(2)`: the count, or a negative errno.
    #[inline(always)]
    pub(crate) fn write(fd: libc::c_int, buf: &[u8]) -> isize {
        let a = [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0];
        sys(libc::SYS_write, a)
    }

    /// `read(2)`: the count, or a negative errno.
    #[inline(always)]
    pub(crate) fn read(fd: libc::c_int, buf: &mut [u8]) -> isize {
        let a = [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0];
        sys(libc::SYS_read, a)
    }

    /// `chdir(2)`: 0 or a negative errno.
    #[inline(always)]
    pub(crate) fn chdir(path: &std::ffi::CStr) -> isize {
        sys(libc::SYS_chdir, [path.as_ptr() as usize, 0, 0, 0, 0])
    }

    /// Resets `sig` to its default action. (x86_64 and aarch64 share the
    /// kernel's `struct sigaction`: handler, flags, restorer, mask; SIG_DFL
    /// needs no restorer.)
    #[inline(always)]
    pub(crate) fn default_action(sig: libc::c_int) {
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        {
            let act = [libc::SIG_DFL, 0, 0, 0];
            sys(
                libc::SYS_rt_sigaction,
                [sig as usize, act.as_ptr() as usize, 0, 8, 0],
            );
        }
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        super::set_signal(sig, None);
    }

    /// Unblocks every signal of the calling thread.
    #[inline(always)]
    pub(crate) fn unblock_all_signals() {
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        {
            let none = 0u64;
            let a = [
                libc::SIG_SETMASK as usize,
                &none as *const u64 as usize,
                0,
                8,
                0,
            ];
            sys(libc::SYS_rt_sigprocmask, a);
        }
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        // SAFETY: set is initialised by sigemptyset before use.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        }
    }

    /// `_exit`: leaves at once, no atexit handler, no destructor.
    #[inline(always)]
    pub(crate) fn exit(code: libc::c_int) -> ! {
        loop {
            sys(libc::SYS_exit_group, [code as usize, 0, 0, 0, 0]);
        }
    }
}

/// Converts a wait status into Python's exit code convention: the exit
/// code, or `-signum` for death by a signal.
pub(crate) fn decode_wait_status(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        // Stopped/continued are not requested (no WUNTRACED), so this is
        // unreachable in practice; report something recognisably odd.
        i32::MIN
    }
}

/// `waitpid(pid, flags)`: `Ok(None)` if WNOHANG and still running,
/// `Ok(Some(exitcode))` once reaped.
pub(crate) fn waitpid(pid: Pid, nohang: bool) -> io::Result<Option<i32>> {
    let mut status = 0;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    // SAFETY: status is a valid out pointer for the duration of the call.
    let r = retry(|| unsafe { libc::waitpid(pid, &mut status, flags) })?;
    if r == 0 {
        Ok(None)
    } else {
        Ok(Some(decode_wait_status(status)))
    }
}

pub(crate) fn kill(pid: Pid, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// Asks the kernel to SIGKILL this process when its parent (thread) dies,
/// then closes the race where the parent died before the request: returns
/// false if the parent is no longer `expected_parent`.
pub(crate) fn die_with_parent(expected_parent: Pid) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: PR_SET_PDEATHSIG takes a signal number; no pointers involved.
        unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
        }
    }
    getppid() == expected_parent
}

/// Whether the calling thread is the process's main thread. `PR_SET_PDEATHSIG`
/// fires when the *thread* that forked the child exits; only the main thread
/// lives as long as the process.
pub(crate) fn on_main_thread() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // A process that never started a thread is on its main thread
        // (and this saves two system calls per start).
        // SAFETY: gettid has no preconditions.
        surely_single_threaded() || (unsafe { libc::gettid() }) == getpid()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        true
    }
}

/// `<asm-generic/fcntl.h>`'s `F_SETSIG` (the `libc` crate does not export it).
#[cfg(any(target_os = "linux", target_os = "android"))]
const F_SETSIG: libc::c_int = 10;

/// Asks the kernel to SIGKILL this process when the other end of `fd` (a pipe's
/// read end or a socket) is closed everywhere, i.e. when the parent process that
/// holds it is gone: `O_ASYNC` with `F_SETSIG(SIGKILL)` turns the hang-up into
/// the signal, with no thread in the child. Returns false if the other end is
/// already closed (the parent died before the request).
pub(crate) fn die_when_closed(fd: RawFd) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: fcntl and poll on a descriptor this process owns; pfd is a valid
    // pollfd for the duration of the call.
    unsafe {
        if libc::fcntl(fd, libc::F_SETOWN, getpid()) != 0
            || libc::fcntl(fd, F_SETSIG, libc::SIGKILL) != 0
        {
            return false;
        }
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC) != 0 {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let r = libc::poll(&mut pfd, 1, 0);
        !(r < 0 || pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd;
        true
    }
}

pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: fds is a valid array of two ints.
        cvt(unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        })?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: fds is a valid array of two ints.
        cvt(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) })?;
        set_cloexec(fds[0], true)?;
        set_cloexec(fds[1], true)?;
    }
    // SAFETY: socketpair succeeded, so both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: fds is a valid array of two ints.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: fds is a valid array of two ints.
        cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        set_cloexec(fds[0], true)?;
        set_cloexec(fds[1], true)?;
    }
    // SAFETY: pipe succeeded, so both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(crate) fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd number has no memory-safety preconditions.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    if new != flags {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, new) })?;
    }
    Ok(())
}

pub(crate) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd number has no memory-safety preconditions.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
    }
    Ok(())
}

pub(crate) fn close(fd: RawFd) {
    // SAFETY: closing an fd number is memory-safe; callers only pass fds the
    // runtime owns (or, in a fresh fork child, fds it is discarding).
    unsafe {
        libc::close(fd);
    }
}

/// `shutdown(SHUT_RDWR)`: the peer's next write fails (EPIPE) even while
/// this descriptor is still open.
pub(crate) fn shutdown(fd: RawFd) {
    // SAFETY: shutdown on a descriptor number has no memory-safety preconditions.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

pub(crate) fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on fd numbers has no memory-safety preconditions.
    retry(|| unsafe { libc::dup2(from, to) }).map(drop)
}

/// Points fd 0 at a freshly opened /dev/null.
#[cold]
pub(crate) fn stdin_to_devnull() {
    const DEVNULL: &CStr = c"/dev/null";
    // SAFETY: DEVNULL is a valid NUL-terminated path.
    let fd = unsafe { libc::open(DEVNULL.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd >= 0 {
        if fd != 0 {
            let _ = dup2(fd, 0);
            close(fd);
        } else {
            let _ = set_cloexec(0, false);
        }
    }
}

/// Time left until `deadline`, as a poll(2) timeout in milliseconds
/// (-1 = infinite), rounded up so that we never spin with 0.
pub(crate) fn poll_timeout(deadline: Option<Instant>) -> libc::c_int {
    match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            let ms = left.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as libc::c_int
        }
    }
}

/// Waits until `fd` has one of `events` (or an error/hangup) or the deadline
/// passes. Returns the revents, or 0 on timeout.
pub(crate) fn poll_one(
    fd: RawFd,
    events: libc::c_short,
    deadline: Option<Instant>,
) -> io::Result<libc::c_short> {
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        let timeout = poll_timeout(deadline);
        // SAFETY: pfd is one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r > 0 {
            return Ok(pfd.revents);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(0);
        }
    }
}

/// `read(2)` with EINTR retry. `Ok(0)` is EOF; WouldBlock is returned as an error.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(r as usize);
    }
}

/// `send(2)`/`write(2)` with EINTR retry and without SIGPIPE on sockets.
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for reads of buf.len() bytes.
        let mut r = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), MSG_NOSIGNAL) };
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOTSOCK) {
            // SAFETY: as above.
            r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(r as usize);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const MSG_NOSIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const MSG_NOSIGNAL: libc::c_int = 0;

/// Most descriptors one message carries (stdout, stderr and a task's
/// arguments' queues and connections).
pub(crate) const MAX_PASSED_FDS: usize = 64;

/// Ancillary buffer size for [`MAX_PASSED_FDS`] descriptors.
const CMSG_SPACE: usize = rustix::cmsg_space!(ScmRights(MAX_PASSED_FDS));

/// Sends `bufs` (gathered) on a Unix socket with `fds` attached as
/// SCM_RIGHTS on the first byte. Returns how many bytes went out.
pub(crate) fn send_with_fds(
    sock: RawFd,
    bufs: &[io::IoSlice<'_>],
    fds: &[RawFd],
) -> io::Result<usize> {
    send_with_fds_flags(sock, bufs, fds, 0)
}

/// [`send_with_fds`] with extra flags (`MSG_DONTWAIT` for a socket shared
/// with other processes, whose blocking mode is theirs too).
pub(crate) fn send_with_fds_flags(
    sock: RawFd,
    bufs: &[io::IoSlice<'_>],
    fds: &[RawFd],
    extra: libc::c_int,
) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    // SAFETY: the callers pass descriptors that stay open for the call.
    let borrowed: Vec<BorrowedFd<'_>> = fds
        .iter()
        .map(|&fd| unsafe { BorrowedFd::borrow_raw(fd) })
        .collect();
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); CMSG_SPACE];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !borrowed.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
        return Err(io::Error::other(format!(
            "cannot pass more than {MAX_PASSED_FDS} descriptors in one message"
        )));
    }
    // SAFETY: `sock` is open for the duration of the call.
    let sock = unsafe { BorrowedFd::borrow_raw(sock) };
    loop {
        let flags = SendFlags::NOSIGNAL | SendFlags::from_bits_retain(extra as _);
        match rustix::net::sendmsg(sock, bufs, &mut control, flags) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Receives into `buf` from a Unix socket, appending any SCM_RIGHTS
/// descriptors to `fds` (received close-on-exec); `extra` flags such as
/// `MSG_DONTWAIT`.
pub(crate) fn recv_with_fds_flags(
    sock: RawFd,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    extra: libc::c_int,
) -> io::Result<usize> {
    recv_with_fds_truncated(sock, buf, fds, extra).map(|(n, _)| n)
}

/// [`recv_with_fds_flags`], also telling whether descriptors were lost
/// (`MSG_CTRUNC`: the kernel drops those it cannot install, e.g. at EMFILE).
pub(crate) fn recv_with_fds_truncated(
    sock: RawFd,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    extra: libc::c_int,
) -> io::Result<(usize, bool)> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};
    // On the stack, not the heap: no allocation per message.
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); CMSG_SPACE];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    // SAFETY: `sock` is open for the duration of the call.
    let sock = unsafe { BorrowedFd::borrow_raw(sock) };
    let (n, truncated) = loop {
        let mut iov = [io::IoSliceMut::new(buf)];
        let flags = RecvFlags::CMSG_CLOEXEC | RecvFlags::from_bits_retain(extra as _);
        match rustix::net::recvmsg(sock, &mut iov, &mut control, flags) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(m) => break (m.bytes, m.flags.contains(ReturnFlags::CTRUNC)),
        }
    };
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = msg {
            fds.extend(received);
        }
    }
    Ok((n, truncated))
}

/// Makes sure descriptors 0–2 are open (on /dev/null if they were closed),
/// so that no runtime channel ever lands on them and becomes a child's
/// stdin, stdout or stderr.
pub(crate) fn ensure_stdio_open() {
    // One poll(2) tells which of the three are closed (POLLNVAL): this runs
    // before every start.
    let mut pfds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: pfds is a valid array of three pollfds.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), 3, 0) };
    if r == 0 {
        return;
    }
    for fd in 0..3 {
        // SAFETY: F_GETFD on a descriptor number has no memory-safety preconditions.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: a NUL-terminated path; open takes the lowest free number,
            // which is `fd` since the lower ones are open.
            let got = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if got >= 0 && got != fd {
                let _ = dup2(got, fd);
                close(got);
            }
        }
    }
}

/// A pidfd for `pid` (Linux 5.3+), close-on-exec. `None` where unsupported.
pub(crate) fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: pidfd_open takes a pid and flags; no pointers.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: the syscall returned a fresh fd that nobody else owns.
            return Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
    }
    let _ = pid;
    None
}

/// A runtime-owned descriptor opened once and kept (registered in the
/// runtime's fd list, so fork children close it); `slot` holds the number,
/// -1 until opened. Fork children reset the slots (`state::reset_cached_fds`).
fn cached_fd(slot: &AtomicI32, path: &CStr, flags: libc::c_int) -> Option<RawFd> {
    let fd = slot.load(Ordering::Acquire);
    if fd >= 0 {
        return Some(fd);
    }
    let owned = crate::state::RtFd::one(|| {
        // SAFETY: path is NUL-terminated.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            Err(io::Error::last_os_error())
        } else {
            // SAFETY: open returned a fresh fd nobody else owns.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    })
    .ok()?;
    let fd = owned.raw();
    match slot.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            // Kept for the life of the process (and registered).
            std::mem::forget(owned);
            Some(fd)
        }
        Err(winner) => Some(winner), // another thread was first; ours closes
    }
}

/// A read-only /dev/null descriptor of the runtime, for children's stdin.
pub(crate) fn devnull() -> Option<RawFd> {
    cached_fd(
        crate::state::cached_fd_slots().0,
        c"/dev/null",
        libc::O_RDONLY,
    )
}

/// True if glibc says this process never started a thread
/// (`__libc_single_threaded`, glibc ≥ 2.32, looked up once with `dlsym` so
/// that other C libraries still load); false when unknown.
pub(crate) fn surely_single_threaded() -> bool {
    static FLAG: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let addr = *FLAG.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__libc_single_threaded".as_ptr()) as usize }
    });
    // SAFETY: the symbol is a `char` that glibc keeps for the process's life.
    addr != 0 && unsafe { std::ptr::read_volatile(addr as *const libc::c_char) } != 0
}

/// The number of threads of this process, where the OS tells cheaply: one
/// pread(2) of /proc/self/stat on a descriptor kept open (this runs before
/// every fork, so it must be cheap).
pub(crate) fn thread_count() -> Option<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let slot = crate::state::cached_fd_slots().1;
        let fd = cached_fd(slot, c"/proc/self/stat", libc::O_RDONLY)?;
        let mut buf = [0u8; 1024];
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            return None;
        }
        let stat = &buf[..n as usize];
        // Field 20 is num_threads; the comm field (2) may contain spaces and
        // parentheses, so parse after the last ')'.
        let close = stat.iter().rposition(|&b| b == b')')?;
        let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
        // After ')': state(3) ppid(4) ... num_threads(20) → index 17.
        rest.split_ascii_whitespace().nth(17)?.parse().ok()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

pub(crate) fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(out)
}

/// Number of open file descriptors of this process (Linux: /proc/self/fd).
pub fn open_fd_count() -> Option<usize> {
    let dir = std::fs::read_dir("/proc/self/fd").or_else(|_| std::fs::read_dir("/dev/fd"));
    // read_dir itself holds one fd while iterating.
    dir.ok().map(|d| d.count().saturating_sub(1))
}

/// Sleeps for a short, growing interval: the fallback wait where there is no
/// pidfd to poll.
pub(crate) fn backoff_sleep(step: &mut u32) {
    let micros = (50u64 << (*step).min(8)).min(20_000);
    *step += 1;
    std::thread::sleep(Duration::from_micros(micros));
}

/// Installs `handler` for `sig` (SA_RESTART), or resets it to the default
/// when `handler` is None.
#[cfg_attr(
    all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ),
    allow(dead_code)
)]
pub(crate) fn set_signal(sig: libc::c_int, handler: Option<extern "C" fn(libc::c_int)>) {
    // SAFETY: sigaction is plain data; zeroed is a valid empty mask/flags.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = match handler {
            Some(h) => h as usize,
            None => libc::SIG_DFL,
        };
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

pub(crate) fn ignore_signal(sig: libc::c_int) {
    // SAFETY: SIG_IGN is a valid disposition for any catchable signal.
    unsafe {
        libc::signal(sig, libc::SIG_IGN);
    }
}
