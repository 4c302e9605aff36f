//! FL003: a binary that starts spawn/forkserver processes without the entry guard
//! first in `main`.

use syn::{Expr, Stmt};

use crate::analysis::catalog::runtime;
use crate::analysis::processes::{Kind, ProcessApi};
use crate::analysis::resolve::is;
use crate::analysis::{FnRef, PackageCx, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds a binary that starts spawn or forkserver processes without the entry guard first in `main`.
    ///
    /// Finds a binary that starts processes with the spawn or forkserver method whose
    /// `main` does not begin with the entry guard — `#[forkrt::main]`, `forkrt::init()`,
    /// `procspawn::init()` — either because the guard is missing, or because statements
    /// with side effects run before it. The processes are forkrt's (`Process::new`,
    /// `Context::process`), forkrt's pools, whose workers start when the pool is created
    /// (`Pool::new`, `Context::pool`, `Pool::builder()…build()`), and procspawn's, which
    /// always spawn. A `main` that only forwards to a function beginning with the guard is
    /// fine; `let` bindings of plain values before the guard are fine. Under the fork
    /// method neither a process nor a pool needs the guard (the child is a copy of the
    /// parent and never runs `main`), so a program whose start method is known to be fork
    /// is not reported.
    ///
    /// ## Why is this bad
    /// A spawned child is a fresh run of the same executable. The entry guard is where
    /// it recognises itself as a child and runs its target instead of the program.
    /// Without it, every child runs `main` from the top: it repeats the parent's work and
    /// tries to start processes of its own (forkrt refuses with `Error::Bootstrapping`;
    /// elsewhere this is a fork bomb). Statements before a late guard run again in every
    /// child: files are truncated twice, messages are logged twice, servers bind twice.
    /// This is Python's `if __name__ == "__main__":` rule for spawn and forkserver.
    ///
    /// ## Example
    /// ```rust,ignore
    /// fn main() -> forkrt::Result<()> {
    ///     println!("starting workers");        // printed again by every child
    ///     forkrt::init();
    ///     /* start processes */
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    /// #[forkrt::main]
    /// fn main() -> forkrt::Result<()> {
    ///     println!("starting workers");
    ///     /* start processes */
    /// }
    /// ```
    ///
    /// ## References
    /// - [CPython `multiprocessing` programming guidelines: "Safe importing of main
    ///   module"][mpg]
    /// - [`procspawn::init`](https://docs.rs/procspawn/latest/procspawn/fn.init.html)
    ///
    /// [mpg]: https://docs.python.org/3/library/multiprocessing.html#the-spawn-and-forkserver-start-methods
    pub static UNGUARDED_ENTRY_POINT = {
        code: "FL003",
        name: "unguarded-entry-point",
        severity: Error,
        check: Some(check),
    };
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    let mut done: Vec<(usize, usize)> = Vec::new();
    for p in cx.processes().all() {
        // A pool's workers start at its creation; work given to it starts nothing.
        if p.kind == Kind::PoolTask || !p.method.may_serialize() {
            continue;
        }
        let Some(main) = cx.main_of(p.file) else {
            continue;
        };
        if done.contains(&main.key()) {
            continue;
        }
        done.push(main.key());
        let guard_name = match p.api {
            ProcessApi::Forkrt => "`#[forkrt::main]` or `forkrt::init()`",
            ProcessApi::Procspawn => "`procspawn::init()`",
        };
        let what = match p.kind {
            Kind::Pool => "a pool starts its worker processes here",
            _ => "a process is started here",
        };
        let started = Label {
            span: p.file.span_of(p.create),
            message: format!("{what} with {}", p.method.describe_serializing()),
            kind: LabelKind::Secondary,
        };
        match find_guard(cx, main, p.api, 0) {
            Guard::First => {}
            Guard::Missing => checker.report(
                &UNGUARDED_ENTRY_POINT,
                Finding {
                    message: format!(
                        "`main` starts spawn/forkserver processes but never calls the \
                        entry guard ({guard_name}): every child runs `main` again from the start"
                    ),
                    primary: main.file.span_of(&main.def.sig.ident),
                    primary_label: "no entry guard".into(),
                    labels: vec![started],
                    help: Some(format!("make {guard_name} the first thing `main` does")),
                    fix: None,
                },
            ),
            Guard::Late {
                guard,
                first_effect,
            } => checker.report(
                &UNGUARDED_ENTRY_POINT,
                Finding {
                    message:
                        "the entry guard runs after statements with side effects: every child \
                        runs them again before it becomes the child"
                            .into(),
                    primary: guard.0.file.span_of(guard.1),
                    primary_label: "the guard is not first".into(),
                    labels: vec![
                        Label {
                            span: guard.0.file.span_of(first_effect),
                            message: "this runs again in every child".into(),
                            kind: LabelKind::Secondary,
                        },
                        started,
                    ],
                    help: Some(format!(
                        "move {guard_name} before everything else in `main`"
                    )),
                    fix: None,
                },
            ),
        }
    }
}

enum Guard<'a> {
    First,
    Missing,
    Late {
        guard: (FnRef<'a>, &'a Stmt),
        first_effect: &'a Stmt,
    },
}

fn find_guard<'a>(
    cx: &'a PackageCx<'a>,
    main: FnRef<'a>,
    api: ProcessApi,
    depth: usize,
) -> Guard<'a> {
    if api == ProcessApi::Forkrt
        && main.def.attrs.iter().any(|a| {
            let s = syntax::segments(a.path());
            s == ["forkrt", "main"]
        })
    {
        return Guard::First;
    }
    let stmts = &main.def.body.stmts;
    for (i, stmt) in stmts.iter().enumerate() {
        if is_guard(main, stmt, api) {
            return match stmts[..i].iter().find(|s| has_effect(s)) {
                None => Guard::First,
                Some(first_effect) => Guard::Late {
                    guard: (main, stmt),
                    first_effect,
                },
            };
        }
    }
    // `fn main() { real_main() }`: the guard may open the function it forwards to.
    if depth < 3 {
        if let Some(first) = stmts.iter().find(|s| has_effect(s)) {
            if let Some(target) = forwarded(cx, main, first) {
                if let g @ (Guard::First | Guard::Late { .. }) =
                    find_guard(cx, target, api, depth + 1)
                {
                    return g;
                }
            }
        }
    }
    Guard::Missing
}

/// The crate-local function a statement calls at its top (`run()`, `run()?`,
/// `std::process::exit(run())`).
fn forwarded<'a>(cx: &'a PackageCx<'a>, main: FnRef<'a>, stmt: &'a Stmt) -> Option<FnRef<'a>> {
    let e = match stmt {
        Stmt::Expr(e, _) => e,
        Stmt::Local(l) => &l.init.as_ref()?.expr,
        _ => return None,
    };
    let mut e = syntax::peel_result(e);
    loop {
        let Expr::Call(c) = e else { return None };
        let Expr::Path(p) = syntax::peel(&c.func) else {
            return None;
        };
        if let Some(f) = crate::analysis::model::calls::resolve_fn(cx, main.file, &p.path) {
            return Some(f);
        }
        e = syntax::peel_result(c.args.first()?);
    }
}

fn is_guard(func: FnRef<'_>, stmt: &Stmt, api: ProcessApi) -> bool {
    let want = match api {
        ProcessApi::Forkrt => runtime::FORKRT_INIT,
        ProcessApi::Procspawn => runtime::PROCSPAWN_INIT,
    };
    match stmt {
        Stmt::Macro(m) => {
            api == ProcessApi::Procspawn && syntax::macro_name(&m.mac) == "enable_test_support"
        }
        Stmt::Expr(e, _) => is_guard_call(func, e, want),
        Stmt::Local(l) => l
            .init
            .as_ref()
            .is_some_and(|i| is_guard_call(func, &i.expr, want)),
        Stmt::Item(_) => false,
    }
}

fn is_guard_call(func: FnRef<'_>, e: &Expr, want: &str) -> bool {
    let Expr::Call(c) = syntax::peel_result(e) else {
        return false;
    };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return false;
    };
    func.file
        .resolver
        .candidates(&p.path)
        .iter()
        .any(|c| is(c, want))
}

/// Whether running a statement twice could be observed: anything but items and `let`
/// bindings of plain values.
fn has_effect(stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Item(_) => false,
        Stmt::Local(l) => l
            .init
            .as_ref()
            .is_some_and(|i| !pure(&i.expr) || i.diverge.is_some()),
        Stmt::Expr(e, _) => !pure(e),
        Stmt::Macro(m) => !PURE_MACROS.contains(&syntax::macro_name(&m.mac).as_str()),
    }
}

const PURE_CALLS: &[&str] = &[
    "new",
    "default",
    "from",
    "into",
    "clone",
    "with_capacity",
    "args",
    "args_os",
    "var",
    "var_os",
    "now",
    "parse",
    "unwrap",
    "expect",
    "unwrap_or",
    "unwrap_or_default",
    "unwrap_or_else",
    "len",
    "iter",
    "into_iter",
    "collect",
    "map",
    "filter",
    "to_string",
    "to_owned",
    "as_str",
    "as_ref",
    "nth",
    "skip",
    "get",
    "cloned",
    "copied",
    "ok",
    "is_some",
    "is_none",
    "Some",
    "Ok",
    "Err",
    "from_secs",
    "from_millis",
    "current_exe",
];
const PURE_MACROS: &[&str] = &[
    "vec",
    "format",
    "concat",
    "env",
    "include_str",
    "include_bytes",
    "stringify",
    "matches",
];

fn pure(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) | Expr::Path(_) | Expr::Closure(_) => true,
        Expr::Paren(p) => pure(&p.expr),
        Expr::Reference(r) => pure(&r.expr),
        Expr::Unary(u) => pure(&u.expr),
        Expr::Binary(b) => pure(&b.left) && pure(&b.right),
        Expr::Field(f) => pure(&f.base),
        Expr::Index(i) => pure(&i.expr) && pure(&i.index),
        Expr::Cast(c) => pure(&c.expr),
        Expr::Tuple(t) => t.elems.iter().all(pure),
        Expr::Array(a) => a.elems.iter().all(pure),
        Expr::Struct(s) => s.fields.iter().all(|f| pure(&f.expr)),
        Expr::Try(t) => pure(&t.expr),
        Expr::Call(c) => {
            let pure_fn = match &*c.func {
                Expr::Path(p) => {
                    syntax::last_ident(&p.path).is_some_and(|n| PURE_CALLS.contains(&n.as_str()))
                }
                _ => false,
            };
            pure_fn && c.args.iter().all(pure)
        }
        Expr::MethodCall(m) => {
            PURE_CALLS.contains(&m.method.to_string().as_str())
                && pure(&m.receiver)
                && m.args.iter().all(pure)
        }
        Expr::Macro(m) => PURE_MACROS.contains(&syntax::macro_name(&m.mac).as_str()),
        _ => false,
    }
}
