//! `--format human`: rustc-style diagnostics rendered by codespan-reporting, with the
//! primary label, secondary labels (in any file), and a help note.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity,
};
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::termcolor::{Color, ColorSpec, WriteColor};
use codespan_reporting::term::{self, Config};
use fork_lint::SourceFile;
use fork_lint::{Applicability, Diagnostic, InputError, Severity, Span};

/// The files the diagnostics point into, without copying their text.
#[derive(Default)]
struct SourceDb {
    files: Vec<Arc<SourceFile>>,
}

impl SourceDb {
    fn id(&mut self, file: &Arc<SourceFile>) -> usize {
        if let Some(i) = self.files.iter().position(|f| Arc::ptr_eq(f, file)) {
            return i;
        }
        self.files.push(file.clone());
        self.files.len() - 1
    }

    fn get(&self, id: usize) -> Result<&SourceFile, FilesError> {
        self.files
            .get(id)
            .map(|f| &**f)
            .ok_or(FilesError::FileMissing)
    }
}

impl<'a> Files<'a> for SourceDb {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(&self.get(id)?.name)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(&self.get(id)?.text)
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        Ok(self.get(id)?.position_of_offset(byte_index).line - 1)
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        let file = self.get(id)?;
        let lines = file.line_count();
        if line_index >= lines {
            // codespan asks for the line after the last one when a span ends there.
            if line_index == lines {
                return Ok(file.text.len()..file.text.len());
            }
            return Err(FilesError::LineTooLarge {
                given: line_index,
                max: lines - 1,
            });
        }
        // `position(line, 0)` is the line's first byte; a range runs to the next
        // line's start (newline included), as codespan's own file types do.
        let start = file.position(line_index + 1, 0).offset;
        let end = if line_index + 1 < lines {
            file.position(line_index + 2, 0).offset
        } else {
            file.text.len()
        };
        Ok(start..end.max(start))
    }
}

/// A span's byte range, made safe for the renderer: inside the text, on character
/// boundaries, never reversed.
fn range(span: &Span) -> Range<usize> {
    let text = &span.file.text;
    let clamp = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = clamp(span.start.offset);
    let end = clamp(span.end.offset).max(start);
    start..end
}

fn severity(s: Severity) -> CsSeverity {
    match s {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
    }
}

/// Renders the findings. `explain` is the command that prints a rule's doc
/// (`fork-lint --explain`), for the closing note.
pub fn render(
    diagnostics: &[Diagnostic],
    explain: &str,
    out: &mut dyn WriteColor,
) -> io::Result<()> {
    let mut db = SourceDb::default();
    let config = Config::default();
    for d in diagnostics {
        let mut labels = vec![
            CsLabel::primary(db.id(&d.primary.file), range(&d.primary))
                .with_message(&d.primary_label),
        ];
        for l in &d.labels {
            labels.push(
                CsLabel::secondary(db.id(&l.span.file), range(&l.span)).with_message(&l.message),
            );
        }
        let mut notes = Vec::new();
        if let Some(help) = &d.help {
            notes.push(format!("help: {help}"));
        }
        if let Some(fix) = &d.fix {
            notes.push(format!(
                "help: {}: {} ({})",
                fix.message,
                fix.describe().join("; "),
                match fix.applicability {
                    Applicability::Safe => "safe fix: `--fix` applies it",
                    Applicability::Unsafe => "unsafe fix: `--fix --unsafe-fixes` applies it",
                }
            ));
        }
        notes.push(format!(
            "note: {} ({}); `{explain} {}` tells more",
            d.code, d.name, d.code
        ));
        let diagnostic = CsDiagnostic::new(severity(d.severity))
            .with_code(d.code)
            .with_message(&d.message)
            .with_labels(labels)
            .with_notes(notes);
        term::emit_to_write_style(out, &config, &db, &diagnostic).map_err(|e| match e {
            FilesError::Io(io) => io,
            other => io::Error::other(other.to_string()),
        })?;
    }
    Ok(())
}

/// A problem with an input file, rustc-style: `error: path: message` (`error: message`
/// when it is about no file in particular).
pub fn render_input_error(e: &InputError, out: &mut dyn WriteColor) -> io::Result<()> {
    let (word, color) = if e.warning {
        ("warning", Color::Yellow)
    } else {
        ("error", Color::Red)
    };
    out.set_color(ColorSpec::new().set_fg(Some(color)).set_bold(true))?;
    write!(out, "{word}")?;
    if !e.file.is_empty() {
        out.set_color(ColorSpec::new().set_bold(true))?;
        write!(out, ": {}", e.file)?;
    }
    out.reset()?;
    writeln!(out, ": {}", e.message)
}

/// What the closing line counts besides the findings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Files read and analysed (files that could not be read are not counted).
    pub checked: usize,
    /// Files that could not be linted.
    pub failed: usize,
    /// `--fix`: fixes applied, in how many files.
    pub fixed: Option<(usize, usize)>,
}

/// The closing line: how many findings, of which severity, in how many files; how many
/// files could not be linted (a run with errors never says "no findings"); what
/// `--fix` did or could do.
pub fn render_summary(
    diagnostics: &[Diagnostic],
    summary: Summary,
    out: &mut dyn WriteColor,
) -> io::Result<()> {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let mut files: Vec<&str> = diagnostics.iter().map(|d| d.primary.file_name()).collect();
    files.sort_unstable();
    files.dedup();
    let mut checked = format!("{} checked", plural(summary.checked, "file"));
    if summary.failed > 0 {
        checked.push_str(&format!(
            ", {} could not be linted",
            plural(summary.failed, "file")
        ));
    }
    out.set_color(ColorSpec::new().set_bold(true))?;
    if let Some((fixes, in_files)) = summary.fixed {
        write!(
            out,
            "fork-lint: fixed {} in {}; ",
            plural(fixes, "finding"),
            plural(in_files, "file")
        )?;
    } else {
        write!(out, "fork-lint: ")?;
    }
    if diagnostics.is_empty() {
        if summary.failed > 0 {
            write!(
                out,
                "{} could not be linted",
                plural(summary.failed, "file")
            )?;
            out.reset()?;
            return writeln!(
                out,
                " (the errors are on stderr; {} checked)",
                plural(summary.checked, "file")
            );
        }
        let what = if summary.fixed.is_some() {
            "nothing left"
        } else {
            "no findings"
        };
        write!(out, "{what}")?;
        out.reset()?;
        return writeln!(out, " ({checked})");
    }
    write!(
        out,
        "{}{} ({}, {}) in {}",
        plural(diagnostics.len(), "finding"),
        if summary.fixed.is_some() { " left" } else { "" },
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(files.len(), "file"),
    )?;
    out.reset()?;
    write!(out, " ({checked})")?;
    let safe = diagnostics
        .iter()
        .filter(|d| {
            d.fix
                .as_ref()
                .is_some_and(|f| f.applicability == Applicability::Safe)
        })
        .count();
    let unsafe_ = diagnostics.iter().filter(|d| d.fix.is_some()).count() - safe;
    match (safe, unsafe_) {
        (0, 0) => writeln!(out),
        (s, 0) => writeln!(out, "; {s} fixable with `--fix`"),
        (0, u) => writeln!(out, "; {u} fixable with `--fix --unsafe-fixes`"),
        (s, u) => writeln!(
            out,
            "; {s} fixable with `--fix` ({u} more with `--unsafe-fixes`)"
        ),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
