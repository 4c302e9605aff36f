//! What `robustness.rs` and the workspace's `robustness_slow.rs` (which includes this
//! file by path) share: the soundness check every case applies, and the nesting
//! programs.

#![allow(dead_code)] // each test file uses a different subset

use std::path::Path;

use fork_lint::{InputFile, LintOptions, Report};

/// Every rule on every file, without the prefilter.
pub fn all_files() -> LintOptions {
    LintOptions::default().with_prefilter(false)
}

/// No caught panic, and every position inside its file.
pub fn assert_sound(report: &Report) {
    for e in &report.errors {
        assert!(
            !e.message.contains("internal error"),
            "{}: {}",
            e.file,
            e.message
        );
    }
    for d in &report.diagnostics {
        let spans = std::iter::once(&d.primary).chain(d.labels.iter().map(|l| &l.span));
        for span in spans {
            let text = &span.file.text;
            for p in [span.start, span.end] {
                assert!(
                    p.line >= 1 && p.line <= span.file.line_count() && p.column >= 1,
                    "{p:?} outside the file: {}",
                    d.message
                );
                assert!(p.offset <= text.len() && text.is_char_boundary(p.offset));
            }
            assert!(span.start.offset <= span.end.offset);
        }
    }
}

pub fn codes(report: &Report) -> Vec<&'static str> {
    report.diagnostics.iter().map(|d| d.code).collect()
}

pub fn input(path: &Path) -> InputFile {
    InputFile {
        path: path.to_path_buf(),
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
    }
}

/// Constructs that nest, as `(prefix, unit, suffix per unit, tail)`: `n` units make a
/// tree `n` deep. Brackets, and the chains that need no bracket (prefix operators and
/// keywords, closures, generics, postfix and binary chains, `else if`).
pub const NESTERS: &[(&str, &str, &str, &str)] = &[
    ("parens", "(", ")", "1"),
    ("blocks", "{", "}", "1"),
    ("arrays", "[", "]", "1"),
    ("not", "!", "", "x"),
    ("negation", "- ", "", "x"),
    ("references", "&", "", "x"),
    ("return", "return ", "", "x"),
    ("break", "break ", "", "x"),
    ("closures", "|| ", "", "x"),
    ("closures with parameters", "|a, b| ", "", "x"),
    ("move closures", "move || ", "", "x"),
    ("ranges", "..", "", "x"),
    ("assignments", "x = ", "", "1"),
    ("sums", "1 + ", "", "1"),
    ("comparisons", "a == ", "", "b"),
    ("method chain", "", ".f()", "x"),
    ("field chain", "", ".f", "x"),
    ("try chain", "", "?", "x"),
    ("await chain", "", ".await", "x"),
    ("casts", "", " as u8", "x"),
    ("calls", "", "()", "f"),
    ("indexing", "", "[0]", "x"),
    ("else if", "if a {} else ", "", "{}"),
    ("generics", "Vec::<", ">", "u8"),
    ("generics with commas", "HashMap::<K, ", ">", "u8"),
    ("unsafe blocks", "unsafe { ", " }", "1"),
    ("struct literals", "S { a: ", " }", "1"),
];

/// A program with a fork around an expression `n` units deep.
pub fn nested_program(nester: &(&str, &str, &str, &str), n: usize) -> String {
    let (_, prefix, suffix, tail) = *nester;
    let mut expr = String::with_capacity(n * (prefix.len() + suffix.len()) + tail.len());
    for _ in 0..n {
        expr.push_str(prefix);
    }
    expr.push_str(tail);
    for _ in 0..n {
        expr.push_str(suffix);
    }
    format!("fn main() {{\n    let pid = unsafe {{ libc::fork() }};\n    let _ = {expr};\n}}\n")
}
