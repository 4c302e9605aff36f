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
use super::{FileCx, FnRef, PackageCx, is_library_path};

/// Memoised answers of [`callers`].
#[derive(Default)]
pub struct CallCache<'a> {
    callers: RefCell<HashMap<(usize, usize), Vec<CallSite<'a>>>>,
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
    let found = if library {
        cx.fns_named_in(&["lib"], &name)
    } else {
        cx.fns_named(file, &name)
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
/// `self.method(..)` (inside an `impl` of `self_ty`), or a method of a package type
/// defined in the same file. `None` for anything else.
pub fn callee<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    self_ty: Option<&str>,
    e: &Expr,
) -> Option<FnRef<'a>> {
    match e {
        Expr::Call(c) => match syntax::peel(&c.func) {
            Expr::Path(p) => resolve_fn(cx, file, &p.path),
            _ => None,
        },
        Expr::MethodCall(m) => {
            let is_self = syntax::ident_of(&m.receiver).is_some_and(|r| r == "self");
            resolve_method(cx, file, is_self, self_ty, &m.method.to_string())
        }
        _ => None,
    }
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
        .fns_named(name)
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
        for &i in file.fns_using(name) {
            let def = &file.fns[i];
            let caller = FnRef { file, def };
            syntax::each_expr(def.body, &mut |e, ancestors| {
                let named = match e {
                    Expr::Call(c) => {
                        matches!(syntax::peel(&c.func), Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some(name))
                    }
                    Expr::MethodCall(m) => m.method == name,
                    _ => false,
                };
                let target = match e {
                    _ if named => callee(cx, file, def.self_ty.as_deref(), e),
                    // `pre_exec(helper)`, `map(helper)`: a function used as a value.
                    Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some(name) => {
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
                for span in
                    calls_in_tokens(cx, file, def.self_ty.as_deref(), mac.tokens.clone(), func)
                {
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
    self_ty: Option<&str>,
    tokens: TokenStream,
    func: FnRef<'a>,
) -> Vec<proc_macro2::Span> {
    let name = &func.def.name;
    let mut out = Vec::new();
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tt) in tts.iter().enumerate() {
        match tt {
            TokenTree::Group(g) => {
                out.extend(calls_in_tokens(cx, file, self_ty, g.stream(), func));
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
