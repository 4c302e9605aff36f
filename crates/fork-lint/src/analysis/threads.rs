//! Whether other threads may exist at a program point.
//!
//! Yes when: the function runs under `#[test]` (the harness is multi-threaded) or an
//! async runtime (`#[tokio::main]`, `async fn`, an `async` block); the point is inside
//! a closure run by a thread start; a thread was started earlier on the path (directly
//! or in a crate-local function called earlier) and not joined before the point; the
//! function is in a library (its callers are unknown); or some caller reaches it in
//! one of these states. A binary's `main` path with no thread started before the
//! point is single-threaded. When the callers of a binary's function cannot be found
//! the answer is unknown, and rules that depend on it stay silent.

use std::collections::HashSet;

use syn::spanned::Spanned;
use syn::{Expr, Stmt};

use super::catalog;
use super::resolve::is;
use super::syntax::Node;
use super::walk::{self, Code, Event, RegionWalk};
use super::{CrateCx, FileCx, FnRef, TargetKind, syntax};
use crate::diagnostic::{Label, LabelKind, Span};

/// Why other threads may exist.
#[derive(Clone, Debug)]
pub struct Reason {
    pub span: Span,
    pub message: String,
}

impl Reason {
    pub fn label(&self) -> Label {
        Label {
            span: self.span.clone(),
            message: self.message.clone(),
            kind: LabelKind::Secondary,
        }
    }
}

#[derive(Clone, Debug)]
pub enum ThreadContext {
    Single,
    Threads(Vec<Reason>),
    Unknown,
}

impl ThreadContext {
    pub fn may_have_threads(&self) -> bool {
        matches!(self, ThreadContext::Threads(_))
    }

    pub fn reasons(&self) -> &[Reason] {
        match self {
            ThreadContext::Threads(r) => r,
            _ => &[],
        }
    }
}

/// How many callers up the analysis looks.
const MAX_CALLER_DEPTH: usize = 4;

/// The thread context at a point inside `func` with `ancestors`.
pub fn at_point<'a>(
    cx: &'a CrateCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
) -> ThreadContext {
    at_point_depth(cx, file, func, ancestors, 0, &mut HashSet::new())
}

fn at_point_depth<'a>(
    cx: &'a CrateCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
    depth: usize,
    seen: &mut HashSet<(usize, usize)>,
) -> ThreadContext {
    let mut reasons = Vec::new();
    if let Some(attr) = func.def.threaded_attr() {
        reasons.push(Reason {
            span: file.span_of(&func.def.sig.ident),
            message: format!(
                "`{}` runs under `#[{attr}]`, which runs other threads",
                func.def.name
            ),
        });
    } else if func.def.is_async() {
        reasons.push(Reason {
            span: file.span_of(&func.def.sig.ident),
            message: format!(
                "`{}` is `async`: the runtime that polls it may run other threads",
                func.def.name
            ),
        });
    }
    for node in ancestors {
        match node {
            Node::Expr(Expr::Async(a)) => reasons.push(Reason {
                span: file.span_of(&a.async_token),
                message: "inside an `async` block: the runtime may run other threads".into(),
            }),
            Node::Expr(Expr::Call(c)) => {
                if let Expr::Path(p) = syntax::peel(&c.func) {
                    let cands = file.resolver.candidates(&p.path);
                    if catalog::is_thread_start(&cands) || catalog::is_thread_scope(&cands) {
                        reasons.push(Reason {
                            span: file.span_of(&c.func),
                            message:
                                "runs on a thread started here, beside the thread that started it"
                                    .into(),
                        });
                    }
                }
            }
            Node::Expr(Expr::MethodCall(m)) if m.method == "spawn" && !m.args.is_empty() => {
                reasons.push(Reason {
                    span: file.span_of(&m.method),
                    message: "runs on a thread started here".into(),
                });
            }
            _ => {}
        }
    }
    reasons.extend(started_before(cx, file, func, ancestors));
    if !reasons.is_empty() {
        return ThreadContext::Threads(reasons);
    }
    // Nothing here: ask who calls this function.
    if func.def.is_main() && func.file.kind == TargetKind::Bin {
        return ThreadContext::Single;
    }
    match func.file.kind {
        TargetKind::Lib if !func.def.in_test_module => {
            return ThreadContext::Threads(vec![Reason {
                span: func.file.span_of(&func.def.sig.ident),
                message: format!(
                    "`{}` is in a library: its callers are unknown and may have started threads",
                    func.def.name
                ),
            }]);
        }
        TargetKind::Test => {
            return ThreadContext::Threads(vec![Reason {
                span: func.file.span_of(&func.def.sig.ident),
                message: format!(
                    "`{}` is in an integration test, run by the multi-threaded test harness",
                    func.def.name
                ),
            }]);
        }
        _ => {}
    }
    if depth >= MAX_CALLER_DEPTH || !seen.insert(func.key()) {
        return ThreadContext::Unknown;
    }
    let callers = callers_of(cx, func);
    if callers.is_empty() {
        return ThreadContext::Unknown;
    }
    let mut any_unknown = false;
    for (caller, ancestors, call) in callers {
        match at_point_depth(cx, caller.file, caller, &ancestors, depth + 1, seen) {
            ThreadContext::Threads(mut r) => {
                r.push(Reason {
                    span: caller.file.span_of(call),
                    message: format!(
                        "`{}` is called here, where other threads may exist",
                        func.def.name
                    ),
                });
                return ThreadContext::Threads(r);
            }
            ThreadContext::Unknown => any_unknown = true,
            ThreadContext::Single => {}
        }
    }
    if any_unknown {
        ThreadContext::Unknown
    } else {
        ThreadContext::Single
    }
}

/// A thread started before a point and not joined before it.
pub struct ThreadStart<'a> {
    /// The call that starts it.
    pub span: Span,
    /// The thread's code (closure body or function), when it can be found.
    pub body: Option<(FnRef<'a>, Code<'a>)>,
}

/// Threads started by the statements that run before the current one in each
/// enclosing block (and by the crate-local functions they call), not joined before it.
pub fn threads_started_before<'a>(
    cx: &'a CrateCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
) -> Vec<ThreadStart<'a>> {
    let mut starts: Vec<(Span, Option<String>, Option<FnRef<'a>>, proc_macro2::Span)> = Vec::new();
    let mut joined: HashSet<String> = HashSet::new();
    {
        for stmt in syntax::statements_before(ancestors) {
            let binding = match stmt {
                Stmt::Local(l) => syntax::pat_ident(&l.pat),
                _ => None,
            };
            let stmt_code = Code::Stmts(std::slice::from_ref(stmt));
            RegionWalk::run_with_depth(cx, file, Some(func), stmt_code, 4, &mut |ev, w| {
                let Event::Expr(e) = ev else { return };
                if let Some(span) = thread_start(w, e) {
                    // `let h = thread::spawn(..)` binds the handle; `hs.push(thread::spawn(..))`
                    // collects it.
                    let bound = if w.depth() == 0 {
                        binding.clone().or_else(|| pushed_into(stmt))
                    } else {
                        None
                    };
                    starts.push((span, bound, w.frame().func, e.span()));
                }
                if w.depth() == 0 {
                    if let Some(v) = joined_var(e) {
                        joined.insert(v);
                    }
                }
            });
        }
    }
    starts
        .into_iter()
        .filter(|(_, bound, _, _)| bound.as_ref().is_none_or(|b| !joined.contains(b)))
        .map(|(span, _, func, syn_span)| ThreadStart {
            span,
            body: func.and_then(|f| thread_body(cx, f, syn_span)),
        })
        .collect()
}

/// The code a thread-start call runs: its closure, async block or function argument.
fn thread_body<'a>(
    cx: &'a CrateCx<'a>,
    func: FnRef<'a>,
    at: proc_macro2::Span,
) -> Option<(FnRef<'a>, Code<'a>)> {
    let call = syntax::find_expr(func.def.body, at)?;
    let arg = match call {
        Expr::Call(c) => c.args.first()?,
        Expr::MethodCall(m) => m.args.first()?,
        _ => return None,
    };
    match syntax::peel(arg) {
        Expr::Closure(c) => Some((func, Code::Expr(&c.body))),
        Expr::Async(a) => Some((func, Code::Block(&a.block))),
        Expr::Path(p) => {
            walk::resolve_fn(cx, func.file, &p.path).map(|f| (f, Code::Block(f.def.body)))
        }
        _ => None,
    }
}

fn started_before<'a>(
    cx: &'a CrateCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
) -> Vec<Reason> {
    threads_started_before(cx, file, func, ancestors)
        .into_iter()
        .map(|t| Reason {
            span: t.span,
            message: "a thread is started here and may still run at the fork".into(),
        })
        .collect()
}

/// The span of a thread start, if `e` is one.
fn thread_start(w: &RegionWalk<'_>, e: &Expr) -> Option<Span> {
    match e {
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            let cands = w.resolve(&p.path);
            (catalog::is_thread_start(&cands)
                || cands
                    .iter()
                    .any(|c| is(c, "tokio::runtime::Builder::new_multi_thread")))
            .then(|| w.span(&c.func))
        }
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            if catalog::THREAD_METHODS.contains(&name.as_str()) {
                return Some(w.span(&m.method));
            }
            if name == "spawn" {
                // thread::Builder::new()…spawn(..)
                let root = syntax::chain_root(&m.receiver);
                if let Expr::Call(c) = root {
                    if let Expr::Path(p) = syntax::peel(&c.func) {
                        if w.resolve(&p.path)
                            .iter()
                            .any(|c| is(c, "std::thread::Builder::new"))
                        {
                            return Some(w.span(&m.method));
                        }
                    }
                }
            }
            None
        }
        _ => None,
    }
}

/// `handles.push(thread::spawn(..))` → `handles`.
fn pushed_into(stmt: &Stmt) -> Option<String> {
    let Stmt::Expr(Expr::MethodCall(m), _) = stmt else {
        return None;
    };
    (m.method == "push")
        .then(|| syntax::ident_of(&m.receiver))
        .flatten()
}

/// The handle (or collection of handles) a `.join()` waits for: `h.join()`,
/// `for h in hs { h.join() }`, `hs.into_iter().for_each(|h| { h.join(); })`.
fn joined_var(e: &Expr) -> Option<String> {
    match e {
        Expr::MethodCall(m) if m.method == "join" && m.args.is_empty() => {
            syntax::ident_of(&m.receiver)
        }
        Expr::ForLoop(f) => {
            let body = quote::ToTokens::to_token_stream(&f.body).to_string();
            body.contains("join")
                .then(|| syntax::ident_of(syntax::chain_root(&f.expr)))
                .flatten()
        }
        Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "for_each" | "map" | "try_for_each"
            ) =>
        {
            let args = quote::ToTokens::to_token_stream(&m.args).to_string();
            args.contains("join")
                .then(|| syntax::ident_of(syntax::chain_root(&m.receiver)))
                .flatten()
        }
        _ => None,
    }
}

/// Call sites of `func` in the package: `(caller, ancestors of the call, call)`.
pub fn callers_of<'a>(
    cx: &'a CrateCx<'a>,
    func: FnRef<'a>,
) -> Vec<(FnRef<'a>, Vec<Node<'a>>, &'a Expr)> {
    let name = &func.def.name;
    let mut out = Vec::new();
    for file in cx.files_mentioning(func.file, name) {
        for &i in file.fns_using(name) {
            let def = &file.fns[i];
            let caller = FnRef { file, def };
            syntax::each_expr(def.body, &mut |e, ancestors| {
                let named = match e {
                    Expr::Call(c) => {
                        matches!(syntax::peel(&c.func), Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some(name))
                    }
                    Expr::MethodCall(m) => m.method == name,
                    _ => false,
                };
                let target = match e {
                    _ if named => walk::callee(cx, file, def.self_ty.as_deref(), e),
                    // `pre_exec(helper)`, `map(helper)`: a function used as a value.
                    Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some(name) => {
                        walk::resolve_fn(cx, file, &p.path)
                    }
                    _ => None,
                };
                if target.is_some_and(|t| t.key() == func.key()) {
                    out.push((caller, ancestors.to_vec(), e));
                }
            });
        }
    }
    out
}
