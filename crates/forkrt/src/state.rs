//! Process-wide runtime state: who this process is, the runtime's own file
//! descriptors, abandoned children, configuration.
//!
//! Lock order (to stay deadlock-free, also across `fork`): stdout → stderr →
//! [`rt`] → [`fds`]. Nothing prints while holding either.

// fork-lint: allow-file(FL004) -- the fork path holds `rt()` and `fds()` across `fork()`, so
// no other thread can hold them then; the child takes them after dropping its guards.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::forkserver::{ServedChild, ServerHandle};
use crate::sys::{self, Pid};

/// Environment variable that marks a re-executed child and tells its guard
/// what to do (`spawn:<fd>:<ppid>:<name>` or `forkserver:<fd>:<ppid>:<name>`,
/// `name` being the binary's, which the child takes for itself).
pub(crate) const ROLE_ENV: &str = "FORKRT_ROLE";
/// Handshake timeout override, in milliseconds.
pub(crate) const HANDSHAKE_ENV: &str = "FORKRT_HANDSHAKE_TIMEOUT_MS";
/// Set to `1` to silence the fork-with-threads warning.
pub(crate) const NO_FORK_WARNING_ENV: &str = "FORKRT_NO_FORK_WARNING";

const DEFAULT_HANDSHAKE: Duration = Duration::from_secs(5);

/// Set once the entry guard has run in this process (inherited by forks).
pub(crate) static GUARD_DONE: AtomicBool = AtomicBool::new(false);

/// A Python identity (`Process-1:2` is `[1, 2]`), kept inline up to a
/// depth of [`Ident::INLINE`], so that creating and forking a `Process`
/// allocates nothing: in a fork child, and in the parent right after a fork,
/// the first write to a heap page is a copy-on-write fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ident {
    Inline(u8, [u32; Ident::INLINE]),
    Heap(Vec<u32>),
}

impl Ident {
    pub const INLINE: usize = 6;

    pub const fn empty() -> Ident {
        Ident::Inline(0, [0; Ident::INLINE])
    }

    pub fn as_slice(&self) -> &[u32] {
        match self {
            Ident::Inline(n, a) => &a[..*n as usize],
            Ident::Heap(v) => v,
        }
    }

    #[inline]
    pub fn from_slice(s: &[u32]) -> Ident {
        if s.len() <= Ident::INLINE {
            // A fixed-length copy: no call to memcpy (a libc page) in a
            // forkserver child.
            let a = std::array::from_fn(|k| s.get(k).copied().unwrap_or(0));
            Ident::Inline(s.len() as u8, a)
        } else {
            Ident::Heap(s.to_vec())
        }
    }

    /// This identity with `n` appended: a child's.
    pub fn child(&self, n: u32) -> Ident {
        match self {
            Ident::Inline(len, a) if (*len as usize) < Ident::INLINE => {
                let mut a = *a;
                a[*len as usize] = n;
                Ident::Inline(len + 1, a)
            }
            _ => {
                let mut v = self.as_slice().to_vec();
                v.push(n);
                Ident::Heap(v)
            }
        }
    }
}

/// Who this process is, in Python's terms.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    /// A name given by the program (or received from a spawning parent);
    /// `None` means the default: "MainProcess" for an empty identity, else
    /// `Process-<ident>`.
    pub name: Option<String>,
    pub ident: Ident,
    pub daemon: bool,
}

impl Identity {
    pub const MAIN: Identity = Identity {
        name: None,
        ident: Ident::empty(),
        daemon: false,
    };

    /// A parent known by name only (spawn and forkserver children).
    pub fn named(name: String) -> Identity {
        // Field by field: built from immediates, not copied from a constant
        // (a read-only data page in a forkserver child).
        Identity {
            name: Some(name),
            ident: Ident::Inline(0, [0; Ident::INLINE]),
            daemon: false,
        }
    }
}

/// Python's default name for identity `ident`: `Process-1:2`.
pub(crate) fn default_name(ident: &[u32]) -> String {
    if ident.is_empty() {
        return "MainProcess".to_string();
    }
    let mut name = String::from("Process-");
    for (i, n) in ident.iter().enumerate() {
        if i > 0 {
            name.push(':');
        }
        name.push_str(&n.to_string());
    }
    name
}

pub(crate) struct Runtime {
    pub me: Identity,
    /// Who started this process, and its pid.
    pub parent: Option<(Identity, u32)>,
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

/// The runtime state a fork child writes, together in one page: every page
/// a child writes is a copy-on-write fault (about 2 µs in a VM), and so is
/// every page the parent writes again after a fork.
#[repr(C, align(4096))]
pub(crate) struct Shared {
    rt: Mutex<Runtime>,
    /// Descriptors owned by the runtime. A fork child closes all of them
    /// first thing, so that no runtime channel leaks into children (CLOEXEC
    /// covers exec, this covers fork).
    fds: Mutex<Vec<RawFd>>,
    /// Counter for Python-style child identities (`Process-1`, `Process-1:2`).
    pub next_child: AtomicU32,
    /// Descriptors opened once and kept (see `sys::cached_fd`), -1 until then.
    devnull_fd: AtomicI32,
    proc_stat_fd: AtomicI32,
    /// Set before a fork whose child leaves its runtime state unsettled
    /// (see [`Unsettled`]): the parent's pid; 0 otherwise.
    unsettled_parent: AtomicI32,
    /// That child's identity, in the forking frame (valid in the child, which
    /// never returns from it; never read by the parent).
    unsettled: AtomicPtr<Unsettled>,
}

/// What a fork child needs to settle its runtime state (identity, the
/// parent's descriptors and server forgotten) — done on its first use of the
/// runtime rather than at once, so that a child that never uses it (an empty
/// task, most tasks) writes nothing of this page: a copy-on-write fault
/// less (see `fork::run`). Only forks from a process without threads defer
/// (no other thread can hold or change the state across the fork). The
/// child closes the parent's runtime descriptors at once all the same.
pub(crate) struct Unsettled {
    pub ident: Ident,
    pub daemon: bool,
    /// The child's copy of the `Process`'s name: taken at settling.
    pub name: *mut Option<String>,
}

const _: () = assert!(std::mem::size_of::<Shared>() <= 4096);

pub(crate) static SHARED: Shared = Shared {
    rt: Mutex::new(Runtime {
        me: Identity::MAIN,
        parent: None,
        forkserver: None,
        abandoned: Vec::new(),
    }),
    fds: Mutex::new(Vec::new()),
    next_child: AtomicU32::new(1),
    devnull_fd: AtomicI32::new(-1),
    proc_stat_fd: AtomicI32::new(-1),
    unsettled_parent: AtomicI32::new(0),
    unsettled: AtomicPtr::new(std::ptr::null_mut()),
};

#[inline]
pub(crate) fn rt() -> MutexGuard<'static, Runtime> {
    settle();
    SHARED.rt.lock().unwrap_or_else(|e| e.into_inner())
}

#[inline]
pub(crate) fn fds() -> MutexGuard<'static, Vec<RawFd>> {
    settle();
    SHARED.fds.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh number for a child's identity.
pub(crate) fn next_child_number() -> u32 {
    settle();
    SHARED.next_child.fetch_add(1, Ordering::Relaxed)
}

/// The slots of the runtime's cached descriptors (see `sys::cached_fd`).
pub(crate) fn cached_fd_slots() -> (&'static AtomicI32, &'static AtomicI32) {
    settle();
    (&SHARED.devnull_fd, &SHARED.proc_stat_fd)
}

/// Settles the state of a fork child that deferred it, before any use.
#[inline]
fn settle() {
    if SHARED.unsettled_parent.load(Ordering::Acquire) != 0 {
        settle_now();
    }
}

/// Before a fork: the child will settle its state itself, on first use.
/// Call only from a process without other threads (`parent_pid` is its
/// pid), with `who` in the frame that forks (it outlives the child's every
/// use of it).
pub(crate) fn defer_settling(who: &mut Unsettled, parent_pid: Pid) {
    settle();
    SHARED.unsettled.store(who, Ordering::Relaxed);
    SHARED.unsettled_parent.store(parent_pid, Ordering::Release);
}

/// True in a fork child that has not settled (it has used no part of the
/// runtime, so it has no children to join either). Costs a system call
/// only right after a deferring fork.
#[inline]
pub(crate) fn is_unsettled_child() -> bool {
    let parent = SHARED.unsettled_parent.load(Ordering::Acquire);
    // (Inlined system call: this runs in the child after its task.)
    parent != 0 && parent != sys::raw::getpid()
}

#[cold]
#[inline(never)]
fn settle_now() {
    let mut rt = SHARED.rt.lock().unwrap_or_else(|e| e.into_inner());
    let mut reg = SHARED.fds.lock().unwrap_or_else(|e| e.into_inner());
    let parent = SHARED.unsettled_parent.load(Ordering::Acquire);
    if parent == 0 {
        return; // another thread did it
    }
    if parent != sys::getpid() {
        // The forked child (or a process it forked by other means before
        // using the runtime): the parent's descriptors (closed at the fork)
        // and server are not ours.
        reg.clear();
        SHARED.proc_stat_fd.store(-1, Ordering::Relaxed);
        SHARED.devnull_fd.store(-1, Ordering::Relaxed);
        std::mem::forget(rt.forkserver.take());
        // SAFETY: set by `defer_settling` in the parent just before the
        // fork, pointing into the forking frame, which this process never
        // left (the child leaves by `_exit`); only this process reads it,
        // under both locks.
        let who = unsafe { &mut *SHARED.unsettled.load(Ordering::Relaxed) };
        // SAFETY: the child's copy of the `Process`'s name, which nothing
        // else in the child uses.
        let name = unsafe { (*who.name).take() };
        let ident = std::mem::replace(&mut who.ident, Ident::empty());
        let me = Identity {
            name,
            ident,
            daemon: who.daemon,
        };
        become_child(&mut rt, me, None, parent as u32);
    }
    SHARED.unsettled_parent.store(0, Ordering::Release);
}

/// An fd registered in the runtime's descriptor list for its whole life.
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

    #[inline]
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
#[inline]
pub(crate) fn join_children() {
    // Checked inline: a child that dropped no running `Process` (the usual
    // case) touches no other code page on its way out, and one that never
    // settled has started none.
    if is_unsettled_child() {
        return;
    }
    let list = std::mem::take(&mut rt().abandoned);
    if !list.is_empty() {
        join_abandoned(list);
    }
}

#[cold]
#[inline(never)]
fn join_abandoned(mut list: Vec<Abandoned>) {
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

/// The name of `who`: given, or Python's default.
pub(crate) fn name_of(who: &Identity) -> String {
    match &who.name {
        Some(name) => name.clone(),
        None => default_name(who.ident.as_slice()),
    }
}

/// This process, like Python's `multiprocessing.current_process()`.
pub fn current_process() -> ProcessInfo {
    let rt = rt();
    ProcessInfo {
        name: name_of(&rt.me),
        pid: sys::getpid() as u32,
        daemon: rt.me.daemon,
    }
}

/// The process that started this one, like Python's
/// `multiprocessing.parent_process()`; `None` in the main process.
pub fn parent_process() -> Option<ProcessInfo> {
    rt().parent.as_ref().map(|(who, pid)| ProcessInfo {
        name: name_of(who),
        pid: *pid,
        daemon: false,
    })
}

/// Sets this process's identity; used by every child right after it starts.
/// `parent` is who started it: `None` in a fork child, whose parent is the
/// identity it inherited.
#[inline]
pub(crate) fn become_child(rt: &mut Runtime, me: Identity, parent: Option<Identity>, ppid: u32) {
    // Nothing is dropped here: in a fork child a free writes to heap pages
    // (copy-on-write faults), and in one of a multi-threaded parent we keep
    // out of the allocator. The inherited values are the parent's anyway.
    let inherited = std::mem::replace(&mut rt.me, me);
    let parent = match parent {
        Some(p) => {
            std::mem::forget(inherited);
            p
        }
        None => inherited,
    };
    std::mem::forget(rt.parent.replace((parent, ppid)));
    // The parent's children and their sentinels (already closed in a fork
    // child, never open in a spawned one) are not ours.
    std::mem::forget(std::mem::take(&mut rt.abandoned));
    SHARED.next_child.store(1, Ordering::Relaxed);
}

/// In an eagerly settled fork child: forget the parent's cached descriptors
/// (closed with the other registered ones).
#[inline]
pub(crate) fn reset_cached_fds() {
    SHARED.proc_stat_fd.store(-1, Ordering::Relaxed);
    SHARED.devnull_fd.store(-1, Ordering::Relaxed);
}

/// True if the fork-with-threads warning is not silenced.
pub(crate) fn fork_warning_enabled() -> bool {
    !matches!(
        std::env::var_os(NO_FORK_WARNING_ENV).as_deref(),
        Some(v) if v == "1" || v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_inline_and_deep() {
        let mut id = Ident::empty();
        assert_eq!(default_name(id.as_slice()), "MainProcess");
        for n in 1..=9 {
            id = id.child(n);
        }
        assert_eq!(id.as_slice(), &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(matches!(id, Ident::Heap(_)));
        assert_eq!(default_name(id.as_slice()), "Process-1:2:3:4:5:6:7:8:9");
        let short = Ident::from_slice(&[3, 1]);
        assert!(matches!(short, Ident::Inline(2, _)));
        assert_eq!(short.child(7).as_slice(), &[3, 1, 7]);
        assert_eq!(Ident::from_slice(id.as_slice()), id);
        let me = Identity {
            name: None,
            ident: short,
            daemon: false,
        };
        assert_eq!(name_of(&me), "Process-3:1");
        assert_eq!(name_of(&Identity::named("w".into())), "w");
    }
}
