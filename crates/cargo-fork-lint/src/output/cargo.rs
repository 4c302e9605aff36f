//! `--message-format json`: cargo's JSON messages, one per line — a `compiler-message`
//! per finding, whose `message` is a rustc diagnostic, then one `build-finished` — which
//! is what rust-analyzer's `check.overrideCommand` (and anything else that reads
//! `cargo check --message-format=json`) understands.
//!
//! Each finding is a diagnostic with `code` `{code: "FL004", explanation: <the rule's
//! doc>}`, the primary span (with its label) and one span per secondary label;
//! `children` hold the help line and, when the rule has a fix, a `help` child whose
//! spans carry `suggested_replacement` and `suggestion_applicability` (rustc's
//! `MachineApplicable` for safe fixes, `MaybeIncorrect` for unsafe ones: what editors
//! offer as quick fixes). `file_name` is absolute, so the messages mean the same from
//! any directory.

use std::path::{Path, PathBuf};

use codespan_reporting::term::termcolor::Buffer;
use fork_lint::{Diagnostic, Severity, Span, rules};
use serde::Serialize;
use serde_json::Value;

/// The package a file belongs to, as cargo names it in its messages.
#[derive(Clone, Debug)]
pub struct PackageInfo {
    /// cargo's package id (`path+file:///…#name@version`).
    pub id: String,
    /// The package's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// cargo's target objects (`kind`, `crate_types`, `name`, `src_path`, …).
    pub targets: Vec<Value>,
}

impl PackageInfo {
    /// The packages of a `cargo metadata` answer.
    pub fn from_metadata(metadata: &cargo_metadata::Metadata) -> Vec<PackageInfo> {
        metadata
            .packages
            .iter()
            .map(|p| PackageInfo {
                id: p.id.repr.clone(),
                manifest_path: p.manifest_path.as_std_path().to_path_buf(),
                targets: p
                    .targets
                    .iter()
                    .filter_map(|t| serde_json::to_value(t).ok())
                    .collect(),
            })
            .collect()
    }

    fn root(&self) -> PathBuf {
        let root = self.manifest_path.parent().unwrap_or(Path::new("/"));
        std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
    }

    /// The target a file is part of: the one whose source file it is, else the one
    /// whose source directory holds it most closely (a library before a binary).
    fn target_of(&self, file: &Path) -> Option<&Value> {
        let src = |t: &Value| {
            let p = PathBuf::from(t["src_path"].as_str()?);
            Some(std::fs::canonicalize(&p).unwrap_or(p))
        };
        if let Some(t) = self
            .targets
            .iter()
            .find(|t| src(t).as_deref() == Some(file))
        {
            return Some(t);
        }
        self.targets
            .iter()
            .filter_map(|t| {
                let dir = src(t)?.parent()?.to_path_buf();
                file.starts_with(&dir)
                    .then_some((dir.components().count(), t))
            })
            .max_by_key(|(depth, t)| {
                let is_lib = t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "lib"));
                (*depth, is_lib)
            })
            .map(|(_, t)| t)
    }
}

/// A package for files outside any Cargo package: named after their directory.
fn loose_package(file: &Path) -> PackageInfo {
    let dir = file.parent().unwrap_or(Path::new("/"));
    let name = dir.file_name().map_or("fork-lint-input".to_string(), |n| {
        n.to_string_lossy().into_owned()
    });
    PackageInfo {
        id: format!("path+file://{}#{name}@0.0.0", dir.display()),
        manifest_path: dir.join("Cargo.toml"),
        targets: vec![serde_json::json!({
            "kind": ["bin"],
            "crate_types": ["bin"],
            "name": file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            "src_path": file,
            "edition": "2024",
            "doc": false,
            "doctest": false,
            "test": false,
        })],
    }
}

#[derive(Serialize)]
struct CompilerMessage<'a> {
    reason: &'static str,
    package_id: &'a str,
    manifest_path: &'a Path,
    target: &'a Value,
    message: RustcDiagnostic,
}

#[derive(Serialize)]
struct RustcDiagnostic {
    message: String,
    code: Option<Code>,
    level: &'static str,
    spans: Vec<RustcSpan>,
    children: Vec<RustcDiagnostic>,
    rendered: Option<String>,
}

#[derive(Serialize)]
struct Code {
    code: &'static str,
    explanation: Option<String>,
}

#[derive(Serialize)]
struct RustcSpan {
    file_name: String,
    byte_start: usize,
    byte_end: usize,
    line_start: usize,
    line_end: usize,
    column_start: usize,
    column_end: usize,
    is_primary: bool,
    text: Vec<SpanLine>,
    label: Option<String>,
    suggested_replacement: Option<String>,
    suggestion_applicability: Option<&'static str>,
    expansion: Option<Value>,
}

#[derive(Serialize)]
struct SpanLine {
    text: String,
    highlight_start: usize,
    highlight_end: usize,
}

/// How `rendered` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendered {
    /// rustc-style, plain text.
    Plain,
    /// rustc-style, with ANSI colors.
    Ansi,
    /// One line: `path:line:col: CODE message`.
    Short,
}

/// The `compiler-message` lines of the findings (each ends with a newline), without
/// the final `build-finished`.
pub fn render_messages(
    diagnostics: &[Diagnostic],
    packages: &[PackageInfo],
    rendered: Rendered,
    explain: &str,
) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let file = absolute(&d.primary.file.path);
        let file = std::fs::canonicalize(&file).unwrap_or(file);
        let loose;
        let package = match packages
            .iter()
            .map(|p| (p.root(), p))
            .filter(|(root, _)| file.starts_with(root))
            .max_by_key(|(root, _)| root.components().count())
            .map(|(_, p)| p)
        {
            Some(p) => p,
            None => {
                loose = loose_package(&file);
                &loose
            }
        };
        let fallback = loose_package(&file).targets.remove(0);
        let target = package.target_of(&file).unwrap_or(&fallback);
        let message = CompilerMessage {
            reason: "compiler-message",
            package_id: &package.id,
            manifest_path: &package.manifest_path,
            target,
            message: diagnostic(d, rendered, explain),
        };
        out.push_str(&serde_json::to_string(&message).expect("messages serialize"));
        out.push('\n');
    }
    out
}

/// The closing `build-finished` line.
pub fn build_finished(success: bool) -> String {
    let mut s = serde_json::json!({"reason": "build-finished", "success": success}).to_string();
    s.push('\n');
    s
}

fn diagnostic(d: &Diagnostic, rendered: Rendered, explain: &str) -> RustcDiagnostic {
    let mut spans = vec![span(&d.primary, true, Some(d.primary_label.as_str()), None)];
    spans.extend(
        d.labels
            .iter()
            .map(|l| span(&l.span, false, Some(l.message.as_str()), None)),
    );
    let mut children = Vec::new();
    if let Some(help) = &d.help {
        children.push(child("help", help.clone(), Vec::new()));
    }
    if let Some(fix) = &d.fix {
        let spans = fix
            .edits
            .iter()
            .map(|e| {
                span(
                    &e.span,
                    true,
                    None,
                    Some((e.content.clone(), fix.applicability.rustc_name())),
                )
            })
            .collect();
        children.push(child("help", fix.message.clone(), spans));
    }
    children.push(child(
        "note",
        format!("{} ({}); `{explain} {}` tells more", d.code, d.name, d.code),
        Vec::new(),
    ));
    let rendered = match rendered {
        Rendered::Short => super::concise::render(std::slice::from_ref(d)),
        Rendered::Plain | Rendered::Ansi => {
            let mut buf = if rendered == Rendered::Ansi {
                Buffer::ansi()
            } else {
                Buffer::no_color()
            };
            let _ = super::human::render(std::slice::from_ref(d), explain, &mut buf);
            String::from_utf8_lossy(buf.as_slice()).into_owned()
        }
    };
    RustcDiagnostic {
        message: d.message.clone(),
        code: Some(Code {
            code: d.code,
            explanation: rules::by_code_or_name(d.code).map(|r| r.doc()),
        }),
        level: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        spans,
        children,
        rendered: Some(rendered),
    }
}

fn child(level: &'static str, message: String, spans: Vec<RustcSpan>) -> RustcDiagnostic {
    RustcDiagnostic {
        message,
        code: None,
        level,
        spans,
        children: Vec::new(),
        rendered: None,
    }
}

fn span(
    s: &Span,
    is_primary: bool,
    label: Option<&str>,
    suggestion: Option<(String, &'static str)>,
) -> RustcSpan {
    let file = &s.file;
    let text = (s.start.line..=s.end.line.max(s.start.line))
        .map(|line| {
            let t = file.line_text(line);
            let width = t.chars().count() + 1;
            SpanLine {
                text: t.to_string(),
                highlight_start: if line == s.start.line {
                    s.start.column
                } else {
                    1
                },
                highlight_end: if line == s.end.line {
                    s.end.column
                } else {
                    width
                },
            }
        })
        .collect();
    let (suggested_replacement, suggestion_applicability) = match suggestion {
        Some((text, applicability)) => (Some(text), Some(applicability)),
        None => (None, None),
    };
    RustcSpan {
        file_name: absolute(&file.path).display().to_string(),
        byte_start: s.start.offset,
        byte_end: s.end.offset,
        line_start: s.start.line,
        line_end: s.end.line,
        column_start: s.start.column,
        column_end: s.end.column,
        is_primary,
        text,
        label: label.filter(|l| !l.is_empty()).map(str::to_string),
        suggested_replacement,
        suggestion_applicability,
        expansion: None,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
