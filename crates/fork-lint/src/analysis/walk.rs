//! Walks over code: [`each_expr`] visits a function body with the chain of
//! enclosing nodes (to find fork points and reason about what surrounds them);
//! [`RegionWalk`] visits a region — a child branch, a `pre_exec` closure, a thread
//! body, a process target — and the crate-local functions it calls, to a bounded
//! depth, keeping the call chain that led to every expression.

use std::collections::HashSet;

use syn::visit::Visit;
use syn::{Expr, Stmt};

use super::resolve::Canon;
use super::syntax;
use super::{FileCx, FnRef, PackageCx};
use crate::diagnostic::{Label, LabelKind, Span};

/// How deep the walk follows calls into crate-local functions.
pub const MAX_CALL_DEPTH: usize = 8;

/// Code a region walk starts from.
#[derive(Clone, Copy)]
pub enum Code<'a> {
    Block(&'a syn::Block),
    Stmts(&'a [Stmt]),
    Expr(&'a Expr),
}

/// How the child's branch is written, for FL005's primary location.
#[derive(Clone)]
pub struct Branch<'a> {
    /// The condition or match-arm pattern that selects the child.
    pub span: Span,
    /// The code of the branch.
    pub code: Code<'a>,
}

/// The code that runs in the child after the fork point.
pub struct ChildRegion<'a> {
    pub file: &'a FileCx<'a>,
    /// The function the region is part of, or that it is (process targets, `pre_exec`
    /// function references).
    pub func: Option<FnRef<'a>>,
    pub code: Code<'a>,
    /// "The child starts here".
    pub start: Span,
    /// The branch construct, for raw forks.
    pub branch: Option<Branch<'a>>,
    /// Code the child runs after its branch when every parent branch leaves the process
    /// (`Parent => exit(0), Child => {}` then the rest of the function: detaching by
    /// hand): the statements after the construct in its block.
    pub after: Option<Code<'a>>,
}

impl<'a> ChildRegion<'a> {
    /// The region's code: the branch, then what follows it when the child goes on.
    pub fn codes(&self) -> impl Iterator<Item = Code<'a>> + '_ {
        std::iter::once(self.code).chain(self.after)
    }
}

/// How the walk entered a frame.
pub struct Entry {
    /// Where: the call, or the call that passed the closure.
    pub span: Span,
    /// The name in the chain (`helper`, or the parameter a closure was passed as).
    pub name: String,
    /// The chain label (`calls `helper``).
    pub label: String,
    /// A label beside the chain's: the definition of a macro whose expansion this is.
    pub note: Option<Label>,
}

/// One function the walk entered: the region itself (`depth` 0) or a callee.
pub struct Frame<'a> {
    pub file: &'a FileCx<'a>,
    pub func: Option<FnRef<'a>>,
    /// The call that entered it (in the parent frame's file, or, for a closure a
    /// caller passed, at that caller's call).
    pub call: Option<Entry>,
    /// Parameter name → the argument expression the caller passed.
    pub args: Vec<(String, Expr)>,
    pub parent: Option<usize>,
    pub depth: usize,
}

/// What the visitor sees.
pub enum Event<'e> {
    Expr(&'e Expr),
    /// A macro call, in expression or statement position.
    Macro(&'e syn::Macro),
    Local(&'e syn::Local),
    /// A function passed as a value to a call (`.map_err(io::Error::other)`): the
    /// callee calls it, so it is a call as much as `|e| io::Error::other(e)` is.
    FnValue(&'e syn::ExprPath),
}

impl Event<'_> {
    /// Where the event is.
    pub fn span(&self) -> proc_macro2::Span {
        use syn::spanned::Spanned;
        match self {
            Event::Expr(e) => e.span(),
            Event::Macro(m) => m.span(),
            Event::Local(l) => l.span(),
            Event::FnValue(p) => p.span(),
        }
    }
}

/// The walk's state, available to the visitor.
pub struct RegionWalk<'a> {
    pub cx: &'a PackageCx<'a>,
    pub frames: Vec<Frame<'a>>,
    pub current: usize,
    visited: HashSet<(usize, usize)>,
    max_depth: usize,
    /// The statements being visited, innermost last: (frame, the statement's place).
    statements: Vec<(usize, StmtKey)>,
    /// What earlier statements of the enclosing blocks proved about variables:
    /// (frame, variable, what it holds). See [`RegionWalk::known`].
    known: Vec<(usize, String, Holds)>,
}

/// What a guard proved a variable holds after it: `if x.is_none() { return }` leaves
/// `x` holding `Some`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    /// `Some(..)` or `Ok(..)`: `unwrap`/`expect` cannot panic.
    Value,
    /// `None` or `Err(..)`: `unwrap_err`/`expect_err` cannot panic.
    NoValue,
}

/// A statement's place: start line and column, end line and column.
pub type StmtKey = (usize, usize, usize, usize);

impl<'a> RegionWalk<'a> {
    /// Walks `code` (in `file`, inside `func` if known) and the crate-local functions
    /// it calls, calling `visit` for every expression, macro call and `let`.
    pub fn run(
        cx: &'a PackageCx<'a>,
        file: &'a FileCx<'a>,
        func: Option<FnRef<'a>>,
        code: Code<'a>,
        visit: &mut dyn FnMut(&Event<'_>, &RegionWalk<'a>),
    ) {
        Self::run_with_depth(cx, file, func, code, MAX_CALL_DEPTH, visit);
    }

    pub fn run_with_depth(
        cx: &'a PackageCx<'a>,
        file: &'a FileCx<'a>,
        func: Option<FnRef<'a>>,
        code: Code<'a>,
        max_depth: usize,
        visit: &mut dyn FnMut(&Event<'_>, &RegionWalk<'a>),
    ) {
        let mut walk = RegionWalk {
            cx,
            frames: Vec::new(),
            current: 0,
            visited: HashSet::new(),
            max_depth,
            statements: Vec::new(),
            known: Vec::new(),
        };
        if let Some(f) = func {
            walk.visited.insert(f.key());
        }
        walk.frames.push(Frame {
            file,
            func,
            call: None,
            args: Vec::new(),
            parent: None,
            depth: 0,
        });
        let mut v = Visitor {
            walk: &mut walk,
            visit,
        };
        match code {
            Code::Block(b) => v.visit_block(b),
            Code::Stmts(stmts) => stmts.iter().for_each(|s| v.visit_stmt(s)),
            Code::Expr(e) => v.visit_expr(e),
        }
    }

    /// What the statements before this point in the current frame's enclosing blocks
    /// proved `var` holds: a guard `if x.is_err() { return …; }` (or `is_none`, `!x.is_ok()`,
    /// `if let Err(..) = x { … }`, …) whose body never falls through.
    pub fn known(&self, var: &str) -> Option<Holds> {
        self.known
            .iter()
            .rev()
            .find(|(f, v, _)| *f == self.current && v == var)
            .map(|(_, _, h)| *h)
    }

    /// The innermost statement being visited in the current frame, with the frame: the
    /// unit FL004 reports once.
    pub fn statement(&self) -> Option<(usize, StmtKey)> {
        self.statements
            .iter()
            .rev()
            .find(|(f, _)| *f == self.current)
            .copied()
    }

    pub fn frame(&self) -> &Frame<'a> {
        &self.frames[self.current]
    }

    pub fn file(&self) -> &'a FileCx<'a> {
        self.frames[self.current].file
    }

    pub fn depth(&self) -> usize {
        self.frames[self.current].depth
    }

    /// Path candidates in the current frame's file (and inline module: a test
    /// module's `use` items hold only inside it).
    pub fn resolve(&self, path: &syn::Path) -> Vec<Canon> {
        let mut out = self.file().resolver.candidates(path);
        if let Some(func) = self.frame().func {
            if !func.def.module.is_empty() {
                out[0] = self.file().resolver.canonical_in(path, &func.def.module);
            }
        }
        out
    }

    /// The diagnostics span of a syntax node in the current frame's file.
    pub fn span(&self, node: &impl syn::spanned::Spanned) -> Span {
        self.file().span_of(node)
    }

    /// Whether `span`, in the current frame, is inside the child region of a fork
    /// point nested in `outer`'s child: one whose fork call is itself in the region,
    /// or in a function the region calls.
    pub fn in_nested_child(
        &self,
        outer: &super::forks::ForkPoint<'a>,
        span: proc_macro2::Span,
    ) -> bool {
        use syn::spanned::Spanned;
        let Some(func) = self.frame().func else {
            return false;
        };
        let region = outer.child.as_ref().map(|c| c.code);
        self.cx.forks_in(func).any(|fp| {
            !std::ptr::eq(fp.call, outer.call)
                && (self.depth() > 0
                    || region.is_some_and(|r| super::threads::code_contains(r, fp.call.span())))
                && fp.child.as_ref().is_some_and(|c| {
                    c.func.is_none_or(|f| f.key() == func.key())
                        && super::threads::code_contains(c.code, span)
                })
        })
    }

    /// The call chain from the region to the current frame, outermost first, as labels.
    pub fn chain_labels(&self) -> Vec<Label> {
        let mut out = Vec::new();
        let mut i = Some(self.current);
        while let Some(idx) = i {
            let f = &self.frames[idx];
            if let Some(entry) = &f.call {
                out.extend(entry.note.clone());
                out.push(Label {
                    span: entry.span.clone(),
                    message: entry.label.clone(),
                    kind: LabelKind::ChainStep,
                });
            }
            i = f.parent;
        }
        out.reverse();
        out
    }

    /// The callee names from the region to the current frame: `a → b → c`.
    pub fn chain_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = Some(self.current);
        while let Some(idx) = i {
            if let Some(entry) = &self.frames[idx].call {
                out.push(entry.name.clone());
            }
            i = self.frames[idx].parent;
        }
        out.reverse();
        out
    }
}

struct Visitor<'w, 'a, 'v> {
    walk: &'w mut RegionWalk<'a>,
    visit: &'v mut dyn FnMut(&Event<'_>, &RegionWalk<'a>),
}

impl<'e, 'a> Visit<'e> for Visitor<'_, 'a, '_> {
    fn visit_expr(&mut self, e: &'e Expr) {
        (self.visit)(&Event::Expr(e), self.walk);
        let func = self.walk.frame().func;
        if let Some(target) = super::model::calls::callee(self.walk.cx, self.walk.file(), func, e) {
            let (args, span) = match e {
                Expr::Call(c) => (bind_args(target, c.args.iter()), self.walk.span(&c.func)),
                Expr::MethodCall(m) => {
                    (bind_args(target, m.args.iter()), self.walk.span(&m.method))
                }
                _ => unreachable!("callee() only resolves calls"),
            };
            self.descend(target, span, args);
        }
        // Functions passed to combinators that call them right here (not to
        // `thread::spawn` or `Process::new`, which run them elsewhere).
        let args = match e {
            // `pool.map(task, items)` (two arguments, unlike `Iterator::map`) runs the
            // task in a forkrt pool's workers.
            Expr::MethodCall(m) if m.method == "map" && m.args.len() == 2 => None,
            Expr::MethodCall(m)
                if IN_PLACE_COMBINATORS.contains(&m.method.to_string().as_str()) =>
            {
                Some(&m.args)
            }
            _ => None,
        };
        for arg in args.into_iter().flatten() {
            if let Expr::Path(p) = syntax::peel(arg) {
                self.function_value(p);
            }
        }
        if let Expr::Call(c) = e {
            if let Some(name) = syntax::ident_of(&c.func) {
                self.call_parameter(&name, &c.func);
            }
            // `catch_unwind(AssertUnwindSafe(f))` calls `f` right here.
            if let Expr::Path(p) = syntax::peel(&c.func) {
                if syntax::last_ident(&p.path).as_deref() == Some("catch_unwind") {
                    if let Some(arg) = c.args.first() {
                        let inner = unwrap_unwind_safe(arg);
                        if let Some(name) = syntax::ident_of(inner) {
                            self.call_parameter(&name, inner);
                        }
                    }
                }
            }
        }
        if let Expr::Macro(mac) = e {
            self.visit_macro_call(&mac.mac);
        }
        syn::visit::visit_expr(self, e);
    }

    fn visit_block(&mut self, b: &'e syn::Block) {
        let mark = self.walk.known.len();
        for s in &b.stmts {
            self.visit_stmt(s);
            if let Some((var, holds)) = guard(self.walk.cx, self.walk.file(), s) {
                self.walk.known.push((self.walk.current, var, holds));
            }
        }
        self.walk.known.truncate(mark);
    }

    fn visit_stmt(&mut self, s: &'e Stmt) {
        let span = syn::spanned::Spanned::span(s);
        let (start, end) = (span.start(), span.end());
        let key = (start.line, start.column, end.line, end.column);
        self.walk.statements.push((self.walk.current, key));
        match s {
            Stmt::Macro(m) => self.visit_macro_call(&m.mac),
            Stmt::Local(l) => {
                (self.visit)(&Event::Local(l), self.walk);
                syn::visit::visit_local(self, l);
            }
            _ => syn::visit::visit_stmt(self, s),
        }
        self.walk.statements.pop();
    }

    fn visit_item(&mut self, _: &'e syn::Item) {}
}

impl<'a> Visitor<'_, 'a, '_> {
    /// A macro call: the expansion of a `macro_rules!` of the package, walked as code;
    /// any other macro is an event, and its arguments (when they are expressions) are
    /// walked.
    fn visit_macro_call(&mut self, mac: &syn::Macro) {
        let file = self.walk.file();
        let Some(expanded) = file.expansion(self.walk.cx, mac) else {
            (self.visit)(&Event::Macro(mac), self.walk);
            self.visit_macro_args(mac);
            return;
        };
        let walk = &mut *self.walk;
        let depth = walk.frames[walk.current].depth + 1;
        if depth > walk.max_depth {
            return;
        }
        let parent = walk.current;
        let (func, args) = {
            let f = &walk.frames[parent];
            (f.func, f.args.clone())
        };
        let call = file.span_of(mac);
        walk.frames.push(Frame {
            file,
            func,
            call: Some(Entry {
                span: call,
                name: format!("{}!", expanded.name),
                label: format!("expands `{}!`", expanded.name),
                note: Some(Label {
                    span: expanded.def.clone(),
                    message: format!("in this expansion of `{}!`", expanded.name),
                    kind: LabelKind::Secondary,
                }),
            }),
            args,
            parent: Some(parent),
            depth,
        });
        walk.current = walk.frames.len() - 1;
        self.visit_block(&expanded.block);
        self.walk.current = parent;
    }

    fn visit_macro_args(&mut self, mac: &syn::Macro) {
        if let Some(args) = syntax::macro_args(mac) {
            for a in &args {
                self.visit_expr(a);
            }
        }
    }

    /// A function passed as an argument: an event, and a call of it when it is the
    /// package's.
    fn function_value(&mut self, p: &syn::ExprPath) {
        let file = self.walk.file();
        let canon = file.resolver.canonical(&p.path);
        if canon.len() >= 2 {
            (self.visit)(&Event::FnValue(p), self.walk);
        }
        if let Some(target) = super::model::calls::resolve_fn(self.walk.cx, file, &p.path) {
            let span = self.walk.span(p);
            self.descend(target, span, Vec::new());
        }
    }

    /// `f(..)` where `f` is a parameter of the function being walked: the closure or
    /// function its caller passed runs here. The caller is the frame that called in,
    /// or, when the walk did not come through a call that binds `f` (the region's own
    /// function), every call site of the function in the package (`fn in_child(f: impl
    /// FnOnce())` forks and calls `f()` in the child: every closure given to `in_child`,
    /// through wrappers of wrappers, is child code).
    fn call_parameter(&mut self, name: &str, at: &Expr) {
        let walk = &*self.walk;
        let frame = walk.frame();
        let Some(func) = frame.func else { return };
        if walk.depth() >= walk.max_depth || param_index(func, name).is_none() {
            return;
        }
        let call_span = walk.span(at);
        if let Some((_, arg)) = frame.args.iter().find(|(p, _)| p == name) {
            let arg = arg.clone();
            let Some(parent) = frame.parent else { return };
            let (file, caller, args) = {
                let p = &walk.frames[parent];
                (p.file, p.func, p.args.clone())
            };
            self.passed(&arg, file, caller, args, call_span, name, 0);
            return;
        }
        self.passed_by_callers(func, name, 0);
    }

    /// What every caller of `func` passes for its parameter `name`.
    fn passed_by_callers(&mut self, func: FnRef<'a>, name: &str, hops: usize) {
        let Some(index) = param_index(func, name) else {
            return;
        };
        if hops > MAX_PASSED_HOPS {
            return;
        }
        for site in super::model::calls::callers(self.walk.cx, func) {
            let arg = match site.expr {
                Some(Expr::Call(c)) => c.args.iter().nth(index),
                Some(Expr::MethodCall(m)) => m.args.iter().nth(index),
                _ => None,
            };
            let Some(arg) = arg else { continue };
            let label = site.caller.file.span(site.span);
            self.passed(
                arg,
                site.caller.file,
                Some(site.caller),
                Vec::new(),
                label,
                name,
                hops,
            );
        }
    }

    /// Walks what a caller passed for a parameter: a closure's body, a function, or
    /// (a parameter of the caller itself) what the caller's callers passed.
    #[allow(clippy::too_many_arguments)]
    fn passed(
        &mut self,
        arg: &Expr,
        file: &'a FileCx<'a>,
        caller: Option<FnRef<'a>>,
        args: Vec<(String, Expr)>,
        call_span: Span,
        param: &str,
        hops: usize,
    ) {
        match syntax::peel(arg) {
            Expr::Closure(cl) => {
                let walk = &mut *self.walk;
                let depth = walk.frames[walk.current].depth + 1;
                if depth > walk.max_depth {
                    return;
                }
                let parent = walk.current;
                walk.frames.push(Frame {
                    file,
                    func: caller,
                    call: Some(Entry {
                        span: call_span,
                        name: param.to_string(),
                        label: format!("runs the closure passed as `{param}`"),
                        note: None,
                    }),
                    args,
                    parent: Some(parent),
                    depth,
                });
                walk.current = walk.frames.len() - 1;
                self.visit_expr(&cl.body);
                self.walk.current = parent;
            }
            Expr::Path(p) => {
                // The caller's own parameter, handed on (`in_child(f)`).
                if let (Some(c), Some(var)) = (caller, syntax::ident_of(arg)) {
                    if param_index(c, &var).is_some() {
                        match args.iter().find(|(n, _)| *n == var) {
                            Some(_) => {}
                            None => self.passed_by_callers(c, &var, hops + 1),
                        }
                        return;
                    }
                }
                if let Some(target) = super::model::calls::resolve_fn(self.walk.cx, file, &p.path) {
                    self.descend(target, call_span, Vec::new());
                }
            }
            _ => {}
        }
    }

    fn descend(&mut self, target: FnRef<'a>, call_span: Span, args: Vec<(String, Expr)>) {
        let walk = &mut *self.walk;
        let depth = walk.frames[walk.current].depth + 1;
        // A function already walked (through another chain, or recursively) is not
        // walked again: its findings carry the first chain.
        if depth > walk.max_depth || !walk.visited.insert(target.key()) {
            return;
        }
        let parent = walk.current;
        walk.frames.push(Frame {
            file: target.file,
            func: Some(target),
            call: Some(Entry {
                span: call_span,
                name: target.def.name.clone(),
                label: format!("calls `{}`", target.def.name),
                note: None,
            }),
            args,
            parent: Some(parent),
            depth,
        });
        walk.current = walk.frames.len() - 1;
        self.visit_block(target.def.body);
        self.walk.current = parent;
    }
}

/// Methods that call the function they are given before they return, on the same
/// thread: a function value passed to them (`.map_err(io::Error::other)`) is a call.
const IN_PLACE_COMBINATORS: &[&str] = &[
    "map",
    "map_err",
    "and_then",
    "or_else",
    "unwrap_or_else",
    "map_or",
    "map_or_else",
    "ok_or_else",
    "filter",
    "filter_map",
    "flat_map",
    "for_each",
    "try_for_each",
    "fold",
    "try_fold",
    "any",
    "all",
    "find",
    "find_map",
    "position",
    "inspect",
    "take_while",
    "skip_while",
    "get_or_insert_with",
    "or_insert_with",
    "retain",
    "sort_by",
    "sort_by_key",
    "max_by_key",
    "min_by_key",
    "with",
];

/// `AssertUnwindSafe(f)` → `f`.
fn unwrap_unwind_safe(e: &Expr) -> &Expr {
    match syntax::peel(e) {
        Expr::Call(c) if c.args.len() == 1 => match syntax::peel(&c.func) {
            Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some("AssertUnwindSafe") => {
                unwrap_unwind_safe(&c.args[0])
            }
            _ => e,
        },
        other => other,
    }
}

/// How many callers up a parameter's argument is followed (wrappers of wrappers).
const MAX_PASSED_HOPS: usize = 4;

/// The position of the parameter `name` among `func`'s (`self` excluded).
fn param_index(func: FnRef<'_>, name: &str) -> Option<usize> {
    func.def
        .params()
        .iter()
        .position(|(n, _)| n.as_deref() == Some(name))
}

fn bind_args<'x>(target: FnRef<'_>, args: impl Iterator<Item = &'x Expr>) -> Vec<(String, Expr)> {
    target
        .def
        .params()
        .into_iter()
        .zip(args)
        .filter_map(|((name, _), arg)| Some((name?, arg.clone())))
        .collect()
}

/// What a statement proves about a variable for the statements after it: an `if`
/// without `else` whose body never falls through (it returns, breaks, exits or
/// panics), testing `x.is_none()`/`x.is_err()` (then `x` holds a value after it),
/// `x.is_some()`/`x.is_ok()` (then it holds none), the same negated with `!`, or
/// `if let Err(..)`/`if let None` = x.
fn guard<'a>(cx: &'a PackageCx<'a>, file: &'a FileCx<'a>, s: &Stmt) -> Option<(String, Holds)> {
    let Stmt::Expr(Expr::If(i), _) = s else {
        return None;
    };
    if i.else_branch.is_some() {
        return None;
    }
    let (var, holds) = tested(&i.cond)?;
    let good = |e: &Expr| super::flow::exits(cx, file, e);
    let panics = |m: &syn::Macro| {
        syntax::last_ident(&m.path).is_some_and(|n| {
            matches!(
                n.as_str(),
                "panic" | "unreachable" | "todo" | "unimplemented"
            )
        })
    };
    let expand = file.flow_expander(cx);
    let mut flow =
        super::flow::Flow::new(&good, &panics, &|_| false, &|_| false).expanding(&expand);
    (!flow.block(&i.then_branch).normal).then_some((var, holds))
}

/// The variable a guard's condition tests, and what it holds when the condition is
/// false.
fn tested(cond: &Expr) -> Option<(String, Holds)> {
    match syntax::peel(cond) {
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) => {
            let (var, holds) = tested(&u.expr)?;
            Some((
                var,
                match holds {
                    Holds::Value => Holds::NoValue,
                    Holds::NoValue => Holds::Value,
                },
            ))
        }
        Expr::MethodCall(m) if m.args.is_empty() => {
            let var = syntax::ident_of(&m.receiver)?;
            match m.method.to_string().as_str() {
                "is_none" | "is_err" => Some((var, Holds::Value)),
                "is_some" | "is_ok" => Some((var, Holds::NoValue)),
                _ => None,
            }
        }
        Expr::Let(l) => {
            let var = syntax::ident_of(&l.expr)?;
            let variant = match &*l.pat {
                syn::Pat::TupleStruct(t) => syntax::last_ident(&t.path)?,
                syn::Pat::Ident(p) => p.ident.to_string(),
                syn::Pat::Path(p) => syntax::last_ident(&p.path)?,
                _ => return None,
            };
            match variant.as_str() {
                "Err" | "None" => Some((var, Holds::Value)),
                "Ok" | "Some" => Some((var, Holds::NoValue)),
                _ => None,
            }
        }
        _ => None,
    }
}
