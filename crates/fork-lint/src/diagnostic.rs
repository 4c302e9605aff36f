//! The diagnostics model: what a rule reports and every output format renders.

use std::fmt;
use std::sync::Arc;

use crate::fix::Fix;
use crate::source::SourceFile;

/// How serious a finding is. Ordered: `Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A hazard that bites under some conditions; exit status 1 all the same.
    Warning,
    /// A hazard that bites whenever the code runs.
    Error,
}

impl Severity {
    /// `warning` or `error`, as every output format writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 1-based line and a 1-based column counted in characters, plus the byte offset
/// (0-based) of the same point, which renderers that slice the text need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// 0-based byte offset in the file.
    pub offset: usize,
}

/// A range of one file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file, with its text (renderers quote it).
    pub file: Arc<SourceFile>,
    /// First character.
    pub start: Position,
    /// Just past the last character.
    pub end: Position,
}

impl Span {
    /// The path shown to users: as given on the command line, or relative to the
    /// workspace root.
    pub fn file_name(&self) -> &str {
        &self.file.name
    }

    fn sort_key(&self) -> (&str, Position, Position) {
        (self.file_name(), self.start, self.end)
    }
}

/// What a secondary label stands for. `ChainStep` labels are the call chain from the
/// place the hazard starts (a fork point, a process start) to the primary location, in
/// order; SARIF renders them as a code flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelKind {
    /// Context: the fork, the thread started earlier, the child's start.
    Secondary,
    /// One call of the chain that leads to the primary location.
    ChainStep,
}

/// A secondary location of a finding, with what it says.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What happens there.
    pub message: String,
    /// Context or call-chain step.
    pub kind: LabelKind,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Stable code, `FL001`…; `FL000` for files that do not parse.
    pub code: &'static str,
    /// Kebab-case rule name.
    pub name: &'static str,
    /// The rule's severity after configuration.
    pub severity: Severity,
    /// One sentence: what happens and why it is a hazard.
    pub message: String,
    /// The rule's fixed primary location (SPEC §3).
    pub primary: Span,
    /// Text under the primary span in rustc-style output (may be empty).
    pub primary_label: String,
    /// Secondary locations, in the order they are shown.
    pub labels: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
    /// A change that removes the hazard, when the rule knows one.
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// The order of every output: file, line, column, then code.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (self.primary.sort_key(), self.code, &self.message)
    }

    /// The labels that make up the call chain, in order.
    pub fn chain(&self) -> impl Iterator<Item = &Label> {
        self.labels
            .iter()
            .filter(|l| l.kind == LabelKind::ChainStep)
    }
}

/// Sorts by file, line and column and removes exact duplicates (one hazard reached
/// from two linted files is reported once).
pub fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup_by(|a, b| a.code == b.code && a.primary == b.primary);
}
