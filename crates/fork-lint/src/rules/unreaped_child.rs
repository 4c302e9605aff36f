//! FL006: a forked child whose pid is never waited for.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use syn::{Expr, Stmt};

use crate::analysis::catalog::{self, ForkFn};
use crate::analysis::flow::{self, Flow};
use crate::analysis::forks::ForkKind;
use crate::analysis::model::calls;
use crate::analysis::syntax;
use crate::analysis::walk::Code;
use crate::analysis::{FnRef, PackageCx};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind};
use crate::source::SourceFile;

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds a forked child that the parent does not wait for on some path.
    ///
    /// Finds a raw `fork()` after which a normal path of the parent never waits for the
    /// child (`waitpid`, `wait`, `waitid`, through libc or nix) before it falls off the
    /// end of its function, returns, breaks out, or keeps running in a loop. Like
    /// Clippy's `zombie_processes`, the rule prefers missing a zombie to a false alarm,
    /// and follows these policies:
    ///
    /// - **Error paths.** A parent that leaves through an error between the fork and
    ///   the wait (`?`, `return Err(..)`) is not reported: only its normal paths are
    ///   checked. `strict-error-paths = true` in the configuration reports error paths
    ///   too.
    /// - **Waiting through the package's code.** A function or method of the package
    ///   that is given the pid and waits for it is a wait: a `reap(pid)` helper that
    ///   calls `waitpid` on its parameter (directly or through another such helper), a
    ///   `Pid::wait(&self)` method of a newtype (found through the call graph, in any
    ///   file of the package; when the receiver's type is unknown, every package method
    ///   of that name must wait). So is a package function that waits for any child
    ///   (`waitpid(-1, ..)`), and a `for`/`while` loop that waits for the child (a
    ///   `WNOHANG` polling loop). Constructors and getters that give the pid back
    ///   (`Pid::new(raw)`, `child.raw()`) are followed to where their result goes. A
    ///   package function that only reads the pid (formats, logs, compares, signals it)
    ///   is not a wait.
    /// - **Failed forks.** A `break` or `return` taken only when the fork failed
    ///   (`pid < 0`, `pid == -1`, `Err(_)`) is not a parent path: there is no child.
    /// - **Pids in a local collection.** A pid pushed into a local collection
    ///   (`children.push(pid)`, `insert`, `extend`) is followed: waited for in a later
    ///   loop (`for pid in children { waitpid(pid, ..) }`, `.iter().for_each(|p| ..)`,
    ///   `.drain(..)`, `while let Some(p) = children.pop()`) or handed on, it is reaped;
    ///   only formatted, logged or compared, it is not.
    /// - **Handed elsewhere.** A pid returned to the caller, stored in a field, a shared
    ///   collection or a value whose type has a `Drop` impl, sent on a channel, or given
    ///   to a function of another crate is assumed to be reaped there.
    ///
    /// `SIGCHLD` set to `SIG_IGN` (automatic reaping) silences the rule. A parent that
    /// leaves with `exit`/`_exit` right after forking (the daemon pattern) is fine: its
    /// children are reparented and reaped by init.
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
    /// - [POSIX "Consequences of Process
    ///   Termination"](https://pubs.opengroup.org/onlinepubs/9799919799/functions/_Exit.html):
    ///   zombie processes
    /// - [Clippy
    ///   `zombie_processes`](https://rust-lang.github.io/rust-clippy/master/index.html#zombie_processes),
    ///   the same hazard for `Command::spawn`
    pub static UNREAPED_CHILD = {
        code: "FL006",
        name: "unreaped-child",
        severity: Warning,
        check: Some(check),
    };
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    let strict = cx.options.strict_error_paths;
    let reaping = Reaping::new(cx);
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
        // The pid, and what holds it (`let child = Pid::new(pid)`, `children.push(pid)`).
        let names = match &pid {
            Some(p) => reaping.derive(fp.func, vec![p.clone()], 0),
            None => Vec::new(),
        };
        // A pid returned as the function's value is reaped by the caller.
        if let Some(Stmt::Expr(tail, None)) = fp.func.def.body.stmts.last() {
            if names.iter().any(|n| returns(tail, n)) {
                continue;
            }
        }
        let file = fp.file;
        // Where the pid went to code that only reads it: said in the finding.
        let kept: RefCell<Vec<(proc_macro2::Span, String)>> = RefCell::default();
        let good = |e: &Expr| {
            flow::exits(cx, file, e)
                || is_wait(file, e)
                || reaping.waits_for_any(fp.func, e, 0)
                || match reaping.consumer(fp.func, e, &names, 0) {
                    Some(f) if f >= Fate::Returned => true,
                    Some(_) => {
                        if let Some(m) = kept_label(e) {
                            kept.borrow_mut().push((syn::spanned::Spanned::span(e), m));
                        }
                        false
                    }
                    None => false,
                }
                // A `for`/`while` loop that waits for the child (polling with
                // `WNOHANG`) counts, though it could in principle run zero times.
                || matches!(e, Expr::ForLoop(_) | Expr::While(_))
                    && reaping.reaps_in(fp.func, e, &names, 0)
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
        // Leaving through an error is not the parent's normal path (unless configured).
        outcome
            .leaks
            .retain(|l| !syntax::contains(fork_value, l.span) && (strict || !l.error));
        let error_path = outcome.leaks.iter().any(|l| l.error);
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
        let mut seen = Vec::new();
        for (span, message) in kept.take() {
            let at = (span.start(), span.end());
            if !seen.contains(&at) {
                seen.push(at);
                labels.push(Label {
                    span: file.span(span),
                    message,
                    kind: LabelKind::Secondary,
                });
            }
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
                message: format!(
                    "{subject} is never waited for on some path of the parent: once \
                    it exits it stays a zombie while the parent runs"
                ),
                primary: fp.span(),
                primary_label: "the child is created here".into(),
                labels,
                help: Some(if error_path {
                    "reap the child on every path (`waitpid(pid, …)`), including error paths, or \
                        hand the pid to code that does"
                        .into()
                } else {
                    "reap the child on every path of the parent (`waitpid(pid, …)`), or hand the \
                        pid to code that does"
                        .into()
                }),
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

/// What becomes of a pid, or of a value that holds pids (a newtype, a collection), in
/// the code that has it. When code does several things with it, the greatest counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// Only read: formatted, logged, compared, signalled, or kept in a local collection
    /// nobody waits on.
    Kept,
    /// Given back to the caller (returned, or put in a collection that is returned).
    Returned,
    /// Handed to code assumed to reap it: stored in a field, a shared collection or a
    /// value with a `Drop` impl, sent on a channel, given to another crate's function.
    HandedOn,
    /// Waited for, directly or through a function of the package.
    Waited,
}

/// How deep calls into the package's functions are followed.
const MAX_DEPTH: usize = 4;

/// Methods whose result is (a view of, an element of) the value they are called on: the
/// pid is in it.
const TRANSPARENT: &[&str] = &[
    "clone",
    "as_raw",
    "into",
    "try_into",
    "unwrap",
    "expect",
    "unwrap_or",
    "unwrap_or_default",
    "ok",
    "to_owned",
    "as_ref",
    "as_mut",
    "borrow",
    "borrow_mut",
    "lock",
    "iter",
    "iter_mut",
    "into_iter",
    "drain",
    "copied",
    "cloned",
    "values",
    "values_mut",
    "keys",
    "pop",
    "pop_front",
    "pop_back",
    "first",
    "last",
    "get",
    "remove",
    "swap_remove",
    "take",
    "map",
    "filter",
    "filter_map",
    "flat_map",
    "enumerate",
    "rev",
    "skip",
    "chain",
    "peekable",
    "inspect",
    "by_ref",
    "as_slice",
    "to_vec",
    "ok_or",
    "ok_or_else",
    "unwrap_or_else",
    "map_err",
    "context",
    "with_context",
    "wrap_err",
    "or_else",
];

/// Functions that take a pid and do not wait for it (or only wrap it).
const NOT_REAPERS: &[&str] = &[
    "kill",
    "killpg",
    "from_raw",
    "as_raw",
    "from",
    "setpgid",
    "getpgid",
    "tcsetpgrp",
];

/// Methods that put a value into a collection.
const ADDS: &[&str] = &["push", "push_back", "push_front", "insert", "extend"];

/// Methods that hand a value to whoever reads the channel, cell or atomic.
const SENDS: &[&str] = &[
    "send",
    "try_send",
    "send_timeout",
    "blocking_send",
    "store",
    "set",
    "replace",
    "swap",
];

/// Macros whose result is text made from their arguments, not the arguments.
const FORMATTING_MACROS: &[&str] = &["format", "format_args", "concat", "stringify"];

/// A function (by [`FnRef::key`]) and the names whose fate in it is asked.
type FateKey = ((usize, usize), Vec<String>);

/// Follows pids through the package: into the functions and methods they are given,
/// into local collections, through `let`s. Memoised per function and names.
struct Reaping<'a> {
    cx: &'a PackageCx<'a>,
    memo: RefCell<HashMap<FateKey, Fate>>,
    drops: RefCell<HashMap<String, bool>>,
    any_waiters: RefCell<HashMap<(usize, usize), bool>>,
    derived: RefCell<HashMap<FateKey, Vec<String>>>,
}

impl<'a> Reaping<'a> {
    fn new(cx: &'a PackageCx<'a>) -> Reaping<'a> {
        Reaping {
            cx,
            memo: RefCell::default(),
            drops: RefCell::default(),
            any_waiters: RefCell::default(),
            derived: RefCell::default(),
        }
    }

    /// The names that hold the pid in `func`: `names`, and what is made from them
    /// (`let`s, assignments, loop and closure bindings over a collection of them). A
    /// local collection they are added to is followed on its own (see `consumer`).
    fn derive(&self, func: FnRef<'a>, names: Vec<String>, depth: usize) -> Vec<String> {
        // Forks in one function often share the pid's name.
        let key = (func.key(), names.clone());
        if let Some(known) = self.derived.borrow().get(&key) {
            return known.clone();
        }
        let derived = self.derive_now(func, names, depth);
        self.derived.borrow_mut().insert(key, derived.clone());
        derived
    }

    fn derive_now(&self, func: FnRef<'a>, mut names: Vec<String>, depth: usize) -> Vec<String> {
        for _ in 0..4 {
            let mut found: Vec<String> = Vec::new();
            syntax::each_expr(func.def.body, &mut |e, ancestors| {
                let m = |x: &Expr| mentions_any(x, &names) && self.carries(func, x, depth);
                if let Some(syntax::Node::Local(l)) = ancestors.last() {
                    if l.init.as_ref().is_some_and(|i| std::ptr::eq(&*i.expr, e)) && m(e) {
                        syntax::pat_bindings(&l.pat, &mut found);
                    }
                }
                match e {
                    Expr::ForLoop(f) if m(&f.expr) => syntax::pat_bindings(&f.pat, &mut found),
                    Expr::Let(l) if m(&l.expr) => syntax::pat_bindings(&l.pat, &mut found),
                    // `match self { Fork::Parent(pid) => Some(*pid), .. }`
                    Expr::Match(mt) if m(&mt.expr) => {
                        for arm in &mt.arms {
                            syntax::pat_bindings(&arm.pat, &mut found);
                        }
                    }
                    // `pids.iter().for_each(|p| …)`
                    Expr::Closure(c) => {
                        if let Some(syntax::Node::Expr(Expr::MethodCall(mc))) = ancestors.last() {
                            if m(&mc.receiver) {
                                for input in &c.inputs {
                                    syntax::pat_bindings(input, &mut found);
                                }
                            }
                        }
                    }
                    Expr::Assign(a) if m(&a.right) => {
                        if let Some(name) = syntax::ident_of(&a.left) {
                            if is_local(func, &name) {
                                found.push(name);
                            }
                        }
                    }
                    _ => {}
                }
            });
            let before = names.len();
            for n in found {
                if n != "_" && !names.contains(&n) {
                    names.push(n);
                }
            }
            if names.len() == before {
                break;
            }
        }
        names
    }

    /// What `e` does with the values `names` of `func` when it takes one of them.
    /// `None` when it does not take one, or passes it through (a constructor, a
    /// function of the package that gives it back): where the result goes is
    /// followed instead.
    fn consumer(&self, func: FnRef<'a>, e: &Expr, names: &[String], depth: usize) -> Option<Fate> {
        let m = |x: &Expr| mentions_any(x, names);
        let taken = |args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>| -> Vec<usize> {
            args.iter()
                .enumerate()
                .filter(|(_, a)| m(a) && self.carries(func, a, depth))
                .map(|(i, _)| i)
                .collect()
        };
        match e {
            // `return Ok(pid)`, not `return Err(format!("child {pid} failed"))`
            Expr::Return(r) => r
                .expr
                .as_deref()
                .is_some_and(|x| m(x) && self.carries(func, x, depth))
                .then_some(Fate::Returned),
            // `self.child = pid`, `SLOT[i] = pid`, `CHILD = pid` (a static); an
            // assignment to a local is followed instead (see `derive`).
            Expr::Assign(a) => (m(&a.right)
                && self.carries(func, &a.right, depth)
                && !syntax::ident_of(&a.left).is_some_and(|n| is_local(func, &n)))
            .then_some(Fate::HandedOn),
            Expr::Struct(s) => {
                let ty = syntax::last_ident(&s.path).unwrap_or_default();
                (s.fields
                    .iter()
                    .any(|f| m(&f.expr) && self.carries(func, &f.expr, depth))
                    && self.has_drop(func, &ty))
                .then_some(Fate::HandedOn)
            }
            Expr::Call(c) => {
                let args = taken(&c.args);
                if args.is_empty() {
                    return None;
                }
                if is_wait(func.file, e) {
                    return Some(Fate::Waited);
                }
                // A closure or a function value: unknown.
                let Expr::Path(p) = syntax::peel(&c.func) else {
                    return Some(Fate::HandedOn);
                };
                let name = syntax::last_ident(&p.path).unwrap_or_default();
                if is_constructor(&name) {
                    let ty = if name == "Self" {
                        func.def.self_ty.clone().unwrap_or_default()
                    } else {
                        name
                    };
                    return self.has_drop(func, &ty).then_some(Fate::HandedOn);
                }
                if NOT_REAPERS.contains(&name.as_str()) {
                    return None;
                }
                let Some(target) = calls::resolve_fn(self.cx, func.file, &p.path) else {
                    return Some(Fate::HandedOn);
                };
                // `Type::method(value, ..)`: the first argument is `self`.
                let receiver = has_receiver(target);
                let params = args
                    .into_iter()
                    .map(|i| if receiver { i.checked_sub(1) } else { Some(i) });
                self.through_call(target, params, depth)
            }
            Expr::MethodCall(mc) => {
                let method = mc.method.to_string();
                let args = taken(&mc.args);
                if !args.is_empty() {
                    if ADDS.contains(&method.as_str()) {
                        return match local_collection(func, &mc.receiver) {
                            Some(coll) if names.contains(&coll) => None,
                            Some(coll) => Some(self.fate_in(func, vec![coll], depth)),
                            None => Some(Fate::HandedOn),
                        };
                    }
                    if SENDS.contains(&method.as_str()) {
                        return Some(Fate::HandedOn);
                    }
                    if let Some(target) =
                        calls::method_callee(self.cx, func.file, Some(func), &mc.receiver, &method)
                    {
                        return self.through_call(target, args.into_iter().map(Some), depth);
                    }
                }
                if m(&mc.receiver)
                    && self.carries(func, &mc.receiver, depth)
                    && !TRANSPARENT.contains(&method.as_str())
                {
                    if let Some(target) =
                        calls::method_callee(self.cx, func.file, Some(func), &mc.receiver, &method)
                    {
                        return self.through_call(target, std::iter::once(None), depth);
                    }
                    // The receiver's type is not known (`let Parent(pid) = fork()? else
                    // {..}; pid.wait()`): the package's methods of that name, when every
                    // one of them waits for `self`.
                    let methods = self.methods_named(func, &method);
                    if !methods.is_empty()
                        && methods
                            .iter()
                            .all(|t| self.param_fate(*t, None, depth) == Fate::Waited)
                    {
                        return Some(Fate::Waited);
                    }
                    // A function given to a method of the value (`pids.iter().for_each(reap)`).
                    let mut fate = None;
                    for a in &mc.args {
                        if let Expr::Path(p) = syntax::peel(a) {
                            if let Some(target) = calls::resolve_fn(self.cx, func.file, &p.path) {
                                fate = fate.max(self.through_call(
                                    target,
                                    std::iter::once(Some(0)),
                                    depth,
                                ));
                            } else if p.path.segments.len() > 1 {
                                fate = Some(Fate::HandedOn);
                            }
                        }
                    }
                    return fate;
                }
                None
            }
            _ => None,
        }
    }

    /// Whether `e` may be the value itself, maybe wrapped or passed through (`pid`,
    /// `&pid`, `pid.clone()`, `Pid::from_raw(pid)`, `Some(pid)`, `vec![pid]`,
    /// `Child { pid }`, `child.raw()` of a package getter), rather than something
    /// computed from it (`pid.to_string()`, `format!("{pid}")`, `pid + 1`, a path made
    /// from it). A call that computes from it is judged on its own.
    fn carries(&self, func: FnRef<'a>, e: &Expr, depth: usize) -> bool {
        match syntax::peel(e) {
            Expr::MethodCall(m) => {
                let method = m.method.to_string();
                if TRANSPARENT.contains(&method.as_str()) {
                    return self.carries(func, &m.receiver, depth);
                }
                if depth >= MAX_DEPTH {
                    return false;
                }
                let recv = self.carries(func, &m.receiver, depth);
                let target =
                    calls::method_callee(self.cx, func.file, Some(func), &m.receiver, &method);
                match target {
                    // A getter, or a method that gives back what it is given.
                    Some(t) => {
                        (recv && self.param_fate(t, None, depth) == Fate::Returned)
                            || m.args.iter().enumerate().any(|(i, a)| {
                                self.carries(func, a, depth)
                                    && self.param_fate(t, Some(i), depth) == Fate::Returned
                            })
                    }
                    None => {
                        recv && {
                            let methods = self.methods_named(func, &method);
                            !methods.is_empty()
                                && methods
                                    .iter()
                                    .all(|t| self.param_fate(*t, None, depth) == Fate::Returned)
                        }
                    }
                }
            }
            Expr::Call(c) => {
                let Expr::Path(p) = syntax::peel(&c.func) else {
                    return false;
                };
                let name = syntax::last_ident(&p.path).unwrap_or_default();
                if is_constructor(&name) || matches!(name.as_str(), "from_raw" | "from") {
                    return c.args.iter().any(|a| self.carries(func, a, depth));
                }
                if depth >= MAX_DEPTH {
                    return false;
                }
                // `cvt(pid)`: a function of the package that gives its argument back.
                match calls::resolve_fn(self.cx, func.file, &p.path) {
                    Some(t) => {
                        let receiver = has_receiver(t);
                        c.args.iter().enumerate().any(|(i, a)| {
                            let param = if receiver { i.checked_sub(1) } else { Some(i) };
                            self.carries(func, a, depth)
                                && self.param_fate(t, param, depth) == Fate::Returned
                        })
                    }
                    None => false,
                }
            }
            Expr::Macro(m) => !FORMATTING_MACROS.contains(&syntax::macro_name(&m.mac).as_str()),
            Expr::Binary(_) | Expr::Unary(_) | Expr::Lit(_) | Expr::Range(_) => false,
            Expr::Cast(c) => self.carries(func, &c.expr, depth),
            Expr::Try(t) => self.carries(func, &t.expr, depth),
            Expr::Field(f) => self.carries(func, &f.base, depth),
            Expr::Index(i) => self.carries(func, &i.expr, depth),
            _ => true,
        }
    }

    /// The fate of values given to `target` as the parameters `params` (`None`: `self`);
    /// `None` when `target` gives them back (its result holds them).
    fn through_call(
        &self,
        target: FnRef<'a>,
        params: impl Iterator<Item = Option<usize>>,
        depth: usize,
    ) -> Option<Fate> {
        match params.map(|p| self.param_fate(target, p, depth)).max()? {
            Fate::Returned => None,
            fate => Some(fate),
        }
    }

    /// What `target` does with its parameter `param` (`None`: `self`).
    fn param_fate(&self, target: FnRef<'a>, param: Option<usize>, depth: usize) -> Fate {
        if depth >= MAX_DEPTH {
            return Fate::HandedOn;
        }
        let name = match param {
            None if has_receiver(target) => "self".to_string(),
            None => return Fate::HandedOn,
            Some(i) => {
                let typed: Vec<&syn::PatType> = target
                    .def
                    .sig
                    .inputs
                    .iter()
                    .filter_map(|a| match a {
                        syn::FnArg::Typed(t) => Some(t),
                        syn::FnArg::Receiver(_) => None,
                    })
                    .collect();
                let Some(t) = typed.get(i) else {
                    return Fate::HandedOn;
                };
                if matches!(&*t.pat, syn::Pat::Wild(_)) {
                    return Fate::Kept;
                }
                match syntax::pat_ident(&t.pat) {
                    Some(n) => n,
                    None => return Fate::HandedOn,
                }
            }
        };
        self.fate_in(target, vec![name], depth + 1)
    }

    /// What `func` does with the values `names`: the greatest fate of any use.
    fn fate_in(&self, func: FnRef<'a>, names: Vec<String>, depth: usize) -> Fate {
        let mut sorted = names.clone();
        sorted.sort();
        let key = (func.key(), sorted);
        if let Some(&known) = self.memo.borrow().get(&key) {
            return known;
        }
        // A call cycle is unknown until the first answer.
        self.memo.borrow_mut().insert(key.clone(), Fate::HandedOn);
        let names = self.derive(func, names, depth);
        let file = func.file;
        let mut fate = Fate::Kept;
        let mut judge = |e: &Expr| {
            if fate == Fate::Waited {
                return;
            }
            if is_wait(file, e) && (waits_any(e) || mentions_any(e, &names))
                || self.waits_for_any(func, e, depth)
            {
                fate = Fate::Waited;
            } else if let Some(f) = self.consumer(func, e, &names, depth) {
                fate = fate.max(f);
            }
        };
        let expand = |m: &syn::Macro| file.expansion(self.cx, m).map(|x| &x.block);
        syntax::each_expr_expanded(func.def.body, &expand, &mut |e, _| judge(e));
        // Other crates' macros: the arguments of those that take expressions
        // (`assert!(waitpid(pid).is_ok())`) are judged like code; any other macro given
        // the value, unless it only reads it, is unknown.
        let mut unknown = false;
        syntax::each_macro(func.def.body, &mut |mac, _| {
            if file.expansion(self.cx, mac).is_some() {
                return;
            }
            if !each_macro_arg(mac, &mut judge)
                && !syntax::EXPR_ARG_MACROS.contains(&syntax::macro_name(mac).as_str())
                && tokens_mention(mac.tokens.clone(), &names)
            {
                unknown = true;
            }
        });
        if unknown {
            fate = fate.max(Fate::HandedOn);
        }
        if let Some(Stmt::Expr(tail, None)) = func.def.body.stmts.last() {
            if names.iter().any(|n| returns(tail, n)) {
                fate = fate.max(Fate::Returned);
            }
        }
        self.memo.borrow_mut().insert(key, fate);
        fate
    }

    /// Whether `e` calls a function of the package that waits for any child (`fn
    /// wait_any() { waitpid(-1, ..) }`), which reaps this one too.
    fn waits_for_any(&self, func: FnRef<'a>, e: &Expr, depth: usize) -> bool {
        if !matches!(e, Expr::Call(_) | Expr::MethodCall(_)) || depth >= MAX_DEPTH {
            return false;
        }
        let Some(target) = calls::callee(self.cx, func.file, Some(func), e) else {
            return false;
        };
        // `waitpid_reaped(-1, 0)`: -1 given to a parameter the function waits for.
        if let Expr::Call(c) = e {
            let receiver = has_receiver(target);
            for (i, a) in c.args.iter().enumerate() {
                let param = if receiver { i.checked_sub(1) } else { Some(i) };
                if any_child(a) && self.param_fate(target, param, depth) == Fate::Waited {
                    return true;
                }
            }
        }
        if let Some(&known) = self.any_waiters.borrow().get(&target.key()) {
            return known;
        }
        self.any_waiters.borrow_mut().insert(target.key(), false);
        let mut found = false;
        each_expr_deep(target.def.body, &mut |x| {
            found = found
                || (is_wait(target.file, x) && waits_any(x))
                || self.waits_for_any(target, x, depth + 1);
        });
        self.any_waiters.borrow_mut().insert(target.key(), found);
        found
    }

    /// Whether code waits for the values `names`: a wait that names one of them or
    /// any child, or a use that reaps or hands them on.
    fn reaps_in(&self, func: FnRef<'a>, code: &Expr, names: &[String], depth: usize) -> bool {
        let mut found = false;
        each_sub_expr(code, &mut |e| {
            found = found
                || (is_wait(func.file, e) && (waits_any(e) || mentions_any(e, names)))
                || self.waits_for_any(func, e, depth)
                || self
                    .consumer(func, e, names, depth)
                    .is_some_and(|f| f >= Fate::Returned);
        });
        found
    }

    /// The package's methods named `name` that `func`'s crate can call (its own, and the
    /// library's).
    fn methods_named(&self, func: FnRef<'a>, name: &str) -> Vec<FnRef<'a>> {
        let mut found = self.cx.fns_named(func.file, name);
        if func.file.place.kind != crate::analysis::CodeKind::Lib {
            found.extend(self.cx.fns_named_in(&["lib"], name));
        }
        found.retain(|f| has_receiver(*f));
        found.dedup_by_key(|f| f.key());
        found
    }

    /// Whether the package implements `Drop` for the type `ty` (whose drop may reap the
    /// pid it holds).
    fn has_drop(&self, func: FnRef<'a>, ty: &str) -> bool {
        if ty.is_empty() {
            return false;
        }
        if let Some(&known) = self.drops.borrow().get(ty) {
            return known;
        }
        let is_drop = |f: &FnRef<'a>| {
            f.def.trait_name.as_deref() == Some("Drop") && f.def.self_ty.as_deref() == Some(ty)
        };
        let found = self.cx.fns_named(func.file, "drop").iter().any(is_drop)
            || self.cx.fns_named_in(&["lib"], "drop").iter().any(is_drop);
        self.drops.borrow_mut().insert(ty.to_string(), found);
        found
    }
}

/// A local collection of `func` (a `let` of its body, not a field or a parameter) that
/// `receiver` names.
fn local_collection(func: FnRef<'_>, receiver: &Expr) -> Option<String> {
    let name = syntax::ident_of(receiver)?;
    let param = func
        .def
        .params()
        .iter()
        .any(|(n, _)| n.as_deref() == Some(name.as_str()));
    (name != "self" && !param && syntax::local_in(func.def.body, &name).is_some()).then_some(name)
}

/// Whether `name` is a parameter or a `let` of `func` (not a static).
fn is_local(func: FnRef<'_>, name: &str) -> bool {
    name == "self"
        || func
            .def
            .params()
            .iter()
            .any(|(n, _)| n.as_deref() == Some(name))
        || syntax::local_in(func.def.body, name).is_some()
}

/// Calls `f` for every expression in the arguments of a macro that takes expressions
/// (`assert!`, `println!`, logging macros…), macros in them included; `false` when the
/// macro's arguments are not expressions.
fn each_macro_arg(mac: &syn::Macro, f: &mut dyn FnMut(&Expr)) -> bool {
    let Some(args) = syntax::macro_args(mac) else {
        return false;
    };
    for a in &args {
        each_sub_expr(a, f);
    }
    true
}

/// Calls `f` for `e` and every expression in it, in macro arguments too (not in nested
/// items).
fn each_sub_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    syn::visit::Visit::visit_expr(&mut Deep { f }, e);
}

/// Like [`each_sub_expr`], for a function body.
fn each_expr_deep(b: &syn::Block, f: &mut dyn FnMut(&Expr)) {
    syn::visit::Visit::visit_block(&mut Deep { f }, b);
}

struct Deep<'f> {
    f: &'f mut dyn FnMut(&Expr),
}

impl<'ast> syn::visit::Visit<'ast> for Deep<'_> {
    fn visit_expr(&mut self, e: &'ast Expr) {
        (self.f)(e);
        syn::visit::visit_expr(self, e);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        each_macro_arg(m, self.f);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// What a label says where the pid went to code that does not reap it.
fn kept_label(e: &Expr) -> Option<String> {
    match e {
        Expr::Call(c) => match syntax::peel(&c.func) {
            Expr::Path(p) => Some(format!(
                "`{}` is given the pid here and does not wait for the child",
                syntax::last_ident(&p.path)?
            )),
            _ => None,
        },
        Expr::MethodCall(m) if ADDS.contains(&m.method.to_string().as_str()) => Some(format!(
            "the pid goes into `{}` here, which is never waited for",
            syntax::ident_of(&m.receiver)?
        )),
        Expr::MethodCall(m) => Some(format!(
            "`.{}()` is given the pid here and does not wait for the child",
            m.method
        )),
        _ => None,
    }
}

/// A tuple struct or enum variant (`Some`, `Pid`, `Fork::Parent`, `Self`).
fn is_constructor(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

fn has_receiver(f: FnRef<'_>) -> bool {
    matches!(f.def.sig.inputs.first(), Some(syn::FnArg::Receiver(_)))
}

/// A wait for any child (`wait(..)`, `waitpid(-1, ..)`), which reaps this one too.
fn waits_any(e: &Expr) -> bool {
    let Expr::Call(c) = e else { return false };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return false;
    };
    let name = syntax::last_ident(&p.path).unwrap_or_default();
    matches!(name.as_str(), "wait" | "wait3") || c.args.first().is_some_and(any_child)
}

/// `-1` or `Pid::from_raw(-1)`: "any child" to `waitpid`.
fn any_child(e: &Expr) -> bool {
    let e = match syntax::peel(e) {
        Expr::Call(inner) if inner.args.len() == 1 => &inner.args[0],
        other => other,
    };
    syntax::int_lit(e) == Some(-1)
}

/// Whether a tail expression is the pid or wraps it (`pid`, `Ok(pid)`, `(pid, fd)`,
/// `Child { pid }`).
fn returns(e: &Expr, pid: &str) -> bool {
    match syntax::peel(e) {
        p @ Expr::Path(_) => syntax::ident_of(p).as_deref() == Some(pid),
        Expr::Call(c) => c.args.iter().any(|a| returns(a, pid)),
        Expr::Tuple(t) => t.elems.iter().any(|a| returns(a, pid)),
        Expr::Struct(s) => s.fields.iter().any(|f| returns(&f.expr, pid)),
        // `pid.into()`, `(pid > 0).then_some(Self(pid))`
        Expr::MethodCall(m) => {
            (TRANSPARENT.contains(&m.method.to_string().as_str()) && returns(&m.receiver, pid))
                || m.args.iter().any(|a| returns(a, pid))
        }
        Expr::Field(f) => returns(&f.base, pid),
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
    mentions_any(e, std::slice::from_ref(&var.to_string()))
}

/// Whether `e` names one of `names` (in its tokens: macro arguments count).
fn mentions_any(e: &Expr, names: &[String]) -> bool {
    !names.is_empty() && tokens_mention(quote::ToTokens::to_token_stream(e), names)
}

fn tokens_mention(ts: proc_macro2::TokenStream, names: &[String]) -> bool {
    ts.into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => names.iter().any(|n| i == n),
        proc_macro2::TokenTree::Group(g) => tokens_mention(g.stream(), names),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use crate::engine::lint_memory;
    use crate::{LintOptions, Report};

    const MANIFEST: &str = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n";

    fn lint_files(files: &[(&str, &str)], strict: bool) -> Report {
        let mut options = LintOptions::default();
        options.analysis.strict_error_paths = strict;
        let mut all = vec![("/p/Cargo.toml", MANIFEST)];
        all.extend_from_slice(files);
        let named: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        lint_memory(&all, &named, &options)
    }

    /// The lines of FL006 findings in a one-file binary.
    fn fl006(src: &str) -> Vec<usize> {
        fl006_with(src, false)
    }

    fn fl006_with(src: &str, strict: bool) -> Vec<usize> {
        lines(&lint_files(&[("/p/src/main.rs", src)], strict))
    }

    fn lines(report: &Report) -> Vec<usize> {
        report
            .diagnostics
            .iter()
            .filter(|d| d.code == "FL006")
            .map(|d| d.primary.start.line)
            .collect()
    }

    const ERROR_PATH: &str = r#"
fn supervise() -> std::io::Result<()> {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    let limits = std::fs::read_to_string("/etc/limits.conf")?;
    if limits.is_empty() {
        return Err(std::io::Error::other(format!("no limits for {pid}")));
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(())
}
fn main() { let _ = supervise(); }
"#;

    #[test]
    fn an_error_path_between_fork_and_wait_is_silent_by_default() {
        assert_eq!(fl006(ERROR_PATH), Vec::<usize>::new());
    }

    #[test]
    fn strict_error_paths_reports_the_question_mark_and_the_err_return() {
        let report = lint_files(&[("/p/src/main.rs", ERROR_PATH)], true);
        assert_eq!(lines(&report), vec![3]);
        let labels: Vec<usize> = report.diagnostics[0]
            .labels
            .iter()
            .map(|l| l.span.start.line)
            .collect();
        assert_eq!(labels, vec![7, 9], "{:#?}", report.diagnostics[0].labels);
        assert!(
            report.diagnostics[0]
                .help
                .as_deref()
                .is_some_and(|h| h.contains("error paths"))
        );
    }

    #[test]
    fn a_normal_return_without_wait_is_reported_beside_an_error_path() {
        let src = r#"
fn supervise(quick: bool) -> std::io::Result<()> {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    let _limits = std::fs::read_to_string("/etc/limits.conf")?;
    if quick {
        return Ok(());
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(())
}
fn main() { let _ = supervise(true); }
"#;
        let report = lint_files(&[("/p/src/main.rs", src)], false);
        assert_eq!(lines(&report), vec![3]);
        // Only the normal `return` is a label; the `?` is an error path.
        let labels: Vec<usize> = report.diagnostics[0]
            .labels
            .iter()
            .map(|l| l.span.start.line)
            .collect();
        assert_eq!(labels, vec![9]);
    }

    #[test]
    fn a_reap_helper_of_the_package_is_a_wait_through_another_helper() {
        let src = r#"
fn wait_for(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}
fn reap(child: libc::pid_t) {
    let status = wait_for(child);
    println!("child {child} exited: {status}");
}
fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    reap(pid);
    std::thread::sleep(std::time::Duration::from_secs(1));
}
"#;
        assert_eq!(fl006(src), Vec::<usize>::new());
    }

    #[test]
    fn a_helper_that_only_logs_or_signals_the_pid_is_not_a_wait() {
        let src = r#"
fn note_child(pid: libc::pid_t) {
    println!("started {pid}");
    let pgid = unsafe { libc::getpgid(pid) };
    if pgid != pid {
        unsafe { libc::kill(pid, libc::SIGCONT) };
    }
}
fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    note_child(pid);
    std::thread::sleep(std::time::Duration::from_secs(1));
}
"#;
        assert_eq!(fl006(src), vec![10]);
    }

    #[test]
    fn a_helper_that_hands_the_pid_on_is_assumed_to_reap_it() {
        for body in [
            "CHILDREN.lock().unwrap().push(pid);",
            "TX.with(|tx| tx.send(pid).unwrap());",
            "std::thread::spawn(move || nix_reap(pid));",
            "other_crate::supervise(pid);",
            "self_store!(pid);",
        ] {
            let src = format!(
                "fn track(pid: libc::pid_t) {{ {body} }}\nfn main() {{\n    let pid = unsafe {{ \
                    libc::fork() }};\n    if pid == 0 {{ unsafe {{ libc::_exit(0) }} }}\n    \
                    track(pid);\n    loop {{ std::thread::park(); }}\n}}\n"
            );
            assert_eq!(fl006(&src), Vec::<usize>::new(), "{body}");
        }
    }

    const PID_TYPE: &str = r#"
pub struct Pid(libc::pid_t);

impl Pid {
    pub fn new(raw: libc::pid_t) -> Pid {
        Pid(raw)
    }
    pub fn raw(&self) -> libc::pid_t {
        self.0
    }
    pub fn wait(&self) -> i32 {
        let mut status = 0;
        unsafe { libc::waitpid(self.0, &mut status, 0) };
        status
    }
}
"#;

    fn with_pid_type(main: &str) -> Vec<usize> {
        let report = lint_files(
            &[("/p/src/main.rs", main), ("/p/src/pid.rs", PID_TYPE)],
            false,
        );
        lines(&report)
    }

    #[test]
    fn a_pid_newtype_wait_method_in_another_file_is_a_wait() {
        let main = r#"
mod pid;
use pid::Pid;
fn main() {
    let raw = unsafe { libc::fork() };
    if raw == 0 {
        unsafe { libc::_exit(0) }
    }
    let child = Pid::new(raw);
    println!("{}", child.raw());
    let status = child.wait();
    println!("{status}");
}
"#;
        assert_eq!(with_pid_type(main), Vec::<usize>::new());
    }

    #[test]
    fn a_pid_newtype_never_waited_is_reported() {
        let main = r#"
mod pid;
use pid::Pid;
fn main() {
    let raw = unsafe { libc::fork() };
    if raw == 0 {
        unsafe { libc::_exit(0) }
    }
    let child = Pid::new(raw);
    println!("{}", child.raw());
    std::thread::sleep(std::time::Duration::from_secs(1));
}
"#;
        assert_eq!(with_pid_type(main), vec![5]);
    }

    #[test]
    fn a_wait_method_on_a_binding_of_unknown_type_is_a_wait_when_every_such_method_waits() {
        // sudo-rs: `let ForkResult::Parent(pid) = fork()? else { … }; pid.wait(..)`, with
        // `impl Wait for ProcessId` in another file.
        let sys = r#"
pub struct ProcessId(i32);
pub enum ForkResult { Parent(ProcessId), Child }
pub trait Wait { fn wait(self) -> std::io::Result<i32>; }
impl Wait for ProcessId {
    fn wait(self) -> std::io::Result<i32> {
        let mut status = 0;
        unsafe { libc::waitpid(self.0, &mut status, 0) };
        Ok(status)
    }
}
"#;
        let main = r#"
mod sys;
use nix::unistd::{fork, ForkResult};
use sys::Wait;
fn run() -> nix::Result<()> {
    let ForkResult::Parent { child } = (unsafe { fork() })? else {
        unsafe { libc::_exit(0) }
    };
    let pid = sys::ProcessId::from(child);
    loop {
        match pid.wait() {
            Ok(_) => break,
            Err(_) => {}
        }
    }
    Ok(())
}
fn main() { run().unwrap(); }
"#;
        let report = lint_files(&[("/p/src/main.rs", main), ("/p/src/sys.rs", sys)], false);
        assert_eq!(lines(&report), Vec::<usize>::new());
    }

    #[test]
    fn a_break_or_return_taken_only_when_the_fork_failed_is_not_a_parent_path() {
        let srcs = [
            r#"
fn main() {
    for _ in 0..3 {
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            eprintln!("fork failed");
            break;
        }
        if pid == 0 {
            unsafe { libc::_exit(0) }
        }
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#,
            r#"
use nix::unistd::{fork, ForkResult};
fn main() {
    loop {
        match unsafe { fork() } {
            Ok(ForkResult::Parent { child }) => {
                nix::sys::wait::waitpid(child, None).unwrap();
            }
            Ok(ForkResult::Child) => unsafe { libc::_exit(0) },
            Err(_) => return,
        }
    }
}
"#,
            r#"
fn start() -> i32 {
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return -1;
    }
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}
fn main() { start(); }
"#,
            r#"
use fork::{fork, Fork};
fn main() {
    for _ in 0..3 {
        let child = match fork() {
            Ok(Fork::Parent(child)) => child,
            Ok(Fork::Child) => unsafe { libc::_exit(0) },
            Err(_) => break,
        };
        unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    }
}
"#,
        ];
        for src in srcs {
            assert_eq!(fl006(src), Vec::<usize>::new(), "{src}");
        }
    }

    #[test]
    fn a_break_the_parent_takes_before_waiting_is_reported() {
        let src = r#"
fn main() {
    for i in 0..3 {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe { libc::_exit(0) }
        }
        if i == 1 {
            break;
        }
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
}
"#;
        assert_eq!(fl006(src), vec![4]);
    }

    #[test]
    fn a_polling_loop_and_a_package_function_that_waits_for_any_child_are_waits() {
        let src = r#"
fn reaped(pid: i32, flags: i32) -> Option<i32> {
    let mut status = 0;
    let r = unsafe { libc::waitpid(pid, &mut status, flags) };
    (r == pid).then_some(status)
}
fn wait_any() -> Option<i32> {
    reaped(-1, 0)
}
fn poll() {
    let pid = unsafe { libc::fork() };
    if pid == 0 { unsafe { libc::_exit(0) } }
    let mut done = false;
    for _ in 0..20 {
        if reaped(pid, libc::WNOHANG).is_some() {
            done = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(done);
}
fn any() {
    let pid = unsafe { libc::fork() };
    if pid == 0 { unsafe { libc::_exit(0) } }
    println!("{pid}");
    let status = wait_any().expect("a child");
    println!("{status}");
}
fn main() { poll(); any(); }
"#;
        assert_eq!(fl006(src), Vec::<usize>::new());
    }

    #[test]
    fn a_getter_of_the_package_gives_the_pid_back() {
        let src = r#"
pub enum Forked { Parent(i32), Child }
impl Forked {
    pub fn child_pid(&self) -> Option<i32> {
        match self {
            Self::Parent(pid) => Some(*pid),
            Self::Child => None,
        }
    }
}
fn my_fork() -> Forked {
    match unsafe { libc::fork() } {
        0 => Forked::Child,
        pid => Forked::Parent(pid),
    }
}
fn main() {
    let result = my_fork();
    if let Forked::Child = result {
        unsafe { libc::_exit(0) }
    }
    let pid = result.child_pid().unwrap();
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
"#;
        assert_eq!(fl006(src), Vec::<usize>::new());
    }

    /// Three children, their pids pushed into `children`; then `after`.
    fn pushed_then(after: &str) -> String {
        format!(
            "fn main() {{\n    let mut children = Vec::new();\n    for _ in 0..3 {{\n        let \
                pid = unsafe {{ libc::fork() }};\n        if pid == 0 {{\n            unsafe {{ \
                libc::_exit(0) }}\n        }}\n        children.push(pid);\n    }}\n    \
                {after}\n    std::thread::sleep(std::time::Duration::from_secs(1));\n}}\n"
        )
    }

    #[test]
    fn pids_pushed_and_waited_for_in_a_later_loop_are_reaped() {
        for after in [
            "for pid in children { unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; }",
            "for pid in &children { unsafe { libc::waitpid(*pid, std::ptr::null_mut(), 0) }; }",
            "for pid in children.drain(..) { unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; }",
            "children.iter().for_each(|p| { unsafe { libc::waitpid(*p, std::ptr::null_mut(), 0) }; });",
            "while let Some(p) = children.pop() { unsafe { libc::waitpid(p, std::ptr::null_mut(), 0) }; }",
            "for _ in &children { unsafe { libc::wait(std::ptr::null_mut()) }; }",
            "children.into_iter().for_each(reap);",
            "reap_all(&children);",
            "supervisor::watch(children);",
        ] {
            let src = format!(
                "{}\nfn reap(pid: i32) {{ unsafe {{ libc::waitpid(pid, std::ptr::null_mut(), 0) \
                    }}; }}\nfn reap_all(pids: &[i32]) {{ for p in pids {{ reap(*p); }} }}\n",
                pushed_then(after)
            );
            assert_eq!(fl006(&src), Vec::<usize>::new(), "{after}");
        }
    }

    #[test]
    fn pids_pushed_and_only_printed_or_compared_are_reported() {
        for after in [
            "println!(\"started {children:?}\");",
            "for pid in &children { println!(\"child {pid}\"); }",
            "assert_eq!(children.len(), 3); if children.contains(&0) { return; }",
            "log_all(&children);",
        ] {
            let src = format!(
                "{}\nfn log_all(pids: &[i32]) {{ for p in pids {{ eprintln!(\"{{p}}\"); }} }}\n",
                pushed_then(after)
            );
            assert_eq!(fl006(&src), vec![4], "{after}");
        }
    }

    #[test]
    fn a_pid_stored_in_a_field_sent_returned_or_guarded_is_assumed_reaped() {
        for (setup, keep) in [
            (
                "let (tx, _rx) = std::sync::mpsc::channel();",
                "tx.send(pid).unwrap();",
            ),
            (
                "let mut s = Supervisor::default();",
                "s.children.push(pid);",
            ),
            ("", "let _guard = Guard(pid);"),
            ("", "let _guard = Named { pid };"),
            ("", "unsafe { LAST_CHILD = pid; }"),
        ] {
            let src = format!(
                "static mut LAST_CHILD: i32 = 0;\n#[derive(Default)] struct Supervisor {{ \
                    children: Vec<i32> }}\nstruct Guard(i32);\nimpl Drop for Guard {{ fn drop(&mut \
                    self) {{ unsafe {{ libc::waitpid(self.0, std::ptr::null_mut(), 0) }}; }} \
                    }}\nstruct Named {{ pid: i32 }}\nimpl Drop for Named {{ fn drop(&mut self) {{ \
                    unsafe {{ libc::waitpid(self.pid, std::ptr::null_mut(), 0) }}; }} }}\nfn \
                    main() {{\n    {setup}\n    let pid = unsafe {{ libc::fork() }};\n    if pid \
                    == 0 {{ unsafe {{ libc::_exit(0) }} }}\n    {keep}\n    \
                    std::thread::sleep(std::time::Duration::from_secs(1));\n}}\n"
            );
            assert_eq!(fl006(&src), Vec::<usize>::new(), "{keep}");
        }
    }
}
