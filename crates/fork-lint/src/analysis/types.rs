//! Whether a value can cross a process boundary, and how it fails when it cannot.
//!
//! Two facts per type, because the runtimes' bounds differ (FL001's doc says what each
//! runtime does with them):
//!
//! * **not `Send`**: `Rc` and its `Weak`, raw pointers, `NonNull`, lock guards, `Ref`,
//!   `RefMut`, the standard streams' locks, trait objects without `+ Send`, an `Arc` of a
//!   type that is not `Sync` (`Cell`, `RefCell`), and the package's types with such a
//!   field (unless they `unsafe impl Send`). `forkrt::Process::new` requires `A: Send`:
//!   such an argument does not compile.
//! * **not serializable**: open files and sockets (the descriptor number means nothing
//!   in another process), handles of streams, threads and children, channels, the
//!   synchronization primitives serde does not implement (`Condvar`, `Barrier`, async
//!   locks), closures, function pointers and trait objects, `Arc`/`Rc` when serde's
//!   `rc` feature is off, and the package's types without `Serialize` and
//!   `Deserialize`. forkrt's codec then fails with `NotSerializable` at run time.
//!
//! serde serializes `Mutex<T>`, `RwLock<T>`, `Cell<T>` and `RefCell<T>` when `T`
//! serializes (std's locks; parking_lot's with its `serde` feature), and `Arc<T>`/`Rc<T>`
//! with its `rc` feature. Features are read from the package's `Cargo.toml` (a
//! dependency on procspawn or ipc-channel turns `rc` on too); without a readable
//! manifest they are unknown. Generic parameters and types from other crates are
//! unknown, and unknown is silent.

use std::path::Path;

use syn::{Expr, Type};

use super::resolve::Resolver;
use super::{FileCx, FnRef, PackageCx, syntax};

/// Why a value cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What it is, e.g. "`File`".
    pub what: String,
    pub why: String,
    /// How to make it serialize, when a feature of a dependency would.
    pub hint: Option<&'static str>,
}

impl Problem {
    fn new(what: impl Into<String>, why: impl Into<String>) -> Problem {
        Problem {
            what: what.into(),
            why: why.into(),
            hint: None,
        }
    }

    fn hint(self, hint: &'static str) -> Problem {
        Problem {
            hint: Some(hint),
            ..self
        }
    }
}

/// What is known about a type or value: each fact with the first reason found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Why it is not `Send` (a compile error with `forkrt::Process::new`).
    pub not_send: Option<Problem>,
    /// Why it cannot be serialized (`NotSerializable` at run time with forkrt).
    pub unserializable: Option<Problem>,
    /// Why it is not `Sync` (an `Arc` of it is not `Send`).
    pub not_sync: Option<Problem>,
}

impl Verdict {
    /// Both values together (a tuple, a container of both): the first reason of each.
    fn and(self, o: Verdict) -> Verdict {
        Verdict {
            not_send: self.not_send.or(o.not_send),
            unserializable: self.unserializable.or(o.unserializable),
            not_sync: self.not_sync.or(o.not_sync),
        }
    }

    fn unserializable(p: Problem) -> Verdict {
        Verdict {
            unserializable: Some(p),
            ..Verdict::default()
        }
    }

    /// Neither `Send` nor serializable, for the same reason.
    fn local(p: Problem) -> Verdict {
        Verdict {
            not_send: Some(p.clone()),
            unserializable: Some(p.clone()),
            not_sync: Some(p),
        }
    }

    /// When the type is known to be `Send` and `Sync` whatever its parts are.
    fn shareable(self) -> Verdict {
        Verdict {
            not_send: None,
            not_sync: None,
            ..self
        }
    }
}

/// Whether the named type is `Send` (`false`: a compile error with `Process::new`).
type Known = (&'static [&'static str], &'static str, bool);

const KNOWN: &[Known] = &[
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
        true,
    ),
    (
        &[
            "Stdin",
            "Stdout",
            "Stderr",
            "ChildStdin",
            "ChildStdout",
            "ChildStderr",
            "Child",
        ],
        "it is a handle on this process's streams or children, which cannot be serialized",
        true,
    ),
    (
        &["StdinLock", "StdoutLock", "StderrLock"],
        "it holds the lock of this process's stream, which cannot be serialized",
        false,
    ),
    (
        &[
            "MutexGuard",
            "RwLockReadGuard",
            "RwLockWriteGuard",
            "ReentrantMutexGuard",
            "ReentrantLockGuard",
            "MappedMutexGuard",
        ],
        "a guard cannot be serialized: the lock it guards stays in this process",
        false,
    ),
    (
        &["OwnedMutexGuard"],
        "a guard cannot be serialized: the lock it guards stays in this process",
        true,
    ),
    (
        &[
            "Condvar",
            "Barrier",
            "ReentrantMutex",
            "ReentrantLock",
            "Semaphore",
        ],
        "it synchronizes the threads of this process and does not implement `Serialize`",
        true,
    ),
    (
        &["NonNull"],
        "a pointer's address means nothing in another process",
        false,
    ),
    (
        &["JoinHandle", "ScopedJoinHandle", "Thread"],
        "a thread handle refers to a thread of this process and cannot be serialized",
        true,
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
        true,
    ),
];

/// Containers whose facts are their elements'.
const CONTAINERS: &[&str] = &[
    "Vec",
    "VecDeque",
    "Option",
    "Box",
    "HashMap",
    "BTreeMap",
    "HashSet",
    "BTreeSet",
    "Result",
    "Cow",
    "LinkedList",
    "BinaryHeap",
];

/// Types that wrap another one (`Wrapper<T>`, built by `Wrapper::new(x)`), whose facts
/// follow from the wrapped type's.
const WRAPPERS: &[&str] = &["Mutex", "RwLock", "Cell", "RefCell", "Arc", "Rc", "Weak"];

fn known(name: &str) -> Option<Verdict> {
    KNOWN
        .iter()
        .find(|(names, _, _)| names.contains(&name))
        .map(|(_, why, send)| {
            let p = Problem::new(format!("`{name}`"), *why);
            if *send {
                Verdict::unserializable(p)
            } else {
                Verdict::local(p)
            }
        })
}

fn raw_pointer() -> Verdict {
    Verdict::local(Problem::new(
        "a raw pointer",
        "a pointer's address means nothing in another process",
    ))
}

/// The facts of a type `ty` (written in `file`).
pub fn judge_type<'a>(cx: &'a PackageCx<'a>, file: &'a FileCx<'a>, ty: &Type) -> Verdict {
    judge_type_at(cx, file, ty, 0)
}

fn judge_type_at<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    ty: &Type,
    depth: usize,
) -> Verdict {
    if depth > 8 {
        return Verdict::default();
    }
    let all = |tys: &mut dyn Iterator<Item = &Type>| {
        tys.fold(Verdict::default(), |v, t| {
            v.and(judge_type_at(cx, file, t, depth + 1))
        })
    };
    match ty {
        Type::Ptr(_) => raw_pointer(),
        Type::FnPtr(_) => Verdict::unserializable(Problem::new(
            "a function pointer",
            "function addresses differ between processes",
        )),
        Type::TraitObject(t) => {
            let what = format!("`dyn {}`", quote::ToTokens::to_token_stream(&t.bounds));
            let has = |name: &str| {
                t.bounds.iter().any(|b| {
                    matches!(b, syn::TypeParamBound::Trait(tb)
                        if syntax::last_ident(&tb.path).as_deref() == Some(name))
                })
            };
            let p = Problem::new(what, "a trait object cannot be serialized");
            Verdict {
                not_send: (!has("Send")).then(|| p.clone()),
                not_sync: (!has("Sync")).then(|| p.clone()),
                unserializable: Some(p),
            }
        }
        Type::Tuple(t) => all(&mut t.elems.iter()),
        Type::Array(a) => judge_type_at(cx, file, &a.elem, depth + 1),
        Type::Slice(s) => judge_type_at(cx, file, &s.elem, depth + 1),
        Type::Paren(p) => judge_type_at(cx, file, &p.elem, depth + 1),
        Type::Group(g) => judge_type_at(cx, file, &g.elem, depth + 1),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return Verdict::default();
            };
            let name = last.ident.to_string();
            let mut args = Vec::new();
            if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                args.extend(a.args.iter().filter_map(|g| match g {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                }));
            }
            if CONTAINERS.contains(&name.as_str()) {
                return all(&mut args.into_iter());
            }
            if is_user_type(&file.resolver, &p.path) {
                return user_type_verdict(cx, file, &name, depth);
            }
            if let Some(v) = wrap(cx, file, &p.path, || all(&mut args.iter().copied())) {
                return v;
            }
            let canon = file.resolver.canonical(&p.path);
            if canon.first().is_some_and(|c| c == "forkrt") {
                // `Queue`, `Connection`: serialized by passing their descriptors.
                return Verdict::default();
            }
            known(&name).unwrap_or_default()
        }
        _ => Verdict::default(),
    }
}

/// The facts of `path<inner>` when `path` names a wrapper (a lock, a cell, `Arc`, `Rc`,
/// `Weak`): `None` for other types. `inner` gives the wrapped type's facts.
fn wrap<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    path: &syn::Path,
    inner: impl FnOnce() -> Verdict,
) -> Option<Verdict> {
    let name = syntax::last_ident(path)?;
    if !WRAPPERS.contains(&name.as_str()) {
        return None;
    }
    let canon = file.resolver.canonical(path);
    let krate = canon
        .first()
        .filter(|_| canon.len() > 1)
        .map(String::as_str)
        .unwrap_or("std");
    let inner = inner();
    let rc_off = |what: &str| {
        (serde_rc(cx) == Some(false)).then(|| {
            Problem::new(
                format!("`{what}`"),
                format!(
                    "serde serializes `{what}` only with its `rc` feature, which this package does not turn on"
                ),
            )
            .hint("pass the value itself, or turn on serde's `rc` feature (`serde = { version = \"1\", features = [\"rc\"] }`); either way the child gets a copy, not a shared value: to share data with a child, send it through a `forkrt::Queue` or `Pipe`")
        })
    };
    Some(match (name.as_str(), krate) {
        ("Mutex" | "RwLock", "std") => inner.shareable(),
        ("Mutex" | "RwLock", "parking_lot" | "lock_api") => {
            if dependency_feature(cx, &["parking_lot", "lock_api"], "serde") == Some(false) {
                Verdict::unserializable(Problem::new(
                    format!("parking_lot's `{name}`"),
                    "parking_lot serializes its locks only with its `serde` feature, which this package does not turn on",
                )
                .hint("turn on parking_lot's `serde` feature, or pass the value the lock holds; the child gets a copy either way"))
                .and(inner.shareable())
            } else {
                inner.shareable()
            }
        }
        (
            "Mutex" | "RwLock",
            "tokio" | "async_std" | "futures" | "futures_util" | "async_lock" | "spin",
        ) => Verdict::unserializable(Problem::new(
            format!("`{krate}::{name}`"),
            "it does not implement `Serialize`",
        ))
        .and(inner.shareable()),
        ("Mutex" | "RwLock", _) => inner.shareable(),
        ("Cell" | "RefCell", "std") => Verdict {
            not_sync: Some(Problem::new(
                format!("`{name}`"),
                format!("`{name}` is not `Sync`"),
            )),
            ..inner
        },
        ("Arc", "std") => arc_of(inner, rc_off("Arc")),
        ("Weak", "std") if canon.iter().any(|s| s == "sync") => arc_of(inner, rc_off("Weak")),
        ("Rc", "std") => rc_of(inner, rc_off("Rc")),
        ("Weak", "std") if canon.iter().any(|s| s == "rc") => rc_of(inner, rc_off("Weak")),
        _ => return None,
    })
}

/// `Arc<T>`: `Send` when `T` is `Send` and `Sync`; serializable with serde's `rc`.
fn arc_of(inner: Verdict, rc_off: Option<Problem>) -> Verdict {
    let not_send = inner
        .not_send
        .clone()
        .or_else(|| inner.not_sync.clone())
        .map(|p| Problem {
            why: format!("{}; an `Arc` of it is not `Send`", p.why),
            ..p
        });
    Verdict {
        not_send,
        not_sync: inner.not_send.or(inner.not_sync),
        unserializable: inner.unserializable.or(rc_off),
    }
}

/// `Rc<T>`: never `Send`; serializable with serde's `rc`.
fn rc_of(inner: Verdict, rc_off: Option<Problem>) -> Verdict {
    let p = Problem::new(
        "`Rc`",
        "`Rc` shares ownership within one thread of one process and is not `Send`",
    );
    Verdict {
        not_send: Some(p.clone()),
        not_sync: Some(p),
        unserializable: inner.unserializable.or(rc_off),
    }
}

/// Whether a type path names a type of this package (rather than std or a dependency).
fn is_user_type(resolver: &Resolver, path: &syn::Path) -> bool {
    let canon = resolver.canonical(path);
    canon.first().is_some_and(|f| f == "crate")
        || (canon.len() == 1 && resolver.is_local(&canon[0]))
}

/// A struct/enum of the package: serializable when it implements both serde traits;
/// not `Send` (or `Sync`) when a field is not, unless it says `unsafe impl Send`.
fn user_type_verdict<'a>(
    cx: &'a PackageCx<'a>,
    from: &'a FileCx<'a>,
    name: &str,
    depth: usize,
) -> Verdict {
    let files = cx.files_defining(from, name, &["struct", "enum", "union"]);
    let Some(file) = files.first() else {
        return Verdict::default();
    };
    let Some(item) = find_type_item(&file.ast.items, name) else {
        return Verdict::default();
    };
    let (mut ser, mut de) = derives_serde(item.attrs);
    let mut unsafe_send = false;
    let mut unsafe_sync = false;
    for f in cx.files_mentioning(from, name) {
        let t = &f.source.text;
        ser |= t.contains(&format!("Serialize for {name}"));
        de |= t.contains(&format!("Deserialize<'de> for {name}"));
        unsafe_send |= t.contains(&format!("Send for {name}"));
        unsafe_sync |= t.contains(&format!("Sync for {name}"));
    }
    let fields = item.fields.iter().fold(Verdict::default(), |v, ty| {
        v.and(judge_type_at(cx, file, ty, depth + 1))
    });
    let missing = match (ser, de) {
        (true, true) => None,
        (false, false) => Some("`Serialize` and `Deserialize`"),
        (true, false) => Some("`Deserialize`"),
        (false, true) => Some("`Serialize`"),
    };
    let inside = |p: Problem| {
        Problem::new(
            format!("`{name}`"),
            format!("its field of type {} is not `Send`", p.what),
        )
    };
    Verdict {
        not_send: fields.not_send.filter(|_| !unsafe_send).map(inside),
        not_sync: fields.not_sync.filter(|_| !unsafe_sync).map(inside),
        unserializable: missing.map(|m| {
            Problem::new(
                format!("`{name}`"),
                format!("it does not implement {m}, so it cannot be serialized"),
            )
        }),
    }
}

/// A struct, enum or union of the package: its attributes and field types.
struct TypeItem<'a> {
    attrs: &'a [syn::Attribute],
    fields: Vec<&'a Type>,
}

/// The item `name` in `items` (at any module depth).
fn find_type_item<'a>(items: &'a [syn::Item], name: &str) -> Option<TypeItem<'a>> {
    let of_fields = |f: &'a syn::Fields| f.iter().map(|f| &f.ty).collect::<Vec<_>>();
    items.iter().find_map(|item| match item {
        syn::Item::Struct(s) if s.ident == name => Some(TypeItem {
            attrs: &s.attrs,
            fields: of_fields(&s.fields),
        }),
        syn::Item::Enum(e) if e.ident == name => Some(TypeItem {
            attrs: &e.attrs,
            fields: e
                .variants
                .iter()
                .flat_map(|v| of_fields(&v.fields))
                .collect(),
        }),
        syn::Item::Union(u) if u.ident == name => Some(TypeItem {
            attrs: &u.attrs,
            fields: u.fields.named.iter().map(|f| &f.ty).collect(),
        }),
        syn::Item::Mod(m) => m
            .content
            .as_ref()
            .and_then(|(_, inner)| find_type_item(inner, name)),
        _ => None,
    })
}

/// Whether the attributes derive Serialize / Deserialize.
fn derives_serde(attrs: &[syn::Attribute]) -> (bool, bool) {
    let mut out = (false, false);
    for a in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let text = quote::ToTokens::to_token_stream(&a.meta).to_string();
        out.0 |= text.contains("Serialize");
        out.1 |= text.contains("Deserialize");
    }
    out
}

// ---------------------------------------------------------------------------------
// Features of the package's dependencies

/// The dependencies the package's `Cargo.toml` declares in any table (normal, dev,
/// build, per target), by package name, with the features it turns on (including those
/// of `[workspace.dependencies]` for `workspace = true`). `None` without a manifest.
fn manifest_dependencies(root: &Path) -> Option<Vec<(String, Vec<String>)>> {
    let read = |p: &Path| -> Option<toml::Table> {
        toml::from_str(&std::fs::read_to_string(p.join("Cargo.toml")).ok()?).ok()
    };
    let manifest = read(root)?;
    let workspace_deps = root
        .ancestors()
        .filter_map(read)
        .find_map(|m| m.get("workspace")?.get("dependencies")?.as_table().cloned())
        .unwrap_or_default();
    let features = |spec: &toml::Value| -> Vec<String> {
        spec.get("features")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(String::from))
            .collect()
    };
    let targets = manifest
        .get("target")
        .and_then(|t| t.as_table())
        .into_iter()
        .flat_map(|t| t.values().filter_map(|v| v.as_table()));
    let mut out = Vec::new();
    for table in std::iter::once(&manifest).chain(targets) {
        for key in [
            "dependencies",
            "dev-dependencies",
            "dev_dependencies",
            "build-dependencies",
            "build_dependencies",
        ] {
            let Some(deps) = table.get(key).and_then(|d| d.as_table()) else {
                continue;
            };
            for (name, spec) in deps {
                let mut feats = features(spec);
                let mut package = spec.get("package").and_then(|p| p.as_str());
                if spec.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
                    if let Some(ws) = workspace_deps.get(name) {
                        feats.extend(features(ws));
                        package = package.or_else(|| ws.get("package").and_then(|p| p.as_str()));
                    }
                }
                out.push((package.unwrap_or(name).to_string(), feats));
            }
        }
    }
    Some(out)
}

/// Whether serde's `rc` feature is on: turned on by the manifest, or by a dependency
/// known to turn it on (procspawn, through ipc-channel). `None` without a manifest.
fn serde_rc(cx: &PackageCx<'_>) -> Option<bool> {
    let deps = manifest_dependencies(cx.package.root.as_deref()?)?;
    Some(deps.iter().any(|(name, feats)| {
        (name == "serde" && feats.iter().any(|f| f == "rc"))
            || matches!(name.as_str(), "procspawn" | "ipc-channel")
    }))
}

/// Whether the manifest turns `feature` on for one of `crates`. `None` without a
/// manifest.
fn dependency_feature(cx: &PackageCx<'_>, crates: &[&str], feature: &str) -> Option<bool> {
    let deps = manifest_dependencies(cx.package.root.as_deref()?)?;
    Some(
        deps.iter().any(|(name, feats)| {
            crates.contains(&name.as_str()) && feats.iter().any(|f| f == feature)
        }),
    )
}

// ---------------------------------------------------------------------------------
// Values

/// Where a value comes from, to judge it without a declared type.
pub struct ValueCx<'a> {
    pub cx: &'a PackageCx<'a>,
    pub file: &'a FileCx<'a>,
    pub func: FnRef<'a>,
}

/// The facts of the value of `e`, judged from how it is made.
pub fn judge_expr<'a>(v: &ValueCx<'a>, e: &Expr, depth: usize) -> Verdict {
    if depth > 6 {
        return Verdict::default();
    }
    let e = syntax::peel_result(e);
    let all = |es: &mut dyn Iterator<Item = &Expr>| {
        es.fold(Verdict::default(), |acc, x| {
            acc.and(judge_expr(v, x, depth + 1))
        })
    };
    match e {
        Expr::Closure(_) => {
            Verdict::unserializable(Problem::new("a closure", "a closure cannot be serialized"))
        }
        Expr::Cast(c) if matches!(*c.ty, Type::Ptr(_)) => raw_pointer(),
        Expr::Tuple(t) => all(&mut t.elems.iter()),
        Expr::Array(a) => all(&mut a.elems.iter()),
        Expr::Struct(s) => type_of_path(v, &s.path),
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return Verdict::default();
            };
            let segs = syntax::segments(&p.path);
            let canon = v.file.resolver.canonical(&p.path);
            match canon.join("::").as_str() {
                "std::sync::mpsc::channel"
                | "std::sync::mpsc::sync_channel"
                | "crossbeam_channel::unbounded"
                | "crossbeam_channel::bounded" => return known("Sender").unwrap_or_default(),
                "std::thread::spawn" => return known("JoinHandle").unwrap_or_default(),
                "std::ptr::null" | "std::ptr::null_mut" => return raw_pointer(),
                _ => {}
            }
            if matches!(
                segs.last().map(String::as_str),
                Some("stdin" | "stdout" | "stderr")
            ) {
                return known("Stdin").unwrap_or_default();
            }
            if let [name] = segs.as_slice() {
                if matches!(name.as_str(), "Some" | "Ok" | "Err") {
                    return all(&mut c.args.iter());
                }
                // `Wrapper(..)`: a tuple struct.
                if name.chars().next().is_some_and(char::is_uppercase) {
                    return type_of_path(v, &p.path);
                }
                return Verdict::default();
            }
            // `Type::new(..)`, `File::open(..)`, `Arc::new(Mutex::new(..))`.
            let Some(ty) = segs.get(segs.len().wrapping_sub(2)) else {
                return Verdict::default();
            };
            if !ty.chars().next().is_some_and(char::is_uppercase) {
                return Verdict::default();
            }
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
            let method = segs.last().map(String::as_str);
            let first = c.args.first();
            if matches!(method, Some("clone")) && WRAPPERS.contains(&ty.as_str()) {
                // `Arc::clone(&x)`: the same type as `x`.
                return first.map_or_else(Verdict::default, |a| judge_expr(v, a, depth + 1));
            }
            let wrapped = || match (method, first) {
                (Some("new" | "from"), Some(a)) => judge_expr(v, a, depth + 1),
                _ => Verdict::default(),
            };
            if CONTAINERS.contains(&ty.as_str()) {
                return wrapped();
            }
            if let Some(w) = wrap(v.cx, v.file, &ty_path, wrapped) {
                return w;
            }
            type_of_path(v, &ty_path)
        }
        Expr::MethodCall(m) => match m.method.to_string().as_str() {
            "lock" | "read" | "write" if m.args.is_empty() => {
                known("MutexGuard").unwrap_or_default()
            }
            "try_clone" | "clone" | "as_ref" | "to_owned" => judge_expr(v, &m.receiver, depth + 1),
            "lock_arc" => known("MutexGuard").unwrap_or_default(),
            _ => Verdict::default(),
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
                return judge_type(v.cx, v.func.file, ty);
            }
            let Some(local) = local_decl(v.func, &name) else {
                return Verdict::default();
            };
            if let syn::Pat::Type(t) = &local.pat {
                let declared = judge_type(v.cx, v.func.file, &t.ty);
                if declared != Verdict::default() {
                    return declared;
                }
            }
            local
                .init
                .as_ref()
                .map_or_else(Verdict::default, |i| judge_expr(v, &i.expr, depth + 1))
        }
        Expr::Macro(m) if syntax::macro_name(&m.mac) == "vec" => syntax::macro_args(&m.mac)
            .and_then(|a| a.first().map(|x| judge_expr(v, x, depth + 1)))
            .unwrap_or_default(),
        _ => Verdict::default(),
    }
}

fn type_of_path<'a>(v: &ValueCx<'a>, path: &syn::Path) -> Verdict {
    let ty = Type::Path(syn::TypePath {
        attrs: Vec::new(),
        qself: None,
        path: path.clone(),
    });
    judge_type(v.cx, v.file, &ty)
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
