//! Start methods and contexts, as in Python's `multiprocessing.context`.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Result};
use crate::process::Process;

/// How a child process is started. The names are Python's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartMethod {
    /// `fork()` the calling process; the child runs the target and leaves
    /// with `_exit`. Everything is inherited, nothing is serialized.
    Fork,
    /// Re-execute the current binary; its entry guard runs the target with
    /// the deserialized arguments. Nothing set up after start-up is inherited.
    Spawn,
    /// Ask a single-threaded server (started by spawn on first use) to fork
    /// a child. Children inherit the server's state, not the caller's.
    Forkserver,
}

impl StartMethod {
    /// The Python name: `"fork"`, `"spawn"` or `"forkserver"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            StartMethod::Fork => 1,
            StartMethod::Spawn => 2,
            StartMethod::Forkserver => 3,
        }
    }

    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(StartMethod::Fork),
            2 => Some(StartMethod::Spawn),
            3 => Some(StartMethod::Forkserver),
            _ => None,
        }
    }

    /// The platform default: forkserver on Linux (as CPython 3.14), spawn on
    /// macOS (as CPython 3.8+), fork elsewhere.
    pub fn platform_default() -> Self {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            StartMethod::Forkserver
        } else if cfg!(target_vendor = "apple") {
            StartMethod::Spawn
        } else {
            StartMethod::Fork
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StartMethod {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::Forkserver),
            other => Err(Error::UnknownStartMethod {
                name: other.to_string(),
            }),
        }
    }
}

/// 0 = not fixed yet; otherwise `StartMethod::to_u8`.
static ACTUAL: AtomicU8 = AtomicU8::new(0);

/// All start methods available on this platform, the default first
/// (Python's `get_all_start_methods()`).
pub fn get_all_start_methods() -> Vec<StartMethod> {
    let default = StartMethod::platform_default();
    let mut all = vec![default];
    for m in [
        StartMethod::Forkserver,
        StartMethod::Spawn,
        StartMethod::Fork,
    ] {
        if m != default {
            all.push(m);
        }
    }
    all
}

/// The start method of the default context. Like Python's
/// `get_start_method()`, this *fixes* the context: a later
/// [`set_start_method`] fails with [`Error::ContextAlreadySet`].
pub fn get_start_method() -> StartMethod {
    fix_default()
}

/// Fixes the default context to the platform default unless already fixed;
/// returns the fixed method.
pub(crate) fn fix_default() -> StartMethod {
    let _ = ACTUAL.compare_exchange(
        0,
        StartMethod::platform_default().to_u8(),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    StartMethod::from_u8(ACTUAL.load(Ordering::Acquire)).expect("fixed above")
}

/// Sets the start method of the default context, once. A second call — or a
/// call after [`get_start_method`] or after a process was started with the
/// default context — fails with [`Error::ContextAlreadySet`] ("context has
/// already been set"), like Python's `set_start_method(m)`.
pub fn set_start_method(method: StartMethod) -> Result<()> {
    ACTUAL
        .compare_exchange(0, method.to_u8(), Ordering::AcqRel, Ordering::Acquire)
        .map(drop)
        .map_err(|_| Error::ContextAlreadySet)
}

/// Sets the start method of the default context even if it was already
/// fixed — Python's `set_start_method(m, force=True)`.
pub fn set_start_method_force(method: StartMethod) {
    ACTUAL.store(method.to_u8(), Ordering::Release);
}

/// A context bound to one start method (Python's `get_context(m)`).
/// Obtaining one does not fix the default context.
pub fn get_context(method: StartMethod) -> Context {
    Context { method }
}

/// A start method to create processes with, independent of the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

impl Context {
    /// A new, not yet started process that will use this context's method.
    pub fn process<F, A>(&self, target: F, args: A) -> Process
    where
        F: FnOnce(A) + Send + 'static,
        A: Send + 'static,
    {
        Process::with_method(Some(self.method), target, args)
    }

    /// This context's start method (Python's `ctx.get_start_method()`).
    pub fn get_start_method(&self) -> StartMethod {
        self.method
    }
}
