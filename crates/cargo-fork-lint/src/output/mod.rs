//! The output formats, one module each, and what they share: where a file is relative
//! to the repository (for SARIF and GitHub, whose paths must be repository-relative),
//! and the per-rule counts of `--statistics`.

pub mod cargo;
pub mod concise;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use std::path::{Path, PathBuf};

use fork_lint::Diagnostic;
use fork_lint::SourceFile;

/// Maps linted files to paths relative to the repository root, the base that GitHub
/// annotations and code scanning resolve paths against.
#[derive(Clone, Debug, Default)]
pub struct Locator {
    /// The repository root (absolute), if the files are in one.
    pub root: Option<PathBuf>,
}

impl Locator {
    /// The repository around `dir`: the nearest ancestor holding `.git` (a directory,
    /// or a file in worktrees and submodules).
    pub fn discover(dir: &Path) -> Locator {
        let root = dir
            .ancestors()
            .find(|d| d.join(".git").exists())
            .map(Path::to_path_buf);
        Locator { root }
    }

    /// The file's path relative to the root with `/` separators, or `None` when the
    /// file is outside the root (or there is no root).
    pub fn relative(&self, file: &SourceFile) -> Option<String> {
        let root = self.root.as_ref()?;
        let path = std::path::absolute(&file.path).ok()?;
        let rel = path.strip_prefix(root).ok()?;
        let parts: Vec<_> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// The path to show in repository-relative outputs: relative to the root when the
    /// file is inside it, else the name the user sees.
    pub fn display(&self, file: &SourceFile) -> String {
        self.relative(file)
            .unwrap_or_else(|| file.name.replace('\\', "/"))
    }
}

/// Findings per rule: `(code, name, count)`, most frequent first, then by code.
pub fn statistics(diagnostics: &[Diagnostic]) -> Vec<(&'static str, &'static str, usize)> {
    let mut counts: Vec<(&'static str, &'static str, usize)> = Vec::new();
    for d in diagnostics {
        match counts.iter_mut().find(|(code, _, _)| *code == d.code) {
            Some(entry) => entry.2 += 1,
            None => counts.push((d.code, d.name, 1)),
        }
    }
    counts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    counts
}

/// `--statistics` as a text table: `count  code  name`.
pub fn statistics_table(diagnostics: &[Diagnostic]) -> String {
    let stats = statistics(diagnostics);
    let width = stats
        .iter()
        .map(|s| s.2.to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    for (code, name, count) in stats {
        out.push_str(&format!("{count:>width$}  {code}  {name}\n"));
    }
    out
}

/// `--statistics` as JSON: `[{"code", "name", "count"}]`.
pub fn statistics_json(diagnostics: &[Diagnostic]) -> String {
    #[derive(serde::Serialize)]
    struct Count {
        code: &'static str,
        name: &'static str,
        count: usize,
    }
    let stats: Vec<Count> = statistics(diagnostics)
        .into_iter()
        .map(|(code, name, count)| Count { code, name, count })
        .collect();
    let mut out = serde_json::to_string_pretty(&stats).expect("JSON values serialize");
    out.push('\n');
    out
}
