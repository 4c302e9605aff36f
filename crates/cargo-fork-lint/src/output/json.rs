//! `--format json`: the array of SPEC §4, one object per finding, in the report's order
//! (file, line, column).

use fork_lint::Diagnostic;
use serde::Serialize;

/// One finding. Field order is the documented schema's.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'a str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    fix: Option<JsonFix<'a>>,
}

/// A fix: how sure it is, what it does, and its edits.
#[derive(Serialize)]
struct JsonFix<'a> {
    applicability: &'static str,
    message: &'a str,
    edits: Vec<JsonEdit<'a>>,
}

/// The text from (`line`, `column`) to (`end_line`, `end_column`) becomes `content`.
#[derive(Serialize)]
struct JsonEdit<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    content: &'a str,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    message: &'a str,
}

pub fn render(diagnostics: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic<'_>> = diagnostics
        .iter()
        .map(|d| JsonDiagnostic {
            code: d.code,
            name: d.name,
            severity: d.severity.as_str(),
            message: &d.message,
            file: d.primary.file_name(),
            line: d.primary.start.line,
            column: d.primary.start.column,
            end_line: d.primary.end.line,
            end_column: d.primary.end.column,
            labels: d
                .labels
                .iter()
                .map(|l| JsonLabel {
                    file: l.span.file_name(),
                    line: l.span.start.line,
                    column: l.span.start.column,
                    message: &l.message,
                })
                .collect(),
            help: d.help.as_deref(),
            fix: d.fix.as_ref().map(|f| JsonFix {
                applicability: f.applicability.as_str(),
                message: &f.message,
                edits: f
                    .edits
                    .iter()
                    .map(|e| JsonEdit {
                        file: e.span.file_name(),
                        line: e.span.start.line,
                        column: e.span.start.column,
                        end_line: e.span.end.line,
                        end_column: e.span.end.column,
                        content: &e.content,
                    })
                    .collect(),
            }),
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).expect("findings serialize");
    out.push('\n');
    out
}
