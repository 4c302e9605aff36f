//! Processes started through a runtime — forkrt (`Process::new`, `Context::process`)
//! and procspawn (`spawn`, `Pool::spawn`) — with their targets, arguments, start calls
//! and the start methods that may be in force; forkrt's pools (their creation, which
//! starts the workers, with its initializer, and the work given to them: `map`, `imap`,
//! `apply`, `apply_async`); and `set_start_method` calls.
//!
//! Start method inference: `get_context(StartMethod::X).process(..)` uses X;
//! `Process::new` uses the global method, which is the union of every
//! `set_start_method[_force](..)` argument in the package, or the platform default
//! (forkserver on Linux, spawn on macOS) when none is set. An argument that is not a
//! literal (`method_from_args()`) may be any method: the program must then be safe
//! under each, as the same program text runs under all three (Python's model).
//!
//! Pools: `Pool::new(n)` and `Pool::builder()…build()` without `.method(m)` use the
//! global method, `.method(m)` uses m, `ctx.pool(n)` the context's. Work is known to go
//! to a pool when the receiver is the pool's creation, a local bound to it, or a
//! parameter of type `forkrt::Pool` (whose start method is then unknown). A pool's
//! items are serialized under every start method (forkrt's pool, like CPython's,
//! pickles under fork too), so [`Process::serialized`] holds for pool entries whatever
//! the method. Pools are kept apart from processes ([`Processes::pools`]): the fork-point
//! analyses see only processes.

use syn::Expr;

use super::catalog::runtime;
use super::resolve::is;
use super::syntax::Node;
use super::walk::ChildRegion;
use super::walk::{Code, RegionWalk};
use super::{FileCx, FnRef, PackageCx, syntax};
use syntax::local_init_in;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessApi {
    Forkrt,
    Procspawn,
}

/// Which start methods a process may run under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Methods {
    pub fork: bool,
    pub spawn: bool,
    pub forkserver: bool,
}

impl Methods {
    pub const ALL: Methods = Methods {
        fork: true,
        spawn: true,
        forkserver: true,
    };
    pub const DEFAULT: Methods = Methods {
        fork: false,
        spawn: true,
        forkserver: true,
    };
    pub const SPAWN: Methods = Methods {
        fork: false,
        spawn: true,
        forkserver: false,
    };

    pub fn may_fork(self) -> bool {
        self.fork
    }

    /// spawn or forkserver: the child does not inherit the parent's state and the
    /// arguments are serialized.
    pub fn may_serialize(self) -> bool {
        self.spawn || self.forkserver
    }

    pub fn union(self, o: Methods) -> Methods {
        Methods {
            fork: self.fork || o.fork,
            spawn: self.spawn || o.spawn,
            forkserver: self.forkserver || o.forkserver,
        }
    }

    /// "spawn or forkserver", "spawn", … for messages.
    pub fn describe_serializing(self) -> &'static str {
        match (self.spawn, self.forkserver) {
            (true, true) => "spawn or forkserver",
            (true, false) => "spawn",
            (false, true) => "forkserver",
            (false, false) => "no",
        }
    }

    /// The methods a `StartMethod` expression names; `None` when not a literal.
    pub fn of_expr(e: &Expr) -> Option<Methods> {
        let name = match syntax::peel_result(e) {
            Expr::Path(p) => syntax::last_ident(&p.path)?,
            Expr::MethodCall(m) if m.method == "parse" => match syntax::peel(&m.receiver) {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => s.value(),
                _ => return None,
            },
            Expr::Call(c) => match c.args.first().map(syntax::peel) {
                Some(Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                })) => s.value(),
                _ => return None,
            },
            _ => return None,
        };
        match name.to_ascii_lowercase().as_str() {
            "fork" => Some(Methods {
                fork: true,
                ..Methods::default()
            }),
            "spawn" => Some(Methods::SPAWN),
            "forkserver" => Some(Methods {
                forkserver: true,
                ..Methods::default()
            }),
            _ => None,
        }
    }
}

/// What a runtime entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A process: one child per creation.
    Process,
    /// A forkrt pool's creation (`Pool::new`, `Context::pool`, `Pool::builder()…build()`):
    /// its workers start here. Target and argument: its initializer's, if it has one.
    Pool,
    /// Work given to a forkrt pool: `map`/`imap` (the argument is the items, each one
    /// an argument of the task), `apply`, `apply_async`.
    PoolTask,
}

/// One process created through a runtime, or a forkrt pool's creation or work.
pub struct Process<'a> {
    pub api: ProcessApi,
    pub kind: Kind,
    pub file: &'a FileCx<'a>,
    pub func: FnRef<'a>,
    /// `Process::new(..)`, `ctx.process(..)`, `procspawn::spawn(..)`, `pool.spawn(..)`.
    pub create: &'a Expr,
    pub target: Option<&'a Expr>,
    pub args: Option<&'a Expr>,
    pub method: Methods,
    /// The `.start()` call (procspawn processes start at creation).
    pub start: Option<&'a Expr>,
    pub start_ancestors: Vec<Node<'a>>,
    /// For work given to a pool: the pool's creation, when it is in the same function.
    pub pool: Option<&'a Expr>,
}

impl<'a> Process<'a> {
    /// Whether the target must be found by name and the argument serialized: under
    /// spawn and forkserver for a process, under every method for a pool.
    pub fn serialized(&self) -> bool {
        match self.kind {
            Kind::Process => self.method.may_serialize(),
            Kind::Pool | Kind::PoolTask => true,
        }
    }

    /// The call that starts the process (the creation when no `.start()` was found).
    pub fn start_call(&self) -> &'a Expr {
        self.start.unwrap_or(self.create)
    }

    /// The target's code: a crate-local function's body or a closure's.
    pub fn target_region(&self, cx: &'a PackageCx<'a>) -> Option<ChildRegion<'a>> {
        let target = self.target?;
        match syntax::peel(target) {
            Expr::Closure(c) => Some(ChildRegion {
                file: self.file,
                func: Some(self.func),
                code: Code::Expr(&c.body),
                start: self.file.span_of(target),
                branch: None,
                after: None,
            }),
            Expr::Path(p) => {
                let f = crate::analysis::model::calls::resolve_fn(cx, self.file, &p.path)?;
                Some(ChildRegion {
                    file: f.file,
                    func: Some(f),
                    code: Code::Block(f.def.body),
                    start: self.file.span_of(target),
                    branch: None,
                    after: None,
                })
            }
            _ => None,
        }
    }

    /// The target function, when it is a crate-local function.
    pub fn target_fn(&self, cx: &'a PackageCx<'a>) -> Option<FnRef<'a>> {
        match syntax::peel(self.target?) {
            Expr::Path(p) => crate::analysis::model::calls::resolve_fn(cx, self.file, &p.path),
            _ => None,
        }
    }
}

/// A call to `set_start_method` (or the forced variant).
pub struct SetCall<'a> {
    pub file: &'a FileCx<'a>,
    pub func: FnRef<'a>,
    pub call: &'a Expr,
    pub forced: bool,
    pub ancestors: Vec<Node<'a>>,
}

pub struct Processes<'a> {
    /// Processes (kind [`Kind::Process`]).
    pub list: Vec<Process<'a>>,
    /// forkrt pools: creations ([`Kind::Pool`]) and work ([`Kind::PoolTask`]).
    pub pools: Vec<Process<'a>>,
    pub set_calls: Vec<SetCall<'a>>,
}

impl<'a> Processes<'a> {
    /// Processes, then pools.
    pub fn all(&self) -> impl Iterator<Item = &Process<'a>> {
        self.list.iter().chain(&self.pools)
    }

    /// The start method `Process::new` uses in `file`: the union of every
    /// `set_start_method` argument in the program it is part of (a call in the same
    /// crate, or in the package's library, which every program of the package may
    /// call), or the platform default.
    fn global_methods(set_calls: &[SetCall<'_>], file: &FileCx<'_>) -> Methods {
        let mut out: Option<Methods> = None;
        for s in set_calls {
            let shared = s.file.place.kind == super::CodeKind::Lib
                || s.file
                    .place
                    .crates
                    .iter()
                    .any(|c| file.place.crates.contains(c));
            if !shared {
                continue;
            }
            let Expr::Call(c) = s.call else { continue };
            let m = c
                .args
                .first()
                .and_then(Methods::of_expr)
                .unwrap_or(Methods::ALL);
            out = Some(out.map_or(m, |o| o.union(m)));
        }
        out.unwrap_or(Methods::DEFAULT)
    }
}

/// A process creation found in the code: runtime, where, the call, the method the call
/// itself names (`get_context`, procspawn), and the call's ancestors.
struct Creation<'a> {
    api: ProcessApi,
    func: FnRef<'a>,
    call: &'a Expr,
    methods: Option<Methods>,
    ancestors: Vec<Node<'a>>,
}

/// The `.start()` calls found, by the creation they start (its address): the call and
/// its ancestors.
type Starts<'a> = std::collections::HashMap<*const Expr, (&'a Expr, Vec<Node<'a>>)>;

impl<'a> Creation<'a> {
    fn into_process(self, starts: &Starts<'a>, set_calls: &[SetCall<'a>]) -> Process<'a> {
        let Creation {
            api,
            func,
            call,
            methods,
            ancestors,
        } = self;
        let args: Vec<&'a Expr> = match call {
            Expr::Call(c) => c.args.iter().collect(),
            Expr::MethodCall(m) => m.args.iter().collect(),
            _ => Vec::new(),
        };
        // forkrt takes (target, argument); procspawn (argument, target).
        let (target, args) = match api {
            ProcessApi::Forkrt => (args.first().copied(), args.get(1).copied()),
            ProcessApi::Procspawn => (args.get(1).copied(), args.first().copied()),
        };
        let (start, start_ancestors) = match (api, starts.get(&(call as *const Expr))) {
            (ProcessApi::Forkrt, Some((s, a))) => (Some(*s), a.clone()),
            _ => (None, ancestors),
        };
        Process {
            api,
            kind: Kind::Process,
            file: func.file,
            func,
            create: call,
            target,
            args,
            method: methods.unwrap_or_else(|| Processes::global_methods(set_calls, func.file)),
            start,
            start_ancestors,
            pool: None,
        }
    }
}

/// A pool found in the code: where, the creation (or the work given to it), the method
/// the code names (`None`: the global one), and the call's ancestors; for work, the
/// pool's creation when it is in view.
struct PoolFound<'a> {
    kind: Kind,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    call: &'a Expr,
    target: Option<&'a Expr>,
    args: Option<&'a Expr>,
    methods: Option<Methods>,
    ancestors: Vec<Node<'a>>,
    pool: Option<&'a Expr>,
}

pub fn find<'a>(cx: &'a PackageCx<'a>) -> Processes<'a> {
    let mut creates: Vec<Creation<'a>> = Vec::new();
    let mut pools: Vec<PoolFound<'a>> = Vec::new();
    // The creation a `.start()` belongs to (by address) → the start and its ancestors.
    let mut starts: Starts<'a> = Starts::new();
    let mut set_calls = Vec::new();
    for file in cx.candidates() {
        for def in file.scanned_fns(cx) {
            let func = FnRef { file, def };
            syntax::each_expr(def.body, &mut |e, ancestors| {
                let mut create = |api, methods| {
                    creates.push(Creation {
                        api,
                        func,
                        call: e,
                        methods,
                        ancestors: ancestors.to_vec(),
                    })
                };
                if let Some(new) = pool_creation(cx, file, e, ancestors) {
                    let init = new.init.map(|m| &m.args);
                    pools.push(PoolFound {
                        kind: Kind::Pool,
                        file,
                        func,
                        call: e,
                        target: init.and_then(|a| a.first()),
                        args: init.and_then(|a| a.iter().nth(1)),
                        methods: new.methods,
                        ancestors: ancestors.to_vec(),
                        pool: None,
                    });
                    return;
                }
                match e {
                    Expr::Call(c) => {
                        let Expr::Path(p) = syntax::peel(&c.func) else {
                            return;
                        };
                        let cands = file.resolver.candidates(&p.path);
                        let any = |pat: &str| cands.iter().any(|c| is(c, pat));
                        if any(runtime::FORKRT_PROCESS_NEW) && c.args.len() == 2 {
                            create(ProcessApi::Forkrt, None);
                        } else if any(runtime::PROCSPAWN_SPAWN) && c.args.len() == 2 {
                            create(ProcessApi::Procspawn, Some(Methods::SPAWN));
                        } else if any(runtime::FORKRT_SET_START_METHOD)
                            || any(runtime::FORKRT_SET_START_METHOD_FORCE)
                        {
                            set_calls.push(SetCall {
                                file,
                                func,
                                call: e,
                                forced: any(runtime::FORKRT_SET_START_METHOD_FORCE),
                                ancestors: ancestors.to_vec(),
                            });
                        }
                    }
                    Expr::MethodCall(m) => {
                        let name = m.method.to_string();
                        if name == "process" && m.args.len() == 2 {
                            if let Some(methods) = context_methods(cx, file, &m.receiver, ancestors)
                            {
                                create(ProcessApi::Forkrt, Some(methods));
                            }
                        } else if runtime::FORKRT_POOL_WORK.contains(&name.as_str())
                            && m.args.len() == 2
                        {
                            if let Some(source) = pool_of(cx, file, func, &m.receiver, ancestors) {
                                pools.push(PoolFound {
                                    kind: Kind::PoolTask,
                                    file,
                                    func,
                                    call: e,
                                    target: m.args.first(),
                                    args: m.args.iter().nth(1),
                                    methods: source.methods,
                                    ancestors: ancestors.to_vec(),
                                    pool: source.creation,
                                });
                            }
                        } else if name == "spawn"
                            && m.args.len() == 2
                            && is_procspawn_pool(file, &m.receiver, ancestors)
                        {
                            create(ProcessApi::Procspawn, Some(Methods::SPAWN));
                        } else if name == "start" && m.args.is_empty() {
                            let root = syntax::chain_root(&m.receiver);
                            let create = match syntax::ident_of(root) {
                                Some(var) => {
                                    syntax::local_init(ancestors, &var).map(syntax::chain_root)
                                }
                                None => Some(root),
                            };
                            if let Some(create) = create {
                                starts
                                    .entry(create as *const Expr)
                                    .or_insert_with(|| (e, ancestors.to_vec()));
                            }
                        }
                    }
                    _ => {}
                }
            });
        }
    }
    let list = creates
        .into_iter()
        .map(|c| c.into_process(&starts, &set_calls))
        .collect();
    let pools = pools
        .into_iter()
        .map(|p| Process {
            api: ProcessApi::Forkrt,
            kind: p.kind,
            file: p.file,
            func: p.func,
            create: p.call,
            target: p.target,
            args: p.args,
            method: p
                .methods
                .unwrap_or_else(|| Processes::global_methods(&set_calls, p.file)),
            start: None,
            start_ancestors: p.ancestors,
            pool: p.pool,
        })
        .collect();
    Processes {
        list,
        pools,
        set_calls,
    }
}

/// A pool's creation: the start method it names (`None`: the global one) and the
/// builder's `.initializer(task, args)` call.
struct PoolNew<'a> {
    methods: Option<Methods>,
    init: Option<&'a syn::ExprMethodCall>,
}

/// Whether `e` creates a forkrt pool: `Pool::new(n)`, `ctx.pool(n)` on a known
/// context, or `Pool::builder()…build()` (the builder may be kept in a local).
fn pool_creation<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    e: &'a Expr,
    ancestors: &[Node<'a>],
) -> Option<PoolNew<'a>> {
    let names = |c: &syn::ExprCall, pattern: &str| match syntax::peel(&c.func) {
        Expr::Path(p) => file
            .resolver
            .candidates(&p.path)
            .iter()
            .any(|c| is(c, pattern)),
        _ => false,
    };
    match e {
        Expr::Call(c) if c.args.len() == 1 && names(c, runtime::FORKRT_POOL_NEW) => Some(PoolNew {
            methods: None,
            init: None,
        }),
        Expr::MethodCall(m) if m.method == "pool" && m.args.len() == 1 => {
            context_methods(cx, file, &m.receiver, ancestors).map(|methods| PoolNew {
                methods: Some(methods),
                init: None,
            })
        }
        Expr::MethodCall(m) if m.method == "build" && m.args.is_empty() => {
            let mut new = PoolNew {
                methods: None,
                init: None,
            };
            let mut at: &'a Expr = &m.receiver;
            let mut followed = false;
            // From `build` inwards: the first setting seen is the last one applied.
            loop {
                match syntax::peel(at) {
                    Expr::MethodCall(m) => {
                        if m.method == "method" && m.args.len() == 1 && new.methods.is_none() {
                            new.methods =
                                Some(Methods::of_expr(&m.args[0]).unwrap_or(Methods::ALL));
                        } else if m.method == "initializer"
                            && m.args.len() == 2
                            && new.init.is_none()
                        {
                            new.init = Some(m);
                        }
                        at = &m.receiver;
                    }
                    Expr::Call(c) if c.args.is_empty() => {
                        return names(c, runtime::FORKRT_POOL_BUILDER).then_some(new);
                    }
                    Expr::Path(_) if !followed => {
                        let var = syntax::ident_of(at)?;
                        at = syntax::local_init(ancestors, &var)?;
                        followed = true;
                    }
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

/// The pool a receiver of `map`/`apply`/… is.
struct PoolSource<'a> {
    /// Its creation, when it is in the same function.
    creation: Option<&'a Expr>,
    /// The method it names; `Some(Methods::default())` (none) when unknown.
    methods: Option<Methods>,
}

fn pool_of<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: FnRef<'a>,
    receiver: &'a Expr,
    ancestors: &[Node<'a>],
) -> Option<PoolSource<'a>> {
    let created = |e: &'a Expr| {
        let e = syntax::peel_result(e);
        pool_creation(cx, file, e, ancestors).map(|new| PoolSource {
            creation: Some(e),
            methods: new.methods,
        })
    };
    if let Some(source) = created(receiver) {
        return Some(source);
    }
    let var = syntax::ident_of(receiver)?;
    if let Some(init) = syntax::local_init(ancestors, &var) {
        return created(init);
    }
    let (_, ty) = func
        .def
        .params()
        .into_iter()
        .find(|(n, _)| n.as_deref() == Some(var.as_str()))?;
    is_pool_type(file, ty).then_some(PoolSource {
        creation: None,
        methods: Some(Methods::default()),
    })
}

/// `forkrt::Pool`, behind references and `Arc`/`Rc`/`Box`.
fn is_pool_type(file: &FileCx<'_>, ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => is_pool_type(file, &r.elem),
        syn::Type::Paren(p) => is_pool_type(file, &p.elem),
        syn::Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            if matches!(last.ident.to_string().as_str(), "Arc" | "Rc" | "Box") {
                if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                    return a.args.iter().any(
                        |g| matches!(g, syn::GenericArgument::Type(t) if is_pool_type(file, t)),
                    );
                }
                return false;
            }
            file.resolver
                .candidates(&p.path)
                .iter()
                .any(|c| is(c, runtime::FORKRT_POOL))
        }
        _ => false,
    }
}

/// `get_context(M).process(..)` or `ctx.process(..)` with `let ctx = get_context(M)`,
/// where `get_context(M)` may also be what a function of the crate returns
/// (`let ctx = make_context();`).
fn context_methods<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    receiver: &Expr,
    ancestors: &[Node<'a>],
) -> Option<Methods> {
    let root = syntax::chain_root(receiver);
    let root = match syntax::ident_of(root) {
        Some(var) => syntax::chain_root(syntax::local_init(ancestors, &var)?),
        None => root,
    };
    context_of_value(cx, file, root, 3)
}

/// The methods of the context `value` evaluates to: a `get_context(M)` call, or a
/// call of a crate function whose tail (directly or through a `let`) is one, followed
/// `depth` functions deep.
fn context_of_value<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    value: &Expr,
    depth: usize,
) -> Option<Methods> {
    let call = syntax::peel_result(value);
    let Expr::Call(c) = call else {
        return None;
    };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return None;
    };
    if file
        .resolver
        .candidates(&p.path)
        .iter()
        .any(|c| is(c, runtime::FORKRT_GET_CONTEXT))
    {
        return Some(
            c.args
                .first()
                .and_then(Methods::of_expr)
                .unwrap_or(Methods::ALL),
        );
    }
    let helper =
        crate::analysis::model::calls::callee(cx, file, None, call).filter(|_| depth > 0)?;
    let Some(syn::Stmt::Expr(tail, None)) = helper.def.body.stmts.last() else {
        return None;
    };
    let tail = syntax::chain_root(tail);
    let tail = match syntax::ident_of(tail) {
        Some(var) => syntax::chain_root(syntax::local_init_in(helper.def.body, &var)?),
        None => tail,
    };
    context_of_value(cx, helper.file, tail, depth - 1)
}

fn is_procspawn_pool<'a>(file: &FileCx<'a>, receiver: &Expr, ancestors: &[Node<'a>]) -> bool {
    let root = syntax::chain_root(receiver);
    let root = match syntax::ident_of(root).and_then(|v| syntax::local_init(ancestors, &v)) {
        Some(init) => syntax::chain_root(init),
        None => root,
    };
    let Expr::Call(c) = syntax::peel_result(root) else {
        return false;
    };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return false;
    };
    file.resolver
        .candidates(&p.path)
        .iter()
        .any(|c| is(c, runtime::PROCSPAWN_POOL_NEW) || is(c, runtime::PROCSPAWN_POOL_BUILDER))
}

/// Which context a `.start()` seen during a region walk uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartKind {
    /// `Process::new(..)…start()`: the default context (fixes the start method).
    Default,
    /// `get_context(m).process(..)…start()`.
    Context,
}

/// Whether `e` starts a forkrt process, seen from inside a region walk (the process
/// may be built in the same chain or bound by `let` in the current function).
pub fn started_process(w: &RegionWalk<'_>, e: &Expr) -> Option<StartKind> {
    let Expr::MethodCall(m) = e else { return None };
    if m.method != "start" || !m.args.is_empty() {
        return None;
    }
    let root = syntax::chain_root(&m.receiver);
    let init = match (syntax::ident_of(root), w.frame().func) {
        (Some(var), Some(func)) => local_init_in(func.def.body, &var).map(syntax::chain_root)?,
        _ => root,
    };
    match syntax::peel_result(init) {
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            w.resolve(&p.path)
                .iter()
                .any(|c| is(c, runtime::FORKRT_PROCESS_NEW))
                .then_some(StartKind::Default)
        }
        Expr::MethodCall(pm) if pm.method == "process" && pm.args.len() == 2 => {
            Some(StartKind::Context)
        }
        _ => None,
    }
}
