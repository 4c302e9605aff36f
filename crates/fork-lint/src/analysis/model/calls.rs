//! The call graph, queried lazily: which function of the package a call calls
//! ([`callee`]), and where a function is called ([`callers`], memoised).
//!
//! Calls are recognised in every form the package writes them: a path
//! (`helper()`, `crate::sys::helper()`, `my_lib::sys::helper()` from a binary of the
//! package, `Type::f()`, `Self::f()`), a method on `self` or on a value whose type is
//! known, and a function used as a value (`pre_exec(helper)`, `.map_err(helper)`).
//! When a name could mean several functions and nothing tells them apart, the answer
//! is `None`: unknown, and unknown is silent.

use std::cell::RefCell;
use std::collections::HashMap;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::Expr;
use syn::spanned::Spanned;

use super::super::syntax::{self, Node};
use super::{CodeKind, FileCx, FnRef, PackageCx, is_library_path};

/// A function's identity: [`FnRef::key`].
type FnKey = (usize, usize);

/// Memoised answers of [`callers`].
#[derive(Default)]
pub struct CallCache<'a> {
    callers: RefCell<HashMap<FnKey, Vec<CallSite<'a>>>>,
    /// Whether a function always leaves the process, by (function, depth of the
    /// question): see `flow::always_exits`.
    pub(crate) always_exits: RefCell<HashMap<(FnKey, usize), bool>>,
}

/// A place where a function is called (or used as a value).
#[derive(Clone)]
pub struct CallSite<'a> {
    /// The function the call is in.
    pub caller: FnRef<'a>,
    /// Enclosing nodes of the call, outermost first.
    pub ancestors: Vec<Node<'a>>,
    /// The call (or the path naming the function); `None` for a call written inside
    /// a macro's arguments that are not parsed as expressions (`select! { … }`).
    pub expr: Option<&'a Expr>,
    /// Where the call is (the function's name inside a macro).
    pub span: proc_macro2::Span,
}

/// The package function a call path names: a free function (the one the module path
/// names, the same file's, or the only one of that name), or an associated function
/// `Type::f` / `Self::f`.
pub fn resolve_fn<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    path: &syn::Path,
) -> Option<FnRef<'a>> {
    let canon = file.resolver.canonical(path);
    let library = is_library_path(cx, &canon);
    if !(library || file.resolver.is_crate_local(&canon) || canon.len() == 2 && canon[0] == "Self")
    {
        return None;
    }
    let segs: &[String] = if library { &canon[1..] } else { &canon };
    let name = segs.last()?.clone();
    let owner = (segs.len() >= 2).then(|| segs[segs.len() - 2].clone());
    let owner_is_type = owner
        .as_deref()
        .is_some_and(|o| o == "Self" || o.chars().next().is_some_and(char::is_uppercase));
    let keys: Vec<&str> = if library {
        vec!["lib"]
    } else {
        file.place.crates.iter().map(String::as_str).collect()
    };
    let found = match owner.as_deref() {
        // `Type::f`, `Trait::f`: in the files that name the type or trait.
        Some(owner) if owner_is_type && owner != "Self" => cx.fns_named_near(&keys, &name, owner),
        _ => cx.fns_named_in(&keys, &name),
    };
    let candidates: Vec<FnRef<'a>> = if owner_is_type {
        let want = owner.clone().unwrap_or_default();
        found
            .into_iter()
            .filter(|f| {
                want == "Self"
                    || f.def.self_ty.as_deref() == Some(want.as_str())
                    // `Trait::method(&x)`: an implementation of the trait.
                    || f.def.trait_name.as_deref() == Some(want.as_str())
            })
            .collect()
    } else {
        found
            .into_iter()
            .filter(|f| f.def.self_ty.is_none())
            .collect()
    };
    let module: Vec<String> = if owner_is_type {
        Vec::new()
    } else {
        segs[..segs.len() - 1]
            .iter()
            .filter(|s| !matches!(s.as_str(), "crate" | "self" | "super"))
            .cloned()
            .collect()
    };
    pick(file, candidates, &module)
}

/// The package function a call expression calls: `helper(..)`, `Type::f(..)`,
/// `self.method(..)`, or `value.method(..)` when the value's type is known (see
/// [`receiver_type`]). `func` is the function the call is written in. `None` for
/// anything else.
pub fn callee<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: Option<FnRef<'a>>,
    e: &Expr,
) -> Option<FnRef<'a>> {
    match e {
        Expr::Call(c) => match syntax::peel(&c.func) {
            Expr::Path(p) => resolve_fn(cx, file, &p.path),
            _ => None,
        },
        Expr::MethodCall(m) => method_callee(cx, file, func, &m.receiver, &m.method.to_string()),
        _ => None,
    }
}

/// The package method `name` called on `receiver`: on `self`, a method of the `impl`
/// the call is in; on a value of a known type, a method of that type (inherent or
/// trait impl, in any file of the package); otherwise the only method of that name in
/// the file.
pub fn method_callee<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: Option<FnRef<'a>>,
    receiver: &Expr,
    name: &str,
) -> Option<FnRef<'a>> {
    let is_self = syntax::ident_of(receiver).is_some_and(|r| r == "self");
    let self_ty = func.and_then(|f| f.def.self_ty.clone());
    if !is_self {
        if let Some(ty) = receiver_type(cx, file, func, receiver, 0) {
            let keys: Vec<&str> = file.place.crates.iter().map(String::as_str).collect();
            let of_type = |keys: &[&str]| -> Vec<FnRef<'a>> {
                cx.fns_named_near(keys, name, &ty)
                    .into_iter()
                    .filter(|f| f.def.self_ty.as_deref() == Some(ty.as_str()))
                    .collect()
            };
            let mut found = of_type(&keys);
            if found.is_empty() && file.place.kind != CodeKind::Lib {
                found = of_type(&["lib"]);
            }
            if found.len() == 1 {
                return Some(found[0]);
            }
            if !found.is_empty() {
                return pick(file, found, &[]);
            }
            // A known type without such a method in the package (`Command::new()…`):
            // not a package method.
            if cx.type_defined(file, &ty) {
                return None;
            }
        }
    }
    resolve_method(cx, file, is_self, self_ty.as_deref(), name)
}

/// The method `name` called on `self` (or on a value of a type defined in this file).
pub fn resolve_method<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    receiver_is_self: bool,
    self_ty: Option<&str>,
    name: &str,
) -> Option<FnRef<'a>> {
    let in_file: Vec<FnRef<'a>> = file
        .fns_named(cx, name)
        .into_iter()
        .filter(|d| d.self_ty.is_some())
        .map(|def| FnRef { file, def })
        .collect();
    let candidates = if !in_file.is_empty() || !receiver_is_self {
        in_file
    } else {
        cx.fns_named(file, name)
            .into_iter()
            .filter(|f| f.def.self_ty.is_some())
            .collect()
    };
    let candidates: Vec<_> = match self_ty {
        Some(ty) if receiver_is_self => candidates
            .into_iter()
            .filter(|f| f.def.self_ty.as_deref() == Some(ty))
            .collect(),
        _ => candidates,
    };
    (candidates.len() == 1).then(|| candidates[0])
}

/// How deep [`receiver_type`] follows `let`s, fields and constructors.
const MAX_TYPE_DEPTH: usize = 6;

/// The type (last path segment) of a method call's receiver, when the code says it:
/// `self`; a parameter or `let` with a type annotation; a `let` initialised by a
/// constructor (`Type::new(..)`, `Type { .. }`, `Type::open(..)?`); a field of a value
/// of known type (`self.child`, from the struct's definition); through `&`, `*`, `?`,
/// `.unwrap()`, `.clone()`, `Box`/`Arc`/`Rc`.
pub fn receiver_type<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: Option<FnRef<'a>>,
    receiver: &Expr,
    depth: usize,
) -> Option<String> {
    if depth > MAX_TYPE_DEPTH {
        return None;
    }
    match syntax::peel(receiver) {
        Expr::Path(p) if p.path.segments.len() == 1 => {
            let name = p.path.segments[0].ident.to_string();
            let func = func?;
            if name == "self" {
                return func.def.self_ty.clone();
            }
            if let Some(ty) = declared_type(func, &name) {
                return core_type_name(ty);
            }
            let local = syntax::local_in(func.def.body, &name)?;
            let init = local.init.as_ref()?;
            receiver_type(cx, file, Some(func), &init.expr, depth + 1)
        }
        // `args[0]` of `args: Vec<String>` (or `&[String]`, `[String; 2]`) is a `String`.
        Expr::Index(i) => {
            let base = syntax::ident_of(&i.expr)?;
            element_type(declared_type(func?, &base)?).and_then(core_type_name)
        }
        Expr::Field(f) => {
            let base = receiver_type(cx, file, func, &f.base, depth + 1)?;
            let syn::Member::Named(field) = &f.member else {
                return None;
            };
            cx.field_type(file, &base, &field.to_string())
        }
        Expr::Struct(s) => syntax::last_ident(&s.path),
        Expr::Call(c) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            let segs = &p.path.segments;
            if segs.len() < 2 {
                return None;
            }
            let owner = segs[segs.len() - 2].ident.to_string();
            let owner = if owner == "Self" {
                func.and_then(|f| f.def.self_ty.clone())?
            } else {
                owner
            };
            owner
                .chars()
                .next()
                .is_some_and(char::is_uppercase)
                .then_some(owner)
        }
        Expr::Try(t) => receiver_type(cx, file, func, &t.expr, depth + 1),
        Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "unwrap" | "expect" | "clone" | "as_ref" | "as_mut" | "borrow" | "borrow_mut"
            ) =>
        {
            receiver_type(cx, file, func, &m.receiver, depth + 1)
        }
        _ => None,
    }
}

/// The type written for a parameter or `let` binding of `func` named `name`.
fn declared_type<'a>(func: FnRef<'a>, name: &str) -> Option<&'a syn::Type> {
    if let Some((_, ty)) = func
        .def
        .params()
        .into_iter()
        .find(|(n, _)| n.as_deref() == Some(name))
    {
        return Some(ty);
    }
    match &syntax::local_in(func.def.body, name)?.pat {
        syn::Pat::Type(t) => Some(&t.ty),
        _ => None,
    }
}

/// The element type of a sequence type: `Vec<T>`, `VecDeque<T>`, `[T; N]`, `[T]`,
/// through references.
fn element_type(ty: &syn::Type) -> Option<&syn::Type> {
    match ty {
        syn::Type::Reference(r) => element_type(&r.elem),
        syn::Type::Paren(p) => element_type(&p.elem),
        syn::Type::Array(a) => Some(&a.elem),
        syn::Type::Slice(s) => Some(&s.elem),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            if !matches!(last.ident.to_string().as_str(), "Vec" | "VecDeque") {
                return None;
            }
            match &last.arguments {
                syn::PathArguments::AngleBracketed(a) => match a.args.first()? {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The type a value of type `ty` derefs to, by name: `&T`, `Box<T>`, `Arc<T>`, `Rc<T>`
/// and the like give `T`.
pub fn core_type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Reference(r) => core_type_name(&r.elem),
        syn::Type::Paren(p) => core_type_name(&p.elem),
        syn::Type::Group(g) => core_type_name(&g.elem),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            if matches!(name.as_str(), "Box" | "Arc" | "Rc" | "Pin") {
                if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(inner)) = a.args.first() {
                        return core_type_name(inner);
                    }
                }
            }
            Some(name)
        }
        _ => None,
    }
}

/// Picks the function a path means among those of its name: the only one; the only
/// one in the calling file; the only one whose module path ends with the path's
/// modules (`sys::helper` → a `helper` in a module `…::sys`).
fn pick<'a>(
    file: &'a FileCx<'a>,
    candidates: Vec<FnRef<'a>>,
    module: &[String],
) -> Option<FnRef<'a>> {
    if candidates.len() <= 1 {
        return candidates.into_iter().next();
    }
    if !module.is_empty() {
        let in_module: Vec<_> = candidates
            .iter()
            .filter(|f| f.module_path().ends_with(module))
            .copied()
            .collect();
        if in_module.len() == 1 {
            return Some(in_module[0]);
        }
        // Outside the module trees: the file's name says the module.
        let last = module.last().map(String::as_str);
        let by_file: Vec<_> = candidates
            .iter()
            .filter(|f| {
                let p = &f.file.source.path;
                let stem = p.file_stem().and_then(|s| s.to_str());
                let dir = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .and_then(|d| d.to_str());
                stem == last || (stem == Some("mod") && dir == last)
            })
            .copied()
            .collect();
        if by_file.len() == 1 {
            return Some(by_file[0]);
        }
    }
    let same_file: Vec<_> = candidates
        .iter()
        .filter(|f| std::ptr::eq(f.file, file))
        .copied()
        .collect();
    if same_file.len() == 1 {
        return Some(same_file[0]);
    }
    None
}

/// Call sites of `func` in the package: calls, and uses of it as a value
/// (`pre_exec(helper)`, `.map(helper)`). Memoised.
pub fn callers<'a>(cx: &'a PackageCx<'a>, func: FnRef<'a>) -> Vec<CallSite<'a>> {
    if let Some(found) = cx.calls.callers.borrow().get(&func.key()) {
        return found.clone();
    }
    let name = &func.def.name;
    let mut out = Vec::new();
    for file in cx.files_mentioning(func.file, name) {
        for def in file.fns_using(cx, name) {
            let caller = FnRef { file, def };
            let expand = |m: &syn::Macro| file.expansion(cx, m).map(|x| &x.block);
            syntax::each_expr_expanded(def.body, &expand, &mut |e, ancestors| {
                let named = match e {
                    Expr::Call(c) => {
                        matches!(syntax::peel(&c.func), Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some(name))
                    }
                    Expr::MethodCall(m) => m.method == name,
                    _ => false,
                };
                let target = match e {
                    _ if named => callee(cx, file, Some(caller), e),
                    // `pre_exec(helper)`, `map(helper)`: a function used as a value (not
                    // the path of a call, which is the call's site).
                    Expr::Path(p)
                        if syntax::last_ident(&p.path).as_deref() == Some(name)
                            && !matches!(ancestors.last(), Some(Node::Expr(Expr::Call(c))) if std::ptr::eq(syntax::peel(&c.func), e)) =>
                    {
                        resolve_fn(cx, file, &p.path)
                    }
                    _ => None,
                };
                if target.is_some_and(|t| t.key() == func.key()) {
                    out.push(CallSite {
                        caller,
                        ancestors: ancestors.to_vec(),
                        expr: Some(e),
                        span: e.span(),
                    });
                }
            });
            // Calls inside macro invocations whose arguments are not expressions
            // (`select! { recv(t) -> _ => spawn_process(&s) }`): found in the tokens,
            // at the macro's place.
            syntax::each_macro(def.body, &mut |mac, ancestors| {
                for span in calls_in_tokens(cx, file, caller, mac.tokens.clone(), func) {
                    out.push(CallSite {
                        caller,
                        ancestors: ancestors.to_vec(),
                        expr: None,
                        span,
                    });
                }
            });
        }
    }
    cx.calls
        .callers
        .borrow_mut()
        .insert(func.key(), out.clone());
    out
}

/// The spans of the calls of `func` written in a macro's tokens: a path ending in its
/// name followed by parentheses (`helper(..)`, `crate::sys::helper(..)`) that resolves
/// to it, or `.name(..)` when `func` is the only method of that name the file sees.
fn calls_in_tokens<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    caller: FnRef<'a>,
    tokens: TokenStream,
    func: FnRef<'a>,
) -> Vec<proc_macro2::Span> {
    let self_ty = caller.def.self_ty.as_deref();
    let name = &func.def.name;
    let mut out = Vec::new();
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tt) in tts.iter().enumerate() {
        match tt {
            TokenTree::Group(g) => {
                out.extend(calls_in_tokens(cx, file, caller, g.stream(), func));
            }
            TokenTree::Ident(id) if id == name => {
                let called = matches!(tts.get(i + 1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis);
                if !called {
                    continue;
                }
                let after_dot =
                    i >= 1 && matches!(&tts[i - 1], TokenTree::Punct(p) if p.as_char() == '.');
                let target = if after_dot {
                    let is_self =
                        i >= 2 && matches!(&tts[i - 2], TokenTree::Ident(r) if r == "self");
                    resolve_method(cx, file, is_self, self_ty, name)
                } else {
                    // The path: `a::b::name`, read backwards.
                    let mut segs = vec![id.to_string()];
                    let mut j = i;
                    while j >= 3 {
                        let colons = matches!((&tts[j - 1], &tts[j - 2]), (TokenTree::Punct(a), TokenTree::Punct(b)) if a.as_char() == ':' && b.as_char() == ':');
                        match (&tts[j - 3], colons) {
                            (TokenTree::Ident(seg), true) => {
                                segs.insert(0, seg.to_string());
                                j -= 3;
                            }
                            _ => break,
                        }
                    }
                    syn::parse_str::<syn::Path>(&segs.join("::"))
                        .ok()
                        .and_then(|p| resolve_fn(cx, file, &p))
                };
                if target.is_some_and(|t| t.key() == func.key()) {
                    out.push(id.span());
                }
            }
            _ => {}
        }
    }
    out
}
