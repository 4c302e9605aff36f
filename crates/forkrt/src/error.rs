//! The runtime's error type.

use std::fmt;
use std::io;
use std::time::Duration;

/// `forkrt`'s result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when starting, waiting for or talking to a
/// child process.
///
/// Every message says what happened and what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The argument of a task cannot cross a process boundary: under `spawn`
    /// and `forkserver` arguments are serialized with serde, and this type
    /// does not implement `Serialize + DeserializeOwned`. Under `fork` the same
    /// value is simply inherited.
    NotSerializable {
        /// `std::any::type_name` of the argument, e.g. `std::fs::File`.
        type_name: &'static str,
    },
    /// `set_start_method` was called after the start method was fixed (by an
    /// earlier `set_start_method`, `get_start_method` or the first start with
    /// the default context). Python raises `RuntimeError('context has already
    /// been set')`.
    ContextAlreadySet,
    /// A process was started by a child of `spawn`/`forkserver` before that
    /// child reached its entry guard (`#[forkrt::main]` / `forkrt::init()`).
    Bootstrapping,
    /// `spawn`/`forkserver` were used in a program whose `main` never ran the
    /// entry guard, so a re-executed child would run `main` from the top.
    NotInitialized,
    /// The target is not a function marked `#[forkrt::task]` (a closure, a
    /// function pointer, or a plain function), so a re-executed child cannot
    /// find it.
    NotRegistered {
        /// `std::any::type_name` of the target.
        type_name: &'static str,
    },
    /// A spawned child did not reach its entry guard within the handshake
    /// timeout; it was killed and reaped.
    HandshakeTimeout {
        /// Pid of the child that was killed.
        pid: u32,
        /// The timeout that elapsed (`FORKRT_HANDSHAKE_TIMEOUT_MS`).
        timeout: Duration,
    },
    /// A spawned child exited before it reached its entry guard.
    ChildExitedBeforeGuard {
        /// Pid of the child.
        pid: u32,
        /// Its exit code (`-signum` if killed by a signal), if it could be
        /// collected.
        exitcode: Option<i32>,
    },
    /// A system call failed.
    Io {
        /// What the runtime was doing.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A message on a runtime channel was malformed, truncated or unexpected.
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// The child could not decode the task's arguments (or the parent could
    /// not encode them).
    Decode {
        /// The task's name.
        task: String,
        /// The codec's message.
        message: String,
    },
    /// The forkserver could not be started, or died and could not be
    /// restarted.
    ForkserverUnavailable {
        /// Why.
        reason: String,
    },
    /// `start()` was called twice on the same `Process`.
    AlreadyStarted,
    /// `join`/`terminate`/... on a `Process` that was never started.
    NotStarted,
    /// A start method name that is not `fork`, `spawn` or `forkserver`.
    UnknownStartMethod {
        /// The name that was given.
        name: String,
    },
    /// The encoded argument of a task is over the argument size limit
    /// ([`max_arg_bytes`](crate::max_arg_bytes), `FORKRT_MAX_ARG_BYTES`);
    /// checked before any child starts.
    ArgumentTooLarge {
        /// The task's name.
        task: String,
        /// The encoded size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A resource ran out (file descriptors, processes); `message` names it
    /// and what to do.
    ResourceLimit {
        /// What ran out, where, and what to do.
        message: String,
    },
    /// A task run by a [`Pool`](crate::Pool) panicked; only its own item fails.
    TaskPanicked {
        /// The task's name.
        task: String,
        /// The panic message.
        message: String,
    },
    /// A pool worker died (killed, or left with `exit`) while it ran this
    /// item; the pool replaced it.
    WorkerDied {
        /// The worker's pid.
        pid: u32,
        /// Its exit code (`-signum` if killed by a signal), if known.
        exitcode: Option<i32>,
    },
    /// The pool was closed or terminated: it takes no more work.
    PoolClosed,
    /// The other end of a [`Queue`](crate::Queue) or
    /// [`Connection`](crate::Connection) is closed everywhere.
    Disconnected,
}

impl Error {
    /// An OS error while doing `op`. Running out of descriptors or processes
    /// becomes [`Error::ResourceLimit`] with what to do about it.
    pub(crate) fn io(op: &'static str, source: io::Error) -> Self {
        match source.raw_os_error() {
            Some(libc::EMFILE) => Error::ResourceLimit {
                message: format!(
                    "this process ran out of file descriptors ({op}: too many open files); raise \
                     the open-file limit (ulimit -n) or close descriptors it no longer needs"
                ),
            },
            Some(libc::ENFILE) => Error::ResourceLimit {
                message: format!(
                    "the system ran out of file descriptors ({op}); close some, or raise \
                     fs.file-max"
                ),
            },
            Some(libc::EAGAIN) if op.starts_with("fork") || op.starts_with("posix_spawn") => {
                Error::ResourceLimit {
                    message: format!(
                        "cannot create another process ({op}: resource temporarily unavailable); \
                         raise the process limit (ulimit -u) or start fewer processes at once"
                    ),
                }
            }
            _ => Error::Io { op, source },
        }
    }

    /// The message without its kind's prefix, for embedding in another
    /// message (so that no prefix is ever doubled).
    pub(crate) fn detail(&self) -> String {
        match self {
            Error::Protocol { message }
            | Error::ResourceLimit { message }
            | Error::Decode { message, .. } => message.clone(),
            Error::ForkserverUnavailable { reason } => reason.clone(),
            other => other.to_string(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotSerializable { type_name } => write!(
                f,
                "cannot send an argument of type `{type_name}` to a spawn/forkserver child: it does not \
                 implement serde's Serialize + DeserializeOwned (under spawn and forkserver arguments are \
                 serialized; under fork they are inherited). Pass something that serializes (a path \
                 instead of a File, plain data instead of a lock or an Rc), or use the fork start method"
            ),
            Error::ContextAlreadySet => write!(
                f,
                "context has already been set (the start method was fixed by an earlier \
                 set_start_method, get_start_method or process start; use \
                 forkrt::set_start_method_force, or forkrt::get_context(method) for a one-off)"
            ),
            Error::Bootstrapping => write!(
                f,
                "An attempt has been made to start a new process before the current process has \
                 finished its bootstrapping phase. This probably means that you are not using the \
                 entry guard: put #[forkrt::main] on `fn main` (or call forkrt::init() as the very \
                 first statement of main) so that spawned children never run the code that starts \
                 processes"
            ),
            Error::NotInitialized => write!(
                f,
                "the spawn and forkserver start methods re-execute this program, but its main() never \
                 ran the forkrt entry guard: put #[forkrt::main] on `fn main` or call forkrt::init() \
                 as the first statement of main"
            ),
            Error::NotRegistered { type_name } => write!(
                f,
                "the target `{type_name}` is not a #[forkrt::task] function, so a spawn/forkserver \
                 child cannot find it (closures and unmarked functions only work with the fork start \
                 method): mark the function with #[forkrt::task] and pass it by name"
            ),
            Error::HandshakeTimeout { pid, timeout } => write!(
                f,
                "child process {pid} did not reach the forkrt entry guard within {} ms and was killed; \
                 make #[forkrt::main] / forkrt::init() the first thing main runs, or raise \
                 FORKRT_HANDSHAKE_TIMEOUT_MS on a very slow machine",
                timeout.as_millis()
            ),
            Error::ChildExitedBeforeGuard { pid, exitcode } => {
                write!(f, "child process {pid} exited ")?;
                match exitcode {
                    Some(code) if *code < 0 => write!(f, "(killed by signal {}) ", -code)?,
                    Some(code) => write!(f, "(exit code {code}) ")?,
                    None => {}
                }
                write!(
                    f,
                    "before it reached the forkrt entry guard; make #[forkrt::main] / forkrt::init() \
                     the first thing main runs and check the child's stderr"
                )
            }
            Error::Io { op, source } => write!(f, "{op}: {source}"),
            Error::Protocol { message } => write!(f, "forkrt protocol error: {message}"),
            Error::Decode { task, message } => write!(
                f,
                "cannot transfer the arguments of task `{task}`: {message}"
            ),
            Error::ForkserverUnavailable { reason } => {
                write!(f, "the forkserver is unavailable: {reason}")
            }
            Error::AlreadyStarted => write!(f, "cannot start a process twice"),
            Error::NotStarted => write!(f, "can only join or signal a started process"),
            Error::UnknownStartMethod { name } => write!(
                f,
                "cannot find context for {name:?}: the start methods are \"fork\", \"spawn\" and \
                 \"forkserver\""
            ),
            Error::ArgumentTooLarge { task, size, limit } => write!(
                f,
                "the argument of task `{task}` is {size} bytes encoded, over forkrt's argument size \
                 limit of {limit} bytes; no child was started. Pass a path or a Queue and let the \
                 child read the data, or raise the limit (FORKRT_MAX_ARG_BYTES or \
                 forkrt::set_max_arg_bytes)"
            ),
            Error::ResourceLimit { message } => f.write_str(message),
            Error::TaskPanicked { task, message } => {
                write!(f, "task `{task}` panicked: {message}")
            }
            Error::WorkerDied { pid, exitcode } => {
                write!(f, "pool worker {pid} died while running this item")?;
                match exitcode {
                    Some(c) if *c < 0 => write!(f, " (killed by signal {})", -c)?,
                    Some(c) => write!(f, " (exit code {c})")?,
                    None => {}
                }
                write!(
                    f,
                    "; the pool replaced it. A task must not exit its process: return a value or \
                     panic instead"
                )
            }
            Error::PoolClosed => write!(
                f,
                "the pool is closed or terminated and takes no more work; make a new Pool"
            ),
            Error::Disconnected => write!(
                f,
                "the other end of this queue or connection is closed in every process"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
