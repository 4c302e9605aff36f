//! Suppression comments: `// fork-lint: allow(FL004, lock-held-across-fork) -- reason`
//! on a finding's primary line or the line above it, and
//! `// fork-lint: allow-file(FL004)` anywhere in a file.

use std::cell::Cell;
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Severity, Span};
use crate::rules::{self, Rule};
use crate::source::SourceFile;

const MARKER: &str = "fork-lint:";

/// One `allow` or `allow-file` comment.
#[derive(Debug)]
struct Allow {
    line: usize,
    file_wide: bool,
    rules: Vec<&'static Rule>,
    span: Span,
    used: Cell<bool>,
}

/// The suppression comments of one file.
#[derive(Debug)]
pub struct Suppressions {
    allows: Vec<Allow>,
    /// Malformed comments and unknown rule names, reported as FL100 when asked.
    problems: Vec<(Span, String)>,
}

impl Suppressions {
    pub fn parse(file: &Arc<SourceFile>) -> Suppressions {
        let mut allows = Vec::new();
        let mut problems = Vec::new();
        let text = file.text.as_str();
        let mut literals: Option<Vec<(usize, usize)>> = None;
        for at in memchr::memmem::find_iter(text.as_bytes(), MARKER.as_bytes()) {
            // The marker inside a string literal or a doc comment (`///`, `//!`, which
            // the lexer turns into `#[doc = "…"]`) is text, not a directive. Lexed only
            // for files that hold the marker at all.
            let literals = literals.get_or_insert_with(|| literal_ranges(file));
            let i = literals.partition_point(|&(_, end)| end <= at);
            if literals.get(i).is_some_and(|&(start, _)| start <= at) {
                continue;
            }
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let before = &text[line_start..at];
            // Only a `//` comment whose text starts with the marker counts.
            let Some(slash) = before.rfind("//") else {
                continue;
            };
            if !before[slash..].trim_start_matches('/').trim().is_empty() {
                continue;
            }
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            let directive = text[at + MARKER.len()..line_end].trim_end_matches('\r');
            let span = Span {
                file: file.clone(),
                start: file.position_of_offset(line_start + slash),
                end: file.position_of_offset(line_end),
            };
            match parse_directive(directive) {
                Ok((file_wide, names)) => {
                    let mut rules = Vec::new();
                    for name in names {
                        match rules::by_code_or_name(name) {
                            Some(rule) => rules.push(rule),
                            None => problems.push((
                                span.clone(),
                                format!("`{name}` in this suppression is not a rule code or name"),
                            )),
                        }
                    }
                    allows.push(Allow {
                        line: span.start.line,
                        file_wide,
                        rules,
                        span,
                        used: Cell::new(false),
                    });
                }
                Err(message) => problems.push((span, message)),
            }
        }
        Suppressions { allows, problems }
    }

    /// Whether `diagnostic` is suppressed; marks the comment that suppresses it as used.
    pub fn suppresses(&self, diagnostic: &Diagnostic) -> bool {
        let line = diagnostic.primary.start.line;
        let mut hit = false;
        for allow in &self.allows {
            let applies = allow.file_wide || allow.line == line || allow.line + 1 == line;
            if applies && allow.rules.iter().any(|r| r.code == diagnostic.code) {
                allow.used.set(true);
                hit = true;
            }
        }
        hit
    }

    /// FL100 findings: comments that suppressed nothing, and malformed comments.
    pub fn unused(&self, severity: Severity) -> Vec<Diagnostic> {
        let unused = &rules::unused_allow::UNUSED_ALLOW;
        let make = |span: &Span, message: String| Diagnostic {
            code: unused.code,
            name: unused.name,
            severity,
            message,
            primary: span.clone(),
            primary_label: String::new(),
            labels: Vec::new(),
            help: Some(
                "remove the comment, or move it to the line of the finding it is for".into(),
            ),
            fix: None,
        };
        let mut out: Vec<Diagnostic> = self
            .problems
            .iter()
            .map(|(s, m)| make(s, m.clone()))
            .collect();
        for allow in self
            .allows
            .iter()
            .filter(|a| !a.used.get() && !a.rules.is_empty())
        {
            let codes: Vec<_> = allow.rules.iter().map(|r| r.code).collect();
            out.push(make(
                &allow.span,
                format!("unused suppression: no {} finding here", codes.join(", ")),
            ));
        }
        out
    }
}

/// The byte ranges of the file's literals (doc comments included), sorted; empty when
/// the file does not lex (the text is then taken as it is).
fn literal_ranges(file: &SourceFile) -> Vec<(usize, usize)> {
    use proc_macro2::{TokenStream, TokenTree};
    let Ok(stream) = file.text.parse::<TokenStream>() else {
        return Vec::new();
    };
    let offset = |lc: proc_macro2::LineColumn| file.position(lc.line, lc.column).offset;
    let mut ranges = Vec::new();
    // An explicit stack: nesting depth is unbounded in hostile input.
    let mut stack = vec![stream.into_iter()];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            Some(TokenTree::Group(g)) => stack.push(g.stream().into_iter()),
            Some(TokenTree::Literal(lit)) => {
                let span = lit.span();
                ranges.push((offset(span.start()), offset(span.end())));
            }
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    ranges.sort_unstable();
    ranges
}

/// Parses what follows `fork-lint:`: ` allow(A, B) -- reason` or ` allow-file(A)`.
fn parse_directive(directive: &str) -> Result<(bool, Vec<&str>), String> {
    let d = directive.trim_start();
    let (file_wide, rest) = if let Some(r) = d.strip_prefix("allow-file") {
        (true, r)
    } else if let Some(r) = d.strip_prefix("allow") {
        (false, r)
    } else {
        return Err("malformed suppression: expected `fork-lint: allow(CODE, ...)` or `fork-lint: allow-file(CODE, ...)`".into());
    };
    let rest = rest.trim_start();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map(|(inner, _)| inner)
        .ok_or_else(|| {
            "malformed suppression: the rule list must be in parentheses, e.g. `allow(FL004)`"
                .to_string()
        })?;
    let names: Vec<&str> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Err("malformed suppression: the rule list is empty".into());
    }
    Ok((file_wide, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_forms() {
        assert_eq!(
            parse_directive(" allow(FL004) -- because").unwrap(),
            (false, vec!["FL004"])
        );
        assert_eq!(
            parse_directive(" allow-file(FL004, lock-held-across-fork)").unwrap(),
            (true, vec!["FL004", "lock-held-across-fork"])
        );
        assert!(parse_directive(" allow FL004").is_err());
        assert!(parse_directive(" allow()").is_err());
    }

    #[test]
    fn marker_outside_comment_is_ignored() {
        let file = Arc::new(SourceFile::new(
            "a.rs".into(),
            "a.rs".into(),
            "let s = \"fork-lint: allow(FL004)\";\n".into(),
        ));
        assert!(Suppressions::parse(&file).allows.is_empty());
    }

    fn allows(text: &str) -> Vec<usize> {
        let file = Arc::new(SourceFile::new("a.rs".into(), "a.rs".into(), text.into()));
        Suppressions::parse(&file)
            .allows
            .iter()
            .map(|a| a.line)
            .collect()
    }

    #[test]
    fn marker_in_string_or_doc_comment_is_ignored() {
        let text = concat!(
            "let s = \"x // fork-lint: allow(FL004)\";\n",
            "let r = r#\"\n// fork-lint: allow(FL004)\n\"#;\n",
            "/// // fork-lint: allow(FL004) -- an example in a doc\n",
            "fn f() {} // fork-lint: allow(FL005)\n",
            "// fork-lint: allow-file(FL006)\n",
        );
        assert_eq!(allows(text), vec![6, 7]);
    }

    #[test]
    fn unlexable_file_keeps_every_comment() {
        assert_eq!(allows("fn f( { // fork-lint: allow(FL004)\n"), vec![1]);
    }
}
