//! `--format concise`: `path:line:col: FL00N message`, one finding per line.

use fork_lint::Diagnostic;

pub fn render(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let start = d.primary.start;
        // A message never spans lines in this format: grep and editors read it line-wise.
        let message = d.message.replace(['\r', '\n'], " ");
        out.push_str(&format!(
            "{}:{}:{}: {} {}\n",
            d.primary.file_name(),
            start.line,
            start.column,
            d.code,
            message
        ));
    }
    out
}
