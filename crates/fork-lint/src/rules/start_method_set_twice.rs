//! FL008: `forkrt::set_start_method` called when the context is already fixed.

use syn::Expr;

use crate::analysis::catalog::runtime;
use crate::analysis::processes::{self, SetCall, StartKind};
use crate::analysis::resolve::is;
use crate::analysis::syntax::Node;
use crate::analysis::walk::{Code, Event, RegionWalk};
use crate::analysis::{FileCx, FnRef, PackageCx, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds `set_start_method` called after the start method was already fixed.
    ///
    /// Finds a call to `forkrt::set_start_method` (not the forced variant) that can run
    /// after the start method was already fixed on the same path: by an earlier
    /// `set_start_method` (directly or in a function called earlier), by
    /// `get_start_method()`, or by starting a process with the default context; or that
    /// sits in a loop and runs again. A result that is checked (`is_err()`, `match`,
    /// `if let Err`) shows the refusal is expected and is not reported.
    ///
    /// ## Why is this bad
    /// The start method is set once per program, as in Python. forkrt refuses a second
    /// `set_start_method` with `Error::ContextAlreadySet` ("context has already been
    /// set"): with `?` the program stops there, and if the error is ignored the program
    /// silently keeps the first method — spawn-only code then runs under fork or the
    /// other way round.
    ///
    /// ## Example
    /// ```rust,ignore
    /// forkrt::set_start_method(StartMethod::Spawn)?;
    /// configure_workers()?;           // calls set_start_method(StartMethod::Fork)?
    /// ```
    ///
    /// ## Use instead
    /// Set the method once at the top of `main`, use `forkrt::get_context(method)` for
    /// processes that need another method, or `forkrt::set_start_method_force` when
    /// replacing it is intended.
    ///
    /// ## References
    /// - [CPython `multiprocessing.set_start_method`][ssm]: "should not be
    ///   used more than once in the program"
    /// - [CPython `multiprocessing/context.py`][ctx]: `RuntimeError('context has
    ///   already been set')`
    ///
    /// [ctx]: https://github.com/python/cpython/blob/main/Lib/multiprocessing/context.py
    /// [ssm]: https://docs.python.org/3/library/multiprocessing.html#multiprocessing.set_start_method
    pub static START_METHOD_SET_TWICE = {
        code: "FL008",
        name: "start-method-set-twice",
        severity: Error,
        check: Some(check),
    };
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for s in &cx.processes().set_calls {
        if s.forced || result_checked(&s.ancestors, s.call) {
            continue;
        }
        let earlier = fixed_before(cx, s);
        let looped = s.ancestors.iter().find_map(|n| match n {
            Node::Expr(e @ (Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_))) => Some(*e),
            _ => None,
        });
        let label = match (earlier, looped) {
            (Some((span, what)), _) => Label {
                span,
                message: what,
                kind: LabelKind::Secondary,
            },
            (None, Some(l)) => Label {
                span: s.file.span_of(l),
                message: "this loop runs the call again".into(),
                kind: LabelKind::Secondary,
            },
            (None, None) => continue,
        };
        checker.report(
            &START_METHOD_SET_TWICE,
            Finding {
                message: "`set_start_method` is called after the start method was already fixed: \
                    forkrt refuses it with \"context has already been set\""
                    .into(),
                primary: s.file.span_of(s.call),
                primary_label: "the second call".into(),
                labels: vec![label],
                help: Some(
                    "set the start method once, first in `main`; use \
                    `forkrt::get_context(method)` for processes that need another method, or \
                    `set_start_method_force` to replace it on purpose"
                        .into(),
                ),
                fix: None,
            },
        );
    }
}

/// Whether the call's result is inspected rather than propagated or ignored.
fn result_checked(ancestors: &[Node<'_>], call: &Expr) -> bool {
    match ancestors.last() {
        Some(Node::Expr(Expr::MethodCall(m))) if std::ptr::eq(&*m.receiver, call) => {
            matches!(
                m.method.to_string().as_str(),
                "is_err" | "is_ok" | "ok" | "err" | "unwrap_or_default" | "unwrap_or"
            )
        }
        Some(Node::Expr(Expr::Match(m))) => std::ptr::eq(&*m.expr, call),
        Some(Node::Expr(Expr::Let(l))) => std::ptr::eq(&*l.expr, call),
        _ => false,
    }
}

/// The first thing before `s` on its path that fixed the start method: earlier in its
/// function, or (for a helper) earlier in a caller.
fn fixed_before<'a>(cx: &'a PackageCx<'a>, s: &SetCall<'a>) -> Option<(Span, String)> {
    fixed_before_in(cx, s.file, s.func, &s.ancestors, 0)
}

fn fixed_before_in<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
    depth: usize,
) -> Option<(Span, String)> {
    let mut found: Option<(Span, String)> = None;
    for stmt in syntax::statements_before(ancestors) {
        RegionWalk::run_with_depth(
            cx,
            file,
            Some(func),
            Code::Stmts(std::slice::from_ref(stmt)),
            4,
            &mut |ev, w| {
                if found.is_some() {
                    return;
                }
                let Event::Expr(e) = ev else { return };
                match e {
                    Expr::Call(c) => {
                        let Expr::Path(p) = syntax::peel(&c.func) else {
                            return;
                        };
                        let cands = w.resolve(&p.path);
                        let any = |pat: &str| cands.iter().any(|c| is(c, pat));
                        if any(runtime::FORKRT_SET_START_METHOD)
                            || any(runtime::FORKRT_SET_START_METHOD_FORCE)
                        {
                            found = Some((w.span(*e), "the start method is set here first".into()));
                        } else if any(runtime::FORKRT_GET_START_METHOD) {
                            found = Some((
                                w.span(*e),
                                "`get_start_method()` fixes the start method here".into(),
                            ));
                        }
                    }
                    Expr::MethodCall(m)
                        if processes::started_process(w, e) == Some(StartKind::Default) =>
                    {
                        found = Some((
                            w.span(&m.method),
                            "starting a process with the default \
                            context fixes the start method here"
                                .into(),
                        ));
                    }
                    _ => {}
                }
            },
        );
        if found.is_some() {
            return found;
        }
    }
    if depth < 2 && !func.def.is_main() {
        for site in crate::analysis::model::calls::callers(cx, func) {
            let (caller, call_ancestors) = (site.caller, site.ancestors);
            if let Some(f) = fixed_before_in(cx, caller.file, caller, &call_ancestors, depth + 1) {
                return Some(f);
            }
        }
    }
    None
}
