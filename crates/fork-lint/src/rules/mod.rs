//! The rule catalog: one file per rule, each holding its documentation, its code and
//! name, and its check. `--explain`, `--list-rules`, SARIF's rule descriptions and the
//! generated rule docs all read the doc comment through [`Rule::doc`]; there is no
//! second copy of any rule's text.
//!
//! Adding a rule: write `rules/<rule_name>.rs` with one `declare_rule!` (its doc
//! comment and metadata) and a `check` function at the top level, then add one `mod`
//! line and one line to [`ALL`] below.

use crate::checker::Checker;
use crate::diagnostic::Severity;

/// A rule's metadata and check.
pub struct Rule {
    /// Stable code: `FL004`.
    pub code: &'static str,
    /// Kebab-case name: `unsafe-call-after-fork`.
    pub name: &'static str,
    /// Severity unless configured otherwise.
    pub default_severity: Severity,
    /// The doc comment of the rule's declaration, as Markdown (one leading space per
    /// line removed by [`Rule::doc`]).
    raw_doc: &'static str,
    /// `None` for the engine's own codes (parse errors, unused suppressions), whose
    /// findings the engine reports itself.
    pub(crate) check: Option<fn(&Checker<'_>)>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.name)
    }
}

impl Rule {
    pub(crate) const fn new(
        code: &'static str,
        name: &'static str,
        default_severity: Severity,
        raw_doc: &'static str,
        check: Option<fn(&Checker<'_>)>,
    ) -> Rule {
        Rule {
            code,
            name,
            default_severity,
            raw_doc,
            check,
        }
    }

    /// Whether the rule is a check of the code (`false` for the engine's own codes:
    /// parse errors and unused suppressions).
    pub fn checks_code(&self) -> bool {
        self.check.is_some()
    }

    /// The rule's documentation as Markdown.
    pub fn doc(&self) -> String {
        let mut out = String::with_capacity(self.raw_doc.len());
        for line in self.raw_doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out.trim().to_string() + "\n"
    }

    /// One section of the doc (`What it does`, `Why is this bad`, …), without its heading.
    pub fn section(&self, heading: &str) -> Option<String> {
        let doc = self.doc();
        let marker = format!("## {heading}");
        let start = doc.find(&marker)? + marker.len();
        let rest = &doc[start..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        Some(rest[..end].trim().to_string())
    }

    /// The first sentence of "What it does": the one-line description.
    pub fn summary(&self) -> String {
        let what = self.section("What it does").unwrap_or_default();
        let para = what.split("\n\n").next().unwrap_or("").replace('\n', " ");
        match para.find(". ") {
            Some(i) => para[..=i].to_string(),
            None => para,
        }
    }
}

/// Declares a rule from its doc comment and metadata.
///
/// ```ignore
/// declare_rule! {
///     /// ## What it does
///     /// …
///     pub static CHILD_FALLS_THROUGH = {
///         code: "FL005",
///         name: "child-falls-through",
///         severity: Error,
///         check: check,
///     };
/// }
/// ```
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        pub static $ident:ident = {
            code: $code:literal,
            name: $name:literal,
            severity: $severity:ident,
            check: $check:expr $(,)?
        };
    ) => {
        $(#[doc = $doc])*
        pub static $ident: $crate::rules::Rule = $crate::rules::Rule::new(
            $code,
            $name,
            $crate::Severity::$severity,
            concat!($($doc, "\n"),*),
            $check,
        );
    };
}

pub(crate) use declare_rule;

pub(crate) mod child_falls_through;
pub(crate) mod fork_with_threads;
pub(crate) mod inherited_rng_state;
pub(crate) mod lock_held_across_fork;
pub(crate) mod non_serializable_argument;
pub(crate) mod parent_state_not_inherited;
pub(crate) mod parse_error;
pub(crate) mod start_method_set_twice;
pub(crate) mod unflushed_output_at_fork;
pub(crate) mod unguarded_entry_point;
pub(crate) mod unreaped_child;
pub(crate) mod unsafe_call_after_fork;
pub(crate) mod unused_allow;

/// Every rule, in code order (one line per rule).
pub static ALL: &[&Rule] = &[
    &parse_error::PARSE_ERROR,
    &non_serializable_argument::NON_SERIALIZABLE_ARGUMENT,
    &lock_held_across_fork::LOCK_HELD_ACROSS_FORK,
    &unguarded_entry_point::UNGUARDED_ENTRY_POINT,
    &unsafe_call_after_fork::UNSAFE_CALL_AFTER_FORK,
    &child_falls_through::CHILD_FALLS_THROUGH,
    &unreaped_child::UNREAPED_CHILD,
    &fork_with_threads::FORK_WITH_THREADS,
    &start_method_set_twice::START_METHOD_SET_TWICE,
    &parent_state_not_inherited::PARENT_STATE_NOT_INHERITED,
    &inherited_rng_state::INHERITED_RNG_STATE,
    &unflushed_output_at_fork::UNFLUSHED_OUTPUT_AT_FORK,
    &unused_allow::UNUSED_ALLOW,
];

/// Looks a rule up by code (`FL004`) or name (`unsafe-call-after-fork`), ignoring case.
pub fn by_code_or_name(key: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(key))
}
