//! What a rule sees: the package's shared analyses, and a way to report.

use std::cell::RefCell;

use crate::analysis::PackageCx;
use crate::config::RuleSet;
use crate::diagnostic::{Diagnostic, Label, Span};
use crate::fix::Fix;
use crate::rules::Rule;

/// A finding before the rule's code, name and severity are attached.
pub struct Finding {
    pub message: String,
    pub primary: Span,
    pub primary_label: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// The change that removes the hazard, built where the finding is made (each rule
    /// documents its fixes and their applicability in its doc comment).
    pub fix: Option<Fix>,
}

pub struct Checker<'a> {
    pub cx: &'a PackageCx<'a>,
    rules: &'a RuleSet,
    diagnostics: RefCell<Vec<Diagnostic>>,
}

impl<'a> Checker<'a> {
    pub fn new(cx: &'a PackageCx<'a>, rules: &'a RuleSet) -> Checker<'a> {
        Checker {
            cx,
            rules,
            diagnostics: RefCell::default(),
        }
    }

    /// Reports a finding of `rule` (ignored if the rule is not enabled).
    pub fn report(&self, rule: &'static Rule, finding: Finding) {
        let Some(severity) = self.rules.severity(rule.code) else {
            return;
        };
        // A fix made from a macro's expansion would rewrite the macro call.
        let fix = finding.fix.filter(|f| {
            !f.edits
                .iter()
                .any(|e| self.cx.inside_expanded_call(&e.span))
        });
        self.diagnostics.borrow_mut().push(Diagnostic {
            code: rule.code,
            name: rule.name,
            severity,
            message: finding.message,
            primary: finding.primary,
            primary_label: finding.primary_label,
            labels: finding.labels,
            help: finding.help,
            fix,
        });
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics.into_inner()
    }
}
