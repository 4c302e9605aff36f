//! What becomes of a `std::process::Command` that a `pre_exec` hook is set on.
//!
//! A hook runs between fork and exec when the command is spawned (`spawn`, `status`,
//! `output`), but in the calling process itself when the command is `exec`ed
//! (`CommandExt::exec` replaces the process without forking). A command that is only
//! ever `exec`ed therefore makes its hooks ordinary code of the process that execs —
//! often the child of the program's own `fork`, which the analysis judges on its own.
//!
//! The command is followed through the package's functions it is passed to (by value or
//! by reference) and, when the hook is set on a function's `Command` parameter, back to
//! the callers' variables (privilege tools build a command, let helpers add hooks, then
//! hand it to the function that forks and execs it). Anything the analysis cannot
//! follow — a call outside the package, a return, a store, a caller it cannot find —
//! makes the answer "not only exec'ed", which keeps the hook a fork point.

use std::collections::HashSet;

use syn::Expr;

use super::model::calls;
use super::syntax::{self, Node};
use super::{FnRef, PackageCx};

/// How deep the command is followed through calls and callers.
const MAX_DEPTH: usize = 8;

/// What the code does with a command, over every function it reaches.
#[derive(Clone, Copy, Default)]
struct Fate {
    /// `.exec()` is called on it.
    execed: bool,
    /// `.spawn()`, `.status()` or `.output()` is called on it.
    runs: bool,
    /// It goes where the analysis cannot follow.
    unknown: bool,
}

impl Fate {
    fn merge(&mut self, other: Fate) {
        self.execed |= other.execed;
        self.runs |= other.runs;
        self.unknown |= other.unknown;
    }
}

/// Whether the command `receiver` (in `func`, the hook call being `call` with
/// `ancestors`) is only ever `exec`ed: the call is chained into `.exec()`, or the
/// command's variable is `exec`ed and never run, wherever it goes.
pub fn only_execed<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    receiver: &Expr,
    ancestors: &[Node<'a>],
    call: &'a Expr,
) -> bool {
    // `cmd.pre_exec(..).exec()`
    if let Some(Node::Expr(Expr::MethodCall(outer))) = ancestors.last() {
        if std::ptr::eq(&*outer.receiver, call) && outer.method == "exec" {
            return true;
        }
    }
    let Some(var) = syntax::ident_of(syntax::chain_root(receiver)) else {
        return false;
    };
    let fate = fate(cx, func, &var, &mut HashSet::new(), 0);
    fate.execed && !fate.runs && !fate.unknown
}

/// What `func` and the code it hands `var` to (or gets it from) do with it.
fn fate<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    var: &str,
    seen: &mut HashSet<((usize, usize), String)>,
    depth: usize,
) -> Fate {
    let mut out = Fate::default();
    if !seen.insert((func.key(), var.to_string())) {
        return out; // being computed: the other uses decide
    }
    if depth > MAX_DEPTH {
        out.unknown = true;
        return out;
    }
    let is_var = |e: &Expr| syntax::ident_of(e).as_deref() == Some(var);
    // Calls `var` is passed to, to follow once the walk is done.
    let mut handed: Vec<(FnRef<'a>, usize)> = Vec::new();
    syntax::each_expr(func.def.body, &mut |e, _| match e {
        Expr::MethodCall(m) if is_var(syntax::chain_root(&m.receiver)) => {
            match m.method.to_string().as_str() {
                "exec" => out.execed = true,
                "spawn" | "status" | "output" => out.runs = true,
                _ => {}
            }
            hand(cx, func, e, &m.args, &is_var, &mut handed, &mut out);
        }
        Expr::Call(c) => hand(cx, func, e, &c.args, &is_var, &mut handed, &mut out),
        Expr::MethodCall(m) => hand(cx, func, e, &m.args, &is_var, &mut handed, &mut out),
        Expr::Return(r) if r.expr.as_deref().is_some_and(is_var) => out.unknown = true,
        // Stored in a struct or moved to another name.
        Expr::Struct(s) if s.fields.iter().any(|f| is_var(&f.expr)) => out.unknown = true,
        Expr::Assign(a) if is_var(&a.right) => out.unknown = true,
        _ => {}
    });
    if syntax::local_in(func.def.body, var)
        .and_then(|l| l.init.as_ref())
        .is_some_and(|i| is_var(&i.expr))
    {
        out.unknown = true; // `let other = var;`
    }
    if matches!(func.def.body.stmts.last(), Some(syn::Stmt::Expr(e, None)) if is_var(e)) {
        out.unknown = true; // returned as the tail
    }
    for (callee, index) in handed {
        match callee.def.params().get(index) {
            Some((Some(param), _)) => {
                let param = param.clone();
                out.merge(fate(cx, callee, &param, seen, depth + 1));
            }
            _ => out.unknown = true,
        }
    }
    // A hook set on a parameter: what the callers do with the command they passed.
    let params = func.def.params();
    if let Some(index) = params.iter().position(|(n, _)| n.as_deref() == Some(var)) {
        let by_reference = matches!(params[index].1, syn::Type::Reference(_));
        if cx.externally_callable(func) {
            out.unknown = true;
        }
        let sites = calls::callers(cx, func);
        if sites.is_empty() {
            out.unknown = true;
        }
        for site in sites {
            let arg = site.expr.and_then(|e| {
                let has_self = func.def.sig.receiver().is_some();
                match e {
                    Expr::Call(c) => c.args.iter().nth(index + usize::from(has_self)),
                    Expr::MethodCall(m) => m.args.iter().nth(index),
                    _ => None,
                }
            });
            match arg.and_then(syntax::ident_of) {
                // Passed by value, the caller cannot use it afterwards.
                Some(_) if !by_reference => {}
                Some(theirs) => out.merge(fate(cx, site.caller, &theirs, seen, depth + 1)),
                None => out.unknown = true,
            }
        }
    }
    out
}

/// Notes a call that `var` is an argument of: a package function to follow, or code
/// the analysis cannot see (`drop(cmd)` is neither).
fn hand<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    call: &Expr,
    args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>,
    is_var: &dyn Fn(&Expr) -> bool,
    handed: &mut Vec<(FnRef<'a>, usize)>,
    out: &mut Fate,
) {
    let Some(index) = args.iter().position(is_var) else {
        return;
    };
    if let Expr::Call(c) = call {
        if let Expr::Path(p) = syntax::peel(&c.func) {
            if p.path.is_ident("drop") {
                return;
            }
        }
    }
    match calls::callee(cx, func.file, Some(func), call) {
        Some(target) => match param_index(target, call, index) {
            Some(i) => handed.push((target, i)),
            None => out.unknown = true,
        },
        None => out.unknown = true,
    }
}

/// The index among `target`'s parameters (`self` excluded) of a call's argument
/// `index`: `Type::method(obj, x)` passes `self` as its first argument.
fn param_index(target: FnRef<'_>, call: &Expr, index: usize) -> Option<usize> {
    let has_self = target.def.sig.receiver().is_some();
    match call {
        Expr::Call(_) if has_self => index.checked_sub(1),
        _ => Some(index),
    }
}
