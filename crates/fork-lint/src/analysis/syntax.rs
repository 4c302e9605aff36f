//! Small questions about syntax that every analysis asks: what a path says, what an
//! expression is once wrappers are peeled off, which expressions a macro's arguments
//! hold.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{Expr, Pat, Stmt};

/// The segments of a path, without generic arguments (raw identifiers without `r#`).
pub fn segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| ident_text(&s.ident)).collect()
}

/// The last segment of a path.
pub fn last_ident(path: &syn::Path) -> Option<String> {
    path.segments.last().map(|s| ident_text(&s.ident))
}

/// An identifier as a name: `r#impl` is `impl` (a module declared `mod r#impl;` is the
/// module `impl`).
pub fn ident_text(ident: &proc_macro2::Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(raw) => raw.to_string(),
        None => s,
    }
}

/// Peels parentheses, invisible groups, `&`/`&mut`, `*`, casts' inner values are kept,
/// and `unsafe { e }` / `{ e }` blocks that hold only `e`.
pub fn peel(mut e: &Expr) -> &Expr {
    loop {
        e = match e {
            Expr::Paren(p) => &p.expr,
            Expr::Group(g) => &g.expr,
            Expr::Reference(r) => &r.expr,
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => &u.expr,
            Expr::Unsafe(u) => match single_expr(&u.block.stmts) {
                Some(inner) => inner,
                None => return e,
            },
            Expr::Block(b) if b.label.is_none() => match single_expr(&b.block.stmts) {
                Some(inner) => inner,
                None => return e,
            },
            _ => return e,
        };
    }
}

/// Like [`peel`], and also looks through the ways a `Result` is unwrapped:
/// `?`, `.unwrap()`, `.expect(..)`, `.map_err(..)`, `.context(..)` and friends.
pub fn peel_result(mut e: &Expr) -> &Expr {
    loop {
        let p = peel(e);
        e = match p {
            Expr::Try(t) => &t.expr,
            Expr::MethodCall(m) if RESULT_ADAPTERS.contains(&m.method.to_string().as_str()) => {
                &m.receiver
            }
            _ => return p,
        };
    }
}

const RESULT_ADAPTERS: &[&str] = &[
    "unwrap",
    "expect",
    "unwrap_or_else",
    "unwrap_or",
    "map_err",
    "context",
    "with_context",
    "wrap_err",
    "or_else",
    "into_ok",
];

/// The only expression of a block with no other statements.
pub fn single_expr(stmts: &[Stmt]) -> Option<&Expr> {
    match stmts {
        [Stmt::Expr(e, _)] => Some(e),
        _ => None,
    }
}

/// A single-identifier path expression (`x`), after peeling.
pub fn ident_of(e: &Expr) -> Option<String> {
    match peel(e) {
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            Some(p.path.segments[0].ident.to_string())
        }
        _ => None,
    }
}

/// The receiver at the root of a method chain: `a` in `a.b().c(x).d()`.
pub fn chain_root(mut e: &Expr) -> &Expr {
    loop {
        e = match peel(e) {
            Expr::MethodCall(m) => &m.receiver,
            Expr::Try(t) => &t.expr,
            Expr::Field(f) => &f.base,
            other => return other,
        };
    }
}

/// The method names along a chain, innermost first: `["new", "pid_file", "start"]` for
/// `Daemonize::new().pid_file(p).start()` (the root call's last path segment first).
pub fn chain_methods(e: &Expr) -> Vec<String> {
    let mut names = Vec::new();
    let mut cur = e;
    loop {
        match peel(cur) {
            Expr::MethodCall(m) => {
                names.push(m.method.to_string());
                cur = &m.receiver;
            }
            Expr::Try(t) => cur = &t.expr,
            Expr::Call(c) => {
                if let Expr::Path(p) = peel(&c.func) {
                    if let Some(last) = last_ident(&p.path) {
                        names.push(last);
                    }
                }
                break;
            }
            _ => break,
        }
    }
    names.reverse();
    names
}

/// The identifiers a pattern binds.
pub fn pat_bindings(pat: &Pat, out: &mut Vec<String>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.to_string());
            if let Some((_, sub)) = &p.subpat {
                pat_bindings(sub, out);
            }
        }
        Pat::Or(p) => p.cases.iter().for_each(|c| pat_bindings(c, out)),
        Pat::Paren(p) => pat_bindings(&p.pat, out),
        Pat::Reference(p) => pat_bindings(&p.pat, out),
        Pat::Slice(p) => p.elems.iter().for_each(|c| pat_bindings(c, out)),
        Pat::Struct(p) => p.fields.iter().for_each(|f| pat_bindings(&f.pat, out)),
        Pat::Tuple(p) => p.elems.iter().for_each(|c| pat_bindings(c, out)),
        Pat::TupleStruct(p) => p.elems.iter().for_each(|c| pat_bindings(c, out)),
        Pat::Type(p) => pat_bindings(&p.pat, out),
        Pat::Guard(p) => pat_bindings(&p.pat, out),
        _ => {}
    }
}

/// The single identifier a pattern binds (`x`, `mut x`, `x: T`, `ref x`).
pub fn pat_ident(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(p) if p.subpat.is_none() => Some(p.ident.to_string()),
        Pat::Type(p) => pat_ident(&p.pat),
        Pat::Paren(p) => pat_ident(&p.pat),
        _ => None,
    }
}

/// The name of a macro: the last segment of its path (`println`, `info`, `format`).
pub fn macro_name(mac: &syn::Macro) -> String {
    last_ident(&mac.path).unwrap_or_default()
}

/// The expressions a function-like macro's arguments hold, for the macros whose
/// arguments are comma-separated expressions (`println!`, `format!`, `vec!`,
/// `assert!`, logging macros, …). `None` for anything else.
pub fn macro_args(mac: &syn::Macro) -> Option<Punctuated<Expr, syn::Token![,]>> {
    use syn::parse::Parser;
    let name = macro_name(mac);
    if !EXPR_ARG_MACROS.contains(&name.as_str()) {
        return None;
    }
    let parser = Punctuated::<Expr, syn::Token![,]>::parse_terminated;
    if let Ok(args) = parser.parse2(mac.tokens.clone()) {
        return Some(args);
    }
    // `vec![x; n]`, `info!(target: "t", ..)` and friends: take what parses. After a
    // token that starts no expression (`%x`, `?x`) the next one is tried; after a
    // second failure in a row the rest of the argument is skipped, so that a long run
    // of junk (`- - - … ;`) costs linear, not quadratic, time.
    let parser = |input: syn::parse::ParseStream<'_>| {
        let mut out = Punctuated::new();
        let mut failed_last = false;
        while !input.is_empty() {
            let fork = input.fork();
            if let Ok(e) = fork.parse::<Expr>() {
                use syn::parse::discouraged::Speculative;
                input.advance_to(&fork);
                out.push(e);
                failed_last = false;
            } else if !failed_last {
                input.parse::<proc_macro2::TokenTree>()?;
                failed_last = true;
            } else {
                while !(input.is_empty()
                    || input.peek(syn::Token![,])
                    || input.peek(syn::Token![;]))
                {
                    input.parse::<proc_macro2::TokenTree>()?;
                }
            }
            if input.peek(syn::Token![,])
                || input.peek(syn::Token![;])
                || input.peek(syn::Token![:])
            {
                input.parse::<proc_macro2::TokenTree>()?;
            }
        }
        Ok(out)
    };
    parser.parse2(mac.tokens.clone()).ok()
}

/// Macros of other crates whose arguments are expressions they only read (format,
/// log, assert).
pub const EXPR_ARG_MACROS: &[&str] = &[
    "print",
    "println",
    "eprint",
    "eprintln",
    "format",
    "format_args",
    "write",
    "writeln",
    "panic",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "unreachable",
    "todo",
    "unimplemented",
    "vec",
    "dbg",
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "log",
    "event",
    "matches",
    "anyhow",
    "bail",
    "ensure",
    "eyre",
];

/// Whether `inner` lies within `outer` (by source position).
pub fn contains(outer: Span, inner: Span) -> bool {
    let (os, oe, is, ie) = (outer.start(), outer.end(), inner.start(), inner.end());
    (os.line, os.column) <= (is.line, is.column) && (ie.line, ie.column) <= (oe.line, oe.column)
}

/// Whether an attribute list holds `#[cfg(test)]`.
pub fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
    })
}

/// Literal integer value of an expression (`0`, `-1`), after peeling.
pub fn int_lit(e: &Expr) -> Option<i128> {
    match peel(e) {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse().ok(),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => int_lit(&u.expr).map(|v| -v),
        _ => None,
    }
}

/// Whether control never continues past this expression: `return`, `break`,
/// `continue`, `loop {}` without `break`, `panic!`-like macros. Calls are judged by
/// the caller (they need name resolution).
pub fn is_jump(e: &Expr) -> bool {
    match peel(e) {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => true,
        Expr::Macro(m) => DIVERGING_MACROS.contains(&macro_name(&m.mac).as_str()),
        _ => false,
    }
}

/// Macros that never return.
pub const DIVERGING_MACROS: &[&str] = &["panic", "unreachable", "todo", "unimplemented"];

/// An enclosing node of an expression.
#[derive(Clone, Copy)]
pub enum Node<'a> {
    Block(&'a syn::Block),
    /// The `index`th statement of `block` is being visited.
    Stmt(&'a syn::Block, usize),
    Expr(&'a Expr),
    Arm(
        #[expect(dead_code, reason = "kept so that a match arm is visible in ancestors")]
        &'a syn::Arm,
    ),
    Local(&'a syn::Local),
}

/// Calls `f` for every expression of `body` (not of nested items), with its ancestors
/// (outermost first).
pub fn each_expr<'a>(body: &'a syn::Block, f: &mut dyn FnMut(&'a Expr, &[Node<'a>])) {
    let mut v = Ancestors {
        stack: Vec::new(),
        f,
        on_macro: None,
        expand: None,
        expansions: 0,
    };
    v.visit_block(body);
}

/// Like [`each_expr`], looking into macro calls too: `expand` gives the statements a
/// call expands to (the package's `macro_rules!`), which are visited as a block inside
/// the call.
pub fn each_expr_expanded<'a>(
    body: &'a syn::Block,
    expand: &dyn Fn(&syn::Macro) -> Option<&'a syn::Block>,
    f: &mut dyn FnMut(&'a Expr, &[Node<'a>]),
) {
    let mut v = Ancestors {
        stack: Vec::new(),
        f,
        on_macro: None,
        expand: Some(expand),
        expansions: 0,
    };
    v.visit_block(body);
}

/// Calls `f` for every macro invocation of `body` (expressions and statements, not
/// nested items), with its ancestors (outermost first).
pub fn each_macro<'a>(body: &'a syn::Block, f: &mut dyn FnMut(&'a syn::Macro, &[Node<'a>])) {
    let mut v = Ancestors {
        stack: Vec::new(),
        f: &mut |_, _| {},
        on_macro: Some(f),
        expand: None,
        expansions: 0,
    };
    v.visit_block(body);
}

/// Gives the block a macro call expands to.
type MacroBlocks<'a, 'f> = dyn Fn(&syn::Macro) -> Option<&'a syn::Block> + 'f;

type OnMacro<'a, 'f> = dyn FnMut(&'a syn::Macro, &[Node<'a>]) + 'f;

struct Ancestors<'a, 'f> {
    stack: Vec<Node<'a>>,
    f: &'f mut dyn FnMut(&'a Expr, &[Node<'a>]),
    on_macro: Option<&'f mut OnMacro<'a, 'f>>,
    expand: Option<&'f MacroBlocks<'a, 'f>>,
    /// Expansions being visited, one inside the other.
    expansions: usize,
}

/// How many expansions a visit enters one inside the other.
const MAX_EXPANSION_NESTING: usize = 8;

impl<'a> Visit<'a> for Ancestors<'a, '_> {
    fn visit_block(&mut self, b: &'a syn::Block) {
        self.stack.push(Node::Block(b));
        for (i, s) in b.stmts.iter().enumerate() {
            self.stack.push(Node::Stmt(b, i));
            self.visit_stmt(s);
            self.stack.pop();
        }
        self.stack.pop();
    }
    fn visit_expr(&mut self, e: &'a Expr) {
        (self.f)(e, &self.stack);
        self.stack.push(Node::Expr(e));
        syn::visit::visit_expr(self, e);
        self.stack.pop();
    }
    fn visit_arm(&mut self, a: &'a syn::Arm) {
        self.stack.push(Node::Arm(a));
        syn::visit::visit_arm(self, a);
        self.stack.pop();
    }
    fn visit_local(&mut self, l: &'a syn::Local) {
        self.stack.push(Node::Local(l));
        syn::visit::visit_local(self, l);
        self.stack.pop();
    }
    fn visit_macro(&mut self, m: &'a syn::Macro) {
        if let Some(f) = self.on_macro.as_mut() {
            f(m, &self.stack);
        }
        // Expansions inside expansions, to a bound (a macro the expander left as
        // written may look like the call it came from).
        if self.expansions < MAX_EXPANSION_NESTING {
            if let Some(block) = self.expand.and_then(|expand| expand(m)) {
                self.expansions += 1;
                self.visit_block(block);
                self.expansions -= 1;
            }
        }
    }
    fn visit_item(&mut self, _: &'a syn::Item) {}
}

/// The statements that run before the innermost statement of `ancestors`, in every
/// enclosing block, nearest first: `(block, index)` pairs where `block.stmts[..index]`
/// ran before.
pub fn enclosing_statements<'a>(ancestors: &[Node<'a>]) -> Vec<(&'a syn::Block, usize)> {
    ancestors
        .iter()
        .rev()
        .filter_map(|n| match n {
            Node::Stmt(b, i) => Some((*b, *i)),
            _ => None,
        })
        .collect()
}

/// The statements that run before the point, in execution order: the earlier
/// statements of the outermost enclosing block first, then of each inner block.
pub fn statements_before<'a>(ancestors: &[Node<'a>]) -> Vec<&'a Stmt> {
    enclosing_statements(ancestors)
        .into_iter()
        .rev()
        .flat_map(|(b, i)| &b.stmts[..i])
        .collect()
}

/// The initializer of the nearest `let NAME = …;` before the current statement.
pub fn local_init<'a>(ancestors: &[Node<'a>], name: &str) -> Option<&'a Expr> {
    for (block, index) in enclosing_statements(ancestors) {
        for stmt in block.stmts[..index].iter().rev() {
            if let Stmt::Local(l) = stmt {
                if pat_ident(&l.pat).as_deref() == Some(name) {
                    return l.init.as_ref().map(|i| &*i.expr);
                }
            }
        }
    }
    None
}

/// The initializer of `let NAME = …` anywhere in a function (the first one).
pub fn local_init_in<'a>(body: &'a syn::Block, name: &str) -> Option<&'a Expr> {
    local_in(body, name)
        .and_then(|l| l.init.as_ref())
        .map(|i| &*i.expr)
}

/// The first `let NAME …` anywhere in a function.
pub fn local_in<'a>(body: &'a syn::Block, name: &str) -> Option<&'a syn::Local> {
    struct Find<'a, 'n> {
        name: &'n str,
        found: Option<&'a syn::Local>,
    }
    impl<'a> Visit<'a> for Find<'a, '_> {
        fn visit_local(&mut self, l: &'a syn::Local) {
            if self.found.is_none() && pat_ident(&l.pat).as_deref() == Some(self.name) {
                self.found = Some(l);
            }
            syn::visit::visit_local(self, l);
        }
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut f = Find { name, found: None };
    f.visit_block(body);
    f.found
}
