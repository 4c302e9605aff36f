//! Process-wide runtime state: who this process is, the runtime's own file
//! descriptors, abandoned children, configuration.
//!
//! Lock order (to stay deadlock-free, also across `fork`): stdout → stderr →
//! [`RT`] → [`FDS`]. Nothing prints while holding `RT` or `FDS`.

// fork-lint: allow-file(FL004) -- the fork path holds `RT` and `FDS` across `fork()`, so
// no other thread can hold them then; the child takes them after dropping its guards.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::forkserver::{ServedChild, ServerHandle};
use crate::sys::{self, Pid};

/// Environment variable that marks a re-executed child and tells its guard
/// what to do (`spawn:<fd>:<ppid>` or `forkserver:<fd>:<ppid>`).
pub(crate) const ROLE_ENV: &str = "FORKRT_ROLE";
/// Handshake timeout override, in milliseconds.
pub(crate) const HANDSHAKE_ENV: &str = "FORKRT_HANDSHAKE_TIMEOUT_MS";
/// Set to `1` to silence the fork-with-threads warning.
pub(crate) const NO_FORK_WARNING_ENV: &str = "FORKRT_NO_FORK_WARNING";

const DEFAULT_HANDSHAKE: Duration = Duration::from_secs(5);

/// Set once the entry guard has run in this process (inherited by forks).
pub(crate) static GUARD_DONE: AtomicBool = AtomicBool::new(false);

/// Counter for Python-style child identities (`Process-1`, `Process-1:2`).
pub(crate) static NEXT_CHILD: AtomicU32 = AtomicU32::new(1);

/// Who this process is, in Python's terms.
#[derive(Clone, Debug, Default)]
pub(crate) struct Identity {
    /// `None` means the main process ("MainProcess").
    pub name: Option<String>,
    pub ident: Vec<u32>,
    pub daemon: bool,
}

pub(crate) struct Runtime {
    pub me: Identity,
    /// Name and pid of the process that started this one.
    pub parent: Option<(String, u32)>,
    pub forkserver: Option<ServerHandle>,
    /// Children whose `Process` was dropped before they were reaped; reaped
    /// opportunistically (WNOHANG) so that they never stay zombies for long,
    /// and joined when the program ends ([`join_children`]).
    pub abandoned: Vec<Abandoned>,
}

/// A child whose `Process` was dropped while it ran.
pub(crate) enum Abandoned {
    /// Our own child, with its parent-death sentinel (kept until reaped).
    Local {
        pid: Pid,
        sentinel: Option<RtFd>,
        daemon: bool,
    },
    /// A forkserver child; its connection carries the exit status.
    Served { child: ServedChild, daemon: bool },
}

impl Abandoned {
    /// True once the child has exited (and been reaped); never blocks.
    fn finished(&mut self) -> bool {
        match self {
            Abandoned::Local { pid, .. } => !matches!(sys::waitpid(*pid, true), Ok(None)),
            Abandoned::Served { child, .. } => !matches!(child.poll(), Ok(None)),
        }
    }
}

pub(crate) static RT: Mutex<Runtime> = Mutex::new(Runtime {
    me: Identity {
        name: None,
        ident: Vec::new(),
        daemon: false,
    },
    parent: None,
    forkserver: None,
    abandoned: Vec::new(),
});

pub(crate) fn rt() -> MutexGuard<'static, Runtime> {
    RT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Descriptors owned by the runtime. A fork child closes all of them first
/// thing, so that no runtime channel leaks into children (CLOEXEC covers
/// exec, this covers fork).
pub(crate) static FDS: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

pub(crate) fn fds() -> MutexGuard<'static, Vec<RawFd>> {
    FDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// An fd registered in [`FDS`] for its whole life.
#[derive(Debug)]
pub(crate) struct RtFd(Option<OwnedFd>);

impl RtFd {
    /// Creates fd(s) with `make` while holding the registry lock, so that no
    /// concurrent fork can see them unregistered.
    pub(crate) fn create<T>(
        make: impl FnOnce() -> std::io::Result<T>,
        split: impl FnOnce(T) -> Vec<OwnedFd>,
    ) -> std::io::Result<Vec<RtFd>> {
        let mut reg = fds();
        let made = split(make()?);
        Ok(made
            .into_iter()
            .map(|fd| {
                reg.push(fd.as_raw_fd());
                RtFd(Some(fd))
            })
            .collect())
    }

    pub(crate) fn one(make: impl FnOnce() -> std::io::Result<OwnedFd>) -> std::io::Result<RtFd> {
        Ok(Self::create(make, |fd| vec![fd])?.pop().expect("one fd"))
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_ref().expect("live fd").as_raw_fd()
    }
}

impl AsRawFd for RtFd {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

impl Drop for RtFd {
    fn drop(&mut self) {
        if let Some(fd) = self.0.take() {
            // Unregister and close under the lock: a fork in between would
            // otherwise inherit an unregistered fd, or close a reused number.
            let mut reg = fds();
            let raw = fd.as_raw_fd();
            if let Some(i) = reg.iter().position(|&r| r == raw) {
                reg.swap_remove(i);
            }
            drop(fd);
        }
    }
}

/// Argument size limit override, in bytes.
pub(crate) const MAX_ARG_ENV: &str = "FORKRT_MAX_ARG_BYTES";
const DEFAULT_MAX_ARG: usize = 1 << 30;
/// 0 = not set by [`set_max_arg_bytes`].
static MAX_ARG: AtomicUsize = AtomicUsize::new(0);

/// The largest encoded task argument that spawn and forkserver accept
/// (checked at `start()`, before any child exists): what
/// [`set_max_arg_bytes`] set, else `FORKRT_MAX_ARG_BYTES`, else 1 GiB.
pub fn max_arg_bytes() -> usize {
    match MAX_ARG.load(Ordering::Relaxed) {
        0 => {
            static FROM_ENV: OnceLock<usize> = OnceLock::new();
            *FROM_ENV.get_or_init(|| {
                std::env::var(MAX_ARG_ENV)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or(DEFAULT_MAX_ARG)
            })
        }
        n => n,
    }
}

/// Sets the argument size limit of this process (see [`max_arg_bytes`]).
pub fn set_max_arg_bytes(bytes: usize) {
    MAX_ARG.store(bytes.max(1), Ordering::Relaxed);
}

/// Handshake timeout: `FORKRT_HANDSHAKE_TIMEOUT_MS`, default 5 s.
pub(crate) fn handshake_timeout() -> Duration {
    static T: OnceLock<Duration> = OnceLock::new();
    *T.get_or_init(|| {
        std::env::var(HANDSHAKE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_HANDSHAKE)
    })
}

/// Reaps abandoned children that have exited since (never blocks).
pub(crate) fn reap_abandoned(rt: &mut Runtime) {
    rt.abandoned.retain_mut(|a| !a.finished());
}

/// What CPython's exit handler does, for the children whose `Process` was
/// dropped unjoined: daemon children are terminated (SIGTERM, then SIGKILL
/// after a second), and every child is joined, so that no work is lost when
/// `main` returns. Runs at exit of a program whose guard ran, and in every
/// child after its task.
pub(crate) fn join_children() {
    let mut list = std::mem::take(&mut rt().abandoned);
    let grace = std::time::Instant::now() + Duration::from_secs(1);
    for a in &mut list {
        match a {
            Abandoned::Local {
                pid, daemon: true, ..
            } => {
                let _ = sys::kill(*pid, libc::SIGTERM);
            }
            Abandoned::Served {
                child,
                daemon: true,
            } => {
                let _ = child.signal(libc::SIGTERM);
            }
            _ => {}
        }
    }
    for a in list {
        match a {
            Abandoned::Local {
                pid,
                sentinel,
                daemon,
            } => {
                if daemon {
                    crate::spawn::reap_bounded(
                        pid,
                        grace.saturating_duration_since(std::time::Instant::now()),
                    );
                } else {
                    let _ = sys::waitpid(pid, false);
                }
                drop(sentinel);
            }
            Abandoned::Served { mut child, daemon } => {
                if daemon {
                    if let Ok(None) = child.wait(Some(grace)) {
                        let _ = child.signal(libc::SIGKILL);
                        let _ = child.wait(None);
                    }
                } else {
                    let _ = child.wait(None);
                }
            }
        }
    }
}

/// A snapshot of a process's identity, as returned by [`current_process`]
/// and [`parent_process`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    name: String,
    pid: u32,
    daemon: bool,
}

impl ProcessInfo {
    /// The process's name: `"MainProcess"` for the main process, the
    /// [`Process`](crate::Process)'s name (default `Process-N`) in a child.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process was started as a daemon (always `false` for the
    /// main process and for [`parent_process`]).
    pub fn daemon(&self) -> bool {
        self.daemon
    }
}

pub(crate) fn my_name(me: &Identity) -> String {
    me.name.clone().unwrap_or_else(|| "MainProcess".to_string())
}

/// This process, like Python's `multiprocessing.current_process()`.
pub fn current_process() -> ProcessInfo {
    let rt = rt();
    ProcessInfo {
        name: my_name(&rt.me),
        pid: sys::getpid() as u32,
        daemon: rt.me.daemon,
    }
}

/// The process that started this one, like Python's
/// `multiprocessing.parent_process()`; `None` in the main process.
pub fn parent_process() -> Option<ProcessInfo> {
    rt().parent.as_ref().map(|(name, pid)| ProcessInfo {
        name: name.clone(),
        pid: *pid,
        daemon: false,
    })
}

/// Sets this process's identity; used by every child right after it starts.
pub(crate) fn become_child(
    rt: &mut Runtime,
    name: String,
    ident: Vec<u32>,
    daemon: bool,
    parent: (String, u32),
) {
    // The old values are forgotten rather than dropped: in a fork child of
    // a multi-threaded parent we avoid calling into the allocator here
    // (the arguments were allocated before the fork).
    std::mem::forget(std::mem::replace(
        &mut rt.me,
        Identity {
            name: Some(name),
            ident,
            daemon,
        },
    ));
    std::mem::forget(rt.parent.replace(parent));
    // The parent's children and their sentinels (already closed in a fork
    // child, never open in a spawned one) are not ours.
    std::mem::forget(std::mem::take(&mut rt.abandoned));
    NEXT_CHILD.store(1, Ordering::Relaxed);
}

/// True if the fork-with-threads warning is not silenced.
pub(crate) fn fork_warning_enabled() -> bool {
    !matches!(
        std::env::var_os(NO_FORK_WARNING_ENV).as_deref(),
        Some(v) if v == "1" || v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes")
    )
}
