//! FL002: a lock held at a fork point that the child takes.

use crate::analysis::PackageCx;
use crate::analysis::forks::{ForkKind, ForkPoint};
use crate::analysis::locks::{self, LockKey};
use crate::analysis::threads;
use crate::analysis::walk::{ChildRegion, Event, RegionWalk};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds a fork while a lock that the child takes may be held.
    ///
    /// Finds a fork point where a lock may be held — a guard (`Mutex`, `RwLock`,
    /// `parking_lot`, a configured lock type) alive in the forking code, or a lock taken
    /// by a thread that was started earlier and may hold it at that moment — when the
    /// child (or a function it calls) takes the same lock. Locks are identified through
    /// statics, `let` aliases, `Arc::clone`, closure captures and function parameters;
    /// `println!`/`print!` and writes to `io::stdout()` take stdout's lock. When a
    /// thread may hold the lock, the message names it and labels show where it starts
    /// and where it takes the lock.
    ///
    /// A guard the parent holds while the child never touches that lock (nix's own test
    /// suite holds a `FORK_MTX` guard across `fork` this way) is not reported.
    ///
    /// ## Why is this bad
    /// The child is a copy of the parent's memory at the moment of the fork, including
    /// every lock's state, but only the forking thread is copied. A lock held at that
    /// moment is held forever in the child: by a guard the child's copy of the code will
    /// never drop, or by a thread that does not exist in the child. The first time the
    /// child takes it, the child deadlocks. Under forkrt's spawn and forkserver methods
    /// the child starts from a fresh process and does not inherit the lock.
    ///
    /// ## Example
    /// ```rust,ignore
    /// let _guard = STATE.lock().unwrap();
    /// match unsafe { fork() }? {
    ///     ForkResult::Child => {
    ///         STATE.lock().unwrap().reset();   // deadlocks
    ///         unsafe { libc::_exit(0) }
    ///     }
    ///     ForkResult::Parent { child } => { waitpid(child, None)?; }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    /// let snapshot = STATE.lock().unwrap().clone();
    /// drop(guard);                               // release before forking
    /// match unsafe { fork() }? { /* the child uses `snapshot` */ }
    /// ```
    ///
    /// ## References
    /// - [POSIX
    ///   `pthread_atfork`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/pthread_atfork.html),
    ///   rationale: "the child process may deadlock"
    /// - [POSIX `fork`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/fork.html): only
    ///   the calling thread is replicated
    /// - [CPython `multiprocessing`, contexts and start
    ///   methods](https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods):
    ///   fork is unsafe with threads
    pub static LOCK_HELD_ACROSS_FORK = {
        code: "FL002",
        name: "lock-held-across-fork",
        severity: Error,
        check: Some(check),
    };
}

/// A lock that may be held at the fork, and why.
struct Held {
    key: LockKey,
    span: Span,
    how: String,
    /// The thread that may hold it (its name and start), when a thread does.
    thread: Option<(String, Span)>,
    /// A guard variable the child could drop first.
    var: Option<String>,
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for fp in cx.forks() {
        if fp.kind == ForkKind::PreExec {
            continue; // pre_exec: FL004 covers every lock.
        }
        let Some(child) = &fp.child else { continue };
        let held = held_at_fork(cx, fp);
        if held.is_empty() {
            continue;
        }
        if let Some(taken) = taken_in_child(cx, child, &held) {
            report(checker, fp, child, &held[taken.held], taken);
        }
    }
}

/// The locks a guard of the forking function, or a thread started before the fork,
/// may hold when the process forks.
fn held_at_fork<'a>(cx: &'a PackageCx<'a>, fp: &'a ForkPoint<'a>) -> Vec<Held> {
    let extra = &cx.options.extra_lock_types;
    let mut held: Vec<Held> = Vec::new();
    for g in locks::guards_held(cx, fp.file, fp.func, &fp.ancestors, extra) {
        // stdout and stderr are reentrant locks, and the child's thread is their owner.
        if matches!(g.key, LockKey::Stdout | LockKey::Stderr) {
            continue;
        }
        held.push(Held {
            how: format!(
                "{} is locked here, and the guard `{}` is still alive at the fork",
                g.key.describe(),
                g.var
            ),
            key: g.key,
            span: g.span,
            var: Some(g.var),
            thread: None,
        });
    }
    for t in threads::threads_started_before(cx, fp.func, &fp.ancestors) {
        let Some((func, code)) = t.body else { continue };
        RegionWalk::run(cx, func.file, Some(func), code, &mut |ev, w| {
            let Some(a) = locks::acquisition(w, ev, extra) else {
                return;
            };
            if !held.iter().any(|h| h.key == a.key) {
                held.push(Held {
                    how: format!(
                        "{} may take {} here and hold it at the fork",
                        t.name,
                        a.key.describe()
                    ),
                    key: a.key,
                    span: a.span,
                    var: None,
                    thread: Some((t.name.clone(), t.span.clone())),
                });
            }
        });
    }
    held
}

/// Where the child takes one of the held locks first.
struct Taken {
    /// Index into the held locks.
    held: usize,
    span: Span,
    /// The calls from the child region to the acquisition.
    chain: Vec<Label>,
}

/// The first acquisition in the child of a lock that is held at the fork (a guard
/// the child drops first no longer counts).
fn taken_in_child<'a>(
    cx: &'a PackageCx<'a>,
    child: &'a ChildRegion<'a>,
    held: &[Held],
) -> Option<Taken> {
    let extra = &cx.options.extra_lock_types;
    let mut hit: Option<Taken> = None;
    let mut dropped: Vec<String> = Vec::new();
    for code in child.codes() {
        RegionWalk::run(cx, child.file, child.func, code, &mut |ev, w| {
            if hit.is_some() {
                return;
            }
            if let Some(v) = dropped_variable(ev) {
                dropped.push(v);
            }
            let Some(a) = locks::acquisition(w, ev, extra) else {
                return;
            };
            if let Some(i) = held
                .iter()
                .position(|h| h.key == a.key && h.var.as_ref().is_none_or(|v| !dropped.contains(v)))
            {
                hit = Some(Taken {
                    held: i,
                    span: a.span,
                    chain: w.chain_labels(),
                });
            }
        });
    }
    hit
}

/// `drop(guard)`: the variable dropped.
fn dropped_variable(ev: &Event<'_>) -> Option<String> {
    let Event::Expr(syn::Expr::Call(c)) = ev else {
        return None;
    };
    let (syn::Expr::Path(p), Some(arg)) = (&*c.func, c.args.first()) else {
        return None;
    };
    if p.path.segments.last().is_some_and(|s| s.ident == "drop") {
        crate::analysis::syntax::ident_of(arg)
    } else {
        None
    }
}

fn report(
    checker: &Checker<'_>,
    fp: &ForkPoint<'_>,
    child: &ChildRegion<'_>,
    h: &Held,
    taken: Taken,
) {
    let mut labels = Vec::new();
    if let Some((name, start)) = &h.thread {
        labels.push(Label {
            span: start.clone(),
            message: format!("{name} {} started here", threads::verb_is(name)),
            kind: LabelKind::Secondary,
        });
    }
    labels.extend([
        Label {
            span: h.span.clone(),
            message: h.how.clone(),
            kind: LabelKind::Secondary,
        },
        Label {
            span: child.start.clone(),
            message: "the child starts here".into(),
            kind: LabelKind::Secondary,
        },
    ]);
    labels.extend(taken.chain);
    labels.push(Label {
        span: taken.span,
        message: format!(
            "the child takes {} here and waits forever",
            h.key.describe()
        ),
        kind: LabelKind::ChainStep,
    });
    let method_note = if fp.kind == ForkKind::Forkrt {
        " under the fork start method"
    } else {
        ""
    };
    checker.report(
        &LOCK_HELD_ACROSS_FORK,
        Finding {
            message: format!(
                "{} may be held{} when the process forks{method_note}, and the child takes it: the \
                    child deadlocks",
                h.key.describe(),
                h.thread
                    .as_ref()
                    .map(|(name, _)| format!(" by {name}"))
                    .unwrap_or_default()
            ),
            primary: fp.span(),
            primary_label: "forks while the lock may be held".into(),
            labels,
            help: Some(
                "release the lock before forking (drop the guard, join the thread that \
                takes it), give the child what it needs without the lock, or start the child with \
                spawn/forkserver"
                    .into(),
            ),
            fix: None,
        },
    );
}
