//! The fork start method, and the code every child runs around its task.

// fork-lint: allow-file(FL004, FL007) -- the fork method runs the user's target in the
// child, so the child is only as async-signal-safe as the target; forking while threads
// run is the caller's choice, which `warn_if_threads` reports at run time (CPython 3.12).

use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::state::{self, Ident, RtFd};
use crate::sys::{self, Pid};

/// Runs a task the way every child does: a panic becomes exit code 1 (the
/// panic hook has already printed the message to stderr), then stdout and
/// stderr are flushed. Returns the exit code.
pub(crate) fn run_task(task: impl FnOnce()) -> i32 {
    let code = match panic::catch_unwind(AssertUnwindSafe(task)) {
        Ok(()) => 0,
        Err(payload) => {
            // Dropping a panic payload can itself panic; never risk it here.
            std::mem::forget(payload);
            1
        }
    };
    flush_stdio();
    code
}

pub(crate) fn flush_stdio() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// CPython 3.12 warns when `os.fork()` runs in a multi-threaded process;
/// so do we, once per process, unless `FORKRT_NO_FORK_WARNING=1`.
fn warn_if_threads() {
    // glibc knows for free when no thread was ever started; only then is
    // /proc/self/stat (a few microseconds per fork) worth reading, and the
    // environment (a lock and an allocation) only when there is a warning.
    if WARNED.load(Ordering::Relaxed) || sys::surely_single_threaded() {
        return;
    }
    let Some(n) = sys::thread_count() else { return };
    if n > 1 && state::fork_warning_enabled() && !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "forkrt: warning: this process (pid {}) has {n} threads; fork() copies only the \
             calling thread, so the child may deadlock on a lock another thread held \
             (use spawn or forkserver, or set FORKRT_NO_FORK_WARNING=1 to silence this)",
            sys::getpid()
        );
    }
}

type Locks = (
    std::io::StdoutLock<'static>,
    std::io::StderrLock<'static>,
    std::sync::MutexGuard<'static, state::Runtime>,
    std::sync::MutexGuard<'static, Vec<std::os::fd::RawFd>>,
);

/// The task under `catch_unwind`: a panic is exit code 1 (the hook has
/// printed it).
#[inline(always)]
fn run_in_child(task: impl FnOnce()) -> i32 {
    match panic::catch_unwind(AssertUnwindSafe(task)) {
        Ok(()) => 0,
        Err(payload) => {
            // Dropping a panic payload can itself panic; never risk it here.
            std::mem::forget(payload);
            1
        }
    }
}

/// Everything a fork needs, prepared by the parent (see [`prepare`]).
pub(crate) struct Prepared {
    /// From a thread other than the main one: the pipe whose write end's
    /// closing kills the child (see [`crate::sys::die_when_closed`]).
    sentinel: Option<(RtFd, RtFd)>,
    devnull: Option<std::os::fd::RawFd>,
    ident: Ident,
    stdout: std::io::Stdout,
    /// In a multi-threaded process, the locks held across the fork.
    held: Option<Locks>,
    /// Otherwise the runtime's descriptors, which the child closes at once
    /// while it defers the rest of its settling (see `state::Unsettled`).
    deferred: Option<RegisteredFds>,
    parent_pid: Pid,
}

/// A copy of the runtime's descriptor list, kept inline.
struct RegisteredFds {
    fds: [std::os::fd::RawFd; 16],
    len: usize,
}

/// The parent's half of a fork start, up to the `fork()` itself. Not
/// generic: only [`run`], which the child continues in, is.
pub(crate) fn prepare(ident: &Ident) -> Result<Prepared> {
    warn_if_threads();
    let sentinel = if sys::on_main_thread() {
        None
    } else {
        let mut ends = RtFd::create(sys::pipe_cloexec, |(r, w)| vec![r, w])
            .map_err(|e| Error::io("pipe for a child's parent-death sentinel", e))?;
        let w = ends.pop().expect("two fds");
        Some((ends.pop().expect("two fds"), w))
    };
    let devnull = sys::devnull();
    let stdout = std::io::stdout();
    // Another thread may hold the stdio locks or the runtime's, or change
    // the runtime's state, at the moment of the fork: then the child would
    // deadlock or see it half-changed. So in a multi-threaded process this
    // thread holds all four across fork() (flushing first, so that nothing
    // buffered is written twice). A process that never started a thread
    // needs no such guard, and releasing them before the fork spares the
    // parent copy-on-write faults after it (writing pages the fork has just
    // shared with the child).
    // (Rust's stderr is unbuffered: only its lock matters here.)
    let (held, deferred) = if sys::surely_single_threaded() {
        let _ = stdout.lock().flush();
        let reg = state::fds();
        let deferred = (sentinel.is_none() && reg.len() <= 16).then(|| {
            let mut fds = [-1; 16];
            fds[..reg.len()].copy_from_slice(&reg);
            RegisteredFds {
                fds,
                len: reg.len(),
            }
        });
        (None, deferred)
    } else {
        let mut out = stdout.lock();
        let _ = out.flush();
        let held = (out, std::io::stderr().lock(), state::rt(), state::fds());
        (Some(held), None)
    };
    Ok(Prepared {
        sentinel,
        devnull,
        // Only an identity too deep to be kept inline allocates here.
        ident: ident.clone(),
        stdout,
        held,
        deferred,
        parent_pid: sys::getpid(),
    })
}

/// Forks a child that runs `task` and leaves with `_exit`. Returns its pid
/// and, when started from a thread other than the main one, the write end of
/// the sentinel pipe: the caller keeps it until the child is reaped. `name`
/// is the process's own name if one was given (the child takes it).
///
/// Latency: a fork child's page faults are most of its cost beyond a bare
/// `fork()` (about 2 µs each in a VM; fork copies no page-table entries for
/// code, so every 64 KiB of code the child runs is a fault, and every data
/// page it writes is a copy). So the child runs this function, the task and
/// the stdio flush and little else: this function is generic, so that it
/// is compiled next to the task's own code in the caller's crate, the
/// helpers and system calls are inlined into it (`sys::raw`), the runtime
/// state shares one page (`state::SHARED`), which the child of a process
/// without threads writes only if its task uses the runtime (it settles
/// then: `state::Unsettled`), and neither side allocates or frees around
/// the fork (the parent's first write to a heap page after a fork is a
/// fault too).
#[inline]
pub(crate) fn run<T: FnOnce()>(
    task: T,
    prep: Prepared,
    name: &mut Option<String>,
    daemon: bool,
) -> Result<(Pid, Option<RtFd>)> {
    let name: *mut Option<String> = name;
    let Prepared {
        sentinel,
        devnull,
        ident,
        stdout,
        held,
        deferred,
        parent_pid,
    } = prep;
    let watch = sentinel.as_ref().map(|(r, _)| r.raw());
    // The child's identity, in this frame, for a child that settles its
    // runtime state later (see `state::Unsettled`).
    let mut unsettled = state::Unsettled {
        ident,
        daemon,
        name,
    };
    if deferred.is_some() {
        state::defer_settling(&mut unsettled, parent_pid);
    }
    // SAFETY: between fork and _exit the child only touches state whose
    // locks no other thread holds (stdio, the runtime's: see `prepare`), the
    // allocator (glibc's malloc is fork-safe through its atfork handlers) and
    // the task itself. Locks held by *other* threads of the parent are the
    // documented hazard the thread warning is about.
    match unsafe { sys::fork() } {
        Err(e) => {
            drop(held);
            Err(Error::io("fork", e))
        }
        Ok(0) if deferred.is_some() => {
            // Nothing of the runtime's page is written here: only system
            // calls, the task, and stdout's flush.
            match devnull {
                Some(fd) => sys::raw::dup2(fd, 0),
                None => sys::stdin_to_devnull(),
            }
            if let Some(RegisteredFds { fds, len }) = &deferred {
                for &fd in &fds[..*len] {
                    sys::raw::close(fd);
                }
            }
            if !sys::raw::die_with_parent() || sys::raw::getppid() != parent_pid {
                sys::raw::exit(1);
            }
            let code = run_in_child(task);
            let _ = (&stdout).flush();
            state::join_children();
            sys::raw::exit(code)
        }
        Ok(0) => {
            let (mut rt, mut reg) = match held {
                Some((out, err, rt, reg)) => {
                    // Still this (the only) thread's, and reentrant: the
                    // task's printing and the final flush take them again.
                    std::mem::forget(err);
                    std::mem::forget(out);
                    (rt, reg)
                }
                None => (state::rt(), state::fds()),
            };
            match devnull {
                Some(fd) => sys::raw::dup2(fd, 0),
                None => sys::stdin_to_devnull(),
            }
            // The runtime's channels (forkserver link, other children's
            // pidfds and connections, cached fds) belong to the parent.
            // (Except the sentinel's read end, which the child keeps.)
            for &fd in reg.iter() {
                if Some(fd) != watch {
                    sys::raw::close(fd);
                }
            }
            reg.clear();
            state::reset_cached_fds();
            drop(reg);
            // Already closed above; forgetting avoids closing reused numbers.
            std::mem::forget(rt.forkserver.take());
            // The name moves out of this (never dropped) copy of the
            // `Process`; a default name is derived from the identity.
            // SAFETY: `name` is the `&mut` this function was given.
            let name = unsafe { &mut *unsettled.name };
            let name = if name.is_some() { name.take() } else { None };
            let me = state::Identity {
                name,
                ident: unsettled.ident,
                daemon,
            };
            state::become_child(&mut rt, me, None, parent_pid as u32);
            drop(rt);
            let armed = match watch {
                Some(fd) => sys::die_when_closed(fd),
                None => sys::raw::die_with_parent(),
            };
            if !armed || sys::raw::getppid() != parent_pid {
                sys::raw::exit(1);
            }
            // The read end (already closed in the registry's eyes) stays open.
            std::mem::forget(sentinel);
            let code = run_in_child(task);
            // (stderr is unbuffered: nothing to flush.)
            let _ = (&stdout).flush();
            // As CPython's children do after their target: join our own children.
            state::join_children();
            sys::raw::exit(code)
        }
        Ok(pid) => {
            // Dropping the read end takes the registry lock this thread may hold.
            drop(held);
            drop(unsettled);
            Ok((pid, sentinel.map(|(_, w)| w)))
        }
    }
}
