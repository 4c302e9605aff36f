//! Matching an invocation against one rule, the way rustc's `macro_parser` does: a set
//! of matcher positions advanced in lock-step over the input (no backtracking), where
//! a position waiting for a fragment may only be alone (otherwise the invocation is
//! ambiguous) and the fragment is parsed with `syn` from the current token, as long as
//! the fragment's parser goes.

use std::rc::Rc;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use syn::Token;
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseStream, Parser};

use super::definition::{FragKind, Loc, RepOp, Rule, is_keyword, unit_len, unit_text};
use super::{Budget, ExpandError};

/// What a metavariable matched: one fragment, or one entry per repetition.
#[derive(Clone, Debug)]
pub(crate) enum Binding {
    Unset,
    Frag(Rc<Fragment>),
    Seq(Vec<Binding>),
}

#[derive(Debug)]
pub(crate) struct Fragment {
    pub(crate) kind: FragKind,
    pub(crate) tokens: Vec<TokenTree>,
    /// Tokens at every depth, groups included: what substituting it costs.
    pub(crate) size: usize,
}

/// The invocation's tokens, flattened: a delimited group is `Open … Close` (an
/// invisible group stays one opaque leaf, like rustc's forwarded nonterminals).
pub(crate) struct Input {
    entries: Vec<Entry>,
}

enum Entry {
    Leaf {
        tt: TokenTree,
        /// The rustc token starting here: its text and how many leaves it spans.
        text: String,
        len: usize,
    },
    Open {
        group: Group,
        close: usize,
    },
    Close,
}

impl Input {
    pub(crate) fn new(stream: TokenStream) -> Input {
        let mut entries = Vec::new();
        flatten(stream, &mut entries);
        Input { entries }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn unit(&self, pos: usize) -> Option<(&str, usize)> {
        match self.entries.get(pos) {
            Some(Entry::Leaf { text, len, .. }) => Some((text, *len)),
            _ => None,
        }
    }

    /// The index after `count` token trees of the level at `pos`.
    fn skip(&self, mut pos: usize, count: usize) -> usize {
        for _ in 0..count {
            pos = match &self.entries[pos] {
                Entry::Open { close, .. } => close + 1,
                _ => pos + 1,
            };
        }
        pos
    }

    /// How many token trees of the level at `pos` come before its first `,`, `;` or
    /// `=>`, if it has one.
    fn cut(&self, mut pos: usize) -> Option<usize> {
        let mut count = 0;
        while let Some(entry) = self.entries.get(pos) {
            pos = match entry {
                Entry::Leaf { text, .. } if matches!(text.as_str(), "," | ";" | "=>") => {
                    return Some(count);
                }
                Entry::Leaf { .. } => pos + 1,
                Entry::Open { close, .. } => close + 1,
                Entry::Close => return None,
            };
            count += 1;
        }
        None
    }

    /// Up to `max` token trees from `pos` on in its level, and the number of
    /// flattened entries they hold (what handing them to `syn` costs).
    fn trees(&self, mut pos: usize, max: usize) -> (Vec<TokenTree>, usize) {
        let start = pos;
        let mut tts = Vec::new();
        while let Some(entry) = self.entries.get(pos) {
            if tts.len() == max {
                break;
            }
            match entry {
                Entry::Leaf { tt, .. } => {
                    tts.push(tt.clone());
                    pos += 1;
                }
                Entry::Open { group, close } => {
                    tts.push(TokenTree::Group(group.clone()));
                    pos = close + 1;
                }
                Entry::Close => break,
            }
        }
        (tts, pos - start)
    }
}

fn flatten(stream: TokenStream, out: &mut Vec<Entry>) {
    let tts: Vec<TokenTree> = stream.into_iter().collect();
    for (i, tt) in tts.iter().enumerate() {
        match tt {
            TokenTree::Group(g) if g.delimiter() != Delimiter::None => {
                let open = out.len();
                out.push(Entry::Open {
                    group: g.clone(),
                    close: 0,
                });
                flatten(g.stream(), out);
                let close = out.len();
                out.push(Entry::Close);
                if let Entry::Open { close: c, .. } = &mut out[open] {
                    *c = close;
                }
            }
            TokenTree::Group(_) => out.push(Entry::Leaf {
                tt: tt.clone(),
                // A forwarded fragment: no literal token of a matcher matches it.
                text: String::new(),
                len: 1,
            }),
            _ => {
                let len = unit_len(&tts, i);
                out.push(Entry::Leaf {
                    tt: tt.clone(),
                    text: unit_text(&tts, i, len),
                    len,
                });
            }
        }
    }
}

struct Item {
    idx: usize,
    binds: Rc<Vec<Binding>>,
}

impl Item {
    fn at(&self, idx: usize) -> Item {
        Item {
            idx,
            binds: Rc::clone(&self.binds),
        }
    }
}

/// Matches `input` against `rule`: the bindings, `Ok(None)` when the rule does not
/// match, an error when the match is ambiguous or over budget.
pub(crate) fn match_rule(
    rule: &Rule,
    input: &Input,
    budget: &mut Budget,
) -> Result<Option<Vec<Binding>>, ExpandError> {
    let program = &rule.program;
    let mut cur = vec![Item {
        idx: 0,
        binds: Rc::new(vec![Binding::Unset; rule.slot_count]),
    }];
    let mut pos = 0;
    loop {
        let mut next: Vec<Item> = Vec::new();
        let mut waiting: Vec<Item> = Vec::new();
        let mut done: Vec<Item> = Vec::new();
        let mut stack = std::mem::take(&mut cur);
        while let Some(mut item) = stack.pop() {
            budget.spend(1)?;
            match &program[item.idx] {
                Loc::Tok(text) => {
                    if input.unit(pos).is_some_and(|(t, _)| t == text) {
                        item.idx += 1;
                        next.push(item);
                    }
                }
                Loc::Open(delim) => {
                    if matches!(input.entries.get(pos), Some(Entry::Open { group, .. }) if group.delimiter() == *delim)
                    {
                        item.idx += 1;
                        next.push(item);
                    }
                }
                Loc::Close => {
                    if matches!(input.entries.get(pos), Some(Entry::Close)) {
                        item.idx += 1;
                        next.push(item);
                    }
                }
                Loc::SeqStart {
                    op,
                    after,
                    slots,
                    depth,
                } => {
                    let binds = Rc::make_mut(&mut item.binds);
                    for &slot in slots {
                        push(binds, slot, *depth, Binding::Seq(Vec::new()));
                    }
                    if *op != RepOp::OneOrMore {
                        stack.push(item.at(*after));
                    }
                    item.idx += 1;
                    stack.push(item);
                }
                Loc::SeqEnd {
                    op,
                    first,
                    after,
                    sep,
                } => {
                    stack.push(item.at(*after));
                    if *op != RepOp::ZeroOrOne {
                        match sep {
                            Some(sep) => {
                                if input.unit(pos).is_some_and(|(t, _)| t == sep) {
                                    next.push(item.at(*first));
                                }
                            }
                            None => stack.push(item.at(*first)),
                        }
                    }
                }
                Loc::Var { kind, .. } => {
                    if may_begin(*kind, input, pos) {
                        waiting.push(item);
                    }
                }
                Loc::Eof => {
                    if pos == input.len() {
                        done.push(item);
                    }
                }
            }
        }
        if pos == input.len() {
            return match done.len() {
                0 => Ok(None),
                1 => Ok(done.pop().map(|item| unwrap_rc(item.binds))),
                _ => Err(ExpandError::Ambiguous),
            };
        }
        if waiting.len() > 1 || !waiting.is_empty() && !next.is_empty() {
            return Err(ExpandError::Ambiguous);
        }
        if !next.is_empty() {
            pos += match &input.entries[pos] {
                Entry::Leaf { len, .. } => *len,
                _ => 1,
            };
            cur = next;
            continue;
        }
        let Some(mut item) = waiting.pop() else {
            return Ok(None);
        };
        // Only this position survives: dropping the others first leaves its bindings
        // unshared, so recording the fragment does not copy them.
        drop(done);
        let Loc::Var { slot, kind, depth } = program[item.idx] else {
            return Ok(None);
        };
        let Some((count, fragment)) = parse_fragment(kind, input, pos, budget)? else {
            return Ok(None);
        };
        push(
            Rc::make_mut(&mut item.binds).as_mut_slice(),
            slot,
            depth,
            Binding::Frag(Rc::new(fragment)),
        );
        pos = input.skip(pos, count);
        item.idx += 1;
        cur = vec![item];
    }
}

fn unwrap_rc(binds: Rc<Vec<Binding>>) -> Vec<Binding> {
    Rc::try_unwrap(binds).unwrap_or_else(|shared| (*shared).clone())
}

/// Records `binding` for `slot`, inside the current iteration of each of the `depth`
/// sequences around it.
fn push(binds: &mut [Binding], slot: usize, depth: usize, binding: Binding) {
    let mut cur = &mut binds[slot];
    for _ in 1..depth {
        cur = match cur {
            Binding::Seq(items) => match items.last_mut() {
                Some(last) => last,
                None => return,
            },
            _ => return,
        };
    }
    if depth == 0 {
        *cur = binding;
    } else if let Binding::Seq(items) = cur {
        items.push(binding);
    }
}

/// rustc's `nonterminal_may_begin_with`: positions whose fragment cannot start at this
/// token are dropped before any parsing, so that other rules and repetitions can be
/// tried without an ambiguity.
fn may_begin(kind: FragKind, input: &Input, pos: usize) -> bool {
    let entry = match input.entries.get(pos) {
        None | Some(Entry::Close) => return false,
        Some(entry) => entry,
    };
    if matches!(kind, FragKind::Tt | FragKind::Item | FragKind::Stmt) {
        return true;
    }
    let (tt, text) = match entry {
        Entry::Open { group, .. } => {
            let d = group.delimiter();
            return match kind {
                FragKind::Expr | FragKind::Expr2021 => true,
                FragKind::Ty | FragKind::Pat | FragKind::PatParam | FragKind::Vis => {
                    d != Delimiter::Brace
                }
                FragKind::Block => d == Delimiter::Brace,
                _ => false,
            };
        }
        Entry::Leaf { tt, text, .. } => (tt, text.as_str()),
        Entry::Close => return false,
    };
    match tt {
        // A forwarded nonterminal: rustc lets any kind but these try it.
        TokenTree::Group(_) => !matches!(kind, FragKind::Ident | FragKind::Lifetime),
        TokenTree::Literal(_) => matches!(
            kind,
            FragKind::Expr
                | FragKind::Expr2021
                | FragKind::Pat
                | FragKind::PatParam
                | FragKind::Literal
        ),
        TokenTree::Ident(ident) => {
            let name = ident.to_string();
            let reserved = is_keyword(&name) || name == "_";
            let path_kw = matches!(name.as_str(), "self" | "Self" | "super" | "crate");
            match kind {
                FragKind::Ident => name != "_",
                FragKind::Expr | FragKind::Expr2021 => {
                    let expr_kw = matches!(
                        name.as_str(),
                        "async"
                            | "do"
                            | "box"
                            | "break"
                            | "continue"
                            | "false"
                            | "for"
                            | "gen"
                            | "if"
                            | "loop"
                            | "match"
                            | "move"
                            | "return"
                            | "true"
                            | "try"
                            | "unsafe"
                            | "while"
                            | "yield"
                            | "static"
                    ) || name == "const" && kind == FragKind::Expr
                        || name == "_" && kind == FragKind::Expr;
                    !reserved || path_kw || expr_kw
                }
                FragKind::Ty => {
                    !reserved
                        || path_kw
                        || matches!(
                            name.as_str(),
                            "_" | "for" | "impl" | "fn" | "unsafe" | "extern" | "dyn"
                        )
                }
                FragKind::Literal => name == "true" || name == "false",
                FragKind::Pat | FragKind::PatParam | FragKind::Path | FragKind::Meta => true,
                FragKind::Vis => true,
                FragKind::Lifetime | FragKind::Block => false,
                FragKind::Tt | FragKind::Item | FragKind::Stmt => true,
            }
        }
        TokenTree::Punct(_) => match kind {
            FragKind::Expr | FragKind::Expr2021 => {
                matches!(
                    text,
                    "!" | "-"
                        | "*"
                        | "|"
                        | "||"
                        | "&"
                        | "&&"
                        | ".."
                        | "..."
                        | "..="
                        | "<"
                        | "<<"
                        | "::"
                        | "#"
                ) || text.starts_with('\'')
            }
            FragKind::Ty | FragKind::Vis => {
                matches!(text, "!" | "*" | "&" | "&&" | "?" | "<" | "<<" | "::")
                    || text.starts_with('\'')
                    || kind == FragKind::Vis && text == ","
            }
            FragKind::Pat | FragKind::PatParam => {
                matches!(
                    text,
                    "&" | "&&" | "-" | ".." | "..." | "..=" | "<" | "<<" | "::"
                ) || text == "|" && kind == FragKind::Pat
            }
            FragKind::Path | FragKind::Meta => text == "::",
            FragKind::Literal => text == "-",
            FragKind::Lifetime | FragKind::Block => text.len() > 1 && text.starts_with('\''),
            FragKind::Ident => false,
            FragKind::Tt | FragKind::Item | FragKind::Stmt => true,
        },
    }
}

/// Parses a fragment of `kind` at `pos`: how many token trees of the level it takes,
/// and the fragment. `Ok(None)` when it does not parse.
fn parse_fragment(
    kind: FragKind,
    input: &Input,
    pos: usize,
    budget: &mut Budget,
) -> Result<Option<(usize, Fragment)>, ExpandError> {
    let count = match kind {
        FragKind::Tt => match &input.entries[pos] {
            Entry::Leaf { len, .. } => *len,
            _ => 1,
        },
        FragKind::Ident => 1,
        FragKind::Lifetime => match input.unit(pos) {
            Some((text, 2)) if text.starts_with('\'') => 2,
            _ => return Ok(None),
        },
        FragKind::Literal => match &input.entries[pos] {
            Entry::Leaf {
                tt: TokenTree::Punct(_),
                ..
            } => match input.entries.get(pos + 1) {
                Some(Entry::Leaf {
                    tt: TokenTree::Literal(_),
                    ..
                }) => 2,
                _ => return Ok(None),
            },
            _ => 1,
        },
        _ => {
            // Most fragments end at the first `,`, `;` or `=>` of their level, which
            // no expression, type, pattern, path, meta or visibility holds outside a
            // group: `syn` first gets the tokens up to there, so that a long list
            // `$($e:expr),*` costs linear, not quadratic, work. Only when that prefix
            // does not parse (`|a, b| …`, `f::<A, B>()`) does it get the whole rest.
            let prefix = match kind {
                FragKind::Stmt | FragKind::Item | FragKind::Block => None,
                _ => input.cut(pos),
            };
            let prefix_count = match prefix {
                Some(cut) => {
                    let (tts, cost) = input.trees(pos, cut);
                    budget.spend(cost)?;
                    parse_with_syn(kind, tts)
                }
                None => None,
            };
            match prefix_count {
                Some(count) => count,
                None => {
                    let (tts, cost) = input.trees(pos, usize::MAX);
                    budget.spend(cost)?;
                    match parse_with_syn(kind, tts) {
                        Some(count) => count,
                        None => return Ok(None),
                    }
                }
            }
        }
    };
    let (tokens, _) = input.trees(pos, count);
    let size = input.skip(pos, count) - pos;
    Ok(Some((count, Fragment { kind, tokens, size })))
}

/// How many of `tts` the `syn` parser of `kind` takes.
fn parse_with_syn(kind: FragKind, tts: Vec<TokenTree>) -> Option<usize> {
    let n = tts.len();
    let stream: TokenStream = tts.into_iter().collect();
    let parser = |input: ParseStream| -> syn::Result<usize> {
        let mut bounds = Vec::with_capacity(n + 1);
        let mut cursor = input.cursor();
        bounds.push(cursor);
        while let Some((_, next)) = cursor.token_tree() {
            bounds.push(next);
            cursor = next;
        }
        parse_kind(kind, input)?;
        let end = input.cursor();
        let count = bounds.iter().position(|b| *b == end);
        input.parse::<TokenStream>()?;
        // A parser that stopped inside an invisible group took part of a forwarded
        // fragment: not a match.
        count.ok_or_else(|| input.error("fragment ends inside a group"))
    };
    match parser.parse2(stream) {
        Ok(0) if kind != FragKind::Vis => None,
        Ok(count) => Some(count),
        Err(_) => None,
    }
}

fn parse_kind(kind: FragKind, input: ParseStream) -> syn::Result<()> {
    match kind {
        FragKind::Expr | FragKind::Expr2021 => {
            input.parse::<syn::Expr>()?;
        }
        FragKind::Ty => {
            input.parse::<syn::Type>()?;
        }
        FragKind::Pat => {
            syn::Pat::parse_multi_with_leading_vert(input)?;
        }
        FragKind::PatParam => {
            syn::Pat::parse_single(input)?;
        }
        FragKind::Path => {
            input.parse::<syn::Path>()?;
        }
        FragKind::Block => {
            input.parse::<syn::Block>()?;
        }
        FragKind::Item => {
            input.parse::<syn::Item>()?;
        }
        FragKind::Meta => {
            input.parse::<syn::Meta>()?;
        }
        FragKind::Vis => {
            input.parse::<syn::Visibility>()?;
        }
        FragKind::Stmt => parse_stmt(input)?,
        FragKind::Ident | FragKind::Lifetime | FragKind::Literal | FragKind::Tt => {}
    }
    Ok(())
}

/// A statement without its trailing `;`, as rustc's `stmt` fragment: `let` (without
/// the semicolon `syn` requires), an item, or an expression.
fn parse_stmt(input: ParseStream) -> syn::Result<()> {
    input.call(syn::Attribute::parse_outer)?;
    if input.peek(Token![let]) {
        input.parse::<Token![let]>()?;
        syn::Pat::parse_multi_with_leading_vert(input)?;
        if input.peek(Token![:]) && !input.peek(Token![::]) {
            input.parse::<Token![:]>()?;
            input.parse::<syn::Type>()?;
        }
        if input.peek(Token![=]) && !input.peek(Token![==]) && !input.peek(Token![=>]) {
            input.parse::<Token![=]>()?;
            input.parse::<syn::Expr>()?;
            if input.peek(Token![else]) {
                input.parse::<Token![else]>()?;
                input.parse::<syn::Block>()?;
            }
        }
        return Ok(());
    }
    let fork = input.fork();
    if fork.parse::<syn::Item>().is_ok() {
        input.advance_to(&fork);
        return Ok(());
    }
    input.parse::<syn::Expr>()?;
    Ok(())
}
