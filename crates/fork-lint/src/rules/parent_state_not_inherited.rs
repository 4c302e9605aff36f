//! FL009: the parent changes global state a spawn/forkserver child reads.

use std::collections::HashMap;

use syn::Expr;

use syn::spanned::Spanned;

use crate::analysis::processes::{self, Kind, Process};
use crate::analysis::walk::{Code, Event, RegionWalk};
use crate::analysis::{FileCx, PackageCx, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds global state that the parent changes before starting a spawn or forkserver process
    /// that reads it.
    ///
    /// Finds a write to global state — a `static mut`, an atomic (`store`,
    /// `fetch_add`, …), a `OnceLock`/`OnceCell`/`lazy_static` being set, a static
    /// `Mutex` being changed, an environment variable — made by the parent before it
    /// starts a spawn or forkserver process whose target (or a function it calls) reads
    /// the same state.
    ///
    /// forkrt's pools too: a task given to a pool (`map`, `imap`, `apply`,
    /// `apply_async`) or a pool's initializer (`Pool::builder().initializer(task, args)`)
    /// reads the state of a worker, which under spawn and forkserver never saw the
    /// parent's changes. And a worker starts when the pool is created, under every
    /// method: a change the parent makes after creating the pool (in the same function)
    /// and before giving it a task that reads the state is not seen even under fork.
    ///
    /// Environment variables are inherited by spawn (the child is started with the
    /// parent's current environment), but forkserver children inherit the server's
    /// environment, fixed when the server started (on the first process start): only a
    /// variable set after a process was already started is reported, and only when the
    /// method may be forkserver.
    ///
    /// ## Why is this bad
    /// Under spawn the child is a fresh run of the program, and under forkserver it is
    /// forked from a server started early: either way it does not share the parent's
    /// memory, and sees every static at its initial value. The child silently works with
    /// stale configuration — the opposite of what the same program does under fork,
    /// where the child inherits the parent's memory.
    ///
    /// ## Example
    /// ```rust,ignore
    /// static VERBOSE: AtomicBool = AtomicBool::new(false);
    /// #[forkrt::task]
    /// fn work(_: ()) { if VERBOSE.load(Relaxed) { eprintln!("working") } }
    /// fn main() -> forkrt::Result<()> {
    ///     VERBOSE.store(true, Relaxed);            // the spawned child never sees this
    ///     Process::new(work, ()).start()?;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// Pass the state to the child as part of its argument (`Process::new(work, verbose)`)
    /// and set it in the child.
    ///
    /// ## References
    /// - [CPython programming guidelines: "Explicitly pass resources to child processes" and
    ///   "global variables"][mpg]
    ///
    /// [mpg]: https://docs.python.org/3/library/multiprocessing.html#the-spawn-and-forkserver-start-methods
    pub static PARENT_STATE_NOT_INHERITED = {
        code: "FL009",
        name: "parent-state-not-inherited",
        severity: Warning,
        check: Some(check),
    };
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Static(String),
    Env(String),
}

const WRITE_METHODS: &[&str] = &[
    "store",
    "fetch_add",
    "fetch_sub",
    "fetch_or",
    "fetch_and",
    "fetch_xor",
    "fetch_nand",
    "fetch_max",
    "fetch_min",
    "fetch_update",
    "swap",
    "compare_exchange",
    "compare_exchange_weak",
    "set",
    "get_or_init",
    "get_or_try_init",
    "replace",
    "take",
];
const MUTATING_METHODS: &[&str] = &[
    "push", "push_str", "insert", "extend", "clear", "remove", "retain", "truncate", "append",
    "entry",
];

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for p in cx.processes().all() {
        // Work given to a pool created in view: its workers started at the creation, under
        // every method, and never see what the parent changes after it.
        let after_creation = p.kind == Kind::PoolTask && p.pool.is_some();
        if !p.method.may_serialize() && !after_creation {
            continue;
        }
        let Some(target) = p.target_region(cx) else {
            continue;
        };
        // What the child reads.
        let mut reads: HashMap<Key, (Span, Vec<Label>)> = HashMap::new();
        RegionWalk::run(cx, target.file, target.func, target.code, &mut |ev, w| {
            let Event::Expr(e) = ev else { return };
            let key = match e {
                Expr::Path(path) => static_named(cx, w.file(), &path.path).map(Key::Static),
                Expr::Call(c) => env_access(w, c, &["var", "var_os"]).map(Key::Env),
                _ => None,
            };
            if let Some(k) = key {
                reads
                    .entry(k)
                    .or_insert_with(|| (w.span(*e), w.chain_labels()));
            }
        });
        if reads.is_empty() {
            continue;
        }
        // What the parent writes before the start, in order; `created`: after the
        // pool's creation.
        let mut started_before = false;
        let mut created = false;
        let mut hits: Vec<(Key, Span, bool)> = Vec::new();
        for stmt in syntax::statements_before(&p.start_ancestors) {
            RegionWalk::run_with_depth(
                cx,
                p.file,
                Some(p.func),
                Code::Stmts(std::slice::from_ref(stmt)),
                3,
                &mut |ev, w| {
                    let Event::Expr(e) = ev else { return };
                    if processes::started_process(w, e).is_some() {
                        started_before = true;
                    }
                    if let Some(k) = write_of(cx, w, e) {
                        let stale = created
                            || match k {
                                Key::Static(_) => p.method.may_serialize(),
                                Key::Env(_) => p.method.forkserver && started_before,
                            };
                        let first = !hits.iter().any(|(h, _, _)| *h == k);
                        if first && reads.contains_key(&k) && stale {
                            hits.push((k, w.span(*e), created));
                        }
                    }
                },
            );
            if p.pool
                .is_some_and(|pool| syntax::contains(stmt.span(), pool.span()))
            {
                created = true;
            }
        }
        for (key, write_span, after) in hits {
            report(checker, p, &key, write_span, after, reads[&key].clone());
        }
    }
}

/// Reports a write the child does not see (`after`: made after the pool's creation).
fn report(
    checker: &Checker<'_>,
    p: &Process<'_>,
    key: &Key,
    write_span: Span,
    after: bool,
    (read_span, chain): (Span, Vec<Label>),
) {
    let methods = p.method.describe_serializing();
    let what = match key {
        Key::Static(n) => format!("`{n}`"),
        Key::Env(n) => format!("the environment variable `{n}`"),
    };
    let child = match p.kind {
        Kind::Process => "child",
        Kind::Pool | Kind::PoolTask => "worker",
    };
    let why = match key {
        _ if after => "the pool's workers started when it was created, under every start method, \
            and never see this change"
            .to_string(),
        Key::Static(_) => format!(
            "a {methods} {child} starts from a fresh copy of the program and \
            sees its initial value"
        ),
        Key::Env(_) => format!(
            "a forkserver {child} inherits the environment of the server, which \
            was started before this change"
        ),
    };
    let (message, start, help) = match p.kind {
        _ if after => (
            format!("the parent changes {what} after creating the pool whose task reads it: {why}"),
            "the task is given to the pool here".to_string(),
            "make the change before creating the pool (under fork), or pass the value in the task's argument",
        ),
        Kind::Process => (
            format!(
                "the parent changes {what} before starting a process whose target reads it, but {why}"
            ),
            format!("the process starts here ({methods})"),
            "pass the value to the child in its argument and set it there, or use the fork start method",
        ),
        Kind::PoolTask => (
            format!(
                "the parent changes {what} before giving a pool a task that reads it, but {why}"
            ),
            format!("the task is given to the pool here ({methods})"),
            "pass the value in the task's argument, or to every worker through \
                `Pool::builder().initializer(task, value)`, which sets it there",
        ),
        Kind::Pool => (
            format!(
                "the parent changes {what} before creating a pool whose initializer reads it, but {why}"
            ),
            format!("the pool's workers start here and run the initializer ({methods})"),
            "pass the value in the initializer's argument and set it there, or use the fork start method",
        ),
    };
    let mut labels = vec![Label {
        span: p.file.span_of(p.start_call()),
        message: start,
        kind: LabelKind::Secondary,
    }];
    if let Some(pool) = p.pool.filter(|_| after) {
        labels.push(Label {
            span: p.file.span_of(pool),
            message: "the pool's workers start here".into(),
            kind: LabelKind::Secondary,
        });
    }
    labels.extend(chain);
    labels.push(Label {
        span: read_span,
        message: format!("the {child} reads {what} here"),
        kind: LabelKind::ChainStep,
    });
    checker.report(
        &PARENT_STATE_NOT_INHERITED,
        Finding {
            message,
            primary: write_span,
            primary_label: format!("not seen by the {child}"),
            labels,
            help: Some(help.into()),
            fix: None,
        },
    );
}

/// The static a path names, if the package defines one by that name.
fn static_named<'a>(cx: &'a PackageCx<'a>, from: &FileCx<'_>, path: &syn::Path) -> Option<String> {
    let name = syntax::last_ident(path)?;
    // Statics are SCREAMING_CASE by convention (and by lint); this keeps lookups rare.
    if !name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        || name.chars().any(|c| c.is_ascii_lowercase())
    {
        return None;
    }
    (!cx.files_defining(from, &name, &["static", "ref"])
        .is_empty())
    .then_some(name)
}

/// `std::env::<f>("KEY", ..)` with a literal key.
fn env_access(w: &RegionWalk<'_>, c: &syn::ExprCall, fns: &[&str]) -> Option<String> {
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return None;
    };
    let cands = w.resolve(&p.path);
    let is_env = cands
        .iter()
        .any(|c| c.len() >= 2 && c[c.len() - 2] == "env" && fns.contains(&c[c.len() - 1].as_str()));
    if !is_env {
        return None;
    }
    match syntax::peel(c.args.first()?) {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// The global state `e` writes.
fn write_of<'a>(cx: &'a PackageCx<'a>, w: &RegionWalk<'_>, e: &Expr) -> Option<Key> {
    match e {
        Expr::Call(c) => env_access(w, c, &["set_var", "remove_var"]).map(Key::Env),
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            let root = syntax::chain_root(&m.receiver);
            let Expr::Path(p) = syntax::peel(root) else {
                return None;
            };
            let direct = matches!(syntax::peel(&m.receiver), Expr::Path(_));
            let through_lock = syntax::chain_methods(&m.receiver)
                .iter()
                .any(|n| matches!(n.as_str(), "lock" | "write" | "borrow_mut" | "get_mut"));
            if (direct && WRITE_METHODS.contains(&name.as_str()))
                || (through_lock && MUTATING_METHODS.contains(&name.as_str()))
            {
                return static_named(cx, w.file(), &p.path).map(Key::Static);
            }
            None
        }
        Expr::Assign(a) => assigned_static(cx, w.file(), &a.left),
        Expr::Binary(b) if is_compound_assign(&b.op) => assigned_static(cx, w.file(), &b.left),
        _ => None,
    }
}

/// `COUNTER = …`, `*STATE.lock().unwrap() = …`.
fn assigned_static<'a>(cx: &'a PackageCx<'a>, from: &FileCx<'_>, left: &Expr) -> Option<Key> {
    let root = syntax::chain_root(syntax::peel(left));
    let Expr::Path(p) = syntax::peel(root) else {
        return None;
    };
    static_named(cx, from, &p.path).map(Key::Static)
}

fn is_compound_assign(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}
