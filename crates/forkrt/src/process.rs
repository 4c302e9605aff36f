//! `Process`: Python's `multiprocessing.Process`.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::context::{self, StartMethod};
use crate::error::{Error, Result};
use crate::forkserver::{self, ServedChild};
use crate::guard;
use crate::registry;
use crate::state::{self, Abandoned, GUARD_DONE, Ident, RtFd};
use crate::sys::{self, Pid};
use crate::wire::ChildRequest;
use crate::{fork, spawn};

/// The target and its argument, type-erased.
trait ErasedJob: Send {
    fn fn_type_id(&self) -> TypeId;
    fn fn_type_name(&self) -> &'static str;
    fn arg_type_id(&self) -> TypeId;
    fn args(&self) -> &dyn Any;
    /// Forks a child that runs the target (see `fork::run`, which is
    /// instantiated here, next to the target's code).
    fn fork(
        self: Box<Self>,
        prep: fork::Prepared,
        name: &mut Option<String>,
        daemon: bool,
    ) -> Result<(Pid, Option<RtFd>)>;
}

struct Job<F, A> {
    target: F,
    args: A,
}

impl<F, A> ErasedJob for Job<F, A>
where
    F: FnOnce(A) + Send + 'static,
    A: Send + 'static,
{
    fn fn_type_id(&self) -> TypeId {
        TypeId::of::<F>()
    }
    fn fn_type_name(&self) -> &'static str {
        std::any::type_name::<F>()
    }
    fn arg_type_id(&self) -> TypeId {
        TypeId::of::<A>()
    }
    fn args(&self) -> &dyn Any {
        &self.args
    }
    fn fork(
        self: Box<Self>,
        prep: fork::Prepared,
        name: &mut Option<String>,
        daemon: bool,
    ) -> Result<(Pid, Option<RtFd>)> {
        let call = move || {
            let Job { target, args } = *self;
            target(args)
        };
        fork::run(call, prep, name, daemon)
    }
}

enum Running {
    /// Our own child (fork or spawn): reaped with waitpid. Started from a
    /// thread other than the main one, it also has a sentinel: the end of a
    /// pipe or channel whose closing (when this process dies) kills it.
    Local(Pid, Option<RtFd>),
    /// A forkserver child: its status arrives over the connection.
    Served(ServedChild),
}

enum State {
    New,
    /// `start()` failed; the process cannot be started again.
    Failed,
    Running(Running),
    Exited {
        pid: Pid,
        code: i32,
    },
}

/// A child process running one task, like Python's
/// `multiprocessing.Process`.
///
/// ```no_run
/// #[forkrt::task]
/// fn work(args: (u32, String)) {
///     println!("{} {}", args.0, args.1);
/// }
///
/// #[forkrt::main]
/// fn main() -> forkrt::Result<()> {
///     let mut p = forkrt::Process::new(work, (7, "seven".to_string())).name("worker-1");
///     p.start()?;
///     p.join()?;
///     assert_eq!(p.exitcode(), Some(0));
///     Ok(())
/// }
/// ```
///
/// **Dropping** a `Process` never blocks: a child that has exited is reaped;
/// a running non-daemon child keeps running (it is reaped later, the next
/// time this process starts a child); a running *daemon* child is sent
/// SIGTERM. Every child is killed (SIGKILL) when the process that started it
/// dies, so nothing is orphaned; and as in Python, when the program ends
/// normally (`main` returns, or `exit`) the children whose `Process` was
/// dropped are joined, daemon ones terminated first (the entry guard's exit
/// handler).
pub struct Process {
    method: Option<StartMethod>,
    /// The name given with [`Process::name`]; `None` for the default.
    name: Option<String>,
    /// The default name `Process-N`, made on first request: creating (and
    /// forking) a `Process` allocates nothing (see `fork::start`).
    default_name: OnceLock<String>,
    ident: Ident,
    daemon: bool,
    /// Only touched through `&mut self`; the Mutex (never contended) makes
    /// `Process` Sync without requiring the target to be.
    job: Mutex<Option<Box<dyn ErasedJob>>>,
    state: Mutex<State>,
}

impl Process {
    /// A new process that will run `target(args)`, using the default
    /// context's start method (which is fixed when it starts, as in Python).
    ///
    /// Under `fork` any `FnOnce(A)` works, closures included, and `args` is
    /// inherited. Under `spawn` and `forkserver` the target must be a
    /// `#[forkrt::task]` function passed by name and `args` must implement
    /// serde's `Serialize + DeserializeOwned`; otherwise `start()` fails with
    /// [`Error::NotRegistered`] or [`Error::NotSerializable`].
    pub fn new<F, A>(target: F, args: A) -> Process
    where
        F: FnOnce(A) + Send + 'static,
        A: Send + 'static,
    {
        Self::with_method(None, target, args)
    }

    pub(crate) fn with_method<F, A>(method: Option<StartMethod>, target: F, args: A) -> Process
    where
        F: FnOnce(A) + Send + 'static,
        A: Send + 'static,
    {
        let n = state::next_child_number();
        let ident = state::rt().me.ident.child(n);
        Process {
            method,
            name: None,
            default_name: OnceLock::new(),
            ident,
            daemon: false,
            job: Mutex::new(Some(Box::new(Job { target, args }))),
            state: Mutex::new(State::New),
        }
    }

    /// Sets the name (default `Process-N`, as in Python); the child sees it
    /// as `current_process().name()`.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Marks the process as a daemon: dropping an unjoined daemon
    /// `Process` terminates the child (SIGTERM).
    #[must_use]
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// The process's name.
    pub fn get_name(&self) -> &str {
        match &self.name {
            Some(name) => name,
            None => self
                .default_name
                .get_or_init(|| state::default_name(self.ident.as_slice())),
        }
    }

    /// Whether the process is a daemon.
    pub fn is_daemon(&self) -> bool {
        self.daemon
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the child. Can be called once. Under spawn and forkserver it
    /// returns once the child has decoded its arguments; every failure up to
    /// that point is an `Err`, never a hang.
    pub fn start(&mut self) -> Result<()> {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if !matches!(st, State::New) {
            return Err(Error::AlreadyStarted);
        }
        let job = self.job.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        let Some(job) = job else {
            return Err(Error::AlreadyStarted);
        };
        *st = State::Failed;
        if guard::bootstrapping() {
            return Err(Error::Bootstrapping);
        }
        // Runtime channels must never land on 0-2 and become a child's stdio.
        sys::ensure_stdio_open();
        state::reap_abandoned(&mut state::rt());
        let method = self.method.unwrap_or_else(context::fix_default);
        let running = match method {
            StartMethod::Fork => {
                let prep = fork::prepare(&self.ident)?;
                let (pid, sentinel) = job.fork(prep, &mut self.name, self.daemon)?;
                Running::Local(pid, sentinel)
            }
            StartMethod::Spawn | StartMethod::Forkserver => self.start_serialized(method, job)?,
        };
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        *st = match running {
            Running::Served(ServedChild {
                pid,
                exit: Some(code),
                ..
            }) => State::Exited { pid, code },
            r => State::Running(r),
        };
        Ok(())
    }

    /// Spawn and forkserver starts. Kept out of `start` so that its stack
    /// frame stays small: the fork path's frames are copy-on-write pages
    /// the parent writes again after the fork.
    #[inline(never)]
    fn start_serialized(&self, method: StartMethod, job: Box<dyn ErasedJob>) -> Result<Running> {
        // The job (whose queues' descriptors travel with the request)
        // lives until the child has its argument.
        if method == StartMethod::Spawn {
            let (req, args, fds) = self.request(&*job, false)?;
            let (pid, sentinel) = spawn::start(&req, &args, &fds)?;
            drop(job);
            Ok(Running::Local(pid, sentinel))
        } else {
            let (mut req, args, fds) = self.request(&*job, true)?;
            let child = forkserver::start(&mut req, &args, &fds)?;
            drop(job);
            Ok(Running::Served(child))
        }
    }

    /// What a spawn/forkserver child needs: the task's registered name, the
    /// encoded argument (within the size limit) and the descriptors inside it.
    fn request(
        &self,
        job: &dyn ErasedJob,
        with_cwd: bool,
    ) -> Result<(ChildRequest, Vec<u8>, Vec<std::os::fd::RawFd>)> {
        if !GUARD_DONE.load(Ordering::Acquire) {
            return Err(Error::NotInitialized);
        }
        let entry = registry::by_fn_type(job.fn_type_id()).ok_or(Error::NotRegistered {
            type_name: job.fn_type_name(),
        })?;
        if (entry.arg_type_id)() != job.arg_type_id() {
            return Err(Error::protocol(format!(
                "task `{}` takes `{}`, not the argument it was given",
                entry.name,
                (entry.arg_type_name)()
            )));
        }
        let (args, fds) = crate::codec::encoding_with_fds(|| (entry.encode)(job.args()));
        let args = args?;
        // A spawned child inherits the working directory; a forkserver child
        // is told it.
        let cwd = if with_cwd {
            use std::os::unix::ffi::OsStringExt;
            std::env::current_dir()
                .map(|d| d.into_os_string().into_vec())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let rt = state::rt();
        let req = ChildRequest {
            task: entry.name.to_string(),
            site: entry.site.to_string(),
            fingerprint: registry::fingerprint(),
            args_len: args.len() as u64,
            nfds: fds.len() as u32,
            name: self.get_name().to_string(),
            ident: self.ident.as_slice().to_vec(),
            daemon: self.daemon,
            parent_pid: sys::getpid() as u32,
            parent_name: state::name_of(&rt.me),
            cwd,
            seq: 0,
        };
        Ok((req, args, fds))
    }

    /// Waits until the child exits, then reaps it (no zombie is left).
    pub fn join(&mut self) -> Result<()> {
        self.wait(None).map(drop)
    }

    /// Waits at most `timeout` for the child to exit. Returns its exit code
    /// if it exited, `None` if it is still running (it is *not* killed).
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<i32>> {
        self.wait(Some(Instant::now() + timeout))
    }

    fn wait(&mut self, deadline: Option<Instant>) -> Result<Option<i32>> {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let (pid, code) = match st {
            State::New | State::Failed => return Err(Error::NotStarted),
            State::Exited { code, .. } => return Ok(Some(*code)),
            State::Running(Running::Local(pid, _)) => {
                let pid = *pid;
                let code = match deadline {
                    None => sys::waitpid(pid, false).map_err(|e| Error::io("waitpid", e))?,
                    Some(d) => wait_local(pid, d)?,
                };
                (pid, code)
            }
            State::Running(Running::Served(c)) => {
                let pid = c.pid;
                match c.wait(deadline) {
                    Ok(code) => (pid, code),
                    Err(e) => {
                        // The server died and the child with it: it reads
                        // as ended, and this join says why.
                        if let Some(code) = c.exit {
                            *st = State::Exited { pid, code };
                        }
                        return Err(e);
                    }
                }
            }
        };
        if let Some(code) = code {
            *st = State::Exited { pid, code };
        }
        Ok(code)
    }

    /// Checks without blocking whether the child has exited (reaping it if
    /// so). Errors count as "not running".
    fn poll(st: &mut State) {
        let done = match st {
            State::Running(Running::Local(pid, _)) => match sys::waitpid(*pid, true) {
                Ok(None) => None,
                Ok(Some(code)) => Some((*pid, code)),
                Err(_) => None,
            },
            State::Running(Running::Served(c)) => match c.poll() {
                Ok(Some(code)) => Some((c.pid, code)),
                // The server died: the exit code it left (see `ServedChild::wait`).
                _ => c.exit.map(|code| (c.pid, code)),
            },
            _ => None,
        };
        if let Some((pid, code)) = done {
            *st = State::Exited { pid, code };
        }
    }

    /// True from a successful `start()` until the child exits.
    pub fn is_alive(&self) -> bool {
        let mut st = self.lock();
        Self::poll(&mut st);
        matches!(*st, State::Running(_))
    }

    /// The child's pid, once started.
    pub fn pid(&self) -> Option<u32> {
        match &*self.lock() {
            State::Running(Running::Local(pid, _)) | State::Exited { pid, .. } => Some(*pid as u32),
            State::Running(Running::Served(c)) => Some(c.pid as u32),
            _ => None,
        }
    }

    /// `None` while the child runs (or before it starts); then its exit code,
    /// or `-signum` if a signal killed it — Python's `exitcode`.
    pub fn exitcode(&self) -> Option<i32> {
        let mut st = self.lock();
        Self::poll(&mut st);
        match *st {
            State::Exited { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Sends SIGTERM (Python's `terminate()`). No effect once it has exited.
    pub fn terminate(&self) -> Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Sends SIGKILL (Python's `kill()`). No effect once it has exited.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    fn signal(&self, sig: libc::c_int) -> Result<()> {
        let mut st = self.lock();
        Self::poll(&mut st);
        match &mut *st {
            State::New | State::Failed => Err(Error::NotStarted),
            State::Exited { .. } => Ok(()),
            // Not reaped yet, so the pid cannot have been reused.
            State::Running(Running::Local(pid, _)) => match sys::kill(*pid, sig) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => Err(Error::io("kill", e)),
                _ => Ok(()),
            },
            State::Running(Running::Served(c)) => c.signal(sig),
        }
    }
}

/// Waits for our own child until `deadline`: poll(2) on a pidfd where the
/// kernel has them, short sleeps otherwise.
fn wait_local(pid: Pid, deadline: Instant) -> Result<Option<i32>> {
    if let Some(code) = sys::waitpid(pid, true).map_err(|e| Error::io("waitpid", e))? {
        return Ok(Some(code));
    }
    if let Ok(pidfd) = RtFd::one(|| {
        sys::pidfd_open(pid).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Unsupported))
    }) {
        sys::poll_one(pidfd.raw(), libc::POLLIN, Some(deadline))
            .map_err(|e| Error::io("poll on a pidfd", e))?;
        return sys::waitpid(pid, true).map_err(|e| Error::io("waitpid", e));
    }
    let mut step = 0;
    loop {
        if let Some(code) = sys::waitpid(pid, true).map_err(|e| Error::io("waitpid", e))? {
            return Ok(Some(code));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        sys::backoff_sleep(&mut step);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let st = std::mem::replace(
            self.state.get_mut().unwrap_or_else(|e| e.into_inner()),
            State::New,
        );
        let daemon = self.daemon;
        match st {
            State::Running(Running::Local(pid, sentinel)) => {
                if let Ok(None) = sys::waitpid(pid, true) {
                    if daemon {
                        let _ = sys::kill(pid, libc::SIGTERM);
                    }
                    // The sentinel lives until the child is reaped: closing it
                    // now would kill a child that should outlive its handle.
                    state::rt().abandoned.push(Abandoned::Local {
                        pid,
                        sentinel,
                        daemon,
                    });
                }
            }
            State::Running(Running::Served(mut child)) => {
                if matches!(child.poll(), Ok(None)) {
                    if daemon {
                        let _ = child.signal(libc::SIGTERM);
                    }
                    state::rt()
                        .abandoned
                        .push(Abandoned::Served { child, daemon });
                }
            }
            _ => {}
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.get_name())
            .field("method", &self.method)
            .field("daemon", &self.daemon)
            .field("pid", &self.pid())
            .field("exitcode", &self.exitcode())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn process_and_context_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Process>();
        check::<crate::Context>();
        check::<crate::Error>();
    }
}
