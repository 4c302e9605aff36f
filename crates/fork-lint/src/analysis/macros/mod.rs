//! Expansion of crate-local `macro_rules!` macros over `proc_macro2` tokens (SPEC §8.2).
//!
//! * [`MacroDef`]: a parsed definition (from a `syn::ItemMacro`, a `syn::Macro` whose
//!   path is `macro_rules`, or raw tokens);
//! * [`expand`]: one expansion step, definition + invocation tokens → tokens;
//! * [`MacroTable`]: the definitions in scope, by name (a later definition shadows an
//!   earlier one), and [`MacroTable::expand_call`] / [`expand_fully`], which also expand
//!   the calls of table macros inside the result and register the `macro_rules!` it
//!   defines, to a bounded depth;
//! * [`parse_expr`], [`parse_stmts`], [`parse_items`]: an expansion read back as syntax.
//!
//! **Matching** follows rustc's `macro_parser`: the first rule that matches wins; a
//! matcher is compiled to a flat program run as a set of positions advanced in
//! lock-step over the input (no backtracking, so no exponential case); a fragment is
//! parsed by `syn` from the current token for as long as its parser goes
//! (`expr` by `syn::Expr`, `ty` by `syn::Type`, …), after rustc's "may this token begin
//! that fragment" filter; two positions wanting different things at one token is an
//! ambiguity error, as in rustc.
//!
//! **Spans**: tokens written in the definition keep the definition's spans, substituted
//! fragments keep the invocation's. Fragments other than `ident`, `lifetime` and `tt`
//! are inserted as invisible groups (`Delimiter::None`), so `$e * 2` keeps `$e`'s
//! precedence. `$crate` becomes the identifier `crate` with the span of the `crate`
//! token of the definition: for a crate-local macro that is the path root it names.
//!
//! **Hygiene** (enough for name resolution by the analyses): an identifier that the
//! transcriber itself binds with `let` (`let x = …`, `if let Some(x) = …`, written in
//! the definition, lowercase) is renamed in every definition-side use to
//! `x__fl_hyg<N>`, `N` unique per expansion within a table; so it can neither capture
//! nor be captured by an `x` of the invocation. Item names, paths, fields and methods
//! are left alone (they resolve as after expansion). [`original_name`] strips the mark
//! for messages. Closure parameters, `for` and `match` bindings are not renamed.
//!
//! **Limits** ([`Limits`]): expansion depth, tokens produced, matcher work, delimiter
//! nesting produced by macros. Any failure is an [`ExpandError`], never a panic.

mod definition;
mod matcher;
mod transcriber;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;
use std::rc::Rc;

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::visit::Visit;

use definition::{Rule, is_punct, nesting, parse_rules};
use matcher::{Input, match_rule};
use transcriber::{HYGIENE_MARK, transcribe};

/// Why an expansion was not produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// The `macro_rules!` body is not a valid list of rules.
    BadDefinition(String),
    /// [`MacroTable::expand_call`] on a name the table does not have.
    NotFound(String),
    /// No rule of the macro matches the invocation.
    NoMatch(String),
    /// Two matcher positions want different things at one token (rustc's "local
    /// ambiguity"), or the input matches in two ways.
    Ambiguous,
    /// A transcriber's repetitions do not fit the bindings.
    Transcription(String),
    /// More than [`Limits::max_depth`] nested expansions.
    RecursionLimit,
    /// More than [`Limits::max_tokens`] tokens produced.
    OutputLimit,
    /// More than [`Limits::max_work`] matcher steps and tokens handed to `syn`.
    WorkLimit,
    /// Macro-produced delimiters nested deeper than [`Limits::max_nesting`].
    NestingLimit,
    /// The expansion does not parse as the syntax asked for.
    Parse(String),
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::BadDefinition(m) => write!(f, "invalid macro definition: {m}"),
            ExpandError::NotFound(name) => write!(f, "no macro `{name}!` in scope"),
            ExpandError::NoMatch(name) => write!(f, "no rule of `{name}!` matches"),
            ExpandError::Ambiguous => write!(f, "ambiguous macro invocation"),
            ExpandError::Transcription(m) => write!(f, "transcription failed: {m}"),
            ExpandError::RecursionLimit => write!(f, "macro recursion limit reached"),
            ExpandError::OutputLimit => write!(f, "macro expansion too large"),
            ExpandError::WorkLimit => write!(f, "macro matching took too long"),
            ExpandError::NestingLimit => write!(f, "macro expansion nested too deep"),
            ExpandError::Parse(m) => write!(f, "expansion does not parse: {m}"),
        }
    }
}

impl std::error::Error for ExpandError {}

/// Bounds on one expansion (with everything it expands in turn).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Nested expansions (rustc's default `recursion_limit` is 128; real macros stay far
    /// below, tt-munchers go one level per munched item).
    pub(crate) max_depth: usize,
    /// Tokens produced by all transcriptions (a group counts 2).
    pub(crate) max_tokens: usize,
    /// Matcher positions processed plus tokens handed to `syn` fragment parsers.
    pub(crate) max_work: usize,
    /// Delimiters nested by macro output, counted from the outermost expansion.
    pub(crate) max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 64,
            max_tokens: 100_000,
            max_work: 1_000_000,
            max_nesting: 128,
        }
    }
}

/// What one expansion (with its nested ones) may still spend.
pub(crate) struct Budget {
    work: usize,
    tokens: usize,
    limits: Limits,
    /// The number of the latest expansion, for hygienic names.
    expansions: usize,
}

impl Budget {
    fn new(limits: Limits, expansions: usize) -> Budget {
        Budget {
            work: limits.max_work,
            tokens: limits.max_tokens,
            limits,
            expansions,
        }
    }

    fn spend(&mut self, n: usize) -> Result<(), ExpandError> {
        self.work = self.work.checked_sub(n).ok_or(ExpandError::WorkLimit)?;
        Ok(())
    }

    fn emit(&mut self, n: usize) -> Result<(), ExpandError> {
        self.tokens = self.tokens.checked_sub(n).ok_or(ExpandError::OutputLimit)?;
        Ok(())
    }
}

/// A `macro_rules!` definition.
#[derive(Debug)]
pub(crate) struct MacroDef {
    name: Ident,
    span: Span,
    exported: bool,
    rules: Rc<Vec<Rule>>,
    /// The definition's body, for [`MacroDef::vocabulary`].
    body: TokenStream,
    vocabulary: Rc<std::cell::OnceCell<Vocabulary>>,
    /// Where the definition starts and the byte range it is visible in (its block or
    /// module), for [`MacroTable::visible_at`]; `None` for definitions made by hand or
    /// by expansions.
    position: Option<(usize, Range<usize>)>,
}

impl MacroDef {
    /// From a `macro_rules! name { … }` item (in a module or a block). `None` when the
    /// item is another macro call.
    pub(crate) fn from_item_macro(item: &syn::ItemMacro) -> Option<Result<MacroDef, ExpandError>> {
        let name = item.ident.as_ref()?;
        if !item.mac.path.is_ident("macro_rules") {
            return None;
        }
        let exported = item.attrs.iter().any(|a| a.path().is_ident("macro_export"));
        Some(MacroDef::new(
            name.clone(),
            item.mac.tokens.clone(),
            macro_span(&item.mac),
            exported,
        ))
    }

    /// From a `syn::Macro` whose path is `macro_rules` and whose tokens are
    /// `name { rules }` (how a definition reads when only the macro call is at hand).
    #[allow(dead_code)] // the tests and the fuzz target use it
    pub(crate) fn from_macro(mac: &syn::Macro) -> Option<Result<MacroDef, ExpandError>> {
        if !mac.path.is_ident("macro_rules") {
            return None;
        }
        let mut tts = mac.tokens.clone().into_iter();
        let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(body)), None) =
            (tts.next(), tts.next(), tts.next())
        else {
            return Some(Err(ExpandError::BadDefinition(
                "expected `name { rules }`".to_owned(),
            )));
        };
        Some(MacroDef::new(name, body.stream(), macro_span(mac), false))
    }

    /// From the parts of `macro_rules! name { body }`; `span` covers the definition.
    pub(crate) fn new(
        name: Ident,
        body: TokenStream,
        span: Span,
        exported: bool,
    ) -> Result<MacroDef, ExpandError> {
        Ok(MacroDef {
            name,
            span,
            exported,
            rules: Rc::new(parse_rules(body.clone())?),
            body,
            vocabulary: Rc::default(),
            position: None,
        })
    }

    /// The macro's name, with the span of the name in the definition.
    #[allow(dead_code)] // the tests and the fuzz target use it
    pub(crate) fn name(&self) -> &Ident {
        &self.name
    }

    /// The span of the definition, `macro_rules` to the end of its body.
    pub(crate) fn span(&self) -> Span {
        self.span
    }

    /// The same definition for another file's table: visible there wherever it is
    /// called (its textual scope belongs to the file that defines it).
    pub(crate) fn imported(&self) -> MacroDef {
        MacroDef {
            name: self.name.clone(),
            span: self.span,
            exported: self.exported,
            rules: Rc::clone(&self.rules),
            body: self.body.clone(),
            vocabulary: Rc::clone(&self.vocabulary),
            position: None,
        }
    }

    /// The identifiers its rules write and the macros they call: besides the
    /// invocation's own tokens, the only words an expansion can contain.
    pub(crate) fn vocabulary(&self) -> &Vocabulary {
        self.vocabulary.get_or_init(|| {
            let mut v = Vocabulary::default();
            v.add(self.body.clone());
            v
        })
    }

    /// Whether it was read from a file (not imported or made by an expansion).
    pub(crate) fn has_position(&self) -> bool {
        self.position.is_some()
    }

    /// Whether it is `#[macro_export]`ed (visible crate-wide).
    #[allow(dead_code)] // the tests and the fuzz target use it
    pub(crate) fn is_exported(&self) -> bool {
        self.exported
    }
}

/// What [`MacroDef::vocabulary`] gives.
#[derive(Debug, Default)]
pub(crate) struct Vocabulary {
    /// Every identifier (keywords included).
    pub(crate) words: std::collections::HashSet<String>,
    /// The names of the macros called (`name!`), in order, without repeats.
    pub(crate) calls: Vec<String>,
}

impl Vocabulary {
    /// Adds the identifiers and macro calls of `tokens`.
    pub(crate) fn add(&mut self, tokens: TokenStream) {
        let mut last_ident: Option<String> = None;
        for tt in tokens {
            match tt {
                TokenTree::Ident(i) => {
                    let text = i.to_string();
                    self.words.insert(text.clone());
                    last_ident = Some(text);
                    continue;
                }
                TokenTree::Punct(p) if p.as_char() == '!' => {
                    if let Some(name) = last_ident.take() {
                        if !self.calls.contains(&name) {
                            self.calls.push(name);
                        }
                    }
                }
                TokenTree::Group(g) => self.add(g.stream()),
                TokenTree::Punct(_) | TokenTree::Literal(_) => {}
            }
            last_ident = None;
        }
    }
}

fn macro_span(mac: &syn::Macro) -> Span {
    let start = mac
        .path
        .segments
        .first()
        .map_or_else(Span::call_site, |s| s.ident.span());
    let end = mac.delimiter.span().join();
    start.join(end).unwrap_or(start)
}

/// The result of [`MacroTable::expand_call`].
#[derive(Clone, Debug)]
pub(crate) struct Expansion {
    /// The expansion, with the table's macros called inside it expanded too.
    pub(crate) tokens: TokenStream,
    /// The invocation: its path to its closing delimiter.
    pub(crate) call_site: Span,
    /// The definition of the macro invoked.
    pub(crate) def: Rc<MacroDef>,
    /// Every expansion done, outermost first (the invocation itself is the first).
    #[allow(dead_code)] // the tests and the fuzz target use it
    pub(crate) steps: Vec<Step>,
}

/// One macro expanded while expanding an invocation.
#[derive(Clone, Debug)]
#[allow(dead_code)] // the tests and the fuzz target read every field
pub(crate) struct Step {
    #[allow(dead_code)] // the tests and the fuzz target use it
    pub(crate) name: String,
    /// The span of the invoked macro's name at this call (inside another macro's
    /// definition or argument for nested calls).
    pub(crate) call_site: Span,
    pub(crate) def_site: Span,
    /// 0 for the outermost call.
    pub(crate) depth: usize,
}

/// The `macro_rules!` definitions in scope, in textual order: a later definition of a
/// name shadows an earlier one.
#[derive(Clone, Debug, Default)]
pub(crate) struct MacroTable {
    defs: Vec<Rc<MacroDef>>,
    expansions: usize,
}

impl MacroTable {
    pub(crate) fn new() -> MacroTable {
        MacroTable::default()
    }

    /// Every `macro_rules!` of `file` (modules, function bodies, any depth), in textual
    /// order, each remembering where it is visible (see [`MacroTable::visible_at`]).
    /// Definitions that do not parse are left out.
    pub(crate) fn from_file(file: &syn::File) -> MacroTable {
        struct Collect {
            table: MacroTable,
            scopes: Vec<Range<usize>>,
        }
        impl<'ast> Visit<'ast> for Collect {
            fn visit_block(&mut self, block: &'ast syn::Block) {
                self.scopes.push(block.brace_token.span.join().byte_range());
                syn::visit::visit_block(self, block);
                self.scopes.pop();
            }
            fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
                let macro_use = item.attrs.iter().any(|a| a.path().is_ident("macro_use"));
                match &item.content {
                    Some((brace, _)) if !macro_use => {
                        self.scopes.push(brace.span.join().byte_range());
                        syn::visit::visit_item_mod(self, item);
                        self.scopes.pop();
                    }
                    _ => syn::visit::visit_item_mod(self, item),
                }
            }
            fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
                if let Some(Ok(mut def)) = MacroDef::from_item_macro(item) {
                    let start = def.span.byte_range().start;
                    let scope = self.scopes.last().cloned().unwrap_or(0..usize::MAX);
                    def.position = Some((start, scope));
                    self.table.define(def);
                }
            }
        }
        let mut collect = Collect {
            table: MacroTable::new(),
            scopes: Vec::new(),
        };
        collect.visit_file(file);
        collect.table
    }

    /// Adds `def`, shadowing earlier definitions of its name.
    pub(crate) fn define(&mut self, def: MacroDef) -> Rc<MacroDef> {
        let def = Rc::new(def);
        self.defs.push(Rc::clone(&def));
        def
    }

    /// The latest definition of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Rc<MacroDef>> {
        self.defs.iter().rev().find(|d| d.name == name)
    }

    /// The definition of `name` a call at byte `offset` of the file sees: the latest
    /// one defined before it in an enclosing block or module (rustc's textual scope),
    /// else an exported one, else one defined by hand or by an expansion.
    pub(crate) fn visible_at(&self, name: &str, offset: usize) -> Option<&Rc<MacroDef>> {
        let mut named = self.defs.iter().rev().filter(|d| d.name == name);
        let textual = named.clone().find(|d| match &d.position {
            Some((start, scope)) => *start < offset && scope.contains(&offset),
            None => false,
        });
        textual.or_else(|| named.find(|d| d.exported || d.position.is_none()))
    }

    #[allow(dead_code)] // the tests and the fuzz target use it
    pub(crate) fn len(&self) -> usize {
        self.defs.len()
    }

    #[allow(dead_code)] // the tests and the fuzz target use it
    pub(crate) fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// Expands the call `mac` (statement, expression or item position alike) with the
    /// definition visible at it, and the table's macros called in the result, to
    /// `limits`. The `macro_rules!` the expansion defines are added to the table (so a
    /// `make_logger!()` statement defines `debug!` for the statements after it; clone
    /// the table to keep it as it was).
    pub(crate) fn expand_call(
        &mut self,
        mac: &syn::Macro,
        limits: &Limits,
    ) -> Result<Expansion, ExpandError> {
        let call_site = macro_span(mac);
        let name = local_macro_name(&mac.path)
            .ok_or_else(|| ExpandError::NotFound(path_text(&mac.path)))?;
        let def = self
            .visible_at(&name, call_site.byte_range().start)
            .cloned()
            .ok_or(ExpandError::NotFound(name))?;
        let mut budget = Budget::new(*limits, self.expansions);
        let mut steps = Vec::new();
        let result = self.expand_invocation_at(
            &def,
            mac.tokens.clone(),
            call_site,
            0,
            0,
            &mut budget,
            &mut steps,
        );
        self.expansions = budget.expansions;
        Ok(Expansion {
            tokens: result?,
            call_site,
            def,
            steps,
        })
    }

    /// Expands the calls of table macros in `stream`, registering its `macro_rules!`
    /// definitions as they come. `depth` is the expansion depth (0: the caller's own
    /// tokens), `level` the delimiter nesting within macro output.
    fn expand_stream(
        &mut self,
        stream: TokenStream,
        depth: usize,
        level: usize,
        budget: &mut Budget,
        steps: &mut Vec<Step>,
    ) -> Result<TokenStream, ExpandError> {
        if depth > 0 && level > budget.limits.max_nesting {
            return Err(ExpandError::NestingLimit);
        }
        let tts: Vec<TokenTree> = stream.into_iter().collect();
        let mut out: Vec<TokenTree> = Vec::with_capacity(tts.len());
        let mut i = 0;
        while i < tts.len() {
            if let Some((name, body)) = definition_at(&tts, i) {
                let span = name_span(&tts[i]).join(body.span()).unwrap_or(name.span());
                if let Ok(def) = MacroDef::new(
                    name,
                    body.stream(),
                    span,
                    has_attribute(&out, "macro_export"),
                ) {
                    self.define(def);
                }
                // The definition stays in the output as written.
                out.extend(tts[i..i + 4].iter().cloned());
                i += 4;
                continue;
            }
            if let Some((ident, args)) = call_at(&tts, i) {
                let prefix = local_path_prefix(&out);
                let def = prefix.and_then(|_| self.get(&ident.to_string()).cloned());
                if let (Some(prefix), Some(def)) = (prefix, def) {
                    out.truncate(out.len() - prefix);
                    let span = ident.span().join(args.span()).unwrap_or(ident.span());
                    let splice = statement_start(&out)
                        && (args.delimiter() == Delimiter::Brace
                            || i + 3 >= tts.len()
                            || is_punct(tts.get(i + 3), ';'));
                    let inner_level = if depth == 0 || splice {
                        level
                    } else {
                        level + 1
                    };
                    let expanded = self.expand_invocation_at(
                        &def,
                        args.stream(),
                        span,
                        depth,
                        inner_level,
                        budget,
                        steps,
                    )?;
                    i += 3;
                    if splice {
                        // `m!(…);` whose expansion already ends as an item or statement
                        // (`fn …{}`, `{…}`, `…;`, nothing) loses its `;`, which would be a
                        // stray token among items.
                        let last = expanded.clone().into_iter().last();
                        let terminated = match &last {
                            None => true,
                            Some(TokenTree::Group(g)) => g.delimiter() == Delimiter::Brace,
                            Some(TokenTree::Punct(p)) => p.as_char() == ';',
                            Some(_) => false,
                        };
                        if terminated && is_punct(tts.get(i), ';') {
                            i += 1;
                        }
                        out.extend(expanded);
                    } else {
                        let mut group = Group::new(Delimiter::None, expanded);
                        group.set_span(span);
                        out.push(group.into());
                    }
                    continue;
                }
            }
            match &tts[i] {
                TokenTree::Group(g) => {
                    // A block's definitions end with it (rustc's textual scope).
                    let mark = self.defs.len();
                    let inner_level = if depth == 0 { 0 } else { level + 1 };
                    let inner = self.expand_stream(g.stream(), depth, inner_level, budget, steps);
                    self.defs.truncate(mark);
                    let mut group = Group::new(g.delimiter(), inner?);
                    group.set_span(g.span());
                    out.push(group.into());
                }
                tt => out.push(tt.clone()),
            }
            i += 1;
        }
        Ok(out.into_iter().collect())
    }

    /// Matches and transcribes one call of `def`, then expands the table's macros in
    /// the result (`level`: the delimiter nesting the result lands at).
    #[allow(clippy::too_many_arguments)]
    fn expand_invocation_at(
        &mut self,
        def: &Rc<MacroDef>,
        input: TokenStream,
        call_site: Span,
        depth: usize,
        level: usize,
        budget: &mut Budget,
        steps: &mut Vec<Step>,
    ) -> Result<TokenStream, ExpandError> {
        if depth >= budget.limits.max_depth {
            return Err(ExpandError::RecursionLimit);
        }
        steps.push(Step {
            name: def.name.to_string(),
            call_site,
            def_site: def.span,
            depth,
        });
        let raw = expand_def(def, input, depth, budget)?;
        self.expand_stream(raw, depth + 1, level, budget, steps)
    }
}

/// One expansion step: the first rule of `def` that matches `input`, transcribed.
/// Calls in the result are left as they are (see [`expand_fully`]).
#[allow(dead_code)] // the tests and the fuzz target use it
pub(crate) fn expand(def: &MacroDef, input: TokenStream) -> Result<TokenStream, ExpandError> {
    let mut budget = Budget::new(Limits::default(), 0);
    expand_def(def, input, 0, &mut budget)
}

/// Expands every call of a table macro in `tokens` (at any depth, and in what they
/// expand to), registering the `macro_rules!` definitions met on the way, within
/// `limits`. A call in statement or item position (after `;`, `}` or an attribute, or
/// first, and followed by `;`, the end or written with braces) is replaced by its
/// tokens; any other call by an invisible group of them, so that it stays one
/// expression. Calls of macros not in the table are left as written; `name!`, `crate::…::name!`,
/// `self::…` and `super::…` paths name table macros, other paths do not.
#[allow(dead_code)] // the tests and the fuzz target use it
pub(crate) fn expand_fully(
    table: &mut MacroTable,
    tokens: TokenStream,
    limits: &Limits,
) -> Result<TokenStream, ExpandError> {
    let mut budget = Budget::new(*limits, table.expansions);
    let mut steps = Vec::new();
    let result = table.expand_stream(tokens, 0, 0, &mut budget, &mut steps);
    table.expansions = budget.expansions;
    result
}

fn expand_def(
    def: &MacroDef,
    input: TokenStream,
    depth: usize,
    budget: &mut Budget,
) -> Result<TokenStream, ExpandError> {
    // The caller's own tokens were bounded by the file's nesting check; tokens made
    // by macros are bounded here, before the recursive matcher and `syn` see them.
    if depth > 0 && nesting(&input, budget.limits.max_nesting) > budget.limits.max_nesting {
        return Err(ExpandError::NestingLimit);
    }
    let input = Input::new(input);
    for rule in def.rules.iter() {
        if let Some(binds) = match_rule(rule, &input, budget)? {
            budget.expansions += 1;
            let number = budget.expansions;
            return transcribe(rule, &binds, number, budget);
        }
    }
    Err(ExpandError::NoMatch(def.name.to_string()))
}

/// `macro_rules ! name { body }` at `tts[i]`.
fn definition_at(tts: &[TokenTree], i: usize) -> Option<(Ident, Group)> {
    match (tts.get(i), tts.get(i + 2), tts.get(i + 3)) {
        (
            Some(TokenTree::Ident(kw)),
            Some(TokenTree::Ident(name)),
            Some(TokenTree::Group(body)),
        ) if kw == "macro_rules"
            && is_punct(tts.get(i + 1), '!')
            && body.delimiter() != Delimiter::None =>
        {
            Some((name.clone(), body.clone()))
        }
        _ => None,
    }
}

fn name_span(tt: &TokenTree) -> Span {
    tt.span()
}

/// `name ! (args)` at `tts[i]`.
fn call_at(tts: &[TokenTree], i: usize) -> Option<(&Ident, &Group)> {
    match (tts.get(i), tts.get(i + 2)) {
        (Some(TokenTree::Ident(name)), Some(TokenTree::Group(args)))
            if is_punct(tts.get(i + 1), '!') && args.delimiter() != Delimiter::None =>
        {
            Some((name, args))
        }
        _ => None,
    }
}

/// How many tokens at the end of `out` are the path before a macro name, when that
/// path names a crate-local macro: none, or `crate::`/`self::`/`super::`
/// segments. `None` for other paths (`log::debug!`) and method-like positions.
fn local_path_prefix(out: &[TokenTree]) -> Option<usize> {
    let mut len = out.len();
    let mut first = None;
    while len >= 3 && is_punct(out.get(len - 1), ':') && is_punct(out.get(len - 2), ':') {
        let Some(TokenTree::Ident(seg)) = out.get(len - 3) else {
            return None;
        };
        first = Some(seg.to_string());
        len -= 3;
    }
    let leading_colons =
        len >= 2 && is_punct(out.get(len - 1), ':') && is_punct(out.get(len - 2), ':');
    if leading_colons || len >= 1 && is_punct(out.get(len - 1), '.') {
        return None;
    }
    match first.as_deref() {
        None => Some(0),
        Some("crate" | "self" | "super") => Some(out.len() - len),
        Some(_) => None,
    }
}

/// Whether the next token starts a statement or an item.
fn statement_start(out: &[TokenTree]) -> bool {
    match out.last() {
        None => true,
        Some(TokenTree::Punct(p)) => p.as_char() == ';',
        Some(TokenTree::Group(g)) => match g.delimiter() {
            Delimiter::Brace => true,
            Delimiter::Bracket => out.len() >= 2 && is_punct(out.get(out.len() - 2), '#'),
            _ => false,
        },
        _ => false,
    }
}

/// Whether the attributes just before the end of `out` include `#[name …]`.
fn has_attribute(out: &[TokenTree], name: &str) -> bool {
    let mut end = out.len();
    while end >= 2 {
        let (Some(TokenTree::Group(g)), true) = (out.get(end - 1), is_punct(out.get(end - 2), '#'))
        else {
            return false;
        };
        if g.delimiter() != Delimiter::Bracket {
            return false;
        }
        if matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == name) {
            return true;
        }
        end -= 2;
    }
    false
}

/// The macro name of a path that names a crate-local macro: `name`, `crate::…::name`,
/// `self::…`, `super::…`, `$crate::name` as transcribed.
pub(crate) fn local_macro_name(path: &syn::Path) -> Option<String> {
    let last = path.segments.last()?;
    if path.segments.len() > 1 {
        let first = path.segments.first()?.ident.to_string();
        if path.leading_colon.is_some() || !matches!(first.as_str(), "crate" | "self" | "super") {
            return None;
        }
    }
    Some(last.ident.to_string())
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// The name an identifier had in the definition, without the hygiene mark.
#[allow(dead_code)] // the tests and the fuzz target use it
pub(crate) fn original_name(name: &str) -> &str {
    match name.find(HYGIENE_MARK) {
        Some(at) => &name[..at],
        None => name,
    }
}

/// An expansion read as one expression.
#[allow(dead_code)] // the tests and the fuzz target use it
pub(crate) fn parse_expr(tokens: TokenStream) -> Result<syn::Expr, ExpandError> {
    syn::parse2(tokens).map_err(|e| ExpandError::Parse(e.to_string()))
}

/// An expansion read as the statements of a block.
pub(crate) fn parse_stmts(tokens: TokenStream) -> Result<Vec<syn::Stmt>, ExpandError> {
    syn::Block::parse_within
        .parse2(tokens)
        .map_err(|e| ExpandError::Parse(e.to_string()))
}

/// An expansion read as items.
pub(crate) fn parse_items(tokens: TokenStream) -> Result<Vec<syn::Item>, ExpandError> {
    let parser = |input: ParseStream| {
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse()?);
        }
        Ok(items)
    };
    parser
        .parse2(tokens)
        .map_err(|e| ExpandError::Parse(e.to_string()))
}
