//! # forkrt — Python `multiprocessing`'s start methods for Rust processes
//!
//! `forkrt` starts child processes the three ways CPython's
//! `multiprocessing` does — **fork**, **spawn** and **forkserver** — behind
//! one API with Python's names, so that the same program text runs under
//! each method, chosen at run time, and shows each method's hazards the way
//! Python does.
//!
//! ```no_run
//! use forkrt::{Process, StartMethod};
//!
//! #[forkrt::task] // registers the target for spawn/forkserver lookup
//! fn work(args: (u32, String)) {
//!     println!("child {} got {} {}", forkrt::current_process().name(), args.0, args.1);
//! }
//!
//! #[forkrt::main] // the entry guard (or: forkrt::init() first in main)
//! fn main() -> forkrt::Result<()> {
//!     forkrt::set_start_method(StartMethod::Spawn)?; // once; a second call fails
//!     let mut p = Process::new(work, (7, "seven".to_string())).name("worker-1");
//!     p.start()?;
//!     p.join()?;
//!     assert_eq!(p.exitcode(), Some(0));
//!
//!     let ctx = forkrt::get_context(StartMethod::Fork);
//!     let mut q = ctx.process(work, (8, "eight".into()));
//!     q.start()?;
//!     q.join()?;
//!     Ok(())
//! }
//! ```
//!
//! ## The start methods
//!
//! | | **fork** | **spawn** | **forkserver** |
//! |---|---|---|---|
//! | Python | `os.fork()` in `Popen` | `Popen` runs `python -c spawn_main` | `ForkServer` forks per request |
//! | child is | a copy of the caller | a fresh run of this binary | a copy of a small server process |
//! | target | any `FnOnce(A)`, closures too | a `#[forkrt::task]` fn | a `#[forkrt::task]` fn |
//! | argument | inherited (moved by the fork) | serialized (serde + postcard) | serialized (serde + postcard) |
//! | inherits memory, statics | the caller's, at `start()` | none: `main` starts over, stops at the guard | the server's, as of server start |
//! | inherits environment | the caller's, at `start()` | the caller's, at `start()` | the server's (set at its start) |
//! | inherits threads | no — only the calling thread (warning) | no | no (the server is single-threaded) |
//! | inherits file descriptors | all of the caller's, except forkrt's own | stdout/stderr only (like CPython's `close_fds`) | the caller's stdout/stderr |
//! | stdin | `/dev/null` (as in CPython) | `/dev/null` | `/dev/null` |
//! | child leaves with | `_exit` (no destructors, no atexit) | `exit` after the task | `_exit` |
//! | cost (see docs/forkrt.md) | ≈ a bare fork | an exec of this binary | a fork of the small server |
//!
//! **fork** — `fork()` in the calling process. The child runs `target(args)`
//! and leaves with `_exit`: it never returns into the parent's code and
//! runs no destructors or atexit handlers of the parent. `forkrt` flushes
//! Rust's stdout/stderr (and holds their locks) across the fork, so the
//! runtime itself never duplicates buffered output. *Hazards:* only the
//! calling thread exists in the child; any lock another thread held (a
//! `Mutex`, the allocator of a non-fork-safe allocator, a logger) stays held
//! forever, and the child can deadlock. Like CPython 3.12, forkrt prints one
//! warning (`forkrt: warning: ... N threads ...`) the first time it forks a
//! multi-threaded process; `FORKRT_NO_FORK_WARNING=1` silences it. Other
//! buffered writers (a `BufWriter` of the parent) are duplicated in memory
//! and may be flushed by the child's own code.
//!
//! **spawn** — re-executes the current binary (`/proc/self/exe` on Linux:
//! the very same build even if the file was replaced). Its `main` runs until
//! the entry guard, which recognises the child, reads the task name and
//! encoded argument from an inherited socket, answers a handshake, runs the
//! task and exits (code 0; 1 after a panic, whose message is on stderr).
//! Nothing the parent set up after start-up is inherited: statics are
//! fresh, locks are free, no threads. *Hazards:* code before the guard runs
//! in every child (keep the guard first); a child that never reaches the
//! guard is killed after the handshake timeout ([`Error::HandshakeTimeout`]),
//! one that exits before it is [`Error::ChildExitedBeforeGuard`], and one
//! that starts processes before it gets [`Error::Bootstrapping`] — Python's
//! "attempt has been made to start a new process before the current process
//! has finished its bootstrapping phase" — instead of a fork bomb.
//!
//! **forkserver** — on first use, a server process is started by spawn; it
//! is single-threaded and forks one child per request received on a Unix
//! socket in a private directory (0700 directory, 0600 socket), each
//! connection authenticated by an HMAC-SHA256 challenge over a random key
//! that only the parent knows (as CPython 3.14). Children inherit the
//! *server's* state, not the caller's: a static set by the caller after the
//! server started, or an environment variable set later, is not seen. The
//! server reports each child's exit status (`-signum` for a signal), leaves
//! when its parent goes away, and is restarted once if it died between two
//! starts ([`Error::ForkserverUnavailable`] otherwise).
//!
//! The default method is forkserver on Linux and spawn on macOS, as in
//! CPython 3.14. Like CPython, [`get_start_method`] and the first `start()`
//! with the default context *fix* the context, after which
//! [`set_start_method`] fails with [`Error::ContextAlreadySet`] ("context has
//! already been set"); [`set_start_method_force`] overrides, and
//! [`get_context`] gives a context for one method without fixing anything.
//!
//! ## Arguments that cannot cross
//!
//! A task's argument is encoded by code that `#[forkrt::task]` generates at
//! the concrete argument type. If that type implements serde's `Serialize +
//! DeserializeOwned`, it is sent with postcard; if not (a `File`, an
//! `Arc<Mutex<_>>`, a type without serde derives), the program still
//! compiles, and `start()` fails under spawn and forkserver with
//! [`Error::NotSerializable`] naming the type — while under fork the value
//! is simply inherited. The same source runs under every method, as in
//! Python, where the same mistake is a pickling error at `start()`.
//!
//! ## Life cycle and failures
//!
//! * [`Process::exitcode`] is `None` while running, then the exit code, or
//!   `-signum` after death by a signal (SIGKILL → `-9`, SIGSEGV → `-11`).
//! * [`Process::join`] reaps the child: no zombie remains.
//!   [`Process::join_timeout`] returns without killing.
//! * Children are killed (SIGKILL) when the process that started them dies:
//!   by `PR_SET_PDEATHSIG` when started from the main thread; when started
//!   from another thread (which Linux's PDEATHSIG would follow: the child
//!   would die when that thread ends), by a sentinel pipe or channel whose
//!   hang-up the kernel turns into SIGKILL (`O_ASYNC` + `F_SETSIG`). The
//!   forkserver leaves when its parent *process* closes the channel, and its
//!   children die with it.
//! * Dropping an unjoined [`Process`] never blocks; see its docs.
//! * The runtime's own file descriptors are close-on-exec and are closed in
//!   fork children; none leak into children or stay open in the parent.
//!
//! ## Results, pools and channels
//!
//! A task may return a value. [`Pool`] (`map`, `imap`, `apply`,
//! `apply_async`, `close`, `join`, `terminate`; built with
//! [`Pool::builder`] for an initializer or `maxtasksperchild`) sends it
//! back; a panic fails its own item ([`Error::TaskPanicked`]), a worker that
//! dies is replaced ([`Error::WorkerDied`] for its items). [`Queue`] and
//! [`Pipe`]/[`Connection`] carry serde messages between processes and can be
//! passed to tasks as arguments under every method. [`exit`] leaves a child
//! early without running the parent's atexit handlers.
//!
//! ## Environment variables
//!
//! * `FORKRT_HANDSHAKE_TIMEOUT_MS` — how long a spawned child (or the
//!   forkserver, or a forkserver child decoding its arguments) may take to
//!   reach the guard; default 5000.
//! * `FORKRT_NO_FORK_WARNING=1` — silence the fork-with-threads warning.
//! * `FORKRT_MAX_ARG_BYTES` — the argument size limit (default 1 GiB; see
//!   [`max_arg_bytes`]).
//! * `FORKRT_ROLE` — internal: marks a re-executed child; removed from the
//!   environment by the guard.
//!
//! See `docs/forkrt.md` in the repository for the design, the wire format,
//! the forkserver protocol and the latency measurements.

#![warn(missing_docs)]

// The macros expand to `::forkrt::...`; this makes that path resolve inside
// this crate too (unit tests, doctests).
extern crate self as forkrt;

mod chan;
mod codec;
mod context;
mod error;
mod fork;
mod forkserver;
mod guard;
mod pool;
mod process;
mod registry;
mod spawn;
mod state;
mod sys;
mod wire;

pub use chan::{Connection, Pipe, Queue};
pub use context::{
    Context, StartMethod, get_all_start_methods, get_context, get_start_method, set_start_method,
    set_start_method_force,
};
pub use error::{Error, Result};
pub use guard::init;
pub use pool::{AsyncResult, Pool, PoolBuilder};
pub use process::Process;
pub use state::{ProcessInfo, current_process, max_arg_bytes, parent_process, set_max_arg_bytes};

/// Leaves the process at once with `code`, after flushing Rust's stdout and
/// stderr: `_exit`, so no atexit handler and no destructor runs. This is the
/// way for a task to end its process early; `std::process::exit` would run
/// the atexit handlers, which in a fork child are the parent's.
pub fn exit(code: i32) -> ! {
    fork::flush_stdio();
    sys::exit_now(code)
}

/// Marks a function as a task that spawn and forkserver children can run.
///
/// ```no_run
/// #[forkrt::task]
/// fn work(args: (u32, String)) { /* ... */ }
/// ```
///
/// The function stays an ordinary function (it can be called directly, and
/// passed to [`Process::new`] by name). The attribute also registers it in a
/// linker-collected table under the stable name `module_path::work`, with
/// codecs generated for its argument and return types. Requirements: a free
/// function (not a method), no generics, exactly one argument (use a tuple
/// for several, `_: ()` for none). It may return a value: a
/// [`Pool`] sends it back (it must then serialize; a `Process`
/// discards it). Each violation is a compile error with a message saying so:
///
/// ```compile_fail
/// #[forkrt::task]
/// fn two_args(a: u32, b: u32) {}
/// ```
///
/// ```compile_fail
/// #[forkrt::task]
/// fn generic<T: Send + 'static>(t: T) {}
/// ```
///
/// ```compile_fail
/// #[forkrt::task]
/// fn returns_impl(a: u32) -> impl std::fmt::Debug { a }
/// ```
///
/// ```compile_fail
/// #[forkrt::task]
/// async fn asynchronous(a: u32) {}
/// ```
///
/// An argument type without serde support still compiles — it only fails
/// at `start()` under spawn/forkserver:
///
/// ```no_run
/// #[forkrt::task]
/// fn write_to(f: std::fs::File) { /* ... */ }
/// ```
pub use forkrt_macros::task;

/// Makes `main` the entry guard: inserts [`init()`] as its first statement.
///
/// ```no_run
/// #[forkrt::main]
/// fn main() -> forkrt::Result<()> {
///     Ok(())
/// }
/// ```
///
/// Works on `fn main()` and `fn main() -> Result<..>`. With an async
/// runtime (`#[tokio::main]`), the guard would run only after the runtime
/// and its threads exist; prefer a synchronous `main` that calls [`init()`]
/// and then builds the runtime.
pub use forkrt_macros::main;

/// Implementation details used by the macros and by forkrt's own tests.
/// Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::{Codec, NoCodec, SerdeCodec};
    pub use crate::registry::{TASKS, TaskEntry, catch_panic, type_id_of_val};
    pub use linkme;

    use crate::error::Result;

    /// Number of open file descriptors of this process.
    pub fn open_fd_count() -> Option<usize> {
        crate::sys::open_fd_count()
    }

    /// Starts a spawn child and sends it `frame` (raw bytes) and `args` as
    /// its request; returns the child's pid if it accepted it.
    pub fn spawn_raw(frame: &[u8], args: &[u8]) -> Result<u32> {
        crate::spawn::start_raw(frame, args).map(|p| p as u32)
    }

    /// Sends `frame` and `args` as the request on an authenticated
    /// forkserver connection; returns the child's pid and exit code if one
    /// started.
    pub fn forkserver_raw(frame: &[u8], args: &[u8]) -> Result<(u32, Option<i32>)> {
        let mut c = crate::forkserver::start_raw(frame, args)?;
        let code = c.wait(None)?;
        Ok((c.pid as u32, code))
    }

    /// Builds a frame (header + payload).
    pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        crate::wire::frame_raw(kind, payload)
    }

    /// The REQUEST frame kind.
    pub const REQUEST_KIND: u8 = crate::wire::kind::REQUEST;

    /// A well-formed request envelope for `task` (a registered fn item)
    /// announcing `args_len` argument bytes.
    pub fn request_frame_for<F: 'static>(_task: &F, args_len: usize) -> Option<Vec<u8>> {
        let entry = crate::registry::by_fn_type(std::any::TypeId::of::<F>())?;
        let req = crate::wire::ChildRequest {
            task: entry.name.to_string(),
            site: entry.site.to_string(),
            fingerprint: crate::registry::fingerprint(),
            args_len: args_len as u64,
            nfds: 0,
            name: "raw".into(),
            ident: vec![0],
            daemon: false,
            parent_pid: std::process::id(),
            parent_name: "MainProcess".into(),
            cwd: Vec::new(),
            seq: 0,
        };
        Some(crate::wire::frame(crate::wire::kind::REQUEST, &req))
    }

    /// Path of the forkserver's socket (starting the server if needed).
    pub fn forkserver_socket_path() -> Result<std::path::PathBuf> {
        crate::forkserver::socket_path()
    }

    /// Closes this process's connection to its forkserver: the next start
    /// connects, and authenticates both ways, again.
    pub fn forkserver_disconnect() {
        crate::forkserver::disconnect()
    }

    /// Pid of the running forkserver, if any.
    pub fn forkserver_pid() -> Option<u32> {
        crate::forkserver::server_pid()
    }
}
