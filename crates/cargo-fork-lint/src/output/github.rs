//! `--format github`: GitHub Actions workflow commands, which the runner turns into
//! annotations on the pull request's diff.

use fork_lint::{Diagnostic, InputError, Severity};

use super::Locator;

pub fn render(diagnostics: &[Diagnostic], errors: &[InputError], locator: &Locator) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let p = &d.primary;
        let file = locator.display(&p.file);
        out.push_str(&format!(
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&file),
            p.start.line,
            p.start.column,
            p.end.line,
            p.end.column,
            escape_property(&format!("{} ({})", d.code, d.name)),
            escape_data(&d.message),
        ));
    }
    // Files that could not be linted are annotated too, so they are seen in the run's
    // summary, not only in its log.
    for e in errors {
        let command = if e.warning { "warning" } else { "error" };
        out.push_str(&format!(
            "::{command} file={},title={}::{}\n",
            escape_property(&e.file),
            escape_property("fork-lint"),
            escape_data(&e.message),
        ));
    }
    out
}

/// The escaping of a command's message.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The escaping of a property value: the message's, plus the separators `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_data("100%\r\nnext: a,b"), "100%25%0D%0Anext: a,b");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
