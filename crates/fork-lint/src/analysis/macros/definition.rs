//! Parsing a `macro_rules!` body into rules: each matcher is compiled to a flat program
//! for the matcher's position automaton ([`super::matcher`]), each transcriber to a tree
//! ([`super::transcriber`]).

use std::collections::{HashMap, HashSet};

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

use super::ExpandError;

/// The fragment specifiers of `$name:kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FragKind {
    Ident,
    Expr,
    Expr2021,
    Ty,
    Pat,
    PatParam,
    Path,
    Stmt,
    Block,
    Item,
    Literal,
    Lifetime,
    Meta,
    Tt,
    Vis,
}

impl FragKind {
    fn from_name(name: &str) -> Option<FragKind> {
        Some(match name {
            "ident" => FragKind::Ident,
            "expr" => FragKind::Expr,
            "expr_2021" => FragKind::Expr2021,
            "ty" => FragKind::Ty,
            "pat" => FragKind::Pat,
            "pat_param" => FragKind::PatParam,
            "path" => FragKind::Path,
            "stmt" => FragKind::Stmt,
            "block" => FragKind::Block,
            "item" => FragKind::Item,
            "literal" => FragKind::Literal,
            "lifetime" => FragKind::Lifetime,
            "meta" => FragKind::Meta,
            "tt" => FragKind::Tt,
            "vis" => FragKind::Vis,
            _ => return None,
        })
    }

    /// Whether a substituted fragment of this kind is wrapped in an invisible group.
    /// rustc wraps every kind but `ident`, `lifetime` and `tt`; precedence only needs
    /// it for expressions, types and negative literals of more than one token, and
    /// `syn` reads `let`, attributes, visibilities and items inside one as something
    /// else, so those go in as plain tokens. A block-like expression (`{…}`, `if`,
    /// `match`, loops, `unsafe {…}`) is not wrapped either: in statement position
    /// rustc ends the statement after it, `syn` only does so when it sees it.
    pub(crate) fn is_wrapped(self, tokens: &[TokenTree]) -> bool {
        match self {
            FragKind::Expr | FragKind::Expr2021 => !is_block_like(tokens),
            FragKind::Ty | FragKind::Literal => tokens.len() > 1,
            _ => false,
        }
    }
}

fn is_block_like(tokens: &[TokenTree]) -> bool {
    match tokens {
        [TokenTree::Group(g)] => g.delimiter() == Delimiter::Brace,
        [TokenTree::Ident(kw), .., TokenTree::Group(last)] => {
            last.delimiter() == Delimiter::Brace
                && matches!(
                    kw.to_string().as_str(),
                    "if" | "match" | "loop" | "while" | "for" | "unsafe"
                )
        }
        [
            TokenTree::Punct(q),
            TokenTree::Ident(_),
            TokenTree::Punct(c),
            ..,
            TokenTree::Group(last),
        ] => q.as_char() == '\'' && c.as_char() == ':' && last.delimiter() == Delimiter::Brace,
        _ => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RepOp {
    ZeroOrMore,
    OneOrMore,
    ZeroOrOne,
}

/// One step of a compiled matcher. Sequences are laid out as
/// `SeqStart body… SeqEnd`, the way rustc's `MatcherLoc`s are.
#[derive(Debug)]
pub(crate) enum Loc {
    /// A literal token as rustc sees it (glued punctuation, `'a`, an ident, a literal).
    Tok(String),
    Open(Delimiter),
    Close,
    SeqStart {
        op: RepOp,
        /// The index just past the matching `SeqEnd`.
        after: usize,
        /// Slots of every metavariable inside the sequence, at any depth.
        slots: Vec<usize>,
        /// How many sequences enclose this one.
        depth: usize,
    },
    SeqEnd {
        op: RepOp,
        /// The first index of the body.
        first: usize,
        /// The index just past this `SeqEnd`.
        after: usize,
        sep: Option<String>,
    },
    Var {
        slot: usize,
        kind: FragKind,
        depth: usize,
    },
    Eof,
}

/// A transcriber, as a tree.
#[derive(Debug)]
pub(crate) enum TTree {
    /// A token of the definition, emitted as written.
    Tok(TokenTree),
    /// A definition identifier that names a `let` binding of the transcriber: renamed
    /// in each expansion (see `super` on hygiene).
    Local(Ident),
    Group(Delimiter, Span, Vec<TTree>),
    /// `$name`: the fragment bound to `name`, or `$name` as written when the matcher
    /// binds no such name (a macro that defines a macro writes the inner one's `$x`).
    Var(Ident, Span),
    /// `$crate`, with the span of its `crate`.
    Crate(Span),
    Rep {
        body: Vec<TTree>,
        sep: Vec<TokenTree>,
        #[allow(dead_code)] // read by the transcriber's tests
        op: RepOp,
    },
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) program: Vec<Loc>,
    /// Metavariable name → slot.
    pub(crate) slots: HashMap<String, usize>,
    pub(crate) slot_count: usize,
    pub(crate) transcriber: Vec<TTree>,
}

/// Parses the rules of a `macro_rules!` body: `(matcher) => {transcriber};…`.
pub(crate) fn parse_rules(body: TokenStream) -> Result<Vec<Rule>, ExpandError> {
    let tts: Vec<TokenTree> = body.into_iter().collect();
    let mut rules = Vec::new();
    let mut i = 0;
    while i < tts.len() {
        let Some(TokenTree::Group(matcher)) = tts.get(i) else {
            return Err(bad("expected a matcher group"));
        };
        if !(is_punct(tts.get(i + 1), '=') && is_punct(tts.get(i + 2), '>')) {
            return Err(bad("expected `=>` after a matcher"));
        }
        let Some(TokenTree::Group(transcriber)) = tts.get(i + 3) else {
            return Err(bad("expected a transcriber group"));
        };
        rules.push(parse_rule(matcher, transcriber)?);
        i += 4;
        if is_punct(tts.get(i), ';') {
            i += 1;
        } else if i < tts.len() {
            return Err(bad("expected `;` between rules"));
        }
    }
    if rules.is_empty() {
        return Err(bad("a macro without rules"));
    }
    Ok(rules)
}

fn parse_rule(matcher: &Group, transcriber: &Group) -> Result<Rule, ExpandError> {
    let tts: Vec<TokenTree> = matcher.stream().into_iter().collect();
    let trees = parse_matcher(&tts)?;
    let mut compiler = Compiler::default();
    compiler.compile(&trees, 0)?;
    compiler.program.push(Loc::Eof);

    let tts: Vec<TokenTree> = transcriber.stream().into_iter().collect();
    let mut transcriber = parse_transcriber(&tts)?;
    let locals = let_bindings(&transcriber);
    if !locals.is_empty() {
        mark_locals(&mut transcriber, &locals);
    }
    Ok(Rule {
        program: compiler.program,
        slot_count: compiler.slots.len(),
        slots: compiler.slots,
        transcriber,
    })
}

fn bad(message: &str) -> ExpandError {
    ExpandError::BadDefinition(message.to_owned())
}

pub(crate) fn is_punct(tt: Option<&TokenTree>, c: char) -> bool {
    matches!(tt, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// Multi-character tokens of rustc's lexer, which proc-macro2 splits into joint puncts.
const GLUED: [&str; 24] = [
    "<<=", ">>=", "...", "..=", "::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=",
    "*=", "/=", "%=", "^=", "&=", "|=", "<<", ">>", "..",
];

/// How many proc-macro2 tokens from `tts[i]` make one rustc token: glued joint
/// punctuation (longest first) or a lifetime `'a`; otherwise 1.
pub(crate) fn unit_len(tts: &[TokenTree], i: usize) -> usize {
    let Some(TokenTree::Punct(first)) = tts.get(i) else {
        return 1;
    };
    if first.as_char() == '\'' && first.spacing() == Spacing::Joint {
        if let Some(TokenTree::Ident(_)) = tts.get(i + 1) {
            return 2;
        }
    }
    let mut text = String::new();
    let mut n = 0;
    while n < 3 {
        match tts.get(i + n) {
            Some(TokenTree::Punct(p)) => {
                text.push(p.as_char());
                n += 1;
                if p.spacing() == Spacing::Alone {
                    break;
                }
            }
            _ => break,
        }
    }
    (2..=n)
        .rev()
        .find(|&len| GLUED.contains(&&text[..len]))
        .unwrap_or(1)
}

/// The text of the rustc token made of `tts[i..i + len]`.
pub(crate) fn unit_text(tts: &[TokenTree], i: usize, len: usize) -> String {
    let mut text = String::new();
    for tt in &tts[i..i + len] {
        match tt {
            TokenTree::Punct(p) => text.push(p.as_char()),
            other => text.push_str(&other.to_string()),
        }
    }
    text
}

#[derive(Debug)]
enum MTree {
    Tok(String),
    Group(Delimiter, Vec<MTree>),
    Var(String, FragKind),
    Rep {
        body: Vec<MTree>,
        sep: Option<String>,
        op: RepOp,
    },
}

fn parse_matcher(tts: &[TokenTree]) -> Result<Vec<MTree>, ExpandError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tts.len() {
        match &tts[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match tts.get(i + 1) {
                Some(TokenTree::Ident(name)) if name != "crate" => {
                    let kind = match (tts.get(i + 2), tts.get(i + 3)) {
                        (Some(TokenTree::Punct(colon)), Some(TokenTree::Ident(kind)))
                            if colon.as_char() == ':' =>
                        {
                            FragKind::from_name(&kind.to_string())
                                .ok_or_else(|| bad("unknown fragment specifier"))?
                        }
                        _ => return Err(bad("missing fragment specifier")),
                    };
                    out.push(MTree::Var(ident_name(name), kind));
                    i += 4;
                }
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                    let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                    let body = parse_matcher(&inner)?;
                    let (sep, op, used) = parse_sep_op(tts, i + 2)?;
                    if can_be_empty(&body) {
                        return Err(bad("repetition matches the empty token tree"));
                    }
                    out.push(MTree::Rep { body, sep, op });
                    i += 2 + used;
                }
                _ => {
                    out.push(MTree::Tok("$".to_owned()));
                    i += 1;
                }
            },
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                // An invisible group in a matcher comes from a fragment a macro
                // substituted into a definition; its tokens match as written.
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                out.extend(parse_matcher(&inner)?);
                i += 1;
            }
            TokenTree::Group(g) => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                out.push(MTree::Group(g.delimiter(), parse_matcher(&inner)?));
                i += 1;
            }
            _ => {
                let len = unit_len(tts, i);
                out.push(MTree::Tok(unit_text(tts, i, len)));
                i += len;
            }
        }
    }
    Ok(out)
}

fn ident_name(ident: &Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(raw) => raw.to_owned(),
        None => name,
    }
}

fn kleene(tts: &[TokenTree], i: usize) -> Option<RepOp> {
    match tts.get(i) {
        Some(TokenTree::Punct(p)) if unit_len(tts, i) == 1 => match p.as_char() {
            '*' => Some(RepOp::ZeroOrMore),
            '+' => Some(RepOp::OneOrMore),
            '?' => Some(RepOp::ZeroOrOne),
            _ => None,
        },
        _ => None,
    }
}

/// After `$(...)`: an operator, or one separator token then `*`/`+` (rustc's order:
/// a first token that is an operator is the operator).
fn parse_sep_op(
    tts: &[TokenTree],
    i: usize,
) -> Result<(Option<String>, RepOp, usize), ExpandError> {
    if let Some(op) = kleene(tts, i) {
        return Ok((None, op, 1));
    }
    let Some(tt) = tts.get(i) else {
        return Err(bad("expected a repetition operator"));
    };
    if matches!(tt, TokenTree::Group(_)) || is_punct(Some(tt), '$') {
        return Err(bad("invalid repetition separator"));
    }
    let len = unit_len(tts, i);
    let sep = unit_text(tts, i, len);
    match kleene(tts, i + len) {
        Some(RepOp::ZeroOrOne) | None => Err(bad("expected `*` or `+` after a separator")),
        Some(op) => Ok((Some(sep), op, len + 1)),
    }
}

/// Whether a repetition body can match no tokens (rustc rejects those: the matcher
/// would loop without consuming input).
fn can_be_empty(body: &[MTree]) -> bool {
    body.iter().all(|t| match t {
        MTree::Var(_, FragKind::Vis) => true,
        MTree::Rep { op, body, .. } => *op != RepOp::OneOrMore || can_be_empty(body),
        _ => false,
    })
}

#[derive(Default)]
struct Compiler {
    program: Vec<Loc>,
    slots: HashMap<String, usize>,
}

impl Compiler {
    fn compile(&mut self, trees: &[MTree], depth: usize) -> Result<(), ExpandError> {
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                MTree::Tok(text) => self.program.push(Loc::Tok(text.clone())),
                MTree::Group(delim, inner) => {
                    self.program.push(Loc::Open(*delim));
                    self.compile(inner, depth)?;
                    self.program.push(Loc::Close);
                }
                MTree::Var(name, kind) => {
                    // rustc forbids `$p:pat |` from edition 2021 on, where `pat` takes
                    // `|` alternatives: a matcher that has one is 2015/2018 code, where
                    // `pat` is `pat_param`.
                    let kind = match (kind, trees.get(i + 1)) {
                        (FragKind::Pat, Some(MTree::Tok(next))) if next == "|" => {
                            FragKind::PatParam
                        }
                        _ => *kind,
                    };
                    let slot = self.slots.len();
                    if self.slots.insert(name.clone(), slot).is_some() {
                        return Err(bad("duplicate metavariable in a matcher"));
                    }
                    self.program.push(Loc::Var { slot, kind, depth });
                }
                MTree::Rep { body, sep, op } => {
                    let start = self.program.len();
                    let first_slot = self.slots.len();
                    self.program.push(Loc::SeqStart {
                        op: *op,
                        after: 0,
                        slots: Vec::new(),
                        depth,
                    });
                    self.compile(body, depth + 1)?;
                    let end = self.program.len();
                    self.program.push(Loc::SeqEnd {
                        op: *op,
                        first: start + 1,
                        after: end + 1,
                        sep: sep.clone(),
                    });
                    let slot_range: Vec<usize> = (first_slot..self.slots.len()).collect();
                    if let Loc::SeqStart { after, slots, .. } = &mut self.program[start] {
                        *after = end + 1;
                        *slots = slot_range;
                    }
                }
            }
        }
        Ok(())
    }
}

fn parse_transcriber(tts: &[TokenTree]) -> Result<Vec<TTree>, ExpandError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tts.len() {
        match &tts[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match tts.get(i + 1) {
                Some(TokenTree::Ident(name)) if name == "crate" => {
                    out.push(TTree::Crate(name.span()));
                    i += 2;
                }
                Some(TokenTree::Ident(name)) => {
                    out.push(TTree::Var(name.clone(), p.span()));
                    i += 2;
                }
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                    let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                    let body = parse_transcriber(&inner)?;
                    let (sep, op, used) = parse_sep_op(tts, i + 2)?;
                    let mut sep_tokens = match sep {
                        Some(_) => tts[i + 2..i + 1 + used].to_vec(),
                        None => Vec::new(),
                    };
                    // The separator was joined to the operator after it (`,*`).
                    if let Some(TokenTree::Punct(last)) = sep_tokens.last_mut() {
                        let mut alone = Punct::new(last.as_char(), Spacing::Alone);
                        alone.set_span(last.span());
                        *last = alone;
                    }
                    out.push(TTree::Rep {
                        body,
                        sep: sep_tokens,
                        op,
                    });
                    i += 2 + used;
                }
                _ => {
                    out.push(TTree::Tok(tts[i].clone()));
                    i += 1;
                }
            },
            TokenTree::Group(g) => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                out.push(TTree::Group(
                    g.delimiter(),
                    g.span(),
                    parse_transcriber(&inner)?,
                ));
                i += 1;
            }
            tt => {
                out.push(TTree::Tok(tt.clone()));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Names the transcriber itself binds with `let` (`let x = …`, `if let Some(y) = …`):
/// lowercase identifiers of the pattern written in the definition, not paths, not
/// field names, not metavariables.
fn let_bindings(trees: &[TTree]) -> HashSet<String> {
    let mut names = HashSet::new();
    collect_lets(trees, &mut names);
    names
}

fn collect_lets(trees: &[TTree], names: &mut HashSet<String>) {
    let mut i = 0;
    while i < trees.len() {
        match &trees[i] {
            TTree::Tok(TokenTree::Ident(kw)) if kw == "let" => {
                let mut j = i + 1;
                while j < trees.len() && !ends_pattern(&trees[j]) {
                    pattern_names(trees, j, false, names);
                    j += 1;
                }
                i = j;
                continue;
            }
            TTree::Group(_, _, inner) => collect_lets(inner, names),
            TTree::Rep { body, .. } => collect_lets(body, names),
            _ => {}
        }
        i += 1;
    }
}

fn ends_pattern(tree: &TTree) -> bool {
    match tree {
        TTree::Tok(TokenTree::Punct(p)) => matches!(p.as_char(), '=' | ';' | ':'),
        TTree::Tok(TokenTree::Ident(i)) => i == "else",
        TTree::Group(Delimiter::Brace, ..) => false,
        _ => false,
    }
}

/// Adds the binding names at `trees[j]` of a pattern (recursing into groups).
fn pattern_names(trees: &[TTree], j: usize, in_braces: bool, names: &mut HashSet<String>) {
    match &trees[j] {
        TTree::Tok(TokenTree::Ident(ident)) => {
            let name = ident.to_string();
            let next = trees.get(j + 1);
            let prev = j.checked_sub(1).and_then(|p| trees.get(p));
            let before = j.checked_sub(2).and_then(|p| trees.get(p));
            let is_path = matches!(
                next,
                Some(TTree::Group(Delimiter::Parenthesis | Delimiter::Brace, ..))
            ) || tok_is(next, ':') && (!in_braces || tok_is(trees.get(j + 2), ':'))
                || tok_is(prev, ':') && tok_is(before, ':');
            let is_field = in_braces && tok_is(next, ':') && !tok_is(trees.get(j + 2), ':');
            if !is_path
                && !is_field
                && !is_keyword(&name)
                && name.starts_with(|c: char| c.is_lowercase() || c == '_')
                && name != "_"
            {
                names.insert(name);
            }
        }
        TTree::Group(delim, _, inner) => {
            for k in 0..inner.len() {
                pattern_names(inner, k, *delim == Delimiter::Brace, names);
            }
        }
        _ => {}
    }
}

fn tok_is(tree: Option<&TTree>, c: char) -> bool {
    matches!(tree, Some(TTree::Tok(TokenTree::Punct(p))) if p.as_char() == c)
}

/// Turns the definition's uses of `locals` in variable position into [`TTree::Local`]:
/// not a field or method (`.x`), not a path segment (`x::`, `::x`), not a macro (`x!`),
/// not a field name of a struct expression (`{ x: 1 }`).
fn mark_locals(trees: &mut [TTree], locals: &HashSet<String>) {
    for j in 0..trees.len() {
        let rename = match &trees[j] {
            TTree::Tok(TokenTree::Ident(ident)) if locals.contains(&ident.to_string()) => {
                let prev = j.checked_sub(1).and_then(|p| trees.get(p));
                let next = trees.get(j + 1);
                let after = trees.get(j + 2);
                let before = j.checked_sub(2).and_then(|p| trees.get(p));
                let field_or_path = tok_is(prev, '.')
                    || tok_is(prev, ':') && tok_is(before, ':')
                    || tok_is(next, ':') && tok_is(after, ':')
                    || tok_is(next, '!');
                let field_name = tok_is(next, ':')
                    && !tok_is(after, ':')
                    && (prev.is_none() || tok_is(prev, ','));
                !field_or_path && !field_name
            }
            _ => false,
        };
        if rename {
            if let TTree::Tok(TokenTree::Ident(ident)) = &trees[j] {
                trees[j] = TTree::Local(ident.clone());
            }
            continue;
        }
        match &mut trees[j] {
            TTree::Group(_, _, inner) => mark_locals(inner, locals),
            TTree::Rep { body, .. } => mark_locals(body, locals),
            _ => {}
        }
    }
}

/// Strict and reserved keywords (2018+), plus the weak ones that start patterns.
pub(crate) fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

/// The greatest delimiter nesting of `stream` (groups inside groups), stopping early
/// once it passes `limit`.
pub(crate) fn nesting(stream: &TokenStream, limit: usize) -> usize {
    fn walk(stream: &TokenStream, depth: usize, limit: usize) -> usize {
        let mut deepest = depth;
        for tt in stream.clone() {
            if let TokenTree::Group(g) = tt {
                if depth + 1 > limit {
                    return depth + 1;
                }
                deepest = deepest.max(walk(&g.stream(), depth + 1, limit));
                if deepest > limit {
                    break;
                }
            }
        }
        deepest
    }
    walk(stream, 0, limit)
}
