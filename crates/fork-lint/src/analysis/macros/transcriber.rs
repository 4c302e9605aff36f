//! Transcribing a rule's right-hand side with the bindings of a match.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, TokenStream, TokenTree};

use super::definition::{Rule, TTree};
use super::matcher::{Binding, Fragment};
use super::{Budget, ExpandError};

/// The suffix of the identifiers the transcriber binds with `let`, followed by the
/// expansion's number (see `super` on hygiene).
pub(crate) const HYGIENE_MARK: &str = "__fl_hyg";

pub(crate) fn transcribe(
    rule: &Rule,
    binds: &[Binding],
    expansion: usize,
    budget: &mut Budget,
) -> Result<TokenStream, ExpandError> {
    let mut cx = Cx {
        rule,
        binds,
        expansion,
        budget,
        path: Vec::new(),
    };
    let mut out = Vec::new();
    cx.trees(&rule.transcriber, &mut out)?;
    Ok(out.into_iter().collect())
}

struct Cx<'a, 'b> {
    rule: &'a Rule,
    binds: &'a [Binding],
    expansion: usize,
    budget: &'b mut Budget,
    /// The iteration of each repetition being transcribed, outermost first.
    path: Vec<usize>,
}

impl Cx<'_, '_> {
    fn trees(&mut self, trees: &[TTree], out: &mut Vec<TokenTree>) -> Result<(), ExpandError> {
        for tree in trees {
            match tree {
                TTree::Tok(tt) => {
                    self.budget.emit(1)?;
                    out.push(tt.clone());
                }
                TTree::Local(ident) => {
                    self.budget.emit(1)?;
                    let name = format!("{ident}{HYGIENE_MARK}{}", self.expansion);
                    out.push(Ident::new(&name, ident.span()).into());
                }
                TTree::Crate(span) => {
                    self.budget.emit(1)?;
                    out.push(Ident::new("crate", *span).into());
                }
                TTree::Group(delim, span, inner) => {
                    self.budget.emit(2)?;
                    let mut tokens = Vec::new();
                    self.trees(inner, &mut tokens)?;
                    let mut group = Group::new(*delim, tokens.into_iter().collect());
                    group.set_span(*span);
                    out.push(group.into());
                }
                TTree::Var(name, dollar) => match self.lookup(name)? {
                    Some(fragment) => {
                        self.budget.emit(fragment.size)?;
                        substitute(&fragment, out);
                    }
                    None => {
                        // Not a metavariable of this rule: `$name` as written.
                        self.budget.emit(2)?;
                        let mut punct = Punct::new('$', Spacing::Alone);
                        punct.set_span(*dollar);
                        out.push(punct.into());
                        out.push(name.clone().into());
                    }
                },
                TTree::Rep { body, sep, .. } => {
                    let count = self.repetitions(body)?;
                    for i in 0..count {
                        if i > 0 {
                            self.budget.emit(sep.len())?;
                            out.extend(sep.iter().cloned());
                        }
                        self.path.push(i);
                        let result = self.trees(body, out);
                        self.path.pop();
                        result?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The binding of `name` in the current iterations: `None` when the rule has no
    /// such metavariable.
    fn binding(&self, name: &Ident) -> Option<&Binding> {
        let key = name.to_string();
        let key = key.strip_prefix("r#").unwrap_or(&key);
        let slot = *self.rule.slots.get(key)?;
        let mut cur = &self.binds[slot];
        for &i in &self.path {
            match cur {
                Binding::Seq(items) => match items.get(i) {
                    Some(item) => cur = item,
                    None => return Some(&Binding::Unset),
                },
                _ => break,
            }
        }
        Some(cur)
    }

    fn lookup(&self, name: &Ident) -> Result<Option<std::rc::Rc<Fragment>>, ExpandError> {
        match self.binding(name) {
            None => Ok(None),
            Some(Binding::Frag(f)) => Ok(Some(f.clone())),
            Some(Binding::Seq(_)) => Err(ExpandError::Transcription(format!(
                "variable `{name}` is still repeating at this depth"
            ))),
            Some(Binding::Unset) => Err(ExpandError::Transcription(format!(
                "variable `{name}` is not bound"
            ))),
        }
    }

    /// How many times a repetition runs: the length of the sequences its
    /// metavariables are bound to at this depth, which must agree.
    fn repetitions(&self, body: &[TTree]) -> Result<usize, ExpandError> {
        let mut names = Vec::new();
        vars(body, &mut names);
        let mut count = None;
        for name in names {
            if let Some(Binding::Seq(items)) = self.binding(name) {
                match count {
                    None => count = Some(items.len()),
                    Some(n) if n != items.len() => {
                        return Err(ExpandError::Transcription(format!(
                            "meta-variable `{name}` repeats {} times, but another repeats {n} times",
                            items.len()
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        count.ok_or_else(|| {
            ExpandError::Transcription(
                "a repetition without a metavariable repeating at this depth".to_owned(),
            )
        })
    }
}

fn vars<'t>(trees: &'t [TTree], names: &mut Vec<&'t Ident>) {
    for tree in trees {
        match tree {
            TTree::Var(name, _) => names.push(name),
            TTree::Group(_, _, inner) => vars(inner, names),
            TTree::Rep { body, .. } => vars(body, names),
            _ => {}
        }
    }
}

/// Substituted fragments keep the invocation's spans; expressions and types go in an
/// invisible group spanning the fragment, as rustc's nonterminals do (see
/// `FragKind::is_wrapped`).
fn substitute(fragment: &Fragment, out: &mut Vec<TokenTree>) {
    if !fragment.kind.is_wrapped(&fragment.tokens) {
        out.extend(fragment.tokens.iter().cloned());
        return;
    }
    let mut group = Group::new(Delimiter::None, fragment.tokens.iter().cloned().collect());
    if let (Some(first), Some(last)) = (fragment.tokens.first(), fragment.tokens.last()) {
        let span = first.span();
        group.set_span(span.join(last.span()).unwrap_or(span));
    }
    out.push(group.into());
}
