//! Thread contexts: whether other threads may exist at a program point.
//!
//! Computed from the entry points down the call graph:
//!
//! * a program's `main` (binaries, examples, benches, build scripts, tests without
//!   libtest's harness) starts with one thread;
//! * `#[test]`, `#[tokio::main]` and the like, `async fn`s, and integration tests run
//!   with other threads;
//! * a function that code outside the package can call (a `pub` item of a library in a
//!   package without binaries, or with `library = "public"`) has unknown callers, who
//!   may have started threads;
//! * every other function takes the join of its callers' contexts at their call sites,
//!   through any number of levels (memoised per function: linear in the package);
//! * at a point, threads started earlier on the path — directly, or in a package
//!   function called earlier, transitively ("may start a thread" summaries) — and not
//!   joined since, count; so do enclosing `async` blocks and thread closures;
//! * code in a child region (a fork's child branch, a `pre_exec` closure, a process
//!   target) runs in a process with exactly one thread, whatever the parent had.
//!
//! When a function's callers cannot be found the answer is unknown, and rules that
//! depend on it stay silent.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use syn::spanned::Spanned;
use syn::{Expr, Stmt};

use super::super::catalog;
use super::super::resolve::is;
use super::super::syntax::{self, Node};
use super::super::walk::Code;
use super::calls;
use super::{CodeKind, FileCx, FnRef, PackageCx};
use crate::diagnostic::{Label, LabelKind, Span};

/// Why other threads may exist.
#[derive(Clone, Debug)]
pub struct Reason {
    pub span: Span,
    pub message: String,
    /// The thread this reason is about, as a message names it ("the thread
    /// `worker`"), when the reason is a thread start.
    pub thread: Option<String>,
}

impl Reason {
    /// The reason as a secondary label.
    pub fn label(&self) -> Label {
        Label {
            span: self.span.clone(),
            message: self.message.clone(),
            kind: LabelKind::Secondary,
        }
    }
}

/// Whether other threads may exist.
#[derive(Clone, Debug)]
pub enum ThreadContext {
    /// No: one thread.
    Single,
    /// Yes, for these reasons (the first is the most direct).
    Threads(Vec<Reason>),
    /// Cannot be told (callers not found).
    Unknown,
}

impl ThreadContext {
    /// Whether other threads may be running.
    pub fn may_have_threads(&self) -> bool {
        matches!(self, ThreadContext::Threads(_))
    }

    /// The other threads as a message names them: "the thread `worker`", "the thread
    /// `worker` and 2 other threads", or "other threads" when no start is known.
    pub fn named(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for name in self.reasons().iter().filter_map(|r| r.thread.as_deref()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        match names.as_slice() {
            [] => "other threads".into(),
            [one] => (*one).to_string(),
            [first, rest @ ..] => format!(
                "{first} and {} other thread{}",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
        }
    }

    /// Why, when they may.
    pub fn reasons(&self) -> &[Reason] {
        match self {
            ThreadContext::Threads(r) => r,
            _ => &[],
        }
    }
}

/// How messages name an async runtime's threads and the test harness's.
const RUNTIME: &str = "the async runtime's worker threads";
const HARNESS: &str = "the test harness's other threads";

/// Memoised per-function facts.
#[derive(Default)]
pub struct ThreadCache<'a> {
    /// The context at each function's start; `None` while it is being computed (a
    /// recursive call sees one thread: the other callers decide).
    entry: RefCell<HashMap<(usize, usize), Option<ThreadContext>>>,
    /// Threads each function may leave running when it returns.
    starts: RefCell<HashMap<(usize, usize), Summary<'a>>>,
}

/// The thread starts a function may leave running.
type Summary<'a> = Rc<Vec<StartSite<'a>>>;

/// A thread start that may still run after the function that made it returns.
#[derive(Clone)]
struct StartSite<'a> {
    func: FnRef<'a>,
    call: &'a Expr,
    /// How messages name the thread.
    name: Rc<str>,
}

/// How many thread starts a summary keeps (the first are enough to explain).
const MAX_STARTS: usize = 8;

/// The thread context at a point inside `func`: `ancestors` are the point's
/// enclosing nodes (outermost first) and `point` its span.
pub fn at_point<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
    point: proc_macro2::Span,
) -> ThreadContext {
    let file = func.file;
    // In a child region the process has one thread: only what the child itself
    // started since counts.
    let boundary = child_boundary(cx, func, ancestors, point);
    let local = match boundary {
        Some(at) => &ancestors[at..],
        None => ancestors,
    };
    let mut reasons = Vec::new();
    for node in local {
        match node {
            Node::Expr(Expr::Async(a)) => reasons.push(Reason {
                span: file.span_of(&a.async_token),
                message: "inside an `async` block: the runtime may run other threads".into(),
                thread: Some(RUNTIME.into()),
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
                            thread: None,
                        });
                    }
                }
            }
            Node::Expr(Expr::MethodCall(m)) if m.method == "spawn" && !m.args.is_empty() => {
                reasons.push(Reason {
                    span: file.span_of(&m.method),
                    message: "runs on a thread started here".into(),
                    thread: None,
                });
            }
            _ => {}
        }
    }
    reasons.extend(
        threads_started_in(cx, func, local)
            .into_iter()
            .map(|t| Reason {
                span: t.span,
                message: format!(
                    "{} {} started here and may still run at the fork",
                    t.name,
                    verb_is(&t.name)
                ),
                thread: Some(t.name),
            }),
    );
    if !reasons.is_empty() {
        return ThreadContext::Threads(reasons);
    }
    if boundary.is_some() {
        return ThreadContext::Single;
    }
    entry(cx, func)
}

/// The context at the start of `func` (memoised).
pub fn entry<'a>(cx: &'a PackageCx<'a>, func: FnRef<'a>) -> ThreadContext {
    let key = func.key();
    if let Some(known) = cx.threads.entry.borrow().get(&key) {
        return known.clone().unwrap_or(ThreadContext::Single);
    }
    cx.threads.entry.borrow_mut().insert(key, None);
    let context = compute_entry(cx, func);
    cx.threads
        .entry
        .borrow_mut()
        .insert(key, Some(context.clone()));
    context
}

fn compute_entry<'a>(cx: &'a PackageCx<'a>, func: FnRef<'a>) -> ThreadContext {
    let def = func.def;
    let file = func.file;
    let here = |message: String, thread: Option<&str>| {
        ThreadContext::Threads(vec![Reason {
            span: file.span_of(&def.sig.ident),
            message,
            thread: thread.map(str::to_string),
        }])
    };
    if let Some(attr) = def.threaded_attr() {
        let who = if attr == "test" || attr == "rstest" {
            HARNESS
        } else {
            RUNTIME
        };
        let generated = def
            .generated_by
            .as_ref()
            .map(|m| format!(" (generated by `{m}!`)"))
            .unwrap_or_default();
        return here(
            format!(
                "`{}`{generated} runs under `#[{attr}]`, which runs other threads",
                def.name
            ),
            Some(who),
        );
    }
    if def.is_async() {
        return here(
            format!(
                "`{}` is `async`: the runtime that polls it may run other threads",
                def.name
            ),
            Some(RUNTIME),
        );
    }
    if def.is_main() && file.place.kind == CodeKind::Bin {
        return ThreadContext::Single;
    }
    let test_code = def.in_test_module || file.place.cfg_test;
    if file.place.kind == CodeKind::Test && !test_code {
        // Integration-test helpers are called from `#[test]`s; one called from nowhere
        // visible still runs under the harness.
        if calls::callers(cx, func).is_empty() {
            return here(
                format!(
                    "`{}` is in an integration test, run by the multi-threaded test harness",
                    def.name
                ),
                Some(HARNESS),
            );
        }
    }
    if cx.externally_callable(func) {
        return here(
            format!(
                "`{}` is public in a library: its callers are unknown and may have started threads",
                def.name
            ),
            None,
        );
    }
    let sites = calls::callers(cx, func);
    if sites.is_empty() {
        return ThreadContext::Unknown;
    }
    let mut any_unknown = false;
    for site in &sites {
        match at_point(cx, site.caller, &site.ancestors, site.span) {
            ThreadContext::Threads(mut r) => {
                r.push(Reason {
                    span: site.caller.file.span(site.span),
                    message: format!(
                        "`{}` is called here, where other threads may exist",
                        def.name
                    ),
                    thread: None,
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

/// The index into `ancestors` where the innermost child region that holds the point
/// begins: a fork's child code in this function, a `pre_exec` closure, or the target
/// of a process. `None` outside any.
fn child_boundary<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
    _point: proc_macro2::Span,
) -> Option<usize> {
    // `pre_exec(|| …)`, `pre_exec(helper)`: the argument is child code.
    for (i, node) in ancestors.iter().enumerate().rev() {
        if let Node::Expr(Expr::MethodCall(m)) = node {
            let next = ancestors.get(i + 1);
            if matches!(m.method.to_string().as_str(), "pre_exec" | "before_exec")
                && next.is_some_and(|n| m.args.iter().any(|a| is_node(n, a)))
            {
                return Some(i + 1);
            }
        }
    }
    // The child code of a fork of this function, found among the ancestors by identity
    // (spans cannot tell: an expansion's tokens may all share its call's span).
    let mut best: Option<usize> = None;
    for fp in cx.forks_in(func) {
        let Some(child) = &fp.child else { continue };
        if child.func.is_some_and(|f| f.key() != func.key()) {
            continue;
        }
        for code in child.codes() {
            if let Some(at) = region_start(code, ancestors) {
                best = Some(best.map_or(at, |b| b.max(at)));
            }
        }
    }
    best
}

/// Whether an ancestor node is the expression `e`.
fn is_node(n: &Node<'_>, e: &Expr) -> bool {
    matches!(n, Node::Expr(x) if std::ptr::eq(*x, e))
}

/// The index of the first ancestor inside the region `code`, when the ancestors pass
/// through it.
pub fn region_start(code: Code<'_>, ancestors: &[Node<'_>]) -> Option<usize> {
    ancestors.iter().position(|n| match (code, n) {
        (Code::Block(b), Node::Block(x)) => std::ptr::eq(b, *x),
        (Code::Expr(e), Node::Expr(x)) => std::ptr::eq(e, *x),
        (Code::Stmts(stmts), Node::Stmt(block, i)) => {
            let s = &block.stmts[*i];
            stmts.iter().any(|t| std::ptr::eq(t, s))
        }
        _ => false,
    })
}

/// Whether a region's code holds a span.
pub fn code_contains(code: Code<'_>, span: proc_macro2::Span) -> bool {
    match code {
        Code::Block(b) => syntax::contains(b.span(), span),
        Code::Expr(e) => syntax::contains(e.span(), span),
        Code::Stmts(stmts) => stmts.iter().any(|s| syntax::contains(s.span(), span)),
    }
}

/// A thread started before a point and not joined before it.
pub struct ThreadStart<'a> {
    /// The call that starts it.
    pub span: Span,
    /// How messages name it: "the thread `worker`", "the thread \"flusher\"", "the
    /// thread running `poll_forever`", or "a thread".
    pub name: String,
    /// The thread's code (closure body or function), when it can be found.
    pub body: Option<(FnRef<'a>, Code<'a>)>,
}

/// Threads started by the statements that run before the point in each enclosing
/// block (and by the package functions they call, transitively), not joined before
/// it.
pub fn threads_started_before<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
) -> Vec<ThreadStart<'a>> {
    threads_started_in(cx, func, ancestors)
}

fn threads_started_in<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
) -> Vec<ThreadStart<'a>> {
    // A region that starts in the middle of a block (the rest of a block after a
    // fork whose parent leaves) begins at its first statement: what ran before it ran
    // in the parent.
    let floor = match ancestors.first() {
        Some(Node::Stmt(b, i)) => Some((*b as *const syn::Block, *i)),
        _ => None,
    };
    let before = syntax::enclosing_statements(ancestors)
        .into_iter()
        .rev()
        .flat_map(|(b, i)| {
            let from = match floor {
                Some((fb, fi)) if std::ptr::eq(fb, b) => fi.min(i),
                _ => 0,
            };
            &b.stmts[from..i]
        });
    starts_not_joined(cx, func, before)
        .into_iter()
        .map(|s| ThreadStart {
            span: s.func.file.span(start_span(s.call)),
            name: s.name.to_string(),
            body: thread_body(cx, s.func, s.call),
        })
        .collect()
}

/// Threads `func` may leave running when it returns: its own starts not joined in
/// it, and those of the package functions it calls (memoised; a recursive call adds
/// nothing).
fn summary<'a>(cx: &'a PackageCx<'a>, func: FnRef<'a>) -> Summary<'a> {
    let key = func.key();
    if let Some(known) = cx.threads.starts.borrow().get(&key) {
        return known.clone();
    }
    cx.threads
        .starts
        .borrow_mut()
        .insert(key, Rc::new(Vec::new()));
    let mut kept = starts_not_joined(cx, func, &func.def.body.stmts);
    kept.truncate(MAX_STARTS);
    let kept = Rc::new(kept);
    cx.threads.starts.borrow_mut().insert(key, kept.clone());
    kept
}

/// The threads that `stmts` (of `func`) start, directly or through the package
/// functions they call, and do not join, each once.
fn starts_not_joined<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    stmts: impl IntoIterator<Item = &'a Stmt>,
) -> Vec<StartSite<'a>> {
    starts_not_joined_at(cx, func, stmts, 0)
}

/// Macro expansions inside expansions: a macro's expansion may call it again (calls
/// are cached by place, so only the depth bounds the walk).
const MAX_EXPANSION_DEPTH: usize = 8;

fn starts_not_joined_at<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    stmts: impl IntoIterator<Item = &'a Stmt>,
    depth: usize,
) -> Vec<StartSite<'a>> {
    let file = func.file;
    let mut starts: Vec<(Option<String>, StartSite<'a>)> = Vec::new();
    let mut joined: HashSet<String> = HashSet::new();
    let mut blocks: Vec<&'a [Stmt]> = Vec::new();
    for stmt in stmts {
        let binding = match stmt {
            Stmt::Local(l) => syntax::pat_ident(&l.pat),
            _ => None,
        };
        each_expr_in_stmt(
            cx,
            file,
            stmt,
            &mut |e| {
                if thread_start(file, e).is_some() {
                    // `let h = thread::spawn(..)` binds the handle;
                    // `hs.push(thread::spawn(..))` collects it.
                    let pushed = pushed_into(stmt);
                    let name = thread_name(file, e, binding.as_deref(), pushed.as_deref());
                    let bound = binding.clone().or(pushed);
                    starts.push((
                        bound,
                        StartSite {
                            func,
                            call: e,
                            name: name.into(),
                        },
                    ));
                } else if let Some(g) = calls::callee(cx, file, Some(func), e) {
                    for s in summary(cx, g).iter() {
                        starts.push((None, s.clone()));
                    }
                }
                if let Some(v) = joined_var(e) {
                    joined.insert(v);
                }
            },
            &mut |block| blocks.push(block),
        );
    }
    if depth < MAX_EXPANSION_DEPTH {
        for block in blocks {
            for s in starts_not_joined_at(cx, func, block, depth + 1) {
                starts.push((None, s));
            }
        }
    }
    let mut seen = HashSet::new();
    starts
        .into_iter()
        .filter(|(bound, _)| bound.as_ref().is_none_or(|b| !joined.contains(b)))
        .map(|(_, s)| s)
        .filter(|s| seen.insert(s.call as *const Expr as usize))
        .collect()
}

/// How a message names the thread `call` starts: by the name it is given
/// (`Builder::new().name("flusher".into())`), the handle it is bound to, the function
/// it runs, or the collection its handle is pushed into; pools by whose they are.
fn thread_name(
    file: &FileCx<'_>,
    call: &Expr,
    binding: Option<&str>,
    pushed: Option<&str>,
) -> String {
    const RAYON: &str = "rayon's worker threads";
    let path = match call {
        Expr::Call(c) => match syntax::peel(&c.func) {
            Expr::Path(p) => file.resolver.candidates(&p.path),
            _ => Vec::new(),
        },
        Expr::MethodCall(m) if catalog::THREAD_METHODS.contains(&m.method.to_string().as_str()) => {
            return RAYON.into();
        }
        _ => Vec::new(),
    };
    let from = |krate: &str| path.iter().any(|c| c.first().is_some_and(|s| s == krate));
    if from("rayon") {
        return RAYON.into();
    }
    if from("tokio") || from("async_std") {
        return RUNTIME.into();
    }
    if from("threadpool") {
        return match binding {
            Some(b) => format!("the threads of the pool `{b}`"),
            None => "a thread pool's threads".into(),
        };
    }
    let mut given = None;
    let mut link = call;
    while let Expr::MethodCall(m) = link {
        if m.method == "name" {
            if let Some(Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(l),
                ..
            })) = m.args.first().map(syntax::chain_root)
            {
                given = Some(l.value());
            }
        }
        link = &m.receiver;
    }
    if let Some(given) = given {
        return format!("the thread {given:?}");
    }
    if let Some(b) = binding.filter(|b| !b.starts_with('_')) {
        return format!("the thread `{b}`");
    }
    let arg = match call {
        Expr::Call(c) => c.args.first(),
        Expr::MethodCall(m) => m.args.first(),
        _ => None,
    };
    if let Some(Expr::Path(p)) = arg.map(syntax::peel) {
        if let Some(last) = p.path.segments.last() {
            return format!("the thread running `{}`", last.ident);
        }
    }
    match pushed {
        Some(v) => format!("a thread whose handle goes into `{v}`"),
        None => "a thread".into(),
    }
}

/// "is" or "are", to agree with a name from [`thread_name`].
pub fn verb_is(name: &str) -> &'static str {
    if name.ends_with("threads") {
        "are"
    } else {
        "is"
    }
}

/// Every expression of a statement, closures included (`(0..n).map(|_|
/// thread::spawn(..))` starts threads), and of the package's macros it calls: an
/// expansion that is one expression (`let _h = start_worker!();`) is walked in place;
/// one of several statements goes to `nested`, to be walked as a block of its own (its
/// `let`s and joins are its own).
fn each_expr_in_stmt<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    stmt: &'a Stmt,
    f: &mut dyn FnMut(&'a Expr),
    nested: &mut dyn FnMut(&'a [Stmt]),
) {
    use syn::visit::Visit;
    struct V<'f, 'a> {
        cx: &'a PackageCx<'a>,
        file: &'a FileCx<'a>,
        depth: usize,
        f: &'f mut dyn FnMut(&'a Expr),
        nested: &'f mut dyn FnMut(&'a [Stmt]),
    }
    impl<'a> Visit<'a> for V<'_, 'a> {
        fn visit_expr(&mut self, e: &'a Expr) {
            (self.f)(e);
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            if self.depth >= MAX_EXPANSION_DEPTH {
                return;
            }
            let Some(x) = self.file.expansion(self.cx, m) else {
                return;
            };
            match x.block.stmts.as_slice() {
                [one @ Stmt::Expr(_, None)] => {
                    self.depth += 1;
                    self.visit_stmt(one);
                    self.depth -= 1;
                }
                stmts => (self.nested)(stmts),
            }
        }
    }
    V {
        cx,
        file,
        depth: 0,
        f,
        nested,
    }
    .visit_stmt(stmt);
}

/// The code a thread-start call runs: its closure, async block or function argument.
fn thread_body<'a>(
    cx: &'a PackageCx<'a>,
    func: FnRef<'a>,
    call: &'a Expr,
) -> Option<(FnRef<'a>, Code<'a>)> {
    let arg = match call {
        Expr::Call(c) => c.args.first()?,
        Expr::MethodCall(m) => m.args.first()?,
        _ => return None,
    };
    match syntax::peel(arg) {
        Expr::Closure(c) => Some((func, Code::Expr(&c.body))),
        Expr::Async(a) => Some((func, Code::Block(&a.block))),
        Expr::Path(p) => {
            calls::resolve_fn(cx, func.file, &p.path).map(|f| (f, Code::Block(f.def.body)))
        }
        _ => None,
    }
}

/// The span to show for a thread start: the function or method name.
fn start_span(e: &Expr) -> proc_macro2::Span {
    match e {
        Expr::Call(c) => c.func.span(),
        Expr::MethodCall(m) => m.method.span(),
        e => e.span(),
    }
}

/// Whether `e` starts a thread.
fn thread_start(file: &FileCx<'_>, e: &Expr) -> Option<()> {
    match e {
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            let cands = file.resolver.candidates(&p.path);
            (catalog::is_thread_start(&cands)
                || cands
                    .iter()
                    .any(|c| is(c, "tokio::runtime::Builder::new_multi_thread")))
            .then_some(())
        }
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            if catalog::THREAD_METHODS.contains(&name.as_str()) {
                return Some(());
            }
            if name == "spawn" {
                // thread::Builder::new()…spawn(..)
                let root = syntax::chain_root(&m.receiver);
                if let Expr::Call(c) = root {
                    if let Expr::Path(p) = syntax::peel(&c.func) {
                        if file
                            .resolver
                            .candidates(&p.path)
                            .iter()
                            .any(|c| is(c, "std::thread::Builder::new"))
                        {
                            return Some(());
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
