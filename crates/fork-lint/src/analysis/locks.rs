//! Locks: where one is taken, which lock it is, and which guards are alive at a
//! point.
//!
//! Lock identity is syntactic but follows aliases: a static (`STATE`, `crate::STATE`)
//! is its name; a local is its function and name, through `let b = Arc::clone(&a)`,
//! `a.clone()`, `&a` and closure captures; a parameter is whatever the caller passed
//! (through the call chain); `self.field` is the field; stdout and stderr are one
//! lock each (`println!`, `print!`, `stdout().lock()`, writes to `io::stdout()`).

use syn::{Expr, Stmt};

use super::syntax::Node;
use super::walk::{self, Event, RegionWalk};
use super::{FileCx, FnRef, syntax};
use crate::diagnostic::Span;

/// Which lock.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockKey {
    Static(String),
    /// A local of a function (identified by its address) and its name.
    Local((usize, usize), String),
    Field(String),
    Stdout,
    Stderr,
}

impl LockKey {
    pub fn describe(&self) -> String {
        match self {
            LockKey::Static(n) => format!("`{n}`"),
            LockKey::Local(_, n) => format!("`{n}`"),
            LockKey::Field(n) => format!("`self.{n}`"),
            LockKey::Stdout => "stdout's lock".to_string(),
            LockKey::Stderr => "stderr's lock".to_string(),
        }
    }
}

/// A place a lock is taken.
#[derive(Clone, Debug)]
pub struct Acquire {
    pub key: LockKey,
    pub span: Span,
}

const LOCK_METHODS: &[&str] = &[
    "lock",
    "blocking_lock",
    "lock_arc",
    "write_lock",
    "read_lock",
];
const RW_METHODS: &[&str] = &["read", "write", "upgradable_read"];
const LOCK_TYPES: &[&str] = &[
    "Mutex",
    "RwLock",
    "ReentrantMutex",
    "FairMutex",
    "ReentrantLock",
];
const STDOUT_WRITES: &[&str] = &["write", "write_all", "write_fmt", "flush", "lock"];

/// The lock an expression or macro takes, seen from inside a region walk.
pub fn acquisition(w: &RegionWalk<'_>, ev: &Event<'_>, extra_types: &[String]) -> Option<Acquire> {
    match ev {
        Event::Macro(mac) => {
            let name = syntax::macro_name(mac);
            let key = match name.as_str() {
                "println" | "print" => LockKey::Stdout,
                "eprintln" | "eprint" | "dbg" => LockKey::Stderr,
                "write" | "writeln" => {
                    let args = syntax::macro_args(mac)?;
                    std_stream(args.first()?)?
                }
                _ => return None,
            };
            Some(Acquire {
                key,
                span: w.span(*mac),
            })
        }
        Event::Expr(Expr::MethodCall(m)) => {
            let name = m.method.to_string();
            if let Some(stream) = std_stream(&m.receiver) {
                return STDOUT_WRITES.contains(&name.as_str()).then(|| Acquire {
                    key: stream,
                    span: w.span(&m.method),
                });
            }
            let is_lock = LOCK_METHODS.contains(&name.as_str())
                || (RW_METHODS.contains(&name.as_str())
                    && is_lock_value(w, &m.receiver, extra_types));
            if !is_lock || !m.args.is_empty() {
                return None;
            }
            let key = key_of(w, &m.receiver)?;
            Some(Acquire {
                key,
                span: w.span(m),
            })
        }
        Event::Expr(Expr::Call(c)) => {
            // Mutex::lock(&m), RwLock::write(&m)
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            let segs = syntax::segments(&p.path);
            let n = segs.len();
            if n >= 2
                && LOCK_TYPES.contains(&segs[n - 2].as_str())
                && (LOCK_METHODS.contains(&segs[n - 1].as_str())
                    || RW_METHODS.contains(&segs[n - 1].as_str()))
            {
                let key = key_of(w, c.args.first()?)?;
                return Some(Acquire {
                    key,
                    span: w.span(c),
                });
            }
            None
        }
        _ => None,
    }
}

/// `io::stdout()`, `std::io::stderr()`, `stdout().lock()` as a receiver or writer.
fn std_stream(e: &Expr) -> Option<LockKey> {
    let root = syntax::chain_root(e);
    let Expr::Call(c) = root else { return None };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return None;
    };
    match syntax::last_ident(&p.path)?.as_str() {
        "stdout" => Some(LockKey::Stdout),
        "stderr" => Some(LockKey::Stderr),
        _ => None,
    }
}

/// Which lock a receiver expression is, following aliases and parameters.
pub fn key_of(w: &RegionWalk<'_>, e: &Expr) -> Option<LockKey> {
    key_in(w, w.current, e, 0)
}

fn key_in(w: &RegionWalk<'_>, frame: usize, e: &Expr, depth: usize) -> Option<LockKey> {
    if depth > 8 {
        return None;
    }
    let e = syntax::peel(e);
    match e {
        Expr::Path(p) if p.qself.is_none() => {
            if p.path.segments.len() > 1 {
                return syntax::last_ident(&p.path).map(LockKey::Static);
            }
            let name = p.path.segments[0].ident.to_string();
            let f = &w.frames[frame];
            if let Some((arg, parent)) = param_arg(w, frame, &name) {
                return key_in(w, parent, &arg, depth + 1);
            }
            if let Some(func) = f.func {
                if let Some(init) = syntax::local_init_in(func.def.body, &name) {
                    if let Some(inner) = alias_source(init) {
                        return key_in(w, frame, inner, depth + 1);
                    }
                    return Some(LockKey::Local(func.key(), name));
                }
                if func
                    .def
                    .params()
                    .iter()
                    .any(|(n, _)| n.as_deref() == Some(name.as_str()))
                {
                    return Some(LockKey::Local(func.key(), name));
                }
            }
            Some(LockKey::Static(name))
        }
        Expr::Field(f) => match &f.member {
            syn::Member::Named(n) if syntax::ident_of(&f.base).as_deref() == Some("self") => {
                Some(LockKey::Field(n.to_string()))
            }
            _ => None,
        },
        Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "as_ref" | "deref" | "clone" | "borrow" | "get_ref"
            ) =>
        {
            key_in(w, frame, &m.receiver, depth + 1)
        }
        Expr::Call(c) => {
            // Arc::clone(&m), Rc::clone(&m)
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            if syntax::last_ident(&p.path).as_deref() == Some("clone") {
                return key_in(w, frame, c.args.first()?, depth + 1);
            }
            None
        }
        _ => None,
    }
}

fn param_arg(w: &RegionWalk<'_>, frame: usize, name: &str) -> Option<(Expr, usize)> {
    let f = &w.frames[frame];
    let (_, arg) = f.args.iter().find(|(p, _)| p == name)?;
    Some((arg.clone(), f.parent?))
}

/// `Arc::clone(&a)`, `a.clone()`, `&a`, `a` → `a`.
fn alias_source(init: &Expr) -> Option<&Expr> {
    match syntax::peel(init) {
        p @ Expr::Path(_) => Some(p),
        Expr::MethodCall(m) if m.method == "clone" => Some(&m.receiver),
        Expr::Call(c) => match syntax::peel(&c.func) {
            Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some("clone") => {
                c.args.first()
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether a receiver is known to be an `RwLock` (or a configured lock type): its
/// `let` initializer or declared type says so.
fn is_lock_value(w: &RegionWalk<'_>, e: &Expr, extra: &[String]) -> bool {
    let names_lock = |text: &str| {
        LOCK_TYPES.iter().any(|t| text.contains(t))
            || extra.iter().any(|t| text.contains(t.as_str()))
    };
    let e = syntax::peel(e);
    let Some(name) = syntax::ident_of(e).or_else(|| match e {
        Expr::Path(p) => syntax::last_ident(&p.path),
        Expr::Field(f) => match &f.member {
            syn::Member::Named(n) => Some(n.to_string()),
            _ => None,
        },
        _ => None,
    }) else {
        return false;
    };
    if let Some(func) = w.frame().func {
        if let Some(init) = syntax::local_init_in(func.def.body, &name) {
            return names_lock(&quote::ToTokens::to_token_stream(init).to_string());
        }
        if let Some((_, ty)) = func
            .def
            .params()
            .into_iter()
            .find(|(n, _)| n.as_deref() == Some(name.as_str()))
        {
            return names_lock(&quote::ToTokens::to_token_stream(ty).to_string());
        }
    }
    // A static or a field: its declaration in the file.
    let text = &w.file().source.text;
    text.lines().any(|l| {
        let l = l.trim_start();
        (l.contains(&format!("static {name}:"))
            || l.contains(&format!("static ref {name}:"))
            || l.contains(&format!("{name}:")))
            && names_lock(l)
    })
}

/// A guard bound by `let`, alive at a point.
#[derive(Clone, Debug)]
pub struct HeldGuard {
    pub key: LockKey,
    /// Where the lock was taken.
    pub span: Span,
    /// The guard variable.
    pub var: String,
}

/// Guards taken by `let g = m.lock()…;` (or `if let`/`match` on a lock) in the blocks
/// enclosing a point, before it, and not dropped before it. `let _ = m.lock()` drops
/// at once; `mem::forget(g)` keeps the lock locked.
pub fn guards_held<'a>(
    cx: &'a super::PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    ancestors: &[Node<'a>],
    extra: &[String],
) -> Vec<HeldGuard> {
    let mut held: Vec<HeldGuard> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    let stmts = syntax::enclosing_statements(ancestors);
    for (block, index) in stmts.iter().rev() {
        for stmt in &block.stmts[..*index] {
            match stmt {
                Stmt::Local(l) => {
                    let Some(var) = syntax::pat_ident(&l.pat) else {
                        continue;
                    };
                    if var == "_" {
                        continue;
                    }
                    let Some(init) = &l.init else { continue };
                    if let Some(a) = lock_in_init(cx, file, func, &init.expr, extra) {
                        held.push(HeldGuard {
                            key: a.key,
                            span: a.span,
                            var,
                        });
                    }
                }
                Stmt::Expr(e, _) => {
                    if let Some(v) = dropped_var(e) {
                        dropped.push(v);
                    }
                }
                _ => {}
            }
        }
    }
    // `if let Ok(g) = m.lock() { <point> }`, `match m.lock() { Ok(g) => <point> }`
    for node in ancestors {
        let (pat, scrutinee) = match node {
            Node::Expr(Expr::Let(l)) => (&*l.pat, &*l.expr),
            Node::Expr(Expr::Match(m)) => match m.arms.first() {
                Some(a) => (&a.pat, &*m.expr),
                None => continue,
            },
            _ => continue,
        };
        let mut names = Vec::new();
        syntax::pat_bindings(pat, &mut names);
        if let (Some(var), Some(a)) = (
            names.into_iter().next(),
            lock_in_init(cx, file, func, scrutinee, extra),
        ) {
            held.push(HeldGuard {
                key: a.key,
                span: a.span,
                var,
            });
        }
    }
    held.retain(|g| !dropped.contains(&g.var));
    held
}

/// The lock a `let` initializer takes and keeps: `m.lock()`, `m.lock().unwrap()`,
/// `m.write()?`, `m.lock().unwrap_or_else(PoisonError::into_inner)`.
fn lock_in_init<'a>(
    cx: &'a super::PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    init: &'a Expr,
    extra: &[String],
) -> Option<Acquire> {
    let mut inner = syntax::peel_result(init);
    // `let g = hold!(M);`: a package macro whose expansion is one expression
    // (`M.lock().unwrap()`) is that expression (bounded: an expansion may call itself).
    for _ in 0..8 {
        let Expr::Macro(m) = inner else { break };
        let Some(x) = file.expansion(cx, &m.mac) else {
            break;
        };
        let [Stmt::Expr(e, None)] = x.block.stmts.as_slice() else {
            break;
        };
        inner = syntax::peel_result(e);
    }
    let mut found = None;
    walk::RegionWalk::run_with_depth(
        cx,
        file,
        Some(func),
        walk::Code::Expr(inner),
        0,
        &mut |ev, w| {
            if found.is_none() {
                if let Event::Expr(e) = ev {
                    if std::ptr::eq(*e as *const Expr, inner as *const Expr) {
                        found = acquisition(w, ev, extra);
                    }
                }
            }
        },
    );
    found
}

/// `drop(g)`, `mem::drop(g)`, `std::mem::drop(g)`.
fn dropped_var(e: &Expr) -> Option<String> {
    let Expr::Call(c) = syntax::peel(e) else {
        return None;
    };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return None;
    };
    (syntax::last_ident(&p.path).as_deref() == Some("drop"))
        .then(|| syntax::ident_of(c.args.first()?))
        .flatten()
}
