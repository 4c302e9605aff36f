//! FL001: an argument of a spawn/forkserver process that cannot cross the boundary.

use syn::{Expr, Type};

use crate::analysis::processes::{Kind, Process, ProcessApi};
use crate::analysis::types::{self, ValueCx, Verdict};
use crate::analysis::{FnRef, PackageCx, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds arguments of spawn and forkserver processes, and of forkrt pools, that cannot cross a
    /// process boundary.
    ///
    /// Finds an argument passed to a forkrt process started with the spawn or forkserver
    /// method — `Process::new`, `Context::process` — or to a forkrt pool under any method
    /// — each item of `pool.map(task, items)` and `imap`, the argument of `apply` and
    /// `apply_async`, `Pool::builder().initializer(task, args)` — that cannot be
    /// serialized: open files, sockets and other descriptors, handles of streams, threads
    /// and children, channels, `Condvar`, `Barrier` and async locks, closures, function
    /// pointers, trait objects, `Arc` and `Rc` when serde's `rc` feature is off, and the
    /// package's own types that do not implement `Serialize` and `Deserialize`. Also a
    /// target the child cannot find by name: a closure, or a function without
    /// `#[forkrt::task]`.
    ///
    /// What crosses is what serde serializes: `Mutex<T>`, `RwLock<T>`, `Cell<T>` and
    /// `RefCell<T>` of a serializable `T` (parking_lot's locks with its `serde` feature),
    /// `Arc<T>` and `Rc<T>` with serde's `rc` feature (read from the package's
    /// `Cargo.toml`, where a dependency on procspawn turns it on too) — the child gets a
    /// copy, never a shared value — and forkrt's `Queue` and `Connection`, which cross by
    /// passing their descriptors.
    ///
    /// The start method is the one the code sets (`set_start_method`, `get_context`,
    /// `Pool::builder().method(..)`); when it is chosen at run time the program must work
    /// under each method, so the rule applies to a process unless the method is known to
    /// be fork. A pool serializes under every method.
    ///
    /// ### What each runtime does, and what is reported
    ///
    /// * **It serializes**: it runs under every runtime and method.
    /// * **It is `Send` but does not serialize** (`File`, `Arc` without `rc`, a type
    ///   without serde):
    ///   * `forkrt::Process`: compiles; `start()` fails with `Error::NotSerializable`
    ///     under spawn and forkserver, works under fork: **reported**;
    ///   * forkrt `Pool`: compiles; the call fails with `Error::NotSerializable` under
    ///     every method: **reported**;
    ///   * procspawn 1.x: does not compile (`A: Serialize + DeserializeOwned`): not
    ///     reported.
    /// * **It is not `Send`** (`Rc`, raw pointers, lock guards, `Arc<RefCell<T>>`, a type
    ///   holding one):
    ///   * `forkrt::Process`: does not compile under any method (`A: Send`): not reported;
    ///   * forkrt `Pool`: compiles (a pool needs no `Send`); fails with
    ///     `Error::NotSerializable` under every method unless it serializes (`Rc` with
    ///     `rc`): **reported**;
    ///   * procspawn 1.x: does not compile: not reported.
    /// * **The target is a closure or a function without `#[forkrt::task]`**:
    ///   * `forkrt::Process`: `start()` fails with `Error::NotRegistered` under spawn and
    ///     forkserver: **reported**;
    ///   * forkrt `Pool`: the call fails with `Error::NotRegistered` under every method:
    ///     **reported**;
    ///   * procspawn 1.x: `spawn` takes `fn(A) -> R`: a closure that captures does not
    ///     compile: not reported.
    ///
    /// A compile error is not reported: rustc stops the build with it under every start
    /// method, naming the bound that is not met, so the hazard can never reach a run, and
    /// a second error on the same line would only repeat it (twice in an editor that
    /// shows both). So nothing is reported for a process whose argument has a part that
    /// is not `Send`, nor for procspawn, whose bounds make every one of these a compile
    /// error.
    ///
    /// ## Why is this bad
    /// Spawn starts a fresh run of the executable and forkserver forks from a server
    /// started early; in both the child gets its arguments by serialization, and a
    /// forkrt pool sends its tasks and their arguments to its workers the same way under
    /// every method (as CPython's pool pickles them under fork too). A value tied to this
    /// process — a descriptor number, a pointer, a closure's captured environment — cannot
    /// be serialized, or means nothing on the other side. With forkrt the same program
    /// compiles under every method and fails only when it runs: a process's `start()`
    /// returns `Error::NotSerializable` (or `Error::NotRegistered` for a target it cannot
    /// find) under spawn and forkserver while it works under fork, where the value is
    /// simply inherited; a pool's call fails under every method. This is Python's "Can't
    /// pickle" error, found before the program runs.
    ///
    /// ## Example
    /// ```rust,ignore
    /// let log = File::create("worker.log")?;
    /// let mut p = Process::new(work, (log, 7));   // fails under spawn and forkserver
    /// p.start()?;
    /// let logs = pool.map(count_lines, files)?;   // `files: Vec<File>`: fails under every method
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    /// let mut p = Process::new(work, (PathBuf::from("worker.log"), 7));  // the child opens it
    /// p.start()?;
    /// let logs = pool.map(count_lines, paths)?;   // `paths: Vec<PathBuf>`
    /// ```
    ///
    /// ## References
    /// - [CPython `multiprocessing`, the spawn and forkserver start
    ///   methods](https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods)
    /// - [Python programming guidelines: "Ensure that the arguments to the methods of proxies are
    ///   picklable"](https://docs.python.org/3/library/multiprocessing.html#programming-guidelines)
    /// - [serde's `rc` feature](https://serde.rs/feature-flags.html#-features-rc)
    /// - [procspawn](https://docs.rs/procspawn): arguments cross by serde; `spawn(args: A, f: fn(A)
    ///   -> R)` with `A: Serialize + DeserializeOwned`
    pub static NON_SERIALIZABLE_ARGUMENT = {
        code: "FL001",
        name: "non-serializable-argument",
        severity: Error,
        check: Some(check),
    };
}

/// How a finding names where the argument goes and what fails.
struct Crossing {
    /// "a spawn or forkserver child", "a pool worker", "the pool's workers".
    to: String,
    /// "`start()`", "`map`", "`build()`".
    call: String,
    /// Why a closure target fails, after "cannot be sent to …: ".
    by_name: String,
    /// Why a function without `#[forkrt::task]` fails.
    unmarked: String,
    /// Appended to a serialization failure.
    when: String,
    help: &'static str,
    labels: Vec<Label>,
}

fn crossing(p: &Process<'_>) -> Crossing {
    let methods = p.method.describe_serializing();
    let pool_label = |message: &str| {
        p.pool
            .map(|pool| Label {
                span: p.file.span_of(pool),
                message: message.into(),
                kind: LabelKind::Secondary,
            })
            .into_iter()
            .collect()
    };
    match p.kind {
        Kind::Process => Crossing {
            to: format!("a {methods} child"),
            call: "`start()`".into(),
            by_name: "the child starts from scratch and finds targets by name".into(),
            unmarked: format!(
                "a {methods} child cannot find it, and `start()` fails with \
                `forkrt::Error::NotRegistered`"
            ),
            when: "under spawn and forkserver (it works only under fork, where the value is \
                inherited)"
                .into(),
            help: "pass what the child needs to recreate it (a path, an address, plain data that \
                derives `Serialize` and `Deserialize`), or use the fork start method, where values \
                are inherited",
            labels: vec![Label {
                span: p.file.span_of(p.create),
                message: format!("this process may start with {methods}"),
                kind: LabelKind::Secondary,
            }],
        },
        Kind::PoolTask => {
            let call = match p.create {
                Expr::MethodCall(m) => format!("`{}`", m.method),
                _ => "the call".into(),
            };
            Crossing {
                to: "a pool worker".into(),
                by_name: "a pool finds its tasks by name under every start method".into(),
                unmarked: format!(
                    "a pool finds its tasks by name under every start method, so \
                    {call} fails with `forkrt::Error::NotRegistered`"
                ),
                call,
                when: "under every start method: a forkrt pool serializes its tasks' arguments \
                    even under fork, as CPython's pool pickles them"
                    .into(),
                help: "pass what the task needs to recreate it (a path, an address, plain data \
                    that derives `Serialize` and `Deserialize`); the fork start method does not help a pool",
                labels: pool_label(
                    "this pool's workers find their tasks by name and get every \
                    argument by serialization, under every start method",
                ),
            }
        }
        Kind::Pool => Crossing {
            to: "the pool's workers".into(),
            call: "`build()`".into(),
            by_name: "a pool finds its initializer by name under every start method".into(),
            unmarked:
                "a pool finds its initializer by name under every start method, so `build()` \
                fails with `forkrt::Error::NotRegistered`"
                    .into(),
            when: "under every start method: a forkrt pool serializes its initializer's argument \
                even under fork, as CPython's pool pickles it"
                .into(),
            help: "pass what the initializer needs to recreate it (a path, an address, plain data \
                that derives `Serialize` and `Deserialize`); the fork start method does not help a pool",
            labels: vec![Label {
                span: p.file.span_of(p.create),
                message: "the pool's workers start here and run the initializer".into(),
                kind: LabelKind::Secondary,
            }],
        },
    }
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for p in cx.processes().all() {
        // procspawn's bounds make every hazard of this rule a compile error (see the doc).
        if p.api == ProcessApi::Procspawn || !p.serialized() {
            continue;
        }
        let c = crossing(p);
        let mut findings: Vec<(Span, String, String)> = Vec::new();
        let mut param_ty: Option<(FnRef<'_>, &Type)> = None;
        match p.target.map(syntax::peel) {
            Some(Expr::Closure(_)) => findings.push((
                p.file.span_of(p.target.unwrap()),
                format!(
                    "a closure target cannot be sent to {}: {}, so {} fails with \
                        `forkrt::Error::NotRegistered`",
                    c.to, c.by_name, c.call
                ),
                "make the target a function marked `#[forkrt::task]` and pass what the closure \
                    captured as its argument"
                    .into(),
            )),
            Some(Expr::Path(_)) => {
                if let Some(target) = p.target_fn(cx) {
                    if !is_task(target) {
                        findings.push((
                            p.file.span_of(p.target.unwrap()),
                            format!(
                                "`{}` is not marked `#[forkrt::task]`: {}",
                                target.def.name, c.unmarked
                            ),
                            "mark the target function `#[forkrt::task]`".into(),
                        ));
                    }
                    param_ty = target.def.params().first().map(|(_, ty)| (target, *ty));
                }
            }
            _ => {}
        }
        let args = p
            .args
            .map(|a| arg_verdicts(cx, p, a, param_ty))
            .unwrap_or_default();
        // `Process::new` requires `A: Send`: rustc reports the argument (see the doc).
        if p.kind == Kind::Process && args.iter().any(|(_, v)| v.not_send.is_some()) {
            continue;
        }
        for (span, verdict) in args {
            let Some(problem) = verdict.unserializable else {
                continue;
            };
            findings.push((
                span,
                format!(
                    "{} cannot be sent to {}: {}; {} fails with `forkrt::Error::NotSerializable` {}",
                    problem.what, c.to, problem.why, c.call, c.when
                ),
                problem.hint.unwrap_or(c.help).to_string(),
            ));
        }
        for (span, message, help) in findings {
            checker.report(
                &NON_SERIALIZABLE_ARGUMENT,
                Finding {
                    message,
                    primary: span,
                    primary_label: "cannot cross a process boundary".into(),
                    labels: c.labels.clone(),
                    help: Some(help),
                    fix: None,
                },
            );
        }
    }
}

/// What is known of an argument expression, element by element for tuples, judged by
/// the target's declared parameter type where there is one (for a pool's `map`, the
/// parameter is one item's type).
fn arg_verdicts<'a>(
    cx: &'a PackageCx<'a>,
    p: &Process<'a>,
    args: &'a Expr,
    param: Option<(FnRef<'a>, &'a Type)>,
) -> Vec<(Span, Verdict)> {
    let v = ValueCx {
        cx,
        file: p.file,
        func: p.func,
    };
    let judge = |e: &Expr, ty: Option<(FnRef<'a>, &Type)>| {
        let by_expr = types::judge_expr(&v, e, 0);
        let Some((owner, ty)) = ty else {
            return by_expr;
        };
        let by_type = types::judge_type(cx, owner.file, ty);
        Verdict {
            not_send: by_type.not_send.or(by_expr.not_send),
            unserializable: by_type.unserializable.or(by_expr.unserializable),
            not_sync: by_type.not_sync.or(by_expr.not_sync),
        }
    };
    match (syntax::peel(args), param) {
        (Expr::Tuple(t), Some((owner, Type::Tuple(tt)))) if t.elems.len() == tt.elems.len() => t
            .elems
            .iter()
            .zip(&tt.elems)
            .map(|(e, ty)| (p.file.span_of(e), judge(e, Some((owner, ty)))))
            .collect(),
        (Expr::Tuple(t), _) => t
            .elems
            .iter()
            .map(|e| (p.file.span_of(e), judge(e, None)))
            .collect(),
        (_, param) => vec![(p.file.span_of(args), judge(args, param))],
    }
}

fn is_task(f: FnRef<'_>) -> bool {
    f.def.attrs.iter().any(|a| {
        let segs = syntax::segments(a.path());
        segs.last().is_some_and(|s| s == "task") && (segs.len() == 1 || segs[0] == "forkrt")
    })
}
