//! FL006: a forked child whose pid is never waited for.

use std::collections::HashMap;
use std::sync::Arc;

use syn::Expr;

use crate::analysis::catalog::{self, ForkFn};
use crate::analysis::flow::{self, Flow};
use crate::analysis::forks::ForkKind;
use crate::analysis::syntax;
use crate::analysis::walk::Code;
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind};
use crate::source::SourceFile;

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds a forked child that the parent does not wait for on some path.
    ///
    /// Finds a raw `fork()` after which some path of the parent never waits for the
    /// child (`waitpid`, `wait`, `waitid`, through libc or nix) before it returns, keeps
    /// running in a loop, or leaves with `?`. A pid handed elsewhere (returned, stored,
    /// passed to a function) is assumed to be reaped there; `SIGCHLD` set to `SIG_IGN`
    /// (automatic reaping) silences the rule. A parent that leaves with `exit`/`_exit`
    /// right after forking (the daemon pattern) is fine: its children are reparented
    /// and reaped by init.
    ///
    /// ## Why is this bad
    /// A child that exits stays in the process table as a zombie until its parent waits
    /// for it. A long-running parent that forks without reaping accumulates zombies
    /// until it hits the process limit, and it cannot learn how its children ended.
    ///
    /// ## Example
    /// ```rust,ignore
    /// fn run_hook(path: &CStr) -> nix::Result<()> {
    ///     match unsafe { fork() }? {
    ///         ForkResult::Child => { let _ = execv(path, &[path]); unsafe { libc::_exit(127) } }
    ///         ForkResult::Parent { .. } => Ok(()),     // never waited for
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    ///         ForkResult::Parent { child } => { waitpid(child, None)?; Ok(()) }
    /// ```
    ///
    /// ## References
    /// - [POSIX `waitpid`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/waitpid.html)
    /// - [POSIX "Consequences of Process Termination"](https://pubs.opengroup.org/onlinepubs/9799919799/functions/_Exit.html): zombie processes
    /// - [Clippy `zombie_processes`](https://rust-lang.github.io/rust-clippy/master/index.html#zombie_processes), the same hazard for `Command::spawn`
    pub static UNREAPED_CHILD = {
        code: "FL006",
        name: "unreaped-child",
        severity: Warning,
        check: Some(check),
    };
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    let mut sigchld_ignored: HashMap<*const SourceFile, bool> = HashMap::new();
    for fp in cx.forks() {
        if !fp.kind.is_raw_fork() || fp.wrapper {
            continue;
        }
        // Through a wrapper of this crate, the parent's handling of the result is only
        // known when the code matches on it here.
        if fp.kind == ForkKind::Raw(ForkFn::Wrapper) && fp.parent.is_none() {
            continue;
        }
        // A wrapper that reaps its child itself (or hands the pid on: a daemonizing
        // wrapper waits for the intermediate process) returns no child to reap.
        if fp.wraps.is_some_and(|w| wrapper_reaps(cx, w)) {
            continue;
        }
        // Once per file, not per fork point (a file forking thousands of times).
        let ignores_sigchld = *sigchld_ignored
            .entry(Arc::as_ptr(&fp.file.source))
            .or_insert_with(|| {
                let text = &fp.file.source.text;
                text.contains("SIGCHLD") && (text.contains("SIG_IGN") || text.contains("SigIgn"))
            });
        if ignores_sigchld {
            continue;
        }
        let pid = fp.parent.as_ref().and_then(|p| p.pid.clone());
        // A pid returned as the function's value is reaped by the caller.
        if let (Some(p), Some(syn::Stmt::Expr(tail, None))) = (&pid, fp.func.def.body.stmts.last())
        {
            if returns(tail, p) {
                continue;
            }
        }
        let file = fp.file;
        let good = |e: &Expr| {
            flow::exits(cx, file, e)
                || is_wait(file, e)
                || pid.as_deref().is_some_and(|p| escapes(e, p))
        };
        // The child's code is not the parent's path.
        let (skip_e, skip_b, skip_s): (Option<&Expr>, Option<&syn::Block>, &[syn::Stmt]) =
            match fp.child.as_ref().map(|c| c.code) {
                Some(Code::Expr(e)) => (Some(e), None, &[]),
                Some(Code::Block(b)) => (None, Some(b), &[]),
                Some(Code::Stmts(s)) => (None, None, s),
                None => (None, None, &[]),
            };
        // Nor are the branches of a failed fork, where there is no child.
        let skip = |e: &Expr| {
            skip_e.is_some_and(|s| std::ptr::eq(s, e))
                || fp
                    .errors
                    .iter()
                    .any(|c| matches!(c, Code::Expr(x) if std::ptr::eq(*x, e)))
        };
        let skip_block = |b: &syn::Block| {
            skip_b.is_some_and(|s| std::ptr::eq(s, b))
                || fp
                    .errors
                    .iter()
                    .any(|c| matches!(c, Code::Block(x) if std::ptr::eq(*x, b)))
        };
        let skip_stmt = |s: &syn::Stmt| skip_s.iter().any(|t| std::ptr::eq(t, s));
        // After `if pid > 0 { … }` the fall-through is the child or a failed fork.
        let parent_only = |i: &syn::ExprIf| fp.parent_skips_implicit_else(i);
        let expand = file.flow_expander(cx);
        let mut f = Flow::new(&good, &|_| false, &skip, &skip_block)
            .expanding(&expand)
            .skipping_stmts(&skip_stmt)
            .without_implicit_else(&parent_only);
        let mut outcome =
            flow::to_function_end(&mut f, &fp.ancestors[..fp.construct], fp.construct_expr());
        // `fork()?` failing creates no child.
        let fork_value = match fp.ancestors.get(fp.construct) {
            Some(crate::analysis::syntax::Node::Expr(e)) => syn::spanned::Spanned::span(*e),
            _ => syn::spanned::Spanned::span(fp.call),
        };
        outcome
            .leaks
            .retain(|l| !syntax::contains(fork_value, l.span));
        let mut labels = Vec::new();
        for leak in &outcome.leaks {
            labels.push(Label {
                span: file.span(leak.span),
                message: format!("the parent {} here without waiting for the child", leak.how),
                kind: LabelKind::Secondary,
            });
        }
        for s in &outcome.stuck {
            labels.push(Label {
                span: file.span(*s),
                message: "the parent keeps running here and never waits for the child".into(),
                kind: LabelKind::Secondary,
            });
        }
        let falls_off = outcome.normal;
        if labels.is_empty() && !falls_off {
            continue;
        }
        if falls_off {
            labels.push(Label {
                span: file.span_of(&fp.func.def.sig.ident),
                message: format!(
                    "the parent can reach the end of `{}` without waiting for the child",
                    fp.func.def.name
                ),
                kind: LabelKind::Secondary,
            });
        }
        let subject = pid
            .as_deref()
            .map_or("the child".to_string(), |p| format!("the child (`{p}`)"));
        checker.report(
            &UNREAPED_CHILD,
            Finding {
                message: format!("{subject} is never waited for on some path of the parent: once it exits it stays a zombie while the parent runs"),
                primary: fp.span(),
                primary_label: "the child is created here".into(),
                labels,
                help: Some("reap the child on every path (`waitpid(pid, …)`), including error paths, or hand the pid to code that does".into()),
                fix: None,
            },
        );
    }
}

/// Whether a fork wrapper's parent side waits for its child or passes the pid to a
/// function other than a constructor (its caller then gets no child to reap).
/// A wrapper of a wrapper asks the inner one.
fn wrapper_reaps<'a>(
    cx: &'a crate::analysis::PackageCx<'a>,
    wrapper: crate::analysis::FnRef<'a>,
) -> bool {
    wrapper_reaps_depth(cx, wrapper, 0)
}

fn wrapper_reaps_depth<'a>(
    cx: &'a crate::analysis::PackageCx<'a>,
    wrapper: crate::analysis::FnRef<'a>,
    depth: usize,
) -> bool {
    cx.forks_in(wrapper).filter(|p| p.wrapper).any(|p| {
        if let Some(inner) = p.wraps {
            if depth < 8 && wrapper_reaps_depth(cx, inner, depth + 1) {
                return true;
            }
        }
        let Some(pid) = p.parent.as_ref().and_then(|s| s.pid.clone()) else {
            return false;
        };
        let child = p.child.as_ref().map(|c| c.code);
        // The pid and the values made from it (`let process = ProcessId::new(pid)?`).
        let mut names = vec![pid];
        syntax::each_expr(wrapper.def.body, &mut |_, ancestors| {
            if let Some(syntax::Node::Local(l)) = ancestors.last() {
                if let (Some(name), Some(init)) = (syntax::pat_ident(&l.pat), &l.init) {
                    if names.iter().any(|n| mentions(&init.expr, n)) && !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
        });
        let mut reaps = false;
        syntax::each_expr(wrapper.def.body, &mut |e, _| {
            let in_child = child.is_some_and(|c| {
                crate::analysis::threads::code_contains(c, syn::spanned::Spanned::span(e))
            });
            if in_child || reaps {
                return;
            }
            let uses = |x: &Expr| names.iter().any(|n| mentions(x, n));
            reaps = (is_wait(wrapper.file, e) && uses(e))
                || matches!(e, Expr::Call(c) if {
                    let name = match syntax::peel(&c.func) {
                        Expr::Path(p) => syntax::last_ident(&p.path).unwrap_or_default(),
                        _ => String::new(),
                    };
                    // A constructor (`Fork::Parent(pid)`, `Pid::new(pid)`) wraps the pid
                    // for the caller; it does not reap it.
                    let constructor = name.chars().next().is_some_and(char::is_uppercase);
                    !constructor
                        && !matches!(name.as_str(), "new" | "from_raw" | "kill" | "killpg")
                        && c.args.iter().any(uses)
                });
        });
        reaps
    })
}

fn is_wait(file: &crate::analysis::FileCx<'_>, e: &Expr) -> bool {
    let Expr::Call(c) = e else { return false };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return false;
    };
    catalog::is_wait(&file.resolver.candidates(&p.path))
}

/// Whether `e` hands the pid elsewhere: returns it, stores it, or passes it to a
/// function (which is then responsible for reaping it).
fn escapes(e: &Expr, pid: &str) -> bool {
    let mentions = |x: &Expr| mentions(x, pid);
    match e {
        Expr::Return(r) => r.expr.as_deref().is_some_and(mentions),
        Expr::Call(c) => {
            let name = match syntax::peel(&c.func) {
                Expr::Path(p) => syntax::last_ident(&p.path).unwrap_or_default(),
                _ => String::new(),
            };
            !matches!(name.as_str(), "kill" | "killpg" | "from_raw" | "as_raw")
                && c.args.iter().any(mentions)
        }
        Expr::MethodCall(m) => {
            matches!(
                m.method.to_string().as_str(),
                "push" | "insert" | "extend" | "send" | "push_back" | "store" | "set" | "replace"
            ) && m.args.iter().any(mentions)
        }
        Expr::Struct(s) => s.fields.iter().any(|f| mentions(&f.expr)),
        Expr::Assign(a) => mentions(&a.right) && !matches!(syntax::peel(&a.left), Expr::Path(_)),
        _ => false,
    }
}

/// Whether a tail expression is the pid or wraps it (`pid`, `Ok(pid)`, `(pid, fd)`,
/// `Child { pid }`).
fn returns(e: &Expr, pid: &str) -> bool {
    match syntax::peel(e) {
        p @ Expr::Path(_) => syntax::ident_of(p).as_deref() == Some(pid),
        Expr::Call(c) => c.args.iter().any(|a| returns(a, pid)),
        Expr::Tuple(t) => t.elems.iter().any(|a| returns(a, pid)),
        Expr::Struct(s) => s.fields.iter().any(|f| returns(&f.expr, pid)),
        Expr::MethodCall(m) => returns(&m.receiver, pid),
        Expr::If(i) => {
            i.then_branch
                .stmts
                .last()
                .is_some_and(|s| matches!(s, syn::Stmt::Expr(t, None) if returns(t, pid)))
                || i.else_branch.as_ref().is_some_and(|(_, e)| returns(e, pid))
        }
        Expr::Match(m) => m.arms.iter().any(|a| returns(&a.body, pid)),
        Expr::Block(b) => b
            .block
            .stmts
            .last()
            .is_some_and(|s| matches!(s, syn::Stmt::Expr(t, None) if returns(t, pid))),
        _ => false,
    }
}

fn mentions(e: &Expr, var: &str) -> bool {
    fn walk(ts: proc_macro2::TokenStream, var: &str) -> bool {
        ts.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == var,
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), var),
            _ => false,
        })
    }
    walk(quote::ToTokens::to_token_stream(e), var)
}
