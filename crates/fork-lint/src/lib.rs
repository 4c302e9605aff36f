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

pub mod analysis;
pub mod checker;
pub mod config;
pub mod diagnostic;
pub mod discover;
mod engine;
pub mod prefilter;
pub mod rules;
pub mod source;
pub mod suppression;

pub use config::{Config, ConfigError, RuleSet};
pub use diagnostic::{Diagnostic, Label, LabelKind, Position, Severity, Span};
pub use engine::{
    InputError, InputFile, LintOptions, MAX_FILE_BYTES, MAX_NESTING, Report, Stats, lint,
    lint_source,
};
pub use rules::Rule;
