//! The paths the analyses know by name: fork points, ways to leave a child, ways to
//! reap one, ways to start threads, process runtimes. Async-signal safety has its own
//! catalog in [`super::signal_safety`].

use super::resolve::{Canon, is};

/// A function that forks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForkFn {
    /// `libc::fork`: returns the pid, 0 in the child.
    Libc,
    /// `libc::vfork`: the child borrows the parent's memory until exec/_exit.
    Vfork,
    /// `nix::unistd::fork`: `Result<ForkResult>`.
    Nix,
    /// `fork::fork`: `Result<Fork>`.
    ForkCrate,
    /// `fork::daemon`: the caller continues as a detached grandchild; the parent exits.
    ForkDaemon,
    /// daemon(3) (`libc::daemon`, `nix::unistd::daemon`): forks, the parent `_exit`s
    /// inside the call, and the caller continues as the child.
    Daemon3,
    /// A function named in the configuration's `fork-points`.
    Configured,
    /// A crate-local function that forks and hands the result to its caller.
    Wrapper,
}

impl ForkFn {
    /// Daemon-style points: no child branch, the rest of the program is the child.
    pub fn is_daemon(self) -> bool {
        matches!(self, ForkFn::ForkDaemon | ForkFn::Daemon3)
    }
}

const FORK_FNS: &[(&str, ForkFn)] = &[
    ("libc::fork", ForkFn::Libc),
    ("libc::vfork", ForkFn::Vfork),
    ("nix::unistd::fork", ForkFn::Nix),
    ("nix::unistd::vfork", ForkFn::Vfork),
    ("fork::fork", ForkFn::ForkCrate),
    ("fork::daemon", ForkFn::ForkDaemon),
    ("libc::daemon", ForkFn::Daemon3),
    ("nix::unistd::daemon", ForkFn::Daemon3),
];

pub fn fork_fn(candidates: &[Canon], extra: &[String]) -> Option<ForkFn> {
    candidates.iter().find_map(|c| {
        FORK_FNS
            .iter()
            .find(|(p, _)| is(c, p))
            .map(|(_, k)| *k)
            .or_else(|| {
                extra
                    .iter()
                    .any(|p| {
                        is(c, p) || (c.len() == 1 && p.rsplit("::").next() == Some(c[0].as_str()))
                    })
                    .then_some(ForkFn::Configured)
            })
    })
}

/// Calls after which a child never returns to the code that follows: `_exit`, `exit`,
/// `abort`, and the exec family (which only return on failure, and are counted as
/// leaving, as the specification says).
const EXIT_FNS: &[&str] = &[
    "libc::_exit",
    "libc::_Exit",
    "libc::exit",
    "libc::abort",
    "std::process::exit",
    "std::process::abort",
    "nix::unistd::_exit",
    "nix::libc::_exit",
    "nix::libc::exit",
];

const EXEC_FNS: &[&str] = &[
    "libc::execv",
    "libc::execve",
    "libc::execvp",
    "libc::execvpe",
    "libc::execl",
    "libc::execle",
    "libc::execlp",
    "libc::fexecve",
    "nix::unistd::execv",
    "nix::unistd::execve",
    "nix::unistd::execvp",
    "nix::unistd::execvpe",
    "nix::unistd::fexecve",
    "nix::unistd::execveat",
    "nix::libc::execv",
    "nix::libc::execve",
    "nix::libc::execvp",
];

pub fn is_exit(candidates: &[Canon]) -> bool {
    candidates
        .iter()
        .any(|c| EXIT_FNS.iter().chain(EXEC_FNS).any(|p| is(c, p)))
}

/// Functions that reap a child.
const WAIT_FNS: &[&str] = &[
    "libc::waitpid",
    "libc::wait",
    "libc::wait4",
    "libc::wait3",
    "libc::waitid",
    "nix::sys::wait::waitpid",
    "nix::sys::wait::wait",
    "nix::sys::wait::waitid",
    "nix::libc::waitpid",
];

pub fn is_wait(candidates: &[Canon]) -> bool {
    candidates.iter().any(|c| WAIT_FNS.iter().any(|p| is(c, p)))
}

/// Calls that start a thread which outlives the call.
const THREAD_FNS: &[&str] = &[
    "std::thread::spawn",
    "rayon::spawn",
    "rayon::spawn_fifo",
    "rayon::join",
    "rayon::scope",
    "rayon::broadcast",
    "tokio::spawn",
    "tokio::task::spawn",
    "tokio::task::spawn_blocking",
    "tokio::runtime::Runtime::new",
    "async_std::task::spawn",
    "threadpool::ThreadPool::new",
    "std::thread::Builder::spawn",
];

/// Method names that start threads on the receivers they are known for.
pub const THREAD_METHODS: &[&str] = &[
    "par_iter",
    "par_iter_mut",
    "into_par_iter",
    "par_bridge",
    "par_chunks",
    "par_sort",
    "par_extend",
];

pub fn is_thread_start(candidates: &[Canon]) -> bool {
    candidates
        .iter()
        .any(|c| THREAD_FNS.iter().any(|p| is(c, p)))
}

/// `std::thread::scope`: threads started inside are joined when it returns.
pub fn is_thread_scope(candidates: &[Canon]) -> bool {
    candidates.iter().any(|c| {
        is(c, "std::thread::scope")
            || is(c, "crossbeam::scope")
            || is(c, "crossbeam::thread::scope")
    })
}

/// Attributes that run a function on a multi-threaded runtime or harness.
pub const THREADED_FN_ATTRS: &[&str] = &[
    "test",
    "tokio::main",
    "tokio::test",
    "async_std::main",
    "async_std::test",
    "actix_web::main",
    "actix_rt::main",
    "rstest",
];

/// forkrt's and procspawn's entry points (forkrt's pools: `Pool::new`, `Pool::builder`,
/// the work methods; `Context::pool` is known through its context).
pub mod runtime {
    pub const FORKRT_PROCESS_NEW: &str = "forkrt::Process::new";
    pub const FORKRT_GET_CONTEXT: &str = "forkrt::get_context";
    pub const FORKRT_SET_START_METHOD: &str = "forkrt::set_start_method";
    pub const FORKRT_SET_START_METHOD_FORCE: &str = "forkrt::set_start_method_force";
    pub const FORKRT_GET_START_METHOD: &str = "forkrt::get_start_method";
    pub const FORKRT_INIT: &str = "forkrt::init";
    pub const FORKRT_POOL: &str = "forkrt::Pool";
    pub const FORKRT_POOL_NEW: &str = "forkrt::Pool::new";
    pub const FORKRT_POOL_BUILDER: &str = "forkrt::Pool::builder";
    /// `Pool` methods that give work to the workers: `(task, args or items)`.
    pub const FORKRT_POOL_WORK: &[&str] = &["map", "imap", "apply", "apply_async"];
    pub const PROCSPAWN_SPAWN: &str = "procspawn::spawn";
    pub const PROCSPAWN_INIT: &str = "procspawn::init";
    pub const PROCSPAWN_POOL_NEW: &str = "procspawn::Pool::new";
    pub const PROCSPAWN_POOL_BUILDER: &str = "procspawn::Pool::builder";
}
