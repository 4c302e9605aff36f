//! Whether a value can cross a process boundary (spawn and forkserver serialize a
//! process's arguments).
//!
//! Known non-transferable types: open files and sockets (the descriptor number means
//! nothing in another process), locks and guards, `Rc`, raw pointers and function
//! pointers, thread and child handles, channels, trait objects and closures. User
//! types are looked up in the package: one without `Serialize` and `Deserialize`
//! (derived or implemented) cannot be sent. Generic parameters and types from other
//! crates are unknown, and unknown is silent.

use syn::{Expr, Type};

use super::resolve::Resolver;
use super::{FileCx, FnRef, PackageCx, syntax};

/// Why a value cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What it is, e.g. "`File`".
    pub what: String,
    pub why: String,
}

const NON_TRANSFERABLE: &[(&[&str], &str)] = &[
    (
        &[
            "File",
            "TcpStream",
            "TcpListener",
            "UdpSocket",
            "UnixStream",
            "UnixListener",
            "UnixDatagram",
            "OwnedFd",
            "BorrowedFd",
            "PipeReader",
            "PipeWriter",
            "Socket",
            "Dir",
        ],
        "it holds an open file descriptor, which cannot be serialized: the number means nothing in another process",
    ),
    (
        &[
            "Stdin",
            "Stdout",
            "Stderr",
            "StdinLock",
            "StdoutLock",
            "StderrLock",
            "ChildStdin",
            "ChildStdout",
            "ChildStderr",
            "Child",
        ],
        "it is a handle on this process's streams or children, which cannot be serialized",
    ),
    (
        &[
            "MutexGuard",
            "RwLockReadGuard",
            "RwLockWriteGuard",
            "ReentrantMutexGuard",
            "ReentrantLockGuard",
            "MappedMutexGuard",
            "OwnedMutexGuard",
        ],
        "a lock guard cannot be serialized: the lock it guards stays in this process",
    ),
    (
        &[
            "Mutex",
            "RwLock",
            "Condvar",
            "Barrier",
            "ReentrantMutex",
            "ReentrantLock",
            "Semaphore",
        ],
        "a lock cannot be shared with another process: the child gets a copy that synchronizes with nothing (or it fails to serialize)",
    ),
    (
        &["Rc", "Weak"],
        "`Rc` shares ownership within one process and cannot be serialized",
    ),
    (
        &["NonNull"],
        "a pointer's address means nothing in another process",
    ),
    (
        &["JoinHandle", "ScopedJoinHandle", "Thread"],
        "a thread handle refers to a thread of this process and cannot be serialized",
    ),
    (
        &[
            "Sender",
            "SyncSender",
            "Receiver",
            "UnboundedSender",
            "UnboundedReceiver",
        ],
        "a channel end lives in this process's memory and cannot be serialized",
    ),
];

/// Containers whose transferability is their elements'.
const CONTAINERS: &[&str] = &[
    "Vec",
    "VecDeque",
    "Option",
    "Box",
    "Arc",
    "HashMap",
    "BTreeMap",
    "HashSet",
    "BTreeSet",
    "Result",
    "Cow",
    "LinkedList",
    "BinaryHeap",
];

/// The problem with sending a value of type `ty` (written in `file`), if any.
pub fn type_problem<'a>(cx: &'a PackageCx<'a>, file: &'a FileCx<'a>, ty: &Type) -> Option<Problem> {
    match ty {
        Type::Ptr(_) => Some(Problem {
            what: "a raw pointer".into(),
            why: "a pointer's address means nothing in another process".into(),
        }),
        Type::FnPtr(_) => Some(Problem {
            what: "a function pointer".into(),
            why: "function addresses differ between processes".into(),
        }),
        Type::TraitObject(t) => Some(Problem {
            what: format!("`dyn {}`", quote::ToTokens::to_token_stream(&t.bounds)),
            why: "a trait object cannot be serialized".into(),
        }),
        Type::Tuple(t) => t.elems.iter().find_map(|e| type_problem(cx, file, e)),
        Type::Array(a) => type_problem(cx, file, &a.elem),
        Type::Slice(s) => type_problem(cx, file, &s.elem),
        Type::Paren(p) => type_problem(cx, file, &p.elem),
        Type::Group(g) => type_problem(cx, file, &g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            if CONTAINERS.contains(&name.as_str()) {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    for arg in &args.args {
                        if let syn::GenericArgument::Type(inner) = arg {
                            if let Some(p) = type_problem(cx, file, inner) {
                                return Some(p);
                            }
                        }
                    }
                }
                return None;
            }
            if is_user_type(&file.resolver, &p.path) {
                return user_type_problem(cx, file, &name);
            }
            known_problem(&name)
        }
        _ => None,
    }
}

fn known_problem(name: &str) -> Option<Problem> {
    NON_TRANSFERABLE
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(_, why)| Problem {
            what: format!("`{name}`"),
            why: (*why).to_string(),
        })
}

/// Whether a type path names a type of this package (rather than std or a dependency).
fn is_user_type(resolver: &Resolver, path: &syn::Path) -> bool {
    let canon = resolver.canonical(path);
    canon.first().is_some_and(|f| f == "crate")
        || (canon.len() == 1 && resolver.is_local(&canon[0]))
}

/// A struct/enum of the package that does not implement both serde traits.
fn user_type_problem<'a>(cx: &'a PackageCx<'a>, from: &FileCx<'_>, name: &str) -> Option<Problem> {
    let files = cx.files_defining(from, name, &["struct", "enum", "union"]);
    let file = files.first()?;
    let (ser, de) = serde_impls(&file.ast.items, name);
    let text_impls = |t: &str| {
        let ser = t.contains(&format!("Serialize for {name}"));
        let de = t.contains(&format!("Deserialize<'de> for {name}"));
        (ser, de)
    };
    let (mut ser, mut de) = (ser, de);
    for f in cx.files_mentioning(from, name) {
        let (s, d) = text_impls(&f.source.text);
        ser |= s;
        de |= d;
    }
    if ser && de {
        return None;
    }
    let missing = match (ser, de) {
        (false, false) => "`Serialize` and `Deserialize`",
        (true, false) => "`Deserialize`",
        _ => "`Serialize`",
    };
    Some(Problem {
        what: format!("`{name}`"),
        why: format!("it does not implement {missing}, so it cannot be serialized"),
    })
}

/// Whether the item `name` in `items` (at any module depth) derives Serialize /
/// Deserialize.
fn serde_impls(items: &[syn::Item], name: &str) -> (bool, bool) {
    for item in items {
        let attrs = match item {
            syn::Item::Struct(s) if s.ident == name => &s.attrs,
            syn::Item::Enum(e) if e.ident == name => &e.attrs,
            syn::Item::Union(u) if u.ident == name => &u.attrs,
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    let r = serde_impls(inner, name);
                    if r != (false, false) {
                        return r;
                    }
                }
                continue;
            }
            _ => continue,
        };
        let mut out = (false, false);
        for a in attrs.iter().filter(|a| a.path().is_ident("derive")) {
            let text = quote::ToTokens::to_token_stream(&a.meta).to_string();
            out.0 |= text.contains("Serialize");
            out.1 |= text.contains("Deserialize");
        }
        return out;
    }
    (false, false)
}

/// Where a value comes from, to judge it without a declared type.
pub struct ValueCx<'a> {
    pub cx: &'a PackageCx<'a>,
    pub file: &'a FileCx<'a>,
    pub func: FnRef<'a>,
}

/// The problem with sending the value of `e`, judged from how it is made.
pub fn expr_problem<'a>(v: &ValueCx<'a>, e: &Expr, depth: usize) -> Option<Problem> {
    if depth > 6 {
        return None;
    }
    let e = syntax::peel_result(e);
    match e {
        Expr::Closure(_) => Some(Problem {
            what: "a closure".into(),
            why: "a closure cannot be serialized".into(),
        }),
        Expr::Cast(c) if matches!(*c.ty, Type::Ptr(_)) => type_problem(v.cx, v.file, &c.ty),
        Expr::Tuple(t) => t.elems.iter().find_map(|x| expr_problem(v, x, depth + 1)),
        Expr::Array(a) => a.elems.iter().find_map(|x| expr_problem(v, x, depth + 1)),
        Expr::Struct(s) => type_of_path(v, &s.path),
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            let segs = syntax::segments(&p.path);
            let canon = v.file.resolver.canonical(&p.path);
            let joined = canon.join("::");
            if matches!(
                joined.as_str(),
                "std::sync::mpsc::channel"
                    | "std::sync::mpsc::sync_channel"
                    | "crossbeam_channel::unbounded"
                    | "crossbeam_channel::bounded"
            ) {
                return known_problem("Sender");
            }
            if joined == "std::thread::spawn" {
                return known_problem("JoinHandle");
            }
            if matches!(joined.as_str(), "std::ptr::null" | "std::ptr::null_mut") {
                return Some(Problem {
                    what: "a raw pointer".into(),
                    why: "a pointer's address means nothing in another process".into(),
                });
            }
            if let Some(name) = segs.last().filter(|_| segs.len() == 1) {
                if name == "stdin" || name == "stdout" || name == "stderr" {
                    return known_problem("Stdin");
                }
                // `Wrapper(..)`: a tuple struct.
                if name.chars().next().is_some_and(char::is_uppercase)
                    && !matches!(name.as_str(), "Some" | "Ok" | "Err")
                {
                    return type_of_path(v, &p.path);
                }
            }
            if matches!(
                segs.last().map(String::as_str),
                Some("stdin" | "stdout" | "stderr")
            ) {
                return known_problem("Stdin");
            }
            // `Type::new(..)`, `File::open(..)`, `Arc::new(Mutex::new(..))`.
            if segs.len() >= 2 {
                let ty = &segs[segs.len() - 2];
                if CONTAINERS.contains(&ty.as_str()) {
                    return c.args.first().and_then(|a| expr_problem(v, a, depth + 1));
                }
                if ty.chars().next().is_some_and(char::is_uppercase) {
                    let mut ty_path = p.path.clone();
                    ty_path.segments.pop();
                    let ty_path = syn::Path {
                        leading_colon: ty_path.leading_colon,
                        segments: ty_path
                            .segments
                            .into_pairs()
                            .map(|p| p.into_value())
                            .collect(),
                    };
                    return type_of_path(v, &ty_path);
                }
            }
            None
        }
        Expr::MethodCall(m) => match m.method.to_string().as_str() {
            "lock" | "read" | "write" if m.args.is_empty() => known_problem("MutexGuard"),
            "try_clone" | "clone" | "as_ref" | "to_owned" => {
                expr_problem(v, &m.receiver, depth + 1)
            }
            "lock_arc" => known_problem("MutexGuard"),
            _ => None,
        },
        Expr::Path(p) if p.path.segments.len() == 1 => {
            let name = p.path.segments[0].ident.to_string();
            // A parameter with a declared type.
            if let Some((_, ty)) = v
                .func
                .def
                .params()
                .into_iter()
                .find(|(n, _)| n.as_deref() == Some(name.as_str()))
            {
                return type_problem(v.cx, v.func.file, ty);
            }
            let local = local_decl(v.func, &name)?;
            if let syn::Pat::Type(t) = &local.pat {
                if let Some(p) = type_problem(v.cx, v.func.file, &t.ty) {
                    return Some(p);
                }
            }
            local
                .init
                .as_ref()
                .and_then(|i| expr_problem(v, &i.expr, depth + 1))
        }
        Expr::Macro(m) if syntax::macro_name(&m.mac) == "vec" => syntax::macro_args(&m.mac)?
            .first()
            .and_then(|x| expr_problem(v, x, depth + 1)),
        _ => None,
    }
}

fn type_of_path<'a>(v: &ValueCx<'a>, path: &syn::Path) -> Option<Problem> {
    let ty = Type::Path(syn::TypePath {
        attrs: Vec::new(),
        qself: None,
        path: path.clone(),
    });
    type_problem(v.cx, v.file, &ty)
}

/// The `let` that binds `name` in a function (the first one).
fn local_decl<'a>(func: FnRef<'a>, name: &str) -> Option<&'a syn::Local> {
    struct Find<'a, 'n> {
        name: &'n str,
        found: Option<&'a syn::Local>,
    }
    impl<'a> syn::visit::Visit<'a> for Find<'a, '_> {
        fn visit_local(&mut self, l: &'a syn::Local) {
            if self.found.is_none() && syntax::pat_ident(&l.pat).as_deref() == Some(self.name) {
                self.found = Some(l);
            }
            syn::visit::visit_local(self, l);
        }
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut f = Find { name, found: None };
    syn::visit::Visit::visit_block(&mut f, func.def.body);
    f.found
}

/// Crates whose error type is a boxed, allocated report (`anyhow::Error`,
/// `eyre::Report`…): `?` into it allocates.
const ALLOCATING_ERROR_CRATES: &[&str] = &["anyhow", "eyre", "color_eyre", "miette", "failure"];

/// Whether `?` in `func` converts errors into a type that allocates: `Box<dyn Error>`,
/// `String`, `anyhow::Error`/`eyre::Report` (also through `use anyhow::Result;`), or a
/// package alias of one of those (`type Result<T> = std::result::Result<T, Box<dyn
/// Error>>`, followed to its definition).
pub fn error_type_allocates<'a>(cx: &'a PackageCx<'a>, func: FnRef<'a>) -> bool {
    match &func.def.sig.output {
        syn::ReturnType::Type(_, ty) => type_allocates(cx, func.file, &func.def.module, ty, 0),
        syn::ReturnType::Default => false,
    }
}

fn type_allocates<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    module: &[String],
    ty: &syn::Type,
    depth: usize,
) -> bool {
    if depth > 4 {
        return false;
    }
    let text = quote::ToTokens::to_token_stream(ty)
        .to_string()
        .replace(' ', "");
    if ["Box<dyn", "anyhow::", "eyre::", ",String>"]
        .iter()
        .any(|p| text.contains(p))
        || text == "String"
    {
        return true;
    }
    let syn::Type::Path(p) = ty else {
        return false;
    };
    let canon = file.resolver.canonical_in(&p.path, module);
    if canon
        .first()
        .is_some_and(|c| ALLOCATING_ERROR_CRATES.contains(&c.as_str()))
    {
        return true;
    }
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    // The error type argument (`Result<T, E>`), when written.
    if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
        let types: Vec<&syn::Type> = a
            .args
            .iter()
            .filter_map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect();
        if types.len() == 2 && type_allocates(cx, file, module, types[1], depth + 1) {
            return true;
        }
    }
    // A type alias of the package (`Result`, `Error`, `BoxResult`…).
    let local = file.resolver.is_crate_local(&canon) || canon.len() == 1;
    if !local {
        return false;
    }
    let name = last.ident.to_string();
    for f in cx.files_defining(file, &name, &["type"]) {
        if let Some(aliased) = find_alias(&f.ast.items, &name) {
            if type_allocates(cx, f, &[], aliased, depth + 1) {
                return true;
            }
        }
    }
    false
}

/// The type a `type NAME = …;` among `items` (inline modules included) stands for.
fn find_alias<'a>(items: &'a [syn::Item], name: &str) -> Option<&'a syn::Type> {
    items.iter().find_map(|item| match item {
        syn::Item::Type(t) if t.ident == name => Some(&*t.ty),
        syn::Item::Mod(m) => m
            .content
            .as_ref()
            .and_then(|(_, items)| find_alias(items, name)),
        _ => None,
    })
}
