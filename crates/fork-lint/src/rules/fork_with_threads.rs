//! FL007: forking a process that may have other threads.

use crate::analysis::forks::ForkKind;
use crate::checker::{Checker, Finding};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds a fork in a process that may have other threads.
    ///
    /// Finds a fork — raw (`libc::fork`, `nix::unistd::fork`, `fork::fork`,
    /// `fork::daemon`, daemon(3) through `libc::daemon` or `nix::unistd::daemon`,
    /// `Daemonize::start`) or a forkrt process under the fork method —
    /// at a point where other threads may be running: after `thread::spawn` (not joined
    /// since), a rayon or tokio runtime, inside `#[test]` (the test harness runs tests on
    /// several threads) or an async function. Whether a function runs with threads
    /// comes from its callers, followed through the whole package from each binary's
    /// `main` (one thread until one starts on its path); only what outside code can
    /// call — the public items of a package without a binary, or of any package with
    /// `library = "public"` — has unknown callers, and is taken to run beside other
    /// threads. A fork in a binary's `main` path
    /// before any thread starts is fine. A fork inside a fork wrapper (a function that
    /// returns the fork's result) is reported at the wrapper's calls when the package
    /// has any.
    ///
    /// The message names the thread that may be running — by the name given to
    /// `thread::Builder`, the handle it is bound to, the function it runs, or its pool
    /// (rayon, an async runtime) — and a label shows where it starts.
    ///
    /// ## Why is this bad
    /// The child gets a copy of the whole memory but only the forking thread. Work the
    /// other threads were doing stops mid-way, and every lock they held — including the
    /// allocator's and stdout's — stays locked in the child. Unless the child calls only
    /// async-signal-safe functions until it execs, it can deadlock or see half-updated
    /// state. CPython 3.12 warns at run time for this reason ("This process is
    /// multi-threaded, use of fork() may lead to deadlocks in the child"), and forkrt
    /// prints the same warning.
    ///
    /// ## Example
    /// ```rust,ignore
    /// let logger = std::thread::spawn(flush_logs_forever);
    /// match unsafe { fork() }? { /* … */ }
    /// ```
    ///
    /// ## Use instead
    /// Fork before starting threads, exec immediately in the child (`Command` does this
    /// with `posix_spawn`), or start the child with forkrt's spawn or forkserver method.
    ///
    /// ## References
    /// - [CPython 3.12 changelog: DeprecationWarning when forking a multi-threaded
    ///   process](https://docs.python.org/3/whatsnew/3.12.html#deprecated)
    /// - [POSIX `fork`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/fork.html): "A
    ///   process shall be created with a single thread"
    /// - [tokio: `fork` is not supported with a running
    ///   runtime](https://docs.rs/tokio/latest/tokio/runtime/index.html)
    pub static FORK_WITH_THREADS = {
        code: "FL007",
        name: "fork-with-threads",
        severity: Warning,
        check: Some(check),
    };
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for fp in cx.forks() {
        if fp.kind == ForkKind::PreExec || fp.reported_at_callers(cx.forks()) {
            continue;
        }
        let threads = fp.threads(cx);
        if !threads.may_have_threads() {
            continue;
        }
        let labels = threads.reasons().iter().map(|r| r.label()).collect();
        checker.report(
            &FORK_WITH_THREADS,
            Finding {
                message: format!(
                    "the process forks ({}) while {} may be running: the child keeps only this \
                        thread, and any lock another thread holds stays locked",
                    fp.kind.describe(),
                    threads.named()
                ),
                primary: fp.span(),
                primary_label: "forks with other threads around".into(),
                labels,
                help: Some(
                    "fork before starting threads (or join them first), exec right away in \
                    the child, or start the child with forkrt's spawn or forkserver method"
                        .into(),
                ),
                fix: None,
            },
        );
    }
}
