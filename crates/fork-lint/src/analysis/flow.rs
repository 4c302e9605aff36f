//! "Does every path reach a good point before leaving?" over structured code.
//!
//! The analysis walks statements in order and branches (`if`, `match`, loops) and
//! reports how paths can end without reaching a good point (a predicate the caller
//! gives: an exit call, a wait for the child…):
//!
//! * `normal`: the code can complete and continue with what follows it;
//! * `leaks`: a path leaves the code early (`return`, `?`, `break`, `continue`);
//! * `stuck`: a path never ends (`loop` without `break`) without reaching a good point.
//!
//! Code the caller marks as not taken (the child's branch, when following the
//! parent) is skipped. Closures are not executed where they are written.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, Stmt};

use super::syntax;

/// How a path left without reaching a good point.
#[derive(Clone, Debug)]
pub struct Leak {
    pub span: Span,
    pub how: &'static str,
    /// The path leaves through an error: `?`, or `return Err(..)`.
    pub error: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub normal: bool,
    pub leaks: Vec<Leak>,
    pub stuck: Vec<Span>,
}

impl Outcome {
    fn normal() -> Outcome {
        Outcome {
            normal: true,
            ..Outcome::default()
        }
    }

    fn done() -> Outcome {
        Outcome::default()
    }

    fn merge(&mut self, other: Outcome) {
        self.normal |= other.normal;
        self.leaks.extend(other.leaks);
        self.stuck.extend(other.stuck);
    }

    /// Every path reached a good point.
    pub fn always_good(&self) -> bool {
        !self.normal && self.leaks.is_empty() && self.stuck.is_empty()
    }
}

/// Hands the statements a macro call expands to, if it is one the package defines, to
/// the callback.
pub type Expander<'p> = dyn Fn(&syn::Macro, &mut dyn FnMut(&[Stmt])) + 'p;

/// The analysis' questions.
pub struct Flow<'p> {
    /// An expression that ends the path well.
    pub good: &'p dyn Fn(&Expr) -> bool,
    /// A macro call that ends the path well.
    pub good_macro: &'p dyn Fn(&syn::Macro) -> bool,
    /// Code that this path does not take.
    pub skip: &'p dyn Fn(&Expr) -> bool,
    pub skip_block: &'p dyn Fn(&syn::Block) -> bool,
    /// Statements this path does not take (a path that reaches one ends there).
    pub skip_stmt: &'p dyn Fn(&Stmt) -> bool,
    /// `if`s without `else` whose implicit `else` this path does not take.
    pub no_implicit_else: &'p dyn Fn(&syn::ExprIf) -> bool,
    /// Hands the statements a macro call expands to (the package's `macro_rules!`) to
    /// its second argument.
    pub expand: &'p Expander<'p>,
    loop_depth: usize,
    broke: bool,
    /// Expansions entered, one inside the other.
    expansions: usize,
}

/// How many expansions the analysis enters one inside the other.
const MAX_EXPANSIONS: usize = 8;

impl<'p> Flow<'p> {
    pub fn new(
        good: &'p dyn Fn(&Expr) -> bool,
        good_macro: &'p dyn Fn(&syn::Macro) -> bool,
        skip: &'p dyn Fn(&Expr) -> bool,
        skip_block: &'p dyn Fn(&syn::Block) -> bool,
    ) -> Flow<'p> {
        Flow {
            good,
            good_macro,
            skip,
            skip_block,
            skip_stmt: &|_| false,
            no_implicit_else: &|_| false,
            expand: &|_, _| {},
            loop_depth: 0,
            broke: false,
            expansions: 0,
        }
    }

    /// Also skip the implicit `else` of these `if`s.
    pub fn without_implicit_else(mut self, f: &'p dyn Fn(&syn::ExprIf) -> bool) -> Flow<'p> {
        self.no_implicit_else = f;
        self
    }

    /// Looks into the expansions `expand` gives (a `leave_child!()` that expands to
    /// `_exit` leaves).
    pub fn expanding(mut self, expand: &'p Expander<'p>) -> Flow<'p> {
        self.expand = expand;
        self
    }

    /// Also skip these statements.
    pub fn skipping_stmts(mut self, skip_stmt: &'p dyn Fn(&Stmt) -> bool) -> Flow<'p> {
        self.skip_stmt = skip_stmt;
        self
    }

    pub fn stmts(&mut self, stmts: &[Stmt]) -> Outcome {
        let mut out = Outcome::normal();
        for s in stmts {
            if !out.normal {
                break;
            }
            let o = self.stmt(s);
            out.normal = o.normal;
            out.leaks.extend(o.leaks);
            out.stuck.extend(o.stuck);
        }
        out
    }

    pub fn block(&mut self, b: &syn::Block) -> Outcome {
        if (self.skip_block)(b) {
            return Outcome::done();
        }
        self.stmts(&b.stmts)
    }

    fn stmt(&mut self, s: &Stmt) -> Outcome {
        if (self.skip_stmt)(s) {
            return Outcome::done();
        }
        match s {
            Stmt::Local(l) => {
                let Some(init) = &l.init else {
                    return Outcome::normal();
                };
                let mut out = self.expr(&init.expr);
                if let Some((_, diverge)) = &init.diverge {
                    let d = self.expr(diverge);
                    out.leaks.extend(d.leaks);
                    out.stuck.extend(d.stuck);
                }
                out
            }
            Stmt::Expr(e, _) => self.expr(e),
            Stmt::Macro(m) => self.mac(&m.mac),
            Stmt::Item(_) => Outcome::normal(),
        }
    }

    fn mac(&mut self, mac: &syn::Macro) -> Outcome {
        if (self.good_macro)(mac) {
            return Outcome::done();
        }
        if self.expansions < MAX_EXPANSIONS {
            let expand = self.expand;
            let mut expanded = None;
            self.expansions += 1;
            expand(mac, &mut |stmts| expanded = Some(self.stmts(stmts)));
            self.expansions -= 1;
            if let Some(outcome) = expanded {
                return outcome;
            }
        }
        if syntax::DIVERGING_MACROS.contains(&syntax::macro_name(mac).as_str()) {
            return Outcome::done();
        }
        // `?` or `return` hidden in macro arguments is rare; arguments are evaluated.
        match syntax::macro_args(mac) {
            Some(args) => self.seq(args.iter()),
            None => Outcome::normal(),
        }
    }

    fn seq<'e>(&mut self, exprs: impl Iterator<Item = &'e Expr>) -> Outcome {
        let mut out = Outcome::normal();
        for e in exprs {
            if !out.normal {
                break;
            }
            let o = self.expr(e);
            out.normal = o.normal;
            out.leaks.extend(o.leaks);
            out.stuck.extend(o.stuck);
        }
        out
    }

    /// A loop body, with `break` and `continue` meaning the loop's own; also returns
    /// whether some `break` leaves the loop.
    fn loop_body(&mut self, body: &syn::Block) -> (Outcome, bool) {
        let (depth, broke) = (self.loop_depth, self.broke);
        self.loop_depth += 1;
        self.broke = false;
        let out = self.block(body);
        let exits = self.broke;
        self.loop_depth = depth;
        self.broke = broke;
        (out, exits)
    }

    /// `while` and `for`: the head runs, the body may run zero times, then the code
    /// after the loop.
    fn zero_or_more(&mut self, head: &Expr, body: &syn::Block) -> Outcome {
        let mut out = self.expr(head);
        let (inner, _) = self.loop_body(body);
        out.leaks.extend(inner.leaks);
        out.stuck.extend(inner.stuck);
        out.normal = true;
        out
    }

    /// The outcome of a region's code, whatever its shape.
    pub fn code(&mut self, code: super::walk::Code<'_>) -> Outcome {
        match code {
            super::walk::Code::Block(b) => self.block(b),
            super::walk::Code::Stmts(s) => self.stmts(s),
            super::walk::Code::Expr(e) => self.expr(e),
        }
    }

    pub fn expr(&mut self, e: &Expr) -> Outcome {
        if (self.skip)(e) || (self.good)(e) {
            return Outcome::done();
        }
        match e {
            Expr::Return(r) => self.ret(r),
            Expr::Try(t) => {
                let mut inner = self.expr(&t.expr);
                if inner.normal {
                    inner.leaks.push(Leak {
                        span: t.question_token.span(),
                        how: "returns early with `?`",
                        error: true,
                    });
                }
                inner
            }
            Expr::Break(b) => self.jump(b.label.is_some(), b.span(), "breaks out", true),
            Expr::Continue(c) => self.jump(
                c.label.is_some(),
                c.span(),
                "continues the enclosing loop",
                false,
            ),
            Expr::If(i) => self.if_expr(i),
            Expr::Match(m) => {
                let mut out = self.expr(&m.expr);
                if !out.normal {
                    return out;
                }
                out.normal = false;
                for arm in &m.arms {
                    let o = self.expr(&arm.body);
                    out.merge(o);
                }
                out
            }
            Expr::Block(b) => self.block(&b.block),
            Expr::Unsafe(u) => self.block(&u.block),
            Expr::Loop(l) => {
                let (mut body, exits) = self.loop_body(&l.body);
                body.normal = exits;
                if !exits && body.leaks.is_empty() && !contains_good(self, &l.body) {
                    body.stuck.push(l.loop_token.span());
                }
                body
            }
            Expr::While(w) => self.zero_or_more(&w.cond, &w.body),
            Expr::ForLoop(f) => self.zero_or_more(&f.expr, &f.body),
            Expr::Macro(m) => self.mac(&m.mac),
            _ => self.operands(e),
        }
    }

    /// `return` (with its value evaluated first).
    fn ret(&mut self, r: &syn::ExprReturn) -> Outcome {
        let mut inner = match &r.expr {
            Some(x) => self.expr(x),
            None => Outcome::normal(),
        };
        if inner.normal {
            inner.normal = false;
            let error = r.expr.as_deref().is_some_and(|x| {
                matches!(syntax::peel(x), Expr::Call(c) if matches!(syntax::peel(&c.func), Expr::Path(p) if p.path.is_ident("Err")))
            });
            inner.leaks.push(Leak {
                span: r.span(),
                how: "returns",
                error,
            });
        }
        inner
    }

    /// `break` or `continue`: the loop's own (unlabelled, inside a loop of the
    /// region) ends this path; otherwise it leaves the region.
    fn jump(
        &mut self,
        labelled: bool,
        span: proc_macro2::Span,
        how: &'static str,
        is_break: bool,
    ) -> Outcome {
        if self.loop_depth > 0 && !labelled {
            self.broke |= is_break;
            return Outcome::done();
        }
        Outcome {
            normal: false,
            leaks: vec![Leak {
                span,
                how,
                error: false,
            }],
            stuck: Vec::new(),
        }
    }

    fn if_expr(&mut self, i: &syn::ExprIf) -> Outcome {
        let mut out = self.expr(&i.cond);
        if !out.normal {
            return out;
        }
        out.normal = false;
        let then = self.block(&i.then_branch);
        out.merge(then);
        match &i.else_branch {
            Some((_, els)) => {
                let o = self.expr(els);
                out.merge(o);
            }
            None => out.normal = !(self.no_implicit_else)(i),
        }
        out
    }

    /// Expressions whose operands run in order and that add no control flow.
    fn operands(&mut self, e: &Expr) -> Outcome {
        match e {
            Expr::Call(c) => self.seq(c.args.iter()),
            Expr::MethodCall(m) => self.seq(std::iter::once(&*m.receiver).chain(m.args.iter())),
            Expr::Assign(a) => self.seq([&*a.right, &*a.left].into_iter()),
            Expr::Binary(b) => self.seq([&*b.left, &*b.right].into_iter()),
            Expr::Unary(u) => self.expr(&u.expr),
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Reference(r) => self.expr(&r.expr),
            Expr::Field(f) => self.expr(&f.base),
            Expr::Cast(c) => self.expr(&c.expr),
            Expr::Let(l) => self.expr(&l.expr),
            Expr::Index(i) => self.seq([&*i.expr, &*i.index].into_iter()),
            Expr::Tuple(t) => self.seq(t.elems.iter()),
            Expr::Array(a) => self.seq(a.elems.iter()),
            Expr::Struct(s) => self.seq(s.fields.iter().map(|f| &f.expr)),
            Expr::Await(a) => self.expr(&a.base),
            _ => Outcome::normal(),
        }
    }
}

/// Whether a good point appears anywhere in a block (used to tell a loop that waits
/// or exits from one that spins).
fn contains_good(flow: &Flow<'_>, b: &syn::Block) -> bool {
    struct Find<'f, 'p> {
        flow: &'f Flow<'p>,
        found: bool,
    }
    impl<'ast> syn::visit::Visit<'ast> for Find<'_, '_> {
        fn visit_expr(&mut self, e: &'ast Expr) {
            if (self.flow.skip)(e) {
                return;
            }
            if (self.flow.good)(e) {
                self.found = true;
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_block(&mut self, b: &'ast syn::Block) {
            if !(self.flow.skip_block)(b) {
                syn::visit::visit_block(self, b);
            }
        }
        fn visit_stmt(&mut self, s: &'ast Stmt) {
            if !(self.flow.skip_stmt)(s) {
                syn::visit::visit_stmt(self, s);
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            if (self.flow.good_macro)(m) {
                self.found = true;
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut f = Find { flow, found: false };
    syn::visit::Visit::visit_block(&mut f, b);
    f.found
}

/// Whether a call leaves the process for good: the exit and exec families,
/// `Command::exec`, or a crate-local function that returns `!` or ends every path in
/// one of these (followed to a bounded depth).
pub fn exits<'a>(cx: &'a super::PackageCx<'a>, file: &'a super::FileCx<'a>, e: &Expr) -> bool {
    exits_depth(cx, file, e, 0)
}

fn exits_depth<'a>(
    cx: &'a super::PackageCx<'a>,
    file: &'a super::FileCx<'a>,
    e: &Expr,
    depth: usize,
) -> bool {
    match e {
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return false;
            };
            if super::catalog::is_exit(&file.resolver.candidates(&p.path)) {
                return true;
            }
            if depth >= 3 {
                return false;
            }
            crate::analysis::model::calls::resolve_fn(cx, file, &p.path)
                .is_some_and(|target| always_exits(cx, target, depth))
        }
        Expr::MethodCall(m) => {
            if m.method == "exec" && m.args.is_empty() {
                return true;
            }
            // `self.run_child()` where `run_child` returns `!` or always exits.
            let is_self = syntax::ident_of(&m.receiver).is_some_and(|r| r == "self");
            if depth >= 3 || !is_self {
                return false;
            }
            crate::analysis::model::calls::resolve_method(
                cx,
                file,
                true,
                None,
                &m.method.to_string(),
            )
            .is_some_and(|target| always_exits(cx, target, depth))
        }
        _ => false,
    }
}

/// A crate function that returns `!` or ends every path leaving the process.
/// Memoised: parent branches of many forks call the same helpers (`waitpid`…).
fn always_exits<'a>(cx: &'a super::PackageCx<'a>, target: super::FnRef<'a>, depth: usize) -> bool {
    if target.def.returns_never() {
        return true;
    }
    let key = (target.key(), depth);
    if let Some(&known) = cx.calls.always_exits.borrow().get(&key) {
        return known;
    }
    let good = |x: &Expr| exits_depth(cx, target.file, x, depth + 1);
    let expand = target.file.flow_expander(cx);
    let mut flow = Flow::new(&good, &|_| false, &|_| false, &|_| false).expanding(&expand);
    let exits = flow.block(target.def.body).always_good();
    cx.calls.always_exits.borrow_mut().insert(key, exits);
    exits
}

/// Whether the node with span `at` is in tail position of `body`: its value is what
/// the function returns (through tail expressions of blocks, `if` branches and `match`
/// arms).
pub fn in_tail_position(body: &syn::Block, at: Span) -> bool {
    let Some(Stmt::Expr(e, None)) = body.stmts.last() else {
        return false;
    };
    tail_expr(e, at)
}

fn tail_expr(e: &Expr, at: Span) -> bool {
    let sp = e.span();
    if sp.start() == at.start() && sp.end() == at.end() {
        return true;
    }
    if !syntax::contains(sp, at) {
        return false;
    }
    match e {
        Expr::Block(b) => in_tail_position(&b.block, at),
        Expr::Unsafe(u) => in_tail_position(&u.block, at),
        Expr::Paren(p) => tail_expr(&p.expr, at),
        Expr::If(i) => {
            let s = i.then_branch.span();
            if s.start() == at.start() && s.end() == at.end() {
                return true;
            }
            in_tail_position(&i.then_branch, at)
                || i.else_branch
                    .as_ref()
                    .is_some_and(|(_, e)| tail_expr(e, at))
        }
        Expr::Match(m) => m.arms.iter().any(|a| tail_expr(&a.body, at)),
        _ => false,
    }
}

/// Follows every path from the point — the `construct` expression if given, else the
/// statement the point is in — to the end of the enclosing function or closure: the rest of each enclosing block,
/// innermost first. A `loop` around the point repeats: if its body never reaches a
/// good point, the path is stuck there; a `for`/`while` body that does not reach one
/// continues after the loop.
pub fn to_function_end(
    flow: &mut Flow<'_>,
    ancestors: &[super::syntax::Node<'_>],
    construct: Option<&Expr>,
) -> Outcome {
    use super::syntax::Node;
    // A construct nested in an expression (`=> match fork() { … }`) runs, then control
    // goes on after each enclosing statement — not through its sibling branches.
    let mut out = match construct {
        Some(e) => flow.expr(e),
        None => Outcome::normal(),
    };
    let mut first = construct.is_none();
    for (k, node) in ancestors.iter().enumerate().rev() {
        match node {
            Node::Expr(Expr::Closure(_)) | Node::Expr(Expr::Async(_)) => break,
            Node::Stmt(b, i) => {
                if !out.normal {
                    break;
                }
                let start = if first { *i } else { i + 1 };
                first = false;
                let o = flow.stmts(&b.stmts[start..]);
                out.normal = o.normal;
                out.leaks.extend(o.leaks);
                out.stuck.extend(o.stuck);
            }
            Node::Expr(e @ (Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_))) if out.normal => {
                // Only when the point is in the loop's body (not its condition).
                let body = match e {
                    Expr::Loop(l) => &l.body,
                    Expr::While(w) => &w.body,
                    Expr::ForLoop(f) => &f.body,
                    _ => unreachable!(),
                };
                let in_body =
                    matches!(ancestors.get(k + 1), Some(Node::Block(b)) if std::ptr::eq(*b, body));
                if !in_body {
                    continue;
                }
                if contains_good(flow, body) {
                    out.normal = false;
                } else if let Expr::Loop(l) = e {
                    out.normal = false;
                    out.stuck.push(l.loop_token.span());
                }
            }
            _ => {}
        }
    }
    out
}
