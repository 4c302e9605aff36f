//! `--diff`: the fixes as a unified diff (`similar`), one file after another.

use fork_lint::fix::FixedFile;
use similar::TextDiff;

/// `--- a/NAME` / `+++ b/NAME` hunks for every file that would change.
pub fn render(files: &[FixedFile]) -> String {
    let mut out = String::new();
    for f in files {
        let name = f.name.replace('\\', "/");
        let diff = TextDiff::from_lines(&f.original, &f.fixed);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{name}"), &format!("b/{name}"))
                .to_string(),
        );
    }
    out
}

/// The line `--diff` ends with on stderr.
pub fn summary(files: &[FixedFile]) -> String {
    let fixes: usize = files.iter().map(|f| f.fixes).sum();
    match files.len() {
        0 => "fork-lint: nothing to fix".to_string(),
        n => format!(
            "fork-lint: would fix {fixes} finding{} in {n} file{}",
            if fixes == 1 { "" } else { "s" },
            if n == 1 { "" } else { "s" }
        ),
    }
}
