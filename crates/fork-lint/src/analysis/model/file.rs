//! One parsed file and its functions: [`FileCx`], [`FnDef`], [`FnRef`].

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use proc_macro2::Span as SynSpan;

use super::super::resolve::Resolver;
use super::super::{catalog, syntax};
use super::PackageCx;
use crate::diagnostic::Span;
use crate::source::SourceFile;

/// A function-like item with a body: free functions, methods, trait default methods,
/// functions nested in blocks.
pub struct FnDef<'a> {
    pub name: String,
    pub sig: &'a syn::Signature,
    pub attrs: &'a [syn::Attribute],
    pub body: &'a syn::Block,
    /// The `impl` or `trait` it belongs to (last path segment of the self type).
    pub self_ty: Option<String>,
    /// For methods of `impl Trait for T` and trait default methods: the trait.
    pub trait_name: Option<String>,
    /// `pub`, in inline modules that are all `pub` (trait methods count as `pub`).
    pub is_pub: bool,
    /// Inside a `#[cfg(test)]` module.
    pub in_test_module: bool,
    /// The inline modules it is written in, within its file.
    pub module: Vec<String>,
    /// A function written inside another function's body.
    pub nested: bool,
    /// The package macro whose item-level call generated it (`fork_test!(name)`).
    pub generated_by: Option<String>,
}

impl<'a> FnDef<'a> {
    /// A crate's `fn main` (at the top of its file, not nested or in a module).
    pub fn is_main(&self) -> bool {
        self.name == "main" && self.self_ty.is_none() && self.module.is_empty() && !self.nested
    }

    /// `#[test]`, `#[tokio::test]`, `#[tokio::main]`…: the function runs with other
    /// threads around.
    pub fn threaded_attr(&self) -> Option<&'static str> {
        catalog::THREADED_FN_ATTRS.iter().copied().find(|name| {
            let want: Vec<&str> = name.split("::").collect();
            self.attrs.iter().any(|a| {
                let segs: Vec<String> = a
                    .path()
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                segs.iter().map(String::as_str).eq(want.iter().copied())
                    || (want.len() == 1 && segs.last().is_some_and(|s| s == want[0]))
            })
        })
    }

    pub fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }

    /// Parameter names and types, in order (`self` excluded).
    pub fn params(&self) -> Vec<(Option<String>, &'a syn::Type)> {
        self.sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                syn::FnArg::Typed(t) => Some((syntax::pat_ident(&t.pat), &*t.ty)),
                syn::FnArg::Receiver(_) => None,
            })
            .collect()
    }

    /// Whether the function never returns (`-> !`).
    pub fn returns_never(&self) -> bool {
        matches!(&self.sig.output, syn::ReturnType::Type(_, ty) if matches!(**ty, syn::Type::Never(_)))
    }
}

/// What runs a file's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    /// A target that starts at `main` on one thread: a binary, example, bench, build
    /// script, or a test without libtest's harness.
    Bin,
    /// A library.
    Lib,
    /// An integration test run by libtest, on several threads.
    Test,
}

/// Where a file sits in the package.
#[derive(Clone, Debug)]
pub struct Place {
    /// What runs its code.
    pub kind: CodeKind,
    /// The crates (targets) it is part of, by key (`lib`, `bin:demo`…).
    pub crates: Vec<String>,
    /// Its module path in the first of them.
    pub module: Vec<String>,
    /// Its `pub` items can be called from outside the package: a library of a package
    /// without binaries (or configured `library = "public"`), in `pub` modules.
    pub exported: bool,
    /// It is part of a library code outside the package calls: the package has no
    /// binary, or the configuration says `library = "public"`.
    pub public_library: bool,
    /// Every module path to it is under `#[cfg(test)]`.
    pub cfg_test: bool,
    /// Some target's module tree reaches it.
    pub in_tree: bool,
}

/// One parsed file and what is known about it.
pub struct FileCx<'a> {
    pub source: Arc<SourceFile>,
    pub ast: &'a syn::File,
    pub resolver: Resolver,
    /// The functions written in the file (see [`FileCx::generated_fns`] for those its
    /// item macros generate).
    pub fns: Vec<FnDef<'a>>,
    pub place: Place,
    /// Its macros: definitions in scope and expansions made (see [`super::expand`]).
    pub(crate) macros: super::expand::FileMacros<'a>,
    /// Its item-level macro calls and the functions they generate.
    pub(crate) items: super::expand::ItemMacros<'a>,
    /// See [`FileCx::fns_using`].
    fns_by_name_used: OnceCell<HashMap<String, Vec<usize>>>,
    /// See [`FileCx::fns_named`].
    fns_by_name: OnceCell<HashMap<String, Vec<usize>>>,
}

impl<'a> FileCx<'a> {
    /// A parsed file.
    pub fn new(
        source: Arc<SourceFile>,
        ast: &'a syn::File,
        resolver: Resolver,
        fns: Vec<FnDef<'a>>,
        place: Place,
    ) -> FileCx<'a> {
        FileCx {
            source,
            ast,
            resolver,
            fns,
            place,
            macros: super::expand::FileMacros::default(),
            items: super::expand::ItemMacros::new(ast),
            fns_by_name_used: OnceCell::new(),
            fns_by_name: OnceCell::new(),
        }
    }

    /// The functions whose bodies call a function or method named `name`, or use a
    /// path ending in `name` (`pre_exec(helper)`), generated ones included. Built once
    /// per file: walking every body of the file for each function whose callers are
    /// asked for was quadratic (a file forking in 4,000 functions took 32 s).
    pub fn fns_using(&'a self, cx: &PackageCx<'a>, name: &str) -> Vec<&'a FnDef<'a>> {
        let index = self
            .fns_by_name_used
            .get_or_init(|| uses_index(self.fns.iter()));
        let mut out: Vec<&'a FnDef<'a>> = index
            .get(name)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&i| &self.fns[i])
            .collect();
        let generated = self.generated_fns(cx, Some(&[name]));
        if !generated.is_empty() {
            let index = uses_index(generated.iter().copied());
            out.extend(index.get(name).into_iter().flatten().map(|&i| generated[i]));
        }
        out
    }

    /// The diagnostics span of a syntax span in this file.
    pub fn span(&self, span: SynSpan) -> Span {
        let (s, e) = (span.start(), span.end());
        Span {
            file: self.source.clone(),
            start: self.source.position(s.line, s.column),
            end: self.source.position(e.line, e.column),
        }
    }

    pub fn span_of(&self, node: &impl syn::spanned::Spanned) -> Span {
        self.span(node.span())
    }

    /// The functions named `name`, in file order, then generated ones (from an index
    /// built on first use: resolving every call of every child region by scanning all
    /// the file's functions was quadratic in a file with thousands of them).
    pub fn fns_named(&'a self, cx: &PackageCx<'a>, name: &str) -> Vec<&'a FnDef<'a>> {
        let index = self.fns_by_name.get_or_init(|| {
            let mut index: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, f) in self.fns.iter().enumerate() {
                index.entry(f.name.clone()).or_default().push(i);
            }
            index
        });
        let mut out: Vec<&'a FnDef<'a>> = index
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.fns[i])
            .collect();
        out.extend(
            self.generated_fns(cx, Some(&[name]))
                .into_iter()
                .filter(|f| f.name == name),
        );
        out
    }

    pub fn main_fn(&'a self, cx: &PackageCx<'a>) -> Option<&'a FnDef<'a>> {
        self.fns_named(cx, "main").into_iter().find(|f| f.is_main())
    }
}

/// Index: name → the positions in `fns` of the functions whose bodies call or use it
/// (see [`FileCx::fns_using`]).
fn uses_index<'f, 'a: 'f>(fns: impl Iterator<Item = &'f FnDef<'a>>) -> HashMap<String, Vec<usize>> {
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, def) in fns.enumerate() {
        syntax::each_expr(def.body, &mut |e, _| {
            let used = match e {
                syn::Expr::Call(c) => match syntax::peel(&c.func) {
                    syn::Expr::Path(p) => syntax::last_ident(&p.path),
                    _ => None,
                },
                syn::Expr::MethodCall(m) => Some(m.method.to_string()),
                syn::Expr::Path(p) => syntax::last_ident(&p.path),
                _ => None,
            };
            if let Some(name) = used {
                let fns = index.entry(name).or_default();
                if fns.last() != Some(&i) {
                    fns.push(i);
                }
            }
        });
        // Names written in macros' tokens may be calls too.
        syntax::each_macro(def.body, &mut |mac, _| {
            let mut idents = Vec::new();
            token_idents(mac.tokens.clone(), &mut idents);
            for name in idents {
                let fns = index.entry(name).or_default();
                if fns.last() != Some(&i) {
                    fns.push(i);
                }
            }
        });
    }
    index
}

/// A function and the file it is in.
#[derive(Clone, Copy)]
pub struct FnRef<'a> {
    pub file: &'a FileCx<'a>,
    pub def: &'a FnDef<'a>,
}

impl<'a> FnRef<'a> {
    /// The module path of the function: its file's module, then inline modules.
    pub fn module_path(&self) -> Vec<String> {
        let mut path = self.file.place.module.clone();
        path.extend(self.def.module.iter().cloned());
        path
    }

    pub fn key(&self) -> (usize, usize) {
        (
            self.file as *const FileCx<'a> as usize,
            self.def as *const FnDef<'a> as usize,
        )
    }
}

/// Where an item is written, as `collect_fns` descends.
#[derive(Clone, Default)]
struct Scope {
    self_ty: Option<String>,
    trait_name: Option<String>,
    in_test: bool,
    module: Vec<String>,
    /// Every inline module on the way is `pub`.
    public_path: bool,
}

/// The functions with bodies of `items` (and of inline modules, impls, traits, and
/// functions nested in bodies), in source order.
pub fn collect_fns<'a>(items: &'a [syn::Item], out: &mut Vec<FnDef<'a>>) {
    let scope = Scope {
        public_path: true,
        ..Scope::default()
    };
    collect_in(items, &scope, out);
}

fn collect_in<'a>(items: &'a [syn::Item], scope: &Scope, out: &mut Vec<FnDef<'a>>) {
    for item in items {
        match item {
            syn::Item::Fn(f) => {
                let is_pub = matches!(f.vis, syn::Visibility::Public(_));
                push_fn(out, &f.sig, &f.attrs, &f.block, scope, is_pub);
            }
            syn::Item::Impl(imp) => {
                let scope = Scope {
                    self_ty: type_name(&imp.self_ty),
                    trait_name: imp.trait_.as_ref().and_then(|(p, _)| syntax::last_ident(p)),
                    ..scope.clone()
                };
                for ii in &imp.items {
                    if let syn::ImplItem::Fn(f) = ii {
                        let is_pub = scope.trait_name.is_some()
                            || matches!(f.vis, syn::Visibility::Public(_));
                        push_fn(out, &f.sig, &f.attrs, &f.block, &scope, is_pub);
                    }
                }
            }
            syn::Item::Trait(t) => {
                let scope = Scope {
                    self_ty: Some(t.ident.to_string()),
                    trait_name: Some(t.ident.to_string()),
                    ..scope.clone()
                };
                for ti in &t.items {
                    if let syn::TraitItem::Fn(f) = ti {
                        if let Some(body) = &f.default {
                            push_fn(out, &f.sig, &f.attrs, body, &scope, true);
                        }
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    let mut module = scope.module.clone();
                    module.push(syntax::ident_text(&m.ident));
                    let scope = Scope {
                        self_ty: None,
                        trait_name: None,
                        in_test: scope.in_test || syntax::is_cfg_test(&m.attrs),
                        module,
                        public_path: scope.public_path
                            && matches!(m.vis, syn::Visibility::Public(_)),
                    };
                    collect_in(items, &scope, out);
                }
            }
            _ => {}
        }
    }
}

fn push_fn<'a>(
    out: &mut Vec<FnDef<'a>>,
    sig: &'a syn::Signature,
    attrs: &'a [syn::Attribute],
    body: &'a syn::Block,
    scope: &Scope,
    is_pub: bool,
) {
    out.push(FnDef {
        name: syntax::ident_text(&sig.ident),
        sig,
        attrs,
        body,
        self_ty: scope.self_ty.clone(),
        trait_name: scope.trait_name.clone(),
        is_pub: is_pub && scope.public_path,
        in_test_module: scope.in_test,
        module: scope.module.clone(),
        nested: false,
        generated_by: None,
    });
    // Functions nested in the body.
    let mut nested = NestedFns { out: Vec::new() };
    syn::visit::Visit::visit_block(&mut nested, body);
    for (sig, attrs, block) in nested.out {
        out.push(FnDef {
            name: syntax::ident_text(&sig.ident),
            sig,
            attrs,
            body: block,
            self_ty: None,
            trait_name: None,
            is_pub: false,
            in_test_module: scope.in_test,
            module: scope.module.clone(),
            nested: true,
            generated_by: None,
        });
    }
}

/// Every identifier of a token stream, groups included.
fn token_idents(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for tt in tokens {
        match tt {
            proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
            proc_macro2::TokenTree::Group(g) => token_idents(g.stream(), out),
            _ => {}
        }
    }
}

/// The functions nested in a body (not in nested impls or modules, which
/// `collect_fns` does not reach either: item-level code in a body is rare).
struct NestedFns<'a> {
    out: Vec<(&'a syn::Signature, &'a [syn::Attribute], &'a syn::Block)>,
}

impl<'a> syn::visit::Visit<'a> for NestedFns<'a> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.out.push((&f.sig, &f.attrs, &f.block));
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_item_impl(&mut self, _: &'a syn::ItemImpl) {}
    fn visit_item_mod(&mut self, _: &'a syn::ItemMod) {}
}

/// The last path segment of a type (`Foo` for `crate::a::Foo<T>`, `&Foo`).
pub fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => syntax::last_ident(&p.path),
        syn::Type::Reference(r) => type_name(&r.elem),
        syn::Type::Paren(p) => type_name(&p.elem),
        syn::Type::Group(g) => type_name(&g.elem),
        _ => None,
    }
}
