//! fork-lint: static analysis of fork-safety hazards in Rust programs.
//!
//! The library parses Rust source with `syn` (no compilation), finds fork points and
//! the code that runs in each child, and reports the hazards of the FL001–FL011 rules.
//! See `ARCHITECTURE.md` at the repository root for the map of the code.
//!
//! ```
//! use fork_lint::{LintOptions, lint_source};
//! let src = "fn main() { match unsafe { libc::fork() } { 0 => { println!(\"child\"); } _ => {} } }";
//! let report = lint_source("main.rs", src, &LintOptions::default());
//! assert!(report.diagnostics.iter().any(|d| d.code == "FL005"));
//! ```

#![warn(missing_docs)]

pub(crate) mod analysis;
pub(crate) mod checker;
pub mod config;
mod diagnostic;
pub mod discover;
mod engine;
pub mod fix;
mod input;
pub(crate) mod prefilter;
pub mod rules;
mod source;
pub(crate) mod suppression;

pub use config::{Config, ConfigError, RuleSet};
pub use diagnostic::{Diagnostic, Label, LabelKind, Position, Severity, Span};
pub use engine::{LintOptions, MAX_FILE_BYTES, MAX_NESTING, Report, Stats, lint, lint_source};
pub use fix::{Applicability, Edit, Fix};
pub use input::{InputError, InputFile, display};
/// The words the text prefilter looks for (a file without any of them in code is not
/// parsed): for benchmarks that compare with a text search.
pub use prefilter::WORDS as PREFILTER_WORDS;
pub use rules::Rule;
pub use source::SourceFile;

/// The nesting depth fork-lint estimates for `text` (brackets, plus the operators and
/// keywords that nest within one statement), or `None` when it exceeds `limit`: a file
/// deeper than [`MAX_NESTING`] is refused with `FL000` before it is parsed.
pub fn nesting_depth(text: &str, limit: usize) -> Option<usize> {
    analysis::nesting::measure(text, limit).ok()
}
