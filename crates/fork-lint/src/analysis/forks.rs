//! Fork points and their child regions.
//!
//! A fork point is a call that makes a new process running this program's code:
//! `libc::fork`/`vfork`, `nix::unistd::fork`, `fork::fork`/`daemon`, daemon(3)
//! (`libc::daemon`, `nix::unistd::daemon`),
//! `daemonize::Daemonize::start`, `CommandExt::pre_exec`/`before_exec` (the closure is
//! the child region), configured fork points, and forkrt processes that may start
//! under the fork method (the target is the child region). Names are resolved, so a
//! crate-local `fn fork` is not a fork point.
//!
//! The child region is found from how the result is inspected: the child arm of a
//! `match` (`ForkResult::Child`, `Fork::Child`, `0`), `if pid == 0`, `if let`,
//! `let … else`, `is_child()`, `matches!`, or early-return guards
//! (`if pid != 0 { …; return }` — the rest of the block is the child).

use std::cell::OnceCell;

use syn::{Expr, Pat, Stmt};

use super::catalog::{self, ForkFn};
use super::model::calls;
use super::processes::{Process, ProcessApi};
use super::syntax::Node;
use super::threads::ThreadContext;
use super::walk::{Branch, ChildRegion, Code};
use super::{FileCx, FnRef, PackageCx, syntax};
use crate::diagnostic::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkKind {
    Raw(ForkFn),
    /// `daemonize::Daemonize::start`: the caller continues as the daemon.
    Daemonize,
    /// `CommandExt::pre_exec` / `before_exec`.
    PreExec,
    /// A forkrt process that may start under the fork method.
    Forkrt,
}

impl ForkKind {
    /// Raw `fork()`-like calls whose result the caller inspects.
    pub fn is_raw_fork(self) -> bool {
        matches!(self, ForkKind::Raw(k) if !k.is_daemon())
    }

    pub fn describe(self) -> &'static str {
        match self {
            ForkKind::Raw(ForkFn::Libc) => "libc::fork",
            ForkKind::Raw(ForkFn::Vfork) => "vfork",
            ForkKind::Raw(ForkFn::Nix) => "nix::unistd::fork",
            ForkKind::Raw(ForkFn::ForkCrate) => "fork::fork",
            ForkKind::Raw(ForkFn::ForkDaemon) => "fork::daemon",
            ForkKind::Raw(ForkFn::Daemon3) => "daemon(3)",
            ForkKind::Raw(ForkFn::Configured) => "a configured fork point",
            ForkKind::Raw(ForkFn::Wrapper) => "a function of this crate that forks",
            ForkKind::Daemonize => "Daemonize::start",
            ForkKind::PreExec => "pre_exec",
            ForkKind::Forkrt => "a forkrt process under the fork method",
        }
    }
}

/// Where the parent learns the child's pid.
pub struct ParentSide {
    /// The variable holding the pid (or the fork result) in the parent.
    pub pid: Option<String>,
}

pub struct ForkPoint<'a> {
    pub kind: ForkKind,
    pub file: &'a FileCx<'a>,
    /// The function the fork call is in.
    pub func: FnRef<'a>,
    /// The fork call (`fork()`, `.pre_exec(..)`, `.start()`).
    pub call: &'a Expr,
    /// Enclosing nodes of the call, outermost first.
    pub ancestors: Vec<Node<'a>>,
    pub child: Option<ChildRegion<'a>>,
    pub parent: Option<ParentSide>,
    /// For forkrt points: the process.
    pub process: Option<usize>,
    /// The enclosing function is a fork wrapper: its child branch returns a value to
    /// the caller (like `fork::fork` itself), so the caller is where the child runs on.
    pub wrapper: bool,
    /// For a call to a fork wrapper: the wrapper it calls.
    pub wraps: Option<FnRef<'a>>,
    /// Branches the parent takes when the fork failed (`pid < 0`, `Err(_)`): no child.
    pub errors: Vec<Code<'a>>,
    /// The last `if` of chains that test both the parent and the child without a final
    /// `else` (`if pid > 0 { … } else if pid == 0 { … }`): their implicit `else` is a
    /// failed fork.
    pub error_elses: Vec<&'a syn::ExprIf>,
    /// `ancestors[..construct]` encloses the whole construct that inspects the fork's
    /// result (the `match`, the `let`, the `if`), wrappers like `unsafe {}` excluded.
    pub construct: usize,
    threads: OnceCell<ThreadContext>,
}

impl<'a> ForkPoint<'a> {
    pub fn span(&self) -> Span {
        match self.call {
            // `.start()` / `.pre_exec(..)`: point at the method and its arguments.
            Expr::MethodCall(m) => {
                let start = self.file.span(m.method.span());
                let end = self.file.span(m.paren_token.span.join());
                Span {
                    file: start.file.clone(),
                    start: start.start,
                    end: end.end,
                }
            }
            e => self.file.span_of(e),
        }
    }

    /// The expression that inspects the fork's result: the `match`, or the whole `if`
    /// when the result is tested in its condition (`if fork() == 0`,
    /// `if fork()?.is_some()`, `if let … = fork()`). `None` when it is a `let`.
    pub fn construct_expr(&self) -> Option<&'a Expr> {
        let mut i = self.construct.checked_sub(1)?;
        let Node::Expr(mut e) = self.ancestors[i] else {
            return None;
        };
        while i > 0 {
            match (self.ancestors[i - 1], e) {
                (Node::Expr(Expr::If(ifx)), _) if std::ptr::eq(&*ifx.cond, e) => {
                    return Some(self.ancestors[i - 1]).and_then(|n| match n {
                        Node::Expr(x) => Some(x),
                        _ => None,
                    });
                }
                (
                    Node::Expr(
                        p @ (Expr::Binary(_) | Expr::Unary(_) | Expr::Paren(_) | Expr::Let(_)),
                    ),
                    Expr::Binary(_)
                    | Expr::MethodCall(_)
                    | Expr::Unary(_)
                    | Expr::Paren(_)
                    | Expr::Let(_),
                ) => {
                    e = p;
                    i -= 1;
                }
                _ => break,
            }
        }
        Some(self.ancestors[self.construct - 1]).and_then(|n| match n {
            Node::Expr(x) => Some(x),
            _ => None,
        })
    }

    /// Whether this fork is inside a wrapper whose calls are fork points of their own
    /// (so hazards about the fork itself are reported there).
    pub fn reported_at_callers(&self, all: &[ForkPoint<'a>]) -> bool {
        self.wrapper
            && all
                .iter()
                .any(|p| p.wraps.is_some_and(|w| w.key() == self.func.key()))
    }

    /// Whether a condition says "this is the parent" of this fork (`pid > 0`,
    /// `pid != 0`, `is_parent()`, `let Parent { .. } = …`).
    pub fn tests_parent(&self, cond: &Expr) -> bool {
        let (value, _) = climb(self.call, &self.ancestors);
        let pid = self.parent.as_ref().and_then(|p| p.pid.as_deref());
        classify_cond(cond, pid, Some(value)) == Some(Side::Parent)
    }

    /// The code the parent runs where this function inspects the fork's result
    /// (`Ok(Parent { .. })` arms, `if pid > 0` blocks, the `else` of `if pid == 0`).
    pub fn parent_branches(&self) -> Vec<Code<'a>> {
        let (value, _) = climb(self.call, &self.ancestors);
        let pid = self.parent.as_ref().and_then(|p| p.pid.as_deref());
        let mut out = Vec::new();
        syntax::each_expr(self.func.def.body, &mut |e, _| {
            side_branches(e, value, pid, Side::Parent, &mut out)
        });
        out
    }

    /// Whether the parent never falls through this `if` (one without an `else`): its
    /// condition tests the parent, or its chain tested both the parent and the child,
    /// so what falls through is a failed fork.
    pub fn parent_skips_implicit_else(&self, i: &syn::ExprIf) -> bool {
        self.tests_parent(&i.cond) || self.error_elses.iter().any(|e| std::ptr::eq(*e, i))
    }

    /// Whether other threads may exist when the fork happens (computed once).
    pub fn threads(&self, cx: &'a PackageCx<'a>) -> &ThreadContext {
        self.threads.get_or_init(|| {
            super::threads::at_point(
                cx,
                self.func,
                &self.ancestors,
                syn::spanned::Spanned::span(self.call),
            )
        })
    }
}

/// How many levels of fork wrappers (functions that fork and return the result)
/// are followed to their calls.
const MAX_WRAPPER_DEPTH: usize = 8;

/// Every fork point: in the candidate files, and the calls to fork wrappers anywhere
/// in the package.
pub fn find<'a>(cx: &'a PackageCx<'a>) -> Vec<ForkPoint<'a>> {
    let mut out = Vec::new();
    let mut scanned: Vec<*const FileCx<'a>> = Vec::new();
    let mut scan = |file: &'a FileCx<'a>, out: &mut Vec<ForkPoint<'a>>| {
        if scanned.contains(&(file as *const FileCx<'a>)) {
            return;
        }
        scanned.push(file);
        let expand = |m: &syn::Macro| file.expansion(cx, m).map(|x| &x.block);
        for def in file.scanned_fns(cx) {
            let func = FnRef { file, def };
            syntax::each_expr_expanded(def.body, &expand, &mut |e, ancestors| {
                if let Some(kind) = fork_kind(cx, file, func, e, ancestors) {
                    out.push(make_point(cx, file, func, kind, e, ancestors));
                }
            });
        }
    };
    for file in cx.candidates() {
        scan(file, &mut out);
    }

    // A fork function the package re-exports under another name (`pub use libc::fork
    // as raw_fork;`) is called by that name in files that need not mention `fork`.
    let all = cx.all_crates();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    for (name, targets) in cx.package_aliases() {
        if catalog::fork_fn(targets, &cx.options.extra_fork_points).is_some() {
            for file in cx.files_defining_in(&all, name, &[]) {
                scan(file, &mut out);
            }
        }
    }
    // Calls to fork wrappers are fork points too, in any file of the package (the
    // call graph finds them), to a fixpoint: a wrapper may wrap a wrapper.
    let mut known: Vec<(usize, usize)> = Vec::new();
    for _ in 0..MAX_WRAPPER_DEPTH {
        mark_wrappers(cx, &mut out);
        let wrappers: Vec<FnRef<'a>> = out
            .iter()
            .filter(|p| p.wrapper && !known.contains(&p.func.key()))
            .map(|p| p.func)
            .collect();
        if wrappers.is_empty() {
            break;
        }
        known.extend(wrappers.iter().map(|w| w.key()));
        for wrapper in wrappers {
            for site in calls::callers(cx, wrapper) {
                // A use as a value (`map(my_fork)`) is not a call whose result the
                // caller inspects; a recursive call is the wrapper itself.
                let Some(call @ (Expr::Call(_) | Expr::MethodCall(_))) = site.expr else {
                    continue;
                };
                // A recursive call is the wrapper itself.
                if site.caller.key() == wrapper.key() {
                    continue;
                }
                // A call the catalog already knows (`nix::unistd::fork()` linted inside
                // nix) is one point: it calls this wrapper, whose own fork is then
                // reported here.
                if let Some(known) = out.iter_mut().find(|p| std::ptr::eq(p.call, call)) {
                    known.wraps.get_or_insert(wrapper);
                    continue;
                }
                let mut point = make_point(
                    cx,
                    site.caller.file,
                    site.caller,
                    ForkKind::Raw(ForkFn::Wrapper),
                    call,
                    &site.ancestors,
                );
                point.wraps = Some(wrapper);
                out.push(point);
            }
        }
    }
    mark_detached(cx, &mut out);
    for (index, process) in cx.processes().list.iter().enumerate() {
        if process.api == ProcessApi::Forkrt && process.method.may_fork() {
            if let Some(start) = process.start {
                out.push(forkrt_point(cx, process, index, start));
            }
        }
    }
    out
}

fn fork_kind<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    e: &'a Expr,
    ancestors: &[Node<'a>],
) -> Option<ForkKind> {
    match e {
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            let candidates = cx.with_package_aliases(file, file.resolver.candidates(&p.path));
            if let Some(k) = catalog::fork_fn(&candidates, &cx.options.extra_fork_points) {
                return Some(ForkKind::Raw(k));
            }
            let last = syntax::last_ident(&p.path)?;
            let is_ext = p.path.segments.len() >= 2
                && p.path.segments[p.path.segments.len() - 2].ident == "CommandExt";
            (is_ext && matches!(last.as_str(), "pre_exec" | "before_exec") && c.args.len() == 2)
                .then_some(ForkKind::PreExec)
        }
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            if matches!(name.as_str(), "pre_exec" | "before_exec") && m.args.len() == 1 {
                // A command that is only ever `exec`ed (replacing this process) runs its
                // hook here, not in a forked child.
                if super::commands::only_execed(cx, func, &m.receiver, ancestors, e) {
                    return None;
                }
                return Some(ForkKind::PreExec);
            }
            if matches!(name.as_str(), "start" | "execute")
                && m.args.is_empty()
                && is_daemonize(file, &m.receiver, ancestors)
            {
                return Some(ForkKind::Daemonize);
            }
            None
        }
        _ => None,
    }
}

/// Whether a receiver is a `daemonize::Daemonize` builder (directly or through a
/// `let` binding in the enclosing blocks).
fn is_daemonize<'a>(file: &FileCx<'a>, receiver: &Expr, ancestors: &[Node<'a>]) -> bool {
    let root = syntax::chain_root(receiver);
    let root = match syntax::ident_of(root).and_then(|v| syntax::local_init(ancestors, &v)) {
        Some(init) => syntax::chain_root(init),
        None => root,
    };
    let Expr::Call(c) = root else { return false };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return false;
    };
    file.resolver
        .candidates(&p.path)
        .iter()
        .any(|c| super::resolve::is(c, "daemonize::Daemonize::new"))
}

fn make_point<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    kind: ForkKind,
    call: &'a Expr,
    ancestors: &[Node<'a>],
) -> ForkPoint<'a> {
    let (child, parent) = match kind {
        ForkKind::PreExec => (pre_exec_region(cx, file, func, call, ancestors), None),
        ForkKind::Daemonize | ForkKind::Raw(ForkFn::ForkDaemon | ForkFn::Daemon3) => {
            (daemon_region(file, func, call, ancestors), None)
        }
        _ => raw_regions(file, func, call, ancestors),
    };
    let (errors, error_elses) = error_branches(
        func,
        call,
        ancestors,
        parent.as_ref().and_then(|p| p.pid.as_deref()),
    );
    let construct = climb(call, ancestors).1;
    ForkPoint {
        kind,
        file,
        func,
        call,
        ancestors: ancestors.to_vec(),
        child,
        parent,
        process: None,
        wrapper: false,
        wraps: None,
        errors,
        error_elses,
        construct,
        threads: OnceCell::new(),
    }
}

fn forkrt_point<'a>(
    cx: &'a PackageCx<'a>,
    process: &Process<'a>,
    index: usize,
    start: &'a Expr,
) -> ForkPoint<'a> {
    let child = process.target_region(cx);
    ForkPoint {
        kind: ForkKind::Forkrt,
        file: process.file,
        func: process.func,
        call: start,
        ancestors: process.start_ancestors.clone(),
        child,
        parent: None,
        process: Some(index),
        wrapper: false,
        wraps: None,
        errors: Vec::new(),
        error_elses: Vec::new(),
        construct: process.start_ancestors.len(),
        threads: OnceCell::new(),
    }
}

fn pre_exec_region<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    call: &'a Expr,
    ancestors: &[Node<'a>],
) -> Option<ChildRegion<'a>> {
    let arg = match call {
        Expr::MethodCall(m) => m.args.first()?,
        Expr::Call(c) => c.args.iter().nth(1)?,
        _ => return None,
    };
    hook_region(cx, file, func, arg, ancestors, 0)
}

/// The code a `pre_exec` hook runs: a closure, a function of the package, a closure
/// kept in a variable first (`let hook = move || …; cmd.pre_exec(hook)`), or one of
/// those boxed (`Box::new(…)`).
fn hook_region<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    arg: &'a Expr,
    ancestors: &[Node<'a>],
    depth: usize,
) -> Option<ChildRegion<'a>> {
    match syntax::peel(arg) {
        Expr::Closure(cl) => Some(ChildRegion {
            file,
            func: Some(func),
            code: Code::Expr(&cl.body),
            start: file.span_of(&cl.inputs_begin),
            branch: None,
            after: None,
        }),
        Expr::Path(p) => {
            // A local variable holding the hook.
            if depth < 4 {
                if let Some(var) = syntax::ident_of(arg) {
                    let init = syntax::local_init(ancestors, &var)
                        .or_else(|| syntax::local_init_in(func.def.body, &var));
                    if let Some(init) = init {
                        return hook_region(cx, file, func, init, ancestors, depth + 1);
                    }
                }
            }
            let target = crate::analysis::model::calls::resolve_fn(cx, file, &p.path)?;
            Some(ChildRegion {
                file: target.file,
                func: Some(target),
                code: Code::Block(target.def.body),
                start: file.span_of(arg),
                branch: None,
                after: None,
            })
        }
        // `Box::new(hook)`
        Expr::Call(c) if depth < 4 && c.args.len() == 1 => match syntax::peel(&c.func) {
            Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some("new") => {
                hook_region(cx, file, func, &c.args[0], ancestors, depth + 1)
            }
            _ => None,
        },
        _ => None,
    }
}

/// After `daemon()` / `Daemonize::start()` the caller is the child: the rest of the
/// enclosing block, or the `Ok(Fork::Child)` arm if the result is matched.
fn daemon_region<'a>(
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    call: &'a Expr,
    ancestors: &[Node<'a>],
) -> Option<ChildRegion<'a>> {
    if let (Some(child), _) = raw_regions(file, func, call, ancestors) {
        return Some(ChildRegion {
            branch: None,
            ..child
        });
    }
    let (_, at) = climb(call, ancestors);
    let (block, index) = *syntax::enclosing_statements(&ancestors[..at]).first()?;
    let rest = &block.stmts[index + 1..];
    let start = rest
        .first()
        .map_or_else(|| file.span_of(call), |s| file.span_of(s));
    Some(ChildRegion {
        file,
        func: Some(func),
        code: Code::Stmts(rest),
        start,
        branch: None,
        after: None,
    })
}

/// Which process a condition or pattern selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Child,
    Parent,
    Error,
}

/// Climbs from the fork call through wrappers (`unsafe {}`, parentheses, `?`,
/// `.unwrap()`, `.expect()`…) to the expression whose value is inspected. Returns it
/// and the index of the first ancestor that is not a wrapper.
fn climb<'a>(call: &'a Expr, ancestors: &[Node<'a>]) -> (&'a Expr, usize) {
    let mut cur = call;
    let mut i = ancestors.len();
    while i > 0 {
        let parent = ancestors[i - 1];
        let wraps = match parent {
            Node::Stmt(b, _) | Node::Block(b) => {
                b.stmts.len() == 1
                    && matches!(&b.stmts[0], Stmt::Expr(e, None) if std::ptr::eq(e, cur))
            }
            Node::Expr(p) => {
                let wraps = match p {
                    Expr::Unsafe(_)
                    | Expr::Block(_)
                    | Expr::Paren(_)
                    | Expr::Group(_)
                    | Expr::Try(_)
                    | Expr::Reference(_) => {
                        std::ptr::eq(syntax::peel_result(p), syntax::peel_result(cur))
                    }
                    Expr::MethodCall(m) => {
                        std::ptr::eq(&*m.receiver, cur)
                            && std::ptr::eq(syntax::peel_result(p), syntax::peel_result(cur))
                    }
                    // `cvt(libc::fork())`, `check_err(libc::fork(), ErrorKind::Fork)`,
                    // `Pid::from_raw(libc::fork())`: the result passes through.
                    Expr::Call(c) => c.args.first().is_some_and(|a| std::ptr::eq(a, cur)),
                    _ => false,
                };
                if wraps {
                    cur = p;
                }
                wraps
            }
            _ => false,
        };
        if !wraps {
            break;
        }
        i -= 1;
    }
    (cur, i)
}

fn raw_regions<'a>(
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    call: &'a Expr,
    ancestors: &[Node<'a>],
) -> (Option<ChildRegion<'a>>, Option<ParentSide>) {
    let (value, at) = climb(call, ancestors);
    let region = |code: Code<'a>, start: Span, branch: Option<Branch<'a>>| ChildRegion {
        after: None,
        file,
        func: Some(func),
        code,
        start,
        branch,
    };
    let Some(parent) = at.checked_sub(1).map(|i| ancestors[i]) else {
        return (None, None);
    };
    match parent {
        // match fork() { … }
        Node::Expr(Expr::Match(m)) if std::ptr::eq(&*m.expr, value) => match_regions(file, func, m),
        // if let PAT = fork() { … } else { … }
        Node::Expr(Expr::Let(l)) if std::ptr::eq(&*l.expr, value) => {
            let Some(Node::Expr(Expr::If(ifx))) = at.checked_sub(2).map(|i| ancestors[i]) else {
                return (None, None);
            };
            if_regions(file, func, ifx, &|cond| {
                classify_cond(cond, None, Some(value))
            })
        }
        // fork() == 0 and friends, in a condition
        Node::Expr(cmp @ (Expr::Binary(_) | Expr::MethodCall(_))) => {
            let Some(Node::Expr(Expr::If(ifx))) = at.checked_sub(2).map(|i| ancestors[i]) else {
                return (None, None);
            };
            if !std::ptr::eq(&*ifx.cond, cmp) {
                return (None, None);
            }
            if_regions(file, func, ifx, &|cond| {
                classify_cond(cond, None, Some(value))
            })
        }
        // let PAT = fork() [else { … }];
        Node::Local(l)
            if l.init
                .as_ref()
                .is_some_and(|i| std::ptr::eq(&*i.expr, value)) =>
        {
            let init = l.init.as_ref().unwrap();
            if let Some((_, diverge)) = &init.diverge {
                // let Ok(ForkResult::Parent { child }) = fork() else { child code };
                let (side, pid) = classify_pat(&l.pat);
                let stmt = syntax::enclosing_statements(&ancestors[..at])
                    .first()
                    .copied();
                return match side {
                    Some(Side::Parent) => (
                        Some(region(
                            Code::Expr(diverge),
                            file.span_of(&l.pat),
                            Some(Branch {
                                span: file.span_of(&l.pat),
                                code: Code::Expr(diverge),
                            }),
                        )),
                        Some(ParentSide { pid }),
                    ),
                    Some(Side::Child) => match stmt {
                        Some((b, i)) => {
                            let rest = &b.stmts[i + 1..];
                            (
                                Some(region(Code::Stmts(rest), file.span_of(&l.pat), None)),
                                None,
                            )
                        }
                        None => (None, None),
                    },
                    _ => (None, None),
                };
            }
            let Some(var) = syntax::pat_ident(&l.pat) else {
                return (None, None);
            };
            let Some((block, index)) = syntax::enclosing_statements(&ancestors[..at])
                .first()
                .copied()
            else {
                return (None, None);
            };
            follow_variable(file, func, &var, &block.stmts[index + 1..])
        }
        _ => (None, None),
    }
}

/// `let pid = fork();` then statements that inspect `pid`.
fn follow_variable<'a>(
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    var: &str,
    rest: &'a [Stmt],
) -> (Option<ChildRegion<'a>>, Option<ParentSide>) {
    let parent = || {
        Some(ParentSide {
            pid: Some(var.to_string()),
        })
    };
    for (i, stmt) in rest.iter().enumerate() {
        let expr = match stmt {
            Stmt::Expr(e, _) => e,
            Stmt::Local(l) => match &l.init {
                Some(init) => {
                    if let Some(found) = let_else_region(file, func, var, l, init) {
                        return found;
                    }
                    &init.expr
                }
                None => continue,
            },
            _ => continue,
        };
        match expr {
            Expr::Match(m) if is_var(&m.expr, var) => {
                let (child, p) = match_regions(file, func, m);
                return (
                    child,
                    p.map(|p| ParentSide {
                        pid: p.pid.or(Some(var.to_string())),
                    }),
                );
            }
            Expr::If(ifx) => {
                if let Some(child) = if_on_variable(file, func, var, ifx, &rest[i + 1..]) {
                    return (child, parent());
                }
                // `if pid < 0 { return Err(..) }`: no child there; the next statement
                // decides.
                if classify_cond(&ifx.cond, Some(var), None) == Some(Side::Error)
                    && ifx.else_branch.is_none()
                    && block_leaves(&ifx.then_branch)
                {
                    continue;
                }
            }
            _ => {}
        }
        if mentions(stmt, var) {
            // The first statement that uses the pid decides; anything else is unknown.
            break;
        }
    }
    (None, parent())
}

/// `let ForkResult::Parent { child } = pid else { child code };`
fn let_else_region<'a>(
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    var: &str,
    local: &'a syn::Local,
    init: &'a syn::LocalInit,
) -> Option<(Option<ChildRegion<'a>>, Option<ParentSide>)> {
    let (_, diverge) = init.diverge.as_ref()?;
    if syntax::ident_of(&init.expr).as_deref() != Some(var) {
        return None;
    }
    let (Some(Side::Parent), pid) = classify_pat(&local.pat) else {
        return None;
    };
    let code = Code::Expr(diverge);
    let region = ChildRegion {
        after: None,
        file,
        func: Some(func),
        code,
        start: file.span_of(&local.pat),
        branch: Some(Branch {
            span: file.span_of(&local.pat),
            code,
        }),
    };
    Some((
        Some(region),
        Some(ParentSide {
            pid: pid.or(Some(var.to_string())),
        }),
    ))
}

/// An `if` on the pid variable: `Some(child region)` when it decides the sides,
/// `None` when it does not (the walk goes on). `tail` is what follows the `if`.
fn if_on_variable<'a>(
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    var: &str,
    ifx: &'a syn::ExprIf,
    tail: &'a [Stmt],
) -> Option<Option<ChildRegion<'a>>> {
    let classify = |c: &Expr| classify_cond(c, Some(var), None);
    match classify(&ifx.cond) {
        Some(Side::Child) => Some(if_regions(file, func, ifx, &classify).0),
        Some(Side::Parent) if ifx.else_branch.is_some() => {
            Some(if_regions(file, func, ifx, &classify).0)
        }
        // Early return: `if pid != 0 { …; return }` — the rest is the child.
        Some(Side::Parent) if block_leaves(&ifx.then_branch) => {
            let start = tail
                .first()
                .map_or_else(|| file.span_of(ifx), |s| file.span_of(s));
            let code = Code::Stmts(tail);
            Some(Some(ChildRegion {
                after: None,
                file,
                func: Some(func),
                code,
                start,
                branch: Some(Branch {
                    span: file.span_of(&*ifx.cond),
                    code,
                }),
            }))
        }
        _ => None,
    }
}

fn is_var(e: &Expr, var: &str) -> bool {
    syntax::ident_of(syntax::peel_result(e)).as_deref() == Some(var)
}

/// Whether a statement mentions an identifier anywhere.
fn mentions(stmt: &Stmt, var: &str) -> bool {
    use quote::ToTokens;
    fn walk(ts: proc_macro2::TokenStream, var: &str) -> bool {
        ts.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == var,
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), var),
            _ => false,
        })
    }
    walk(stmt.to_token_stream(), var)
}

/// Whether a block ends every path by leaving (return, break, continue, exit-like
/// macros or calls of the exit family).
fn block_leaves(b: &syn::Block) -> bool {
    b.stmts.last().is_some_and(|s| match s {
        Stmt::Expr(e, _) => syntax::is_jump(e) || is_exit_call(e),
        Stmt::Macro(m) => syntax::DIVERGING_MACROS.contains(&syntax::macro_name(&m.mac).as_str()),
        _ => false,
    })
}

fn is_exit_call(e: &Expr) -> bool {
    match syntax::peel(e) {
        Expr::Call(c) => {
            matches!(syntax::peel(&c.func), Expr::Path(p) if p.path.segments.last().is_some_and(|s| matches!(s.ident.to_string().as_str(), "exit" | "_exit" | "abort")))
        }
        _ => false,
    }
}

fn match_regions<'a>(
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    m: &'a syn::ExprMatch,
) -> (Option<ChildRegion<'a>>, Option<ParentSide>) {
    let sides: Vec<(Option<Side>, Option<String>)> =
        m.arms.iter().map(|a| classify_pat(&a.pat)).collect();
    let child = m
        .arms
        .iter()
        .zip(&sides)
        .find(|(_, (s, _))| *s == Some(Side::Child))
        .map(|(a, _)| a);
    let explicit_parent = sides.iter().any(|(s, _)| *s == Some(Side::Parent));
    let pid = sides
        .iter()
        .find(|(s, _)| *s == Some(Side::Parent))
        .and_then(|(_, p)| p.clone())
        .or_else(|| {
            // `match pid { 0 => …, -1 => …, other => … }`: a catch-all binding is the parent.
            if explicit_parent {
                return None;
            }
            // `match pid { 0 => …, -1 => …, other => … }` or `Ok(0) => …, Ok(pid) => …`:
            // a catch-all binding is the parent's pid.
            m.arms.iter().find_map(|a| catch_all_binding(&a.pat))
        });
    let Some(arm) = child else {
        return (None, Some(ParentSide { pid }));
    };
    let code = Code::Expr(&arm.body);
    let region = ChildRegion {
        after: None,
        file,
        func: Some(func),
        code,
        start: file.span_of(&arm.pat),
        branch: Some(Branch {
            span: file.span_of(&arm.pat),
            code,
        }),
    };
    (Some(region), Some(ParentSide { pid }))
}

/// `pid`, `Ok(pid)`, `Some(pid)`: a binding that takes whatever the other arms did not.
fn catch_all_binding(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(i)
            if i.subpat.is_none()
                && !matches!(i.ident.to_string().as_str(), "Child" | "Parent" | "None") =>
        {
            Some(i.ident.to_string())
        }
        Pat::TupleStruct(ts)
            if matches!(syntax::last_ident(&ts.path).as_deref(), Some("Ok" | "Some"))
                && ts.elems.len() == 1 =>
        {
            catch_all_binding(&ts.elems[0])
        }
        _ => None,
    }
}

fn if_regions<'a>(
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    ifx: &'a syn::ExprIf,
    classify: &dyn Fn(&Expr) -> Option<Side>,
) -> (Option<ChildRegion<'a>>, Option<ParentSide>) {
    let cond_span = file.span_of(&*ifx.cond);
    match classify(&ifx.cond) {
        Some(Side::Child) => {
            let code = Code::Block(&ifx.then_branch);
            let r = ChildRegion {
                after: None,
                file,
                func: Some(func),
                code,
                start: file.span_of(&*ifx.cond),
                branch: Some(Branch {
                    span: cond_span,
                    code,
                }),
            };
            (
                Some(r),
                Some(ParentSide {
                    pid: pid_of_if_let(&ifx.cond),
                }),
            )
        }
        Some(Side::Parent) => {
            let pid = pid_of_if_let(&ifx.cond);
            let Some((_, else_expr)) = &ifx.else_branch else {
                return (None, Some(ParentSide { pid }));
            };
            // `else if pid == 0 { child }` chains: look for the child test in the chain.
            if let Expr::If(inner) = &**else_expr {
                if classify(&inner.cond) == Some(Side::Child) {
                    return if_regions(file, func, inner, classify);
                }
            }
            let code = Code::Expr(else_expr);
            let r = ChildRegion {
                after: None,
                file,
                func: Some(func),
                code,
                start: file.span_of(&ifx.else_branch.as_ref().unwrap().0),
                branch: Some(Branch {
                    span: cond_span,
                    code,
                }),
            };
            (Some(r), Some(ParentSide { pid }))
        }
        Some(Side::Error) => match &ifx.else_branch {
            Some((_, e)) => match &**e {
                Expr::If(inner) => if_regions(file, func, inner, classify),
                _ => (None, None),
            },
            None => (None, None),
        },
        None => (None, None),
    }
}

fn pid_of_if_let(cond: &Expr) -> Option<String> {
    match cond {
        Expr::Let(l) => classify_pat(&l.pat).1,
        _ => None,
    }
}

/// What a condition says about the fork result held in `var` (or computed by `value`).
fn classify_cond(cond: &Expr, var: Option<&str>, value: Option<&Expr>) -> Option<Side> {
    let is_subject = |e: &Expr| {
        let e = syntax::peel_result(e);
        value.is_some_and(|v| std::ptr::eq(syntax::peel_result(v), e))
            || var.is_some_and(|v| syntax::ident_of(e).as_deref() == Some(v))
    };
    match syntax::peel(cond) {
        Expr::Binary(b) => {
            use syn::BinOp::*;
            let (subject_left, lit) = if is_subject(&b.left) {
                (true, syntax::int_lit(&b.right))
            } else if is_subject(&b.right) {
                (false, syntax::int_lit(&b.left))
            } else {
                return match b.op {
                    And(_) => classify_cond(&b.left, var, value)
                        .or_else(|| classify_cond(&b.right, var, value)),
                    _ => None,
                };
            };
            let lit = lit?;
            // Normalise to `subject OP lit`.
            let op = match (b.op, subject_left) {
                (Lt(_), false) => "gt",
                (Gt(_), false) => "lt",
                (Le(_), false) => "ge",
                (Ge(_), false) => "le",
                (Eq(_), _) => "eq",
                (Ne(_), _) => "ne",
                (Lt(_), true) => "lt",
                (Gt(_), true) => "gt",
                (Le(_), true) => "le",
                (Ge(_), true) => "ge",
                _ => return None,
            };
            match (op, lit) {
                ("eq", 0) => Some(Side::Child),
                ("ne", 0) | ("gt", 0) | ("ge", 1) => Some(Side::Parent),
                ("lt", 0) | ("eq", -1) | ("le", -1) => Some(Side::Error),
                _ => None,
            }
        }
        Expr::MethodCall(m) if is_subject(&m.receiver) => match m.method.to_string().as_str() {
            "is_child" => Some(Side::Child),
            "is_parent" => Some(Side::Parent),
            // `Option<pid>` from a fork wrapper.
            "is_some" => Some(Side::Parent),
            "is_none" => Some(Side::Child),
            _ => None,
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) => {
            match classify_cond(&u.expr, var, value)? {
                Side::Child => Some(Side::Parent),
                Side::Parent => Some(Side::Child),
                Side::Error => None,
            }
        }
        Expr::Let(l) if is_subject(&l.expr) || value.is_some_and(|v| std::ptr::eq(&*l.expr, v)) => {
            classify_pat(&l.pat).0
        }
        Expr::Macro(m) if syntax::macro_name(&m.mac) == "matches" => {
            let parser = |input: syn::parse::ParseStream<'_>| {
                let e: Expr = input.parse()?;
                input.parse::<syn::Token![,]>()?;
                let p = Pat::parse_multi_with_leading_vert(input)?;
                let _: proc_macro2::TokenStream = input.parse()?;
                Ok((e, p))
            };
            let (e, p) = syn::parse::Parser::parse2(parser, m.mac.tokens.clone()).ok()?;
            if is_subject(&e) || var.is_some_and(|v| syntax::ident_of(&e).as_deref() == Some(v)) {
                classify_pat(&p).0
            } else {
                None
            }
        }
        _ => None,
    }
}

/// What a pattern matches of a fork result, and the pid it binds in the parent.
fn classify_pat(pat: &Pat) -> (Option<Side>, Option<String>) {
    match pat {
        Pat::Lit(l) => match syntax::int_lit(&Expr::Lit(l.clone())) {
            Some(0) => (Some(Side::Child), None),
            Some(v) if v < 0 => (Some(Side::Error), None),
            _ => (None, None),
        },
        Pat::Range(_) => (Some(Side::Parent), None),
        // `Child` under `use ForkResult::*` is an identifier pattern to the parser.
        Pat::Ident(i) if i.subpat.is_none() && (i.ident == "Child" || i.ident == "Parent") => (
            if i.ident == "Child" {
                Some(Side::Child)
            } else {
                Some(Side::Parent)
            },
            None,
        ),
        Pat::Path(p) => (side_of_path(&p.path), None),
        // `Option<pid>` results of fork wrappers: `None` in the child, `Some(pid)`.
        Pat::Ident(i) if i.subpat.is_none() && i.ident == "None" => (Some(Side::Child), None),
        Pat::TupleStruct(ts)
            if syntax::last_ident(&ts.path).as_deref() == Some("Some")
                && ts.elems.len() == 1
                && syntax::pat_ident(&ts.elems[0])
                    .is_some_and(|n| n != "Child" && n != "Parent") =>
        {
            (Some(Side::Parent), syntax::pat_ident(&ts.elems[0]))
        }
        Pat::TupleStruct(ts) => {
            let last = syntax::last_ident(&ts.path).unwrap_or_default();
            match last.as_str() {
                "Ok" | "Some" => ts.elems.first().map_or((None, None), classify_pat),
                "Err" => (Some(Side::Error), None),
                _ => {
                    let side = side_of_path(&ts.path);
                    let pid = ts.elems.first().and_then(syntax::pat_ident);
                    (side, pid)
                }
            }
        }
        Pat::Struct(s) => {
            let side = side_of_path(&s.path);
            let pid = s.fields.iter().find_map(|f| match &f.member {
                syn::Member::Named(n) if n == "child" || n == "pid" => syntax::pat_ident(&f.pat),
                _ => None,
            });
            (side, pid)
        }
        Pat::Guard(g) => {
            let (side, pid) = classify_pat(&g.pat);
            if side.is_some() {
                return (side, pid);
            }
            // `p if p > 0`
            let var = syntax::pat_ident(&g.pat);
            (
                var.as_deref()
                    .and_then(|v| classify_cond(&g.guard, Some(v), None)),
                var,
            )
        }
        Pat::Or(o) => o
            .cases
            .iter()
            .map(classify_pat)
            .find(|(s, _)| s.is_some())
            .unwrap_or((None, None)),
        Pat::Paren(p) => classify_pat(&p.pat),
        Pat::Type(t) => classify_pat(&t.pat),
        _ => (None, None),
    }
}

fn side_of_path(path: &syn::Path) -> Option<Side> {
    match syntax::last_ident(path)?.as_str() {
        "Child" => Some(Side::Child),
        "Parent" => Some(Side::Parent),
        _ => None,
    }
}

/// The parent's branches for a failed fork: `match` arms with `Err(_)`/`-1` patterns on
/// the result, and `if` blocks whose condition says the fork failed (`pid < 0`).
fn error_branches<'a>(
    func: FnRef<'a>,
    call: &'a Expr,
    ancestors: &[Node<'a>],
    pid: Option<&str>,
) -> (Vec<Code<'a>>, Vec<&'a syn::ExprIf>) {
    let (value, _) = climb(call, ancestors);
    let mut out = Vec::new();
    let mut elses = Vec::new();
    syntax::each_expr(func.def.body, &mut |e, ancestors| {
        // The head of an `if … else if …` chain (not an `else if` itself).
        if let Expr::If(head) = e
            && !matches!(ancestors.last(), Some(Node::Expr(Expr::If(outer)))
                if outer.else_branch.as_ref().is_some_and(|(_, x)| std::ptr::eq(&**x, e)))
        {
            let (mut parent, mut child) = (false, false);
            let mut cur = head;
            loop {
                match classify_cond(&cur.cond, pid, Some(value)) {
                    Some(Side::Parent) => parent = true,
                    Some(Side::Child) => child = true,
                    _ => {}
                }
                match &cur.else_branch {
                    Some((_, next)) => match &**next {
                        Expr::If(next) => cur = next,
                        _ => break,
                    },
                    None => {
                        if parent && child {
                            elses.push(cur);
                        }
                        break;
                    }
                }
            }
        }
        side_branches(e, value, pid, Side::Error, &mut out);
    });
    (out, elses)
}

/// The code `side` runs when `e` inspects the fork's result: the arms of a `match` on it
/// whose pattern selects `side`, the block of an `if` whose condition does, and for the
/// parent also the `else` of an `if` that tests for the child.
fn side_branches<'a>(
    e: &'a Expr,
    value: &Expr,
    pid: Option<&str>,
    side: Side,
    out: &mut Vec<Code<'a>>,
) {
    match e {
        Expr::Match(m)
            if std::ptr::eq(&*m.expr, value) || pid.is_some_and(|p| is_var(&m.expr, p)) =>
        {
            let sides: Vec<Option<Side>> = m.arms.iter().map(|a| classify_pat(&a.pat).0).collect();
            // `match pid { 0 => …, -1 => …, _ => … }`: with the child's arm written, a
            // catch-all arm (`_`, a binding) is the parent's.
            let has_child = sides.contains(&Some(Side::Child));
            for (arm, s) in m.arms.iter().zip(&sides) {
                let catch_all = s.is_none() && has_child && catch_all_binding(&arm.pat).is_some()
                    || matches!(arm.pat, Pat::Wild(_)) && has_child && s.is_none();
                let arm_side = if catch_all { Some(Side::Parent) } else { *s };
                if arm_side == Some(side) {
                    out.push(Code::Expr(&arm.body));
                }
            }
        }
        Expr::If(ifx) => match classify_cond(&ifx.cond, pid, Some(value)) {
            Some(s) if s == side => out.push(Code::Block(&ifx.then_branch)),
            Some(Side::Child) if side == Side::Parent => {
                if let Some((_, els)) = &ifx.else_branch {
                    out.push(Code::Expr(els));
                }
            }
            _ => {}
        },
        _ => {}
    }
}

/// Raw forks whose every parent branch leaves the process (`Parent => exit(0)`): the
/// child goes on as the program (detaching by hand), so the statements after the
/// construct are child code too.
fn mark_detached<'a>(cx: &'a PackageCx<'a>, points: &mut [ForkPoint<'a>]) {
    for p in points.iter_mut() {
        if p.wrapper || !p.kind.is_raw_fork() || p.child.is_none() {
            continue;
        }
        let parents = p.parent_branches();
        if parents.is_empty() {
            continue;
        }
        // The code after the construct: none, and there is nothing to give the child
        // (the flow analysis below follows the parent's calls into the package).
        let (_, at) = climb(p.call, &p.ancestors);
        let Some((block, index)) = syntax::enclosing_statements(&p.ancestors[..at])
            .first()
            .copied()
        else {
            continue;
        };
        let rest = &block.stmts[index + 1..];
        if rest.is_empty() {
            continue;
        }
        let file = p.file;
        let good = |e: &Expr| super::flow::exits(cx, file, e);
        let expand = file.flow_expander(cx);
        let leaves = |code: &Code<'_>| {
            let o = super::flow::Flow::new(&good, &|_| false, &|_| false, &|_| false)
                .expanding(&expand)
                .code(*code);
            !o.normal && o.leaks.iter().all(|l| l.error)
        };
        if !parents.iter().all(leaves) {
            continue;
        }
        if let Some(child) = p.child.as_mut() {
            child.after = Some(Code::Stmts(rest));
        }
    }
}

/// `let res = libc::fork(); Errno::result(res).map(|r| match r { 0 => Child, .. })`: the
/// fork's result, kept in a variable, is what the function's tail expression is made
/// of (nix's own `fork()`). The caller inspects it, as it would `fork()`'s.
fn result_reaches_tail(p: &ForkPoint<'_>) -> bool {
    let Some(var) = p.parent.as_ref().and_then(|s| s.pid.as_deref()) else {
        return false;
    };
    if p.child.is_some() {
        return false;
    }
    matches!(p.func.def.body.stmts.last(), Some(Stmt::Expr(tail, None)) if mentions(&Stmt::Expr(tail.clone(), None), var))
}

/// Marks the fork points whose function is a fork wrapper: the function returns a value
/// (not `()` or `!`), and the child's branch leaves the function only by handing back a
/// value — as its tail expression or with `return` — never with `?` or `break`.
fn mark_wrappers<'a>(cx: &'a PackageCx<'a>, points: &mut [ForkPoint<'a>]) {
    for p in points.iter_mut() {
        if p.wrapper || !p.kind.is_raw_fork() {
            continue;
        }
        let returns_value = match &p.func.def.sig.output {
            syn::ReturnType::Default => false,
            syn::ReturnType::Type(_, ty) => {
                !matches!(**ty, syn::Type::Never(_))
                    && !matches!(&**ty, syn::Type::Tuple(t) if t.elems.is_empty())
            }
        };
        if !returns_value {
            continue;
        }
        // `fn f() -> io::Result<Fork> { fork() }` or `return inner_fork()`: the caller
        // gets the result as it is.
        let (value, at) = climb(p.call, &p.ancestors);
        let returned =
            matches!(
                at.checked_sub(1).map(|i| p.ancestors[i]),
                Some(Node::Expr(Expr::Return(_)))
            ) || super::flow::in_tail_position(p.func.def.body, syn::spanned::Spanned::span(value))
                || result_reaches_tail(p);
        if returned {
            p.wrapper = true;
            continue;
        }
        let Some(branch) = p.child.as_ref().and_then(|c| c.branch.clone()) else {
            continue;
        };
        let file = p.child.as_ref().unwrap().file;
        let good = |e: &Expr| super::flow::exits(cx, file, e);
        let expand = file.flow_expander(cx);
        let mut f =
            super::flow::Flow::new(&good, &|_| false, &|_| false, &|_| false).expanding(&expand);
        let outcome = f.code(branch.code);
        let last = match branch.code {
            Code::Block(b) => b
                .stmts
                .last()
                .map(syn::spanned::Spanned::span)
                .unwrap_or_else(|| syn::spanned::Spanned::span(b)),
            Code::Stmts(s) => s
                .last()
                .map_or_else(proc_macro2::Span::call_site, syn::spanned::Spanned::span),
            Code::Expr(e) => syn::spanned::Spanned::span(e),
        };
        let only_returns = outcome.leaks.iter().all(|l| l.how == "returns");
        let tail = !outcome.normal
            || super::flow::in_tail_position(p.func.def.body, last)
            || matches!(branch.code, Code::Expr(e) if super::flow::in_tail_position(p.func.def.body, syn::spanned::Spanned::span(e)));
        p.wrapper = only_returns && tail && (outcome.normal || !outcome.leaks.is_empty());
    }
}
