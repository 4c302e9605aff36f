//! Macro expansion for the analyses (SPEC §8.2): a crate-local `macro_rules!` invoked in
//! a function body (statement or expression) or at item level is expanded where the
//! analyses look (child regions, flow, fork points, calls), with the expander of
//! [`crate::analysis::macros`].
//!
//! * Only where asked: a body's macro is expanded the first time an analysis meets it,
//!   and only if the package defines a `macro_rules!` of that name (one word lookup per
//!   name and file); an item-level call only when a lookup could find something in
//!   its expansion (see [`ItemMacros`]).
//! * Where findings point: tokens the expansion takes from the macro's definition are
//!   given the invocation's span, tokens of the invocation keep theirs; so every span of
//!   an expansion is in the invoking file, and a finding inside a `die!(..)` points at the
//!   call in the user's code. The walk labels the definition ("in this expansion of
//!   `die!`").
//! * Bounded and safe: the expander's limits; a macro that does not match, or whose
//!   expansion does not parse, is left unexpanded (the analyses stay silent there).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use proc_macro2::{Group, Span as SynSpan, TokenStream, TokenTree};

use super::super::macros::{self, Limits, MacroTable};
use super::file::FnDef;
use super::{FileCx, PackageCx};
use crate::diagnostic::Span;

/// Where [`FileCx::flow_expander`] hands an expansion's statements.
pub type StmtsSink<'s> = dyn FnMut(&[syn::Stmt]) + 's;

/// A macro call, expanded.
pub struct Expanded {
    /// The macro's name.
    pub name: String,
    /// The expansion as statements (an expression is one statement).
    pub block: syn::Block,
    /// Where the definition is, for the label.
    pub def: Span,
}

/// A file's macros: its table (its own definitions, and those of the package it calls),
/// and the expansions made so far.
#[derive(Default)]
pub struct FileMacros<'a> {
    table: RefCell<Option<MacroTable>>,
    /// Macro name → whether the package defines a `macro_rules!` of that name.
    defined: RefCell<HashMap<String, bool>>,
    /// Macro name → the file of the definition, for names defined in another file.
    def_files: RefCell<HashMap<String, &'a FileCx<'a>>>,
    /// The expansion of each call, by the call's position.
    cache: RefCell<HashMap<CallKey, Option<&'a Expanded>>>,
    arena: typed_arena::Arena<Expanded>,
}

/// A call: its place (start and end line and column) and a hash of its tokens. The
/// place alone is not enough: calls written in a macro's definition all have the span
/// of the call that expanded it.
type CallKey = (usize, usize, usize, usize, u64);

fn key(mac: &syn::Macro) -> CallKey {
    use std::hash::{Hash, Hasher};
    let span = syn::spanned::Spanned::span(mac);
    let (s, e) = (span.start(), span.end());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    quote::ToTokens::to_token_stream(mac)
        .to_string()
        .hash(&mut h);
    (s.line, s.column, e.line, e.column, h.finish())
}

impl<'a> FileCx<'a> {
    /// The expansion of a macro call written in this file, if it names a `macro_rules!`
    /// of the package and expands to statements (computed once per call).
    pub fn expansion(&'a self, cx: &'a PackageCx<'a>, mac: &syn::Macro) -> Option<&'a Expanded> {
        let name = macros::local_macro_name(&mac.path).or_else(|| library_macro_name(cx, mac))?;
        if !self.macro_defined(cx, &name) {
            return None;
        }
        let at = key(mac);
        if let Some(known) = self.macros.cache.borrow().get(&at) {
            return *known;
        }
        let expanded =
            if mac.path.segments.len() > 1 && macros::local_macro_name(&mac.path).is_none() {
                // `mylib::die!(..)`: expanded as the `die!` it names.
                let mut local = mac.clone();
                let last = mac.path.segments.last()?.clone();
                local.path = syn::Path::from(last);
                self.expand_now(cx, &name, &local)
            } else {
                self.expand_now(cx, &name, mac)
            };
        self.macros.cache.borrow_mut().insert(at, expanded);
        expanded
    }

    /// The expansions of this file's macro calls, as [`crate::analysis::flow::Flow`]
    /// takes them.
    pub fn flow_expander(
        &'a self,
        cx: &'a PackageCx<'a>,
    ) -> impl Fn(&syn::Macro, &mut StmtsSink<'_>) + 'a {
        move |m, k| {
            if let Some(x) = self.expansion(cx, m) {
                k(&x.block.stmts);
            }
        }
    }

    /// Whether the package defines a `macro_rules!` named `name` that this file can see
    /// (its crates).
    fn macro_defined(&'a self, cx: &'a PackageCx<'a>, name: &str) -> bool {
        if let Some(&known) = self.macros.defined.borrow().get(name) {
            return known;
        }
        let mut files = cx.files_defining(self, name, &["macro_rules!"]);
        if files.is_empty() {
            // `make_logger!($ info, 2)` defines `info!`.
            files.extend(cx.generated_macro(self, name).map(|(_, f)| f));
        }
        if files.is_empty() && !self.place.crates.iter().any(|c| c == "lib") {
            // A binary calling its package library's `#[macro_export]`ed macro
            // (`mylib::die!(..)`, or `die!` after `use mylib::die`).
            files.extend(
                cx.files_defining_in(&["lib"], name, &["macro_rules!"])
                    .into_iter()
                    .filter(|f| {
                        MacroTable::from_file(f.ast)
                            .get(name)
                            .is_some_and(|d| d.is_exported())
                    }),
            );
        }
        for f in &files {
            if !std::ptr::eq(*f, self) {
                self.macros
                    .def_files
                    .borrow_mut()
                    .insert(name.to_string(), *f);
            }
        }
        let known = !files.is_empty();
        self.macros
            .defined
            .borrow_mut()
            .insert(name.to_string(), known);
        known
    }

    /// Records that the call at `call_site` was expanded (see
    /// [`PackageCx::inside_expanded_call`]).
    fn mark_expanded(&self, cx: &PackageCx<'_>, call_site: SynSpan) {
        let at = self.span(call_site);
        cx.expanded_calls.borrow_mut().insert((
            Arc::as_ptr(&at.file) as usize,
            at.start.offset,
            at.end.offset,
        ));
    }

    fn expand_now(
        &'a self,
        cx: &'a PackageCx<'a>,
        name: &str,
        mac: &syn::Macro,
    ) -> Option<&'a Expanded> {
        let mut table = self.macros.table.borrow_mut();
        let table = table.get_or_insert_with(|| MacroTable::from_file(self.ast));
        let def_file = self.macros.def_files.borrow().get(name).copied();
        if table.get(name).is_none() {
            // Defined in another file of the crate (`#[macro_use] mod macros;`, or
            // `#[macro_export]`): visible here wherever it is called. Or defined by
            // another macro.
            let theirs = def_file.map(|other| MacroTable::from_file(other.ast));
            match theirs.as_ref().and_then(|t| t.get(name)) {
                Some(def) => table.define(def.imported()),
                None => table.define(cx.generated_macro(self, name)?.0.imported()),
            };
        }
        let expansion = table.expand_call(mac, &Limits::default()).ok()?;
        let def_span = match def_file {
            Some(other) if table_is_imported(table, name) => other.span(expansion.def.span()),
            _ => self.span(expansion.def.span()),
        };
        let call_site = expansion.call_site;
        let tokens = respan(expansion.tokens, call_site);
        let stmts = macros::parse_stmts(tokens).ok()?;
        self.mark_expanded(cx, call_site);
        Some(self.macros.arena.alloc(Expanded {
            name: name.to_string(),
            block: syn::Block {
                brace_token: syn::token::Brace(call_site),
                stmts,
            },
            def: def_span,
        }))
    }
}

/// Macros defined by the package's macros: name → the definition and the file of the
/// call that made it.
pub type Generated<'a> = HashMap<String, (std::rc::Rc<macros::MacroDef>, &'a FileCx<'a>)>;

impl<'a> PackageCx<'a> {
    /// A `macro_rules!` that one of the package's macros defines (a logger macro
    /// stamping out `debug!`/`info!`: `make_logger!($ info, 2)`), visible from `from`'s
    /// crates. Found once per crate set, in the files that write a definition inside a
    /// definition (`macro_rules! $name`), by expanding their item-level calls in order.
    pub fn generated_macro(
        &self,
        from: &FileCx<'_>,
        name: &str,
    ) -> Option<(std::rc::Rc<macros::MacroDef>, &'a FileCx<'a>)> {
        let key = from.place.crates.join(" ");
        let known = self.generated_macros.borrow().get(&key).cloned();
        let all = match known {
            Some(all) => all,
            None => {
                let all = std::rc::Rc::new(self.generate_macros(from));
                self.generated_macros.borrow_mut().insert(key, all.clone());
                all
            }
        };
        all.get(name).cloned()
    }

    fn generate_macros(&self, from: &FileCx<'_>) -> Generated<'a> {
        let mut out = Generated::new();
        // Only files that write a definition inside a definition are parsed for this.
        for file in self.files_containing(from, "macro_rules", "macro_rules! $") {
            let mut calls = Vec::new();
            item_macro_calls(&file.ast.items, &mut calls);
            let mut table = MacroTable::from_file(file.ast);
            for mac in calls {
                let Ok(expansion) = table.expand_call(mac, &Limits::default()) else {
                    continue;
                };
                let Ok(items) = macros::parse_items(expansion.tokens) else {
                    continue;
                };
                for item in &items {
                    let syn::Item::Macro(m) = item else { continue };
                    let Some(Ok(def)) = macros::MacroDef::from_item_macro(m) else {
                        continue;
                    };
                    let def = table.define(def);
                    out.insert(def.name().to_string(), (def, file));
                }
            }
        }
        out
    }
}

/// The macro calls written where items go (module level, inline modules included),
/// other than `macro_rules!` definitions.
pub(super) fn item_macro_calls<'a>(items: &'a [syn::Item], out: &mut Vec<&'a syn::Macro>) {
    for item in items {
        match item {
            syn::Item::Macro(m) if m.ident.is_none() && !m.mac.path.is_ident("macro_rules") => {
                out.push(&m.mac);
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    item_macro_calls(items, out);
                }
            }
            _ => {}
        }
    }
}

/// `mylib::die` where `mylib` is the package's library: the macro's name.
fn library_macro_name(cx: &PackageCx<'_>, mac: &syn::Macro) -> Option<String> {
    let path = &mac.path;
    let [first, last] = [path.segments.first()?, path.segments.last()?];
    (path.segments.len() == 2 && cx.library_named(&first.ident.to_string()))
        .then(|| last.ident.to_string())
}

/// Whether the table's definition of `name` came from another file.
fn table_is_imported(table: &MacroTable, name: &str) -> bool {
    table.get(name).is_some_and(|d| !d.has_position())
}

/// Gives every token that does not come from the invocation (its own text) the
/// invocation's span: so every span of the expansion is in the invoking file.
pub fn respan(tokens: TokenStream, call_site: SynSpan) -> TokenStream {
    let range = call_site.byte_range();
    let inside = |span: SynSpan| {
        let r = span.byte_range();
        call_site.join(span).is_some() && r.start >= range.start && r.end <= range.end
    };
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => {
                let mut out = Group::new(g.delimiter(), respan(g.stream(), call_site));
                out.set_span(if inside(g.span()) {
                    g.span()
                } else {
                    call_site
                });
                TokenTree::Group(out)
            }
            mut other => {
                if !inside(other.span()) {
                    other.set_span(call_site);
                }
                other
            }
        })
        .collect()
}

/// A file's item-level macro calls (`fork_test!(name)` at module level) and the
/// functions they generate, expanded on demand: a lookup expands only the calls whose
/// tokens or macro definitions write the word it looks for (a generated function can
/// contain no other), so files parsed to answer one lookup (a callee, a caller) do not
/// pay for expanding all their macros.
#[derive(Default)]
pub struct ItemMacros<'a> {
    calls: Vec<&'a syn::Macro>,
    state: RefCell<ItemState<'a>>,
    arena: typed_arena::Arena<Vec<FnDef<'a>>>,
}

#[derive(Default)]
struct ItemState<'a> {
    /// The file's definitions, those imported for its calls, and those its expansions
    /// made.
    table: Option<MacroTable>,
    /// Per call: what it can write, once known.
    reach: Vec<Option<Reach>>,
    /// Per call: its functions, once expanded (empty when it could not be).
    fns: Vec<Option<&'a [FnDef<'a>]>>,
}

/// The words a call's expansion can contain.
enum Reach {
    /// Not a macro of the package: never expanded.
    Unknown,
    /// Its tokens' words and its macros' (transitively).
    Words(std::collections::HashSet<String>),
    /// It defines macros (later calls may use them): expanded before any later call.
    Everything,
}

impl<'a> ItemMacros<'a> {
    pub(super) fn new(ast: &'a syn::File) -> ItemMacros<'a> {
        let mut calls = Vec::new();
        item_macro_calls(&ast.items, &mut calls);
        ItemMacros {
            calls,
            ..ItemMacros::default()
        }
    }
}

impl<'a> FileCx<'a> {
    /// The functions generated by this file's item-level macro calls that can mention
    /// one of `words` (in their names or bodies); `None` for every word: all of them.
    pub fn generated_fns(
        &'a self,
        cx: &PackageCx<'a>,
        words: Option<&[&str]>,
    ) -> Vec<&'a FnDef<'a>> {
        let items = &self.items;
        if items.calls.is_empty() {
            return Vec::new();
        }
        // Re-entered while expanding (a lookup made for an expansion): nothing yet.
        let Ok(mut state) = items.state.try_borrow_mut() else {
            return Vec::new();
        };
        let state = &mut *state;
        if state.table.is_none() {
            state.table = Some(MacroTable::from_file(self.ast));
            state.reach = items.calls.iter().map(|_| None).collect();
            state.fns = items.calls.iter().map(|_| None).collect();
        }
        let mut out = Vec::new();
        for (i, mac) in items.calls.iter().enumerate() {
            if state.reach[i].is_none() {
                let table = state.table.as_mut().expect("set above");
                state.reach[i] = Some(self.reach(cx, table, mac));
            }
            let wanted = match state.reach[i].as_ref().expect("set above") {
                Reach::Unknown => false,
                Reach::Everything => true,
                Reach::Words(set) => words.is_none_or(|ws| ws.iter().any(|w| set.contains(*w))),
            };
            if !wanted {
                continue;
            }
            if state.fns[i].is_none() {
                let table = state.table.as_mut().expect("set above");
                let fns = self.expand_item_call(cx, table, mac);
                state.fns[i] = Some(items.arena.alloc(fns));
            }
            out.extend(state.fns[i].expect("set above"));
        }
        out
    }

    /// The functions in which fork points and processes are looked for: the file's
    /// own, and those generated by item macro calls that write a word the prefilter
    /// looks for, a configured fork point, a name the package gives a fork function,
    /// or a name the file imports from such a path (`use forkrt::Process;`). The
    /// prefilter's reasoning, applied to each call: a generated function can only
    /// reach a fork function or runtime through one of these words.
    pub fn scanned_fns(&'a self, cx: &PackageCx<'a>) -> Vec<&'a FnDef<'a>> {
        let mut out: Vec<&'a FnDef<'a>> = self.fns.iter().collect();
        if self.items.calls.is_empty() {
            return out;
        }
        let mut words: Vec<String> = crate::PREFILTER_WORDS
            .iter()
            .map(|w| w.to_string())
            .collect();
        words.extend(
            cx.options
                .extra_fork_points
                .iter()
                .filter_map(|p| p.rsplit("::").next())
                .map(|w| w.trim().to_string()),
        );
        let fork_points = &cx.options.extra_fork_points;
        words.extend(
            cx.package_aliases()
                .iter()
                .filter(|(_, targets)| {
                    crate::analysis::catalog::fork_fn(targets, fork_points).is_some()
                })
                .map(|(name, _)| name.clone()),
        );
        let from_words = |canon: &[String]| {
            canon
                .iter()
                .any(|seg| crate::PREFILTER_WORDS.contains(&seg.as_str()))
        };
        match self.resolver.names_importing(from_words) {
            Some(names) => {
                words.extend(names);
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                out.extend(self.generated_fns(cx, Some(&words)));
            }
            None => out.extend(self.generated_fns(cx, None)),
        }
        out
    }

    /// What `mac`'s expansion can write. Its macro's definition is imported into
    /// `table` from the file of the crate that has it, if it is not the file's own.
    fn reach(&self, cx: &PackageCx<'a>, table: &mut MacroTable, mac: &syn::Macro) -> Reach {
        let Some(name) = macros::local_macro_name(&mac.path) else {
            return Reach::Unknown;
        };
        if table.get(&name).is_none() {
            let keys: Vec<&str> = self.place.crates.iter().map(String::as_str).collect();
            let found = cx
                .files_defining_in(&keys, &name, &["macro_rules!"])
                .into_iter()
                .find_map(|f| {
                    MacroTable::from_file(f.ast)
                        .get(&name)
                        .map(|d| d.imported())
                });
            match found {
                Some(def) => {
                    table.define(def);
                }
                None => return Reach::Unknown,
            }
        }
        let mut vocabulary = macros::Vocabulary::default();
        vocabulary.add(mac.tokens.clone());
        let mut words = vocabulary.words;
        if words.contains("macro_rules") {
            // A definition handed through the call (`wrap! { macro_rules! m { … } }`).
            return Reach::Everything;
        }
        let mut pending = vec![name];
        pending.extend(vocabulary.calls);
        let mut seen = Vec::new();
        while let Some(called) = pending.pop() {
            if seen.contains(&called) {
                continue;
            }
            let Some(def) = table.get(&called) else {
                continue;
            };
            let theirs = def.vocabulary();
            if theirs.words.contains("macro_rules") {
                return Reach::Everything;
            }
            words.extend(theirs.words.iter().cloned());
            pending.extend(theirs.calls.iter().cloned());
            seen.push(called);
        }
        Reach::Words(words)
    }

    /// The functions `mac` (an item-level call) expands to, parsed; none if it does not
    /// expand or its expansion does not parse as items.
    fn expand_item_call(
        &self,
        cx: &PackageCx<'a>,
        table: &mut MacroTable,
        mac: &syn::Macro,
    ) -> Vec<FnDef<'a>> {
        let Some(name) = macros::local_macro_name(&mac.path) else {
            return Vec::new();
        };
        let Ok(expansion) = table.expand_call(mac, &Limits::default()) else {
            return Vec::new();
        };
        let call_site = expansion.call_site;
        let tokens = respan(expansion.tokens, call_site);
        let Ok(items) = macros::parse_items(tokens) else {
            return Vec::new();
        };
        self.mark_expanded(cx, call_site);
        let mut file: syn::File = syn::parse_quote!();
        file.items = items;
        let file: &'a syn::File = cx.alloc_ast(file);
        let mut out = Vec::new();
        super::file::collect_fns(&file.items, &mut out);
        for f in &mut out {
            f.generated_by = Some(name.clone());
        }
        out
    }
}
