//! The fork start method, and the code every child runs around its task.

// fork-lint: allow-file(FL004, FL007) -- the fork method runs the user's target in the
// child, so the child is only as async-signal-safe as the target; forking while threads
// run is the caller's choice, which `warn_if_threads` reports at run time (CPython 3.12).

use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::state::{self, RtFd};
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
    if WARNED.load(Ordering::Relaxed) || !state::fork_warning_enabled() {
        return;
    }
    // glibc knows for free when no thread was ever started; only then is
    // /proc/self/stat (a few microseconds per fork) worth reading.
    if sys::surely_single_threaded() {
        return;
    }
    let Some(n) = sys::thread_count() else { return };
    if n > 1 && !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "forkrt: warning: this process (pid {}) has {n} threads; fork() copies only the \
             calling thread, so the child may deadlock on a lock another thread held \
             (use spawn or forkserver, or set FORKRT_NO_FORK_WARNING=1 to silence this)",
            sys::getpid()
        );
    }
}

/// Forks a child that runs `task` and leaves with `_exit`. Returns its pid and,
/// when started from a thread other than the main one, the write end of the
/// pipe whose closing kills the child (see [`crate::sys::die_when_closed`]):
/// the caller keeps it until the child is reaped.
pub(crate) fn start(
    task: Box<dyn FnOnce()>,
    name: &str,
    ident: &[u32],
    daemon: bool,
) -> Result<(Pid, Option<RtFd>)> {
    warn_if_threads();
    let sentinel = if sys::on_main_thread() {
        None
    } else {
        let mut ends = RtFd::create(sys::pipe_cloexec, |(r, w)| vec![r, w])
            .map_err(|e| Error::io("pipe for a child's parent-death sentinel", e))?;
        let w = ends.pop().expect("two fds");
        Some((ends.pop().expect("two fds"), w))
    };
    let watch = sentinel.as_ref().map(|(r, _)| r.raw());
    let devnull = sys::devnull();
    // Holding the stdio locks across fork() does two things: nothing that is
    // buffered gets written twice (we flush first), and no other thread can
    // be holding them when the child inherits them, so the child's own
    // printing and final flush cannot deadlock.
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let _ = out.flush();
    let _ = err.flush();
    let mut rt = state::rt();
    // Everything the child needs is allocated before the fork.
    let parent_pid = sys::getpid();
    let parent = (state::my_name(&rt.me), parent_pid as u32);
    let child_name = name.to_string();
    let child_ident = ident.to_vec();
    let mut reg = state::fds();
    // SAFETY: between fork and _exit the child only touches state whose
    // locks this thread holds (stdio, RT, FDS), the allocator (glibc's malloc
    // is fork-safe through its atfork handlers) and the task itself. Locks
    // held by *other* threads of the parent are the documented hazard the
    // warning above is about.
    match unsafe { sys::fork() } {
        Err(e) => {
            drop(reg);
            Err(Error::io("fork", e))
        }
        Ok(0) => {
            // The child's system calls go through one `syscall(2)` entry
            // rather than a libc wrapper each: after fork the child faults
            // in every code page it runs, and each wrapper is another page.
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
            sys::reset_cached_fds();
            drop(reg);
            // Already closed above; forgetting avoids closing reused numbers.
            std::mem::forget(rt.forkserver.take());
            state::become_child(&mut rt, child_name, child_ident, daemon, parent);
            drop(rt);
            // The stdio locks stay held by this (the only) thread: they are
            // reentrant, so the task's printing and the final flush take
            // them again, and no other thread exists to want them.
            std::mem::forget(err);
            std::mem::forget(out);
            let armed = match watch {
                Some(fd) => sys::die_when_closed(fd),
                None => sys::raw::die_with_parent(),
            };
            if !armed || sys::raw::getppid() != parent_pid {
                sys::raw::exit(1);
            }
            // The read end (already closed in the registry's eyes) stays open.
            std::mem::forget(sentinel);
            let code = run_task(task);
            // As CPython's children do after their target: join our own children.
            state::join_children();
            sys::raw::exit(code)
        }
        Ok(pid) => {
            // Dropping the read end takes the registry lock this thread holds.
            drop(reg);
            Ok((pid, sentinel.map(|(_, w)| w)))
        }
    }
}
