//! FL001: an argument of a spawn/forkserver process that cannot cross the boundary.

use syn::visit::Visit;
use syn::{Expr, Type};

use crate::analysis::processes::{Process, ProcessApi};
use crate::analysis::types::{self, Problem, ValueCx};
use crate::analysis::{FnRef, PackageCx, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds arguments of spawn and forkserver processes that cannot cross a process boundary.
    ///
    /// Finds an argument passed to a process started with the spawn or forkserver
    /// method — `forkrt::Process::new`, `Context::process`, `procspawn::spawn`,
    /// `procspawn::Pool::spawn` — that cannot cross a process boundary: files, sockets
    /// and other descriptors, locks and guards, `Rc`, raw and function pointers, thread
    /// and child handles, channels, trait objects, closures, and the crate's own types
    /// that do not implement `Serialize` and `Deserialize`. Also a target that a spawned
    /// child cannot find: a closure, or a function without `#[forkrt::task]`; and a
    /// procspawn closure that captures local state.
    ///
    /// The start method is the one the code sets (`set_start_method`, `get_context`);
    /// when it is chosen at run time the program must work under each method, so the
    /// rule applies unless the method is known to be fork.
    ///
    /// ## Why is this bad
    /// Spawn starts a fresh run of the executable and forkserver forks from a server
    /// started early; in both the child gets its arguments by serialization. A value
    /// tied to this process — a descriptor number, a lock's state, a pointer, a closure's
    /// captured environment — cannot be serialized, or means nothing on the other side.
    /// With forkrt the same program compiles under every method and `start()` fails with
    /// `Error::NotSerializable` (or `Error::NotRegistered` for a target it cannot find)
    /// under spawn and forkserver, while it works under fork, where the value is simply
    /// inherited. This is Python's "Can't pickle" error, found before the program runs.
    ///
    /// ## Example
    /// ```rust,ignore
    /// let log = File::create("worker.log")?;
    /// let mut p = Process::new(work, (log, 7));   // fails under spawn and forkserver
    /// p.start()?;
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    /// let mut p = Process::new(work, (PathBuf::from("worker.log"), 7));  // the child opens it
    /// p.start()?;
    /// ```
    ///
    /// ## References
    /// - [CPython `multiprocessing`, the spawn and forkserver start methods](https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods)
    /// - [Python programming guidelines: "Ensure that the arguments to the methods of proxies are picklable"](https://docs.python.org/3/library/multiprocessing.html#programming-guidelines)
    /// - [procspawn](https://docs.rs/procspawn): arguments cross by serde
    pub static NON_SERIALIZABLE_ARGUMENT = {
        code: "FL001",
        name: "non-serializable-argument",
        severity: Error,
        check: Some(check),
    };
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for p in &cx.processes().list {
        if !p.method.may_serialize() {
            continue;
        }
        let methods = p.method.describe_serializing();
        let created = Label {
            span: p.file.span_of(p.create),
            message: format!("this process may start with {methods}"),
            kind: LabelKind::Secondary,
        };
        let report = |span: Span, message: String, help: &str| {
            checker.report(
                &NON_SERIALIZABLE_ARGUMENT,
                Finding {
                    message,
                    primary: span,
                    primary_label: "cannot cross a process boundary".into(),
                    labels: vec![created.clone()],
                    help: Some(help.to_string()),
                    fix: None,
                },
            );
        };
        let mut param_ty: Option<(FnRef<'_>, &Type)> = None;
        match (p.api, p.target.map(syntax::peel)) {
            (ProcessApi::Forkrt, Some(Expr::Closure(_))) => report(
                p.file.span_of(p.target.unwrap()),
                format!(
                    "a closure target cannot be sent to a {methods} child: the child starts from scratch and finds targets by name, so `start()` fails with `forkrt::Error::NotRegistered`"
                ),
                "make the target a function marked `#[forkrt::task]` and pass what the closure captured as its argument",
            ),
            (ProcessApi::Forkrt, Some(Expr::Path(_))) => {
                if let Some(target) = p.target_fn(cx) {
                    if !is_task(target) {
                        report(
                            p.file.span_of(p.target.unwrap()),
                            format!(
                                "`{}` is not marked `#[forkrt::task]`: a {methods} child cannot find it, and `start()` fails with `forkrt::Error::NotRegistered`",
                                target.def.name
                            ),
                            "mark the target function `#[forkrt::task]`",
                        );
                    }
                    param_ty = target.def.params().first().map(|(_, ty)| (target, *ty));
                }
            }
            (ProcessApi::Procspawn, Some(Expr::Closure(c))) => {
                if let Some(var) = captured(p.func, c) {
                    report(
                        p.file.span_of(p.target.unwrap()),
                        format!(
                            "this closure captures `{var}`: procspawn sends only the function to the {methods} child, so the captured state does not exist there"
                        ),
                        "pass the captured values through the argument instead",
                    );
                }
                if let Some(syn::Pat::Type(t)) = c.inputs.first() {
                    param_ty = Some((p.func, &*t.ty));
                }
            }
            _ => {}
        }
        let Some(args) = p.args else { continue };
        for (span, problem) in arg_problems(cx, p, args, param_ty) {
            let fails = match p.api {
                ProcessApi::Forkrt => {
                    "`start()` fails with `forkrt::Error::NotSerializable` under spawn and forkserver (it works only under fork, where the value is inherited)"
                }
                ProcessApi::Procspawn => "procspawn serializes every argument",
            };
            report(
                span,
                format!(
                    "{} cannot be sent to a {methods} child: {}; {fails}",
                    problem.what, problem.why
                ),
                "pass what the child needs to recreate it (a path, an address, plain data that derives `Serialize` and `Deserialize`), or use the fork start method, where values are inherited",
            );
        }
    }
}

/// Problems of an argument expression, element by element for tuples, judged by the
/// target's declared parameter type where there is one.
fn arg_problems<'a>(
    cx: &'a PackageCx<'a>,
    p: &Process<'a>,
    args: &'a Expr,
    param: Option<(FnRef<'a>, &'a Type)>,
) -> Vec<(Span, Problem)> {
    let v = ValueCx {
        cx,
        file: p.file,
        func: p.func,
    };
    let by_type = |ty: &Type, owner: FnRef<'a>| types::type_problem(cx, owner.file, ty);
    match (syntax::peel(args), param) {
        (Expr::Tuple(t), Some((owner, Type::Tuple(tt)))) if t.elems.len() == tt.elems.len() => t
            .elems
            .iter()
            .zip(&tt.elems)
            .filter_map(|(e, ty)| {
                by_type(ty, owner)
                    .or_else(|| types::expr_problem(&v, e, 0))
                    .map(|pr| (p.file.span_of(e), pr))
            })
            .collect(),
        (Expr::Tuple(t), _) => t
            .elems
            .iter()
            .filter_map(|e| types::expr_problem(&v, e, 0).map(|pr| (p.file.span_of(e), pr)))
            .collect(),
        (_, Some((owner, ty))) => by_type(ty, owner)
            .or_else(|| types::expr_problem(&v, args, 0))
            .map(|pr| (p.file.span_of(args), pr))
            .into_iter()
            .collect(),
        _ => types::expr_problem(&v, args, 0)
            .map(|pr| (p.file.span_of(args), pr))
            .into_iter()
            .collect(),
    }
}

fn is_task(f: FnRef<'_>) -> bool {
    f.def.attrs.iter().any(|a| {
        let segs = syntax::segments(a.path());
        segs.last().is_some_and(|s| s == "task") && (segs.len() == 1 || segs[0] == "forkrt")
    })
}

/// A local of the enclosing function the closure uses (and so captures).
fn captured(func: FnRef<'_>, closure: &syn::ExprClosure) -> Option<String> {
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if p.qself.is_none() && p.path.segments.len() == 1 {
                self.0.push(p.path.segments[0].ident.to_string());
            }
        }
        fn visit_local(&mut self, l: &'ast syn::Local) {
            // Bindings made inside the closure shadow outer ones.
            let mut b = Vec::new();
            syntax::pat_bindings(&l.pat, &mut b);
            self.0.retain(|n| !b.contains(n));
            syn::visit::visit_local(self, l);
        }
    }
    struct Bound(Vec<String>);
    impl<'ast> Visit<'ast> for Bound {
        fn visit_pat(&mut self, p: &'ast syn::Pat) {
            syntax::pat_bindings(p, &mut self.0);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut own = Vec::new();
    for input in &closure.inputs {
        syntax::pat_bindings(input, &mut own);
    }
    let mut used = Names(Vec::new());
    used.visit_expr(&closure.body);
    let mut bound = Bound(Vec::new());
    bound.visit_block(func.def.body);
    for (name, _) in func.def.params() {
        bound.0.extend(name);
    }
    used.0
        .into_iter()
        .find(|n| !own.contains(n) && bound.0.contains(n))
}
