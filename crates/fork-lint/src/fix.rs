//! Fixes, in Ruff's model: a rule may attach to a finding a [`Fix`] — a message and
//! the [`Edit`]s that make the change — with an [`Applicability`]: **safe** fixes keep
//! what the code means and are applied by `--fix`; **unsafe** ones may change what it
//! does and are applied only with `--unsafe-fixes` too.
//!
//! Applying fixes to files ([`fix_files`]) never writes a file that changed since it
//! was read (its text is compared just before the write) and never leaves a file half
//! written (the new text goes to a temporary file in the same directory, which is then
//! renamed over the old one). Fixes whose edits overlap an edit already applied wait
//! for the next round; after every round the files are linted again, up to
//! [`MAX_ROUNDS`] rounds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Span};
use crate::engine::{LintOptions, Report, lint};
use crate::input::{InputError, InputFile};
use crate::source::SourceFile;

/// How sure a fix is that it keeps the code's meaning (Ruff's `Applicability`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Applicability {
    /// The change may alter what the program does beyond removing the hazard: applied
    /// only with `--unsafe-fixes`. rustc's name: `MaybeIncorrect`.
    Unsafe,
    /// The change keeps what the program means: applied by `--fix`. rustc's name:
    /// `MachineApplicable`.
    Safe,
}

impl Applicability {
    /// `safe` or `unsafe`, as fork-lint's own formats write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
        }
    }

    /// rustc's name for it, as cargo's JSON messages write it (`suggestion_applicability`).
    pub fn rustc_name(self) -> &'static str {
        match self {
            Applicability::Safe => "MachineApplicable",
            Applicability::Unsafe => "MaybeIncorrect",
        }
    }
}

/// One change of a file: the text of `span` becomes `content` (an empty span inserts).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Edit {
    /// What is replaced; `start == end` for an insertion.
    pub span: Span,
    /// The new text.
    pub content: String,
}

impl Edit {
    /// The text the edit replaces.
    pub fn old_text(&self) -> &str {
        self.span
            .file
            .text
            .get(self.span.start.offset..self.span.end.offset)
            .unwrap_or("")
    }

    /// Whether the edit only inserts text.
    pub fn is_insertion(&self) -> bool {
        self.span.start.offset == self.span.end.offset
    }
}

/// A change that removes a finding's hazard. Every edit is in one file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fix {
    /// Safe (`--fix`) or unsafe (`--unsafe-fixes`).
    pub applicability: Applicability,
    /// What the fix does, in a few words: "leave the child with `libc::_exit`".
    pub message: String,
    /// The edits, in file order, not overlapping.
    pub edits: Vec<Edit>,
}

impl Fix {
    /// A fix that keeps the code's meaning.
    pub fn safe(message: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix::new(Applicability::Safe, message, edits)
    }

    /// A fix that may change what the code does.
    pub fn unsafe_edits(message: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix::new(Applicability::Unsafe, message, edits)
    }

    fn new(applicability: Applicability, message: impl Into<String>, mut edits: Vec<Edit>) -> Fix {
        edits.sort_by_key(|e| (e.span.start.offset, e.span.end.offset));
        Fix {
            applicability,
            message: message.into(),
            edits,
        }
    }

    /// Whether `--fix` applies it (with `unsafe_fixes` for `--unsafe-fixes`).
    pub fn applies(&self, unsafe_fixes: bool) -> bool {
        self.applicability == Applicability::Safe || unsafe_fixes
    }

    /// The file the fix changes.
    pub fn file(&self) -> Option<&Arc<SourceFile>> {
        self.edits.first().map(|e| &e.span.file)
    }

    /// One line per edit, for people: "replace `a` with `b`", "insert `c` before line 7".
    pub fn describe(&self) -> Vec<String> {
        self.edits
            .iter()
            .map(|e| {
                let new = e.content.trim();
                if e.is_insertion() {
                    let (line, column) = (e.span.start.line, e.span.start.column);
                    let first = e
                        .span
                        .file
                        .line_text(line)
                        .chars()
                        .take(column - 1)
                        .all(char::is_whitespace);
                    if first {
                        format!("insert `{new}` before line {line}")
                    } else {
                        format!("insert `{new}` at line {line}, column {column}")
                    }
                } else if new.is_empty() {
                    format!("remove `{}`", e.old_text())
                } else {
                    format!("replace `{}` with `{new}`", e.old_text())
                }
            })
            .collect()
    }
}

/// Text with fixes applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The new text.
    pub text: String,
    /// How many fixes were applied.
    pub applied: usize,
    /// How many were left out because an edit overlapped one already applied.
    pub skipped: usize,
}

/// Applies `fixes` (all to the file whose text is `text`) in the order of their first
/// edit. A fix is applied whole or not at all: one whose edits overlap an edit already
/// applied is skipped; an edit identical to one already applied (two findings asking
/// for the same `use` line) is not applied twice.
pub fn apply(text: &str, fixes: &[&Fix]) -> Applied {
    let mut order: Vec<&Fix> = fixes.to_vec();
    order.sort_by_key(|f| {
        f.edits
            .first()
            .map(|e| (e.span.start.offset, e.span.end.offset))
    });
    let mut taken: Vec<(usize, usize, &str)> = Vec::new();
    let (mut applied, mut skipped) = (0, 0);
    for fix in order {
        let mut new: Vec<(usize, usize, &str)> = Vec::new();
        let mut clash = false;
        for e in &fix.edits {
            let (s, t) = (e.span.start.offset, e.span.end.offset);
            if s > t || t > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(t) {
                clash = true;
                break;
            }
            if taken
                .iter()
                .any(|&(a, b, c)| (a, b, c) == (s, t, e.content.as_str()))
            {
                continue; // the same edit, already made
            }
            // Two ranges overlap when they share a byte, or one inserts strictly inside
            // the other; insertions at the same point are all made, in order.
            let overlaps = |&(a, b, _): &(usize, usize, &str)| s < b && a < t;
            if taken.iter().chain(&new).any(overlaps) {
                clash = true;
                break;
            }
            new.push((s, t, e.content.as_str()));
        }
        if clash {
            skipped += 1;
            continue;
        }
        applied += 1;
        taken.extend(new);
    }
    // Stable: insertions at one point keep the order their fixes were taken in.
    taken.sort_by_key(|&(s, t, _)| (s, t));
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for (s, t, content) in taken {
        out.push_str(&text[at..s]);
        out.push_str(content);
        at = t;
    }
    out.push_str(&text[at..]);
    Applied {
        text: out,
        applied,
        skipped,
    }
}

/// One file a fix run changed (or, without writing, would change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedFile {
    /// Where it is.
    pub path: PathBuf,
    /// How it is shown.
    pub name: String,
    /// Its text when first read.
    pub original: String,
    /// Its text with the fixes applied.
    pub fixed: String,
    /// How many fixes were applied to it.
    pub fixes: usize,
}

/// What a fix run did.
#[derive(Debug, Default)]
pub struct FixReport {
    /// The files changed, in input order.
    pub files: Vec<FixedFile>,
    /// The lint after the last round: the findings that remain.
    pub report: Report,
    /// Files not fixed (changed since they were read, cannot be written).
    pub errors: Vec<InputError>,
}

impl FixReport {
    /// The number of fixes applied over all files.
    pub fn fixes(&self) -> usize {
        self.files.iter().map(|f| f.fixes).sum()
    }
}

/// How many times [`fix_files`] lints and fixes: a fix left out because it overlapped
/// another is applied in the next round.
pub const MAX_ROUNDS: usize = 8;

/// A path as the analysis names files: canonical where it exists.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The fixes of a lint, applied in memory, per file: the files in `inputs` only (a
/// finding reported in another file of the package is not fixed by a run that was not
/// given that file).
pub fn plan(
    diagnostics: &[Diagnostic],
    inputs: &[InputFile],
    unsafe_fixes: bool,
) -> Vec<FixedFile> {
    let mut by_file: BTreeMap<PathBuf, (Arc<SourceFile>, Vec<&Fix>)> = BTreeMap::new();
    for d in diagnostics {
        let Some(fix) = d.fix.as_ref().filter(|f| f.applies(unsafe_fixes)) else {
            continue;
        };
        let Some(file) = fix.file() else { continue };
        if fix.edits.iter().any(|e| !Arc::ptr_eq(&e.span.file, file)) {
            continue; // every edit of a fix is in one file
        }
        by_file
            .entry(file.path.clone())
            .or_insert_with(|| (file.clone(), Vec::new()))
            .1
            .push(fix);
    }
    // Findings name files by their absolute path (the analysis reads whole packages);
    // inputs are spelled as given.
    let given: Vec<PathBuf> = inputs.iter().map(|i| absolute(&i.path)).collect();
    let order = |p: &Path| given.iter().position(|i| i == p);
    let mut out: Vec<FixedFile> = by_file
        .into_iter()
        .filter(|(path, _)| order(path).is_some())
        .filter_map(|(path, (file, fixes))| {
            let applied = apply(&file.text, &fixes);
            (applied.applied > 0 && applied.text != file.text).then(|| FixedFile {
                path,
                name: file.name.clone(),
                original: file.text.clone(),
                fixed: applied.text,
                fixes: applied.applied,
            })
        })
        .collect();
    out.sort_by_key(|f| order(&f.path));
    out
}

/// Lints `inputs`, applies their fixes to the files and lints again, until no fix is
/// left (at most [`MAX_ROUNDS`] rounds). With `write` false, nothing is written: one
/// round's fixes are returned (what `--diff` shows).
pub fn fix_files(
    inputs: &[InputFile],
    options: &LintOptions,
    unsafe_fixes: bool,
    write: bool,
) -> FixReport {
    let mut out = FixReport {
        report: lint(inputs, options),
        ..FixReport::default()
    };
    let mut refused: Vec<PathBuf> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let planned: Vec<FixedFile> = plan(&out.report.diagnostics, inputs, unsafe_fixes)
            .into_iter()
            .filter(|f| !refused.contains(&f.path))
            .collect();
        if planned.is_empty() {
            break;
        }
        if !write {
            out.files = planned;
            return out;
        }
        let mut written: Vec<(PathBuf, Vec<(&'static str, String)>)> = Vec::new();
        for f in planned {
            if let Err(message) = write_if_unchanged(&f.path, &f.original, &f.fixed) {
                out.errors.push(InputError::new(f.name.clone(), message));
                refused.push(f.path.clone());
                continue;
            }
            written.push((
                f.path.clone(),
                fixable(&out.report.diagnostics, &f.path, unsafe_fixes),
            ));
            match out.files.iter_mut().find(|g| g.path == f.path) {
                Some(g) => {
                    g.fixed = f.fixed;
                    g.fixes += f.fixes;
                }
                None => out.files.push(f),
            }
        }
        if written.is_empty() {
            break;
        }
        out.report = lint(inputs, options);
        // A fix whose finding comes back unchanged would be applied round after round.
        for (path, before) in written {
            let now = fixable(&out.report.diagnostics, &path, unsafe_fixes);
            if !now.is_empty() && now == before {
                let name = inputs
                    .iter()
                    .find(|i| absolute(&i.path) == path)
                    .map_or_else(|| path.display().to_string(), |i| i.name.clone());
                out.errors.push(InputError {
                    file: name,
                    message: "stopped fixing it: a fix did not remove its finding (a bug in fork-lint; please report it with this file)".into(),
                    warning: true,
                });
                refused.push(path);
            }
        }
    }
    out.files
        .sort_by_key(|f| inputs.iter().position(|i| i.path == f.path));
    out
}

/// The fixable findings of one file, without their positions (which a fix moves).
fn fixable(
    diagnostics: &[Diagnostic],
    path: &Path,
    unsafe_fixes: bool,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = diagnostics
        .iter()
        .filter(|d| d.primary.file.path == path)
        .filter_map(|d| {
            let fix = d.fix.as_ref().filter(|f| f.applies(unsafe_fixes))?;
            let contents: Vec<&str> = fix.edits.iter().map(|e| e.content.as_str()).collect();
            Some((
                d.code,
                format!("{}: {}: {contents:?}", d.message, fix.message),
            ))
        })
        .collect();
    out.sort();
    out
}

/// Replaces the file at `path` with `new`, if it still holds `expected`: the new text
/// is written to a temporary file in the same directory (same file system), synced,
/// given the old file's permissions, and renamed over it — a reader sees the old text
/// or the new one, never a part. A symbolic link is followed (the link stays a link).
/// `Err` is a message for the user that names what to do.
pub fn write_if_unchanged(path: &Path, expected: &str, new: &str) -> Result<(), String> {
    let real = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot fix it: cannot find it any more ({e})"))?;
    let dir = real
        .parent()
        .ok_or_else(|| "cannot fix it: it has no parent directory".to_string())?;
    let metadata = std::fs::metadata(&real)
        .map_err(|e| format!("cannot fix it: cannot read its metadata ({e})"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".fork-lint-fix-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            format!(
                "cannot fix it: cannot create a temporary file in {} ({e}); check that the directory is writable",
                dir.display()
            )
        })?;
    tmp.write_all(new.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .and_then(|()| tmp.as_file().set_permissions(metadata.permissions()))
        .map_err(|e| {
            format!("cannot fix it: cannot write the new text ({e}); the file is unchanged")
        })?;
    // Last moment before the rename: the file must still be what was linted.
    let current = std::fs::read(&real)
        .map_err(|e| format!("cannot fix it: cannot read it again ({e}); the file is unchanged"))?;
    if current != expected.as_bytes() {
        return Err(
            "not fixed: the file changed since fork-lint read it; run fork-lint again".into(),
        );
    }
    tmp.persist(&real).map_err(|e| {
        format!(
            "cannot fix it: cannot replace it ({}); the file is unchanged",
            e.error
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;

    fn file(text: &str) -> Arc<SourceFile> {
        Arc::new(SourceFile::new("a.rs".into(), "a.rs".into(), text.into()))
    }

    fn edit(f: &Arc<SourceFile>, line: usize, col0: usize, len: usize, content: &str) -> Edit {
        Edit {
            span: Span {
                file: f.clone(),
                start: f.position(line, col0),
                end: f.position(line, col0 + len),
            },
            content: content.into(),
        }
    }

    #[test]
    fn applies_non_overlapping_fixes_and_skips_overlapping_ones() {
        let f = file("exit(1);\nexit(2);\n");
        let a = Fix::safe("a", vec![edit(&f, 1, 0, 4, "_exit")]);
        let b = Fix::safe("b", vec![edit(&f, 2, 0, 4, "_exit")]);
        let overlapping = Fix::safe("c", vec![edit(&f, 1, 2, 4, "X")]);
        let r = apply(&f.text, &[&b, &a, &overlapping]);
        assert_eq!(r.text, "_exit(1);\n_exit(2);\n");
        assert_eq!((r.applied, r.skipped), (2, 1));
    }

    #[test]
    fn insertions_at_one_point_are_all_made_and_identical_edits_once() {
        let f = file("fork();\n");
        let use_line = edit(&f, 1, 0, 0, "use std::io::Write;\n");
        let a = Fix::safe(
            "a",
            vec![use_line.clone(), edit(&f, 1, 0, 0, "flush_a();\n")],
        );
        let b = Fix::safe("b", vec![use_line, edit(&f, 1, 0, 0, "flush_b();\n")]);
        let r = apply(&f.text, &[&a, &b]);
        assert_eq!(
            r.text,
            "use std::io::Write;\nflush_a();\nflush_b();\nfork();\n"
        );
        assert_eq!(r.applied, 2);
    }

    #[test]
    fn an_insertion_inside_a_replaced_range_overlaps() {
        let f = file("abcdef\n");
        let a = Fix::safe("a", vec![edit(&f, 1, 1, 4, "X")]);
        let b = Fix::safe("b", vec![edit(&f, 1, 3, 0, "Y")]);
        let r = apply(&f.text, &[&a, &b]);
        assert_eq!((r.text.as_str(), r.skipped), ("aXf\n", 1));
    }

    #[test]
    fn writes_only_an_unchanged_file_and_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rs");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_if_unchanged(&path, "old", "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // Changed behind our back: refused, untouched, no temporary file left.
        let err = write_if_unchanged(&path, "old", "newer").unwrap_err();
        assert!(err.contains("changed since fork-lint read it"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_symbolic_link_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.rs");
        let link = dir.path().join("link.rs");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_if_unchanged(&link, "old", "new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }
}
