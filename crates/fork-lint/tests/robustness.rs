//! Inputs that must not break the linter: deep nesting, huge files, binary junk, bad
//! encodings, odd line endings, and the crashes the fuzzers found. Each case must end
//! without a panic or an internal error, in bounded time, with a clear message when the
//! file cannot be analysed. `docs/robustness.md` (section "Linter") tells what was tried
//! and found.
//!
//! The cases that take seconds each in a debug build (100,000 files, a 50 MB file, the
//! sweep just under the nesting limit, 200,000 spans on a line) are in the workspace's
//! `tests/robustness_slow.rs`: `cargo test --workspace` runs them, `cargo test -p
//! fork-lint` (the inner loop) does not.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{NESTERS, all_files, assert_sound, codes, input, nested_program};
use fork_lint::{InputFile, LintOptions, MAX_FILE_BYTES, MAX_NESTING, Report, lint, lint_source};

// ---------------------------------------------------------------------------------
// Nesting

#[test]
fn deep_nesting_is_refused_with_a_clear_message() {
    for nester in NESTERS {
        // 100,000 levels: far past what a 256 MB stack survives for most of these.
        let src = nested_program(nester, 100_000);
        let started = Instant::now();
        let report = lint_source("deep.rs", &src, &all_files());
        assert_sound(&report);
        assert_eq!(codes(&report), ["FL000"], "{}", nester.0);
        let d = &report.diagnostics[0];
        assert!(
            d.message
                .contains(&format!("nested more than {MAX_NESTING} levels deep")),
            "{}: {}",
            nester.0,
            d.message
        );
        assert_eq!(d.primary.start.line, 3, "{}", nester.0);
        assert!(started.elapsed() < Duration::from_secs(10), "{}", nester.0);
    }
}

#[test]
fn deep_nesting_in_a_file_read_for_a_cross_file_lookup() {
    // `main.rs` forks and calls `helper`, defined in a file the prefilter skips (it
    // mentions no fork point) and that is parsed only when the analysis looks the name
    // up: that parse must be guarded as well.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"p\"\n").unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        "mod helper;\nfn main() {\n    std::thread::spawn(|| {});\n    if unsafe { libc::fork() } == 0 {\n        helper::helper();\n        unsafe { libc::_exit(0) };\n    }\n}\n",
    )
    .unwrap();
    let deep = format!(
        "pub fn helper() {{\n    let _ = {}x;\n}}\n",
        "return ".repeat(200_000)
    );
    std::fs::write(root.join("src/helper.rs"), deep).unwrap();
    let report = lint(&[input(&root.join("src/main.rs"))], &LintOptions::default());
    assert_sound(&report);
}

// ---------------------------------------------------------------------------------
// Size

#[test]
fn a_file_just_under_the_size_limit_is_analysed() {
    let mut text = String::from(
        "fn main() {\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        println!(\"x\");\n    }\n}\n",
    );
    let filler = "// padding padding padding padding padding padding padding padding\n";
    while text.len() + filler.len() <= MAX_FILE_BYTES {
        text.push_str(filler);
    }
    let report = lint_source("big.rs", &text, &all_files());
    assert_sound(&report);
    assert!(codes(&report).contains(&"FL005"), "{:?}", codes(&report));
}

// ---------------------------------------------------------------------------------
// Encodings, junk and layout

#[test]
fn binary_junk_named_rs() {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic pseudo-random bytes: not UTF-8.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let junk: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(dir.path().join("junk.rs"), &junk).unwrap();
    // Valid UTF-8 that is not Rust: control characters, NULs, stray quotes.
    let ascii_junk: String = junk
        .iter()
        .map(|b| char::from(b & 0x7f))
        .collect::<String>();
    std::fs::write(dir.path().join("ascii_junk.rs"), &ascii_junk).unwrap();
    // An ELF header, as when a binary is named `.rs` by mistake.
    std::fs::write(
        dir.path().join("elf.rs"),
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\xa0\x10\x40\0fork",
    )
    .unwrap();
    let files: Vec<InputFile> = ["junk.rs", "ascii_junk.rs", "elf.rs"]
        .iter()
        .map(|f| input(&dir.path().join(f)))
        .collect();
    let report = lint(&files, &all_files());
    assert_sound(&report);
    let errors: Vec<_> = report
        .errors
        .iter()
        .map(|e| (e.file.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (file, message) in errors {
        assert!(["junk.rs", "elf.rs"].contains(&file));
        assert!(
            message.contains("is not valid UTF-8 (invalid byte at offset"),
            "{message}"
        );
    }
    // The text that is UTF-8 does not parse: one FL000 at the parser's location.
    assert_eq!(codes(&report), ["FL000"]);
    assert_eq!(report.diagnostics[0].primary.file.name, "ascii_junk.rs");
}

#[test]
fn invalid_utf8_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.rs");
    std::fs::write(&path, b"fn main() { let s = \"caf\xe9\"; libc::fork(); }\n").unwrap();
    let report = lint(&[input(&path)], &LintOptions::default());
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0]
            .message
            .contains("is not valid UTF-8 (invalid byte at offset 24)"),
        "{}",
        report.errors[0].message
    );
    assert!(report.diagnostics.is_empty());
}

#[test]
fn empty_file_and_byte_order_mark_only() {
    for text in [
        "",
        "\u{feff}",
        "\n",
        "\u{feff}\n",
        "\r\n",
        "#!/usr/bin/env run-cargo-script\n",
    ] {
        let report = lint_source("empty.rs", text, &all_files());
        assert_sound(&report);
        assert!(
            report.diagnostics.is_empty(),
            "{text:?}: {:?}",
            codes(&report)
        );
        assert!(report.errors.is_empty(), "{text:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.rs"), "").unwrap();
    std::fs::write(dir.path().join("bom.rs"), "\u{feff}").unwrap();
    let files = [
        input(&dir.path().join("empty.rs")),
        input(&dir.path().join("bom.rs")),
    ];
    let report = lint(&files, &all_files());
    assert!(report.diagnostics.is_empty() && report.errors.is_empty());
}

/// A child that falls through (FL005) and an unsafe call in it (FL004 once threads
/// run): findings whose positions the layout tests compare.
const PROGRAM: &str = "use std::thread;\nfn main() {\n    thread::spawn(|| {});\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        let v = vec![1, 2, 3];\n    }\n}\n";

fn positions(report: &Report) -> Vec<(&'static str, usize, usize, usize, usize)> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            let (s, e) = (d.primary.start, d.primary.end);
            (d.code, s.line, s.column, e.line, e.column)
        })
        .collect()
}

#[test]
fn crlf_line_endings_report_the_same_positions() {
    let lf = lint_source("lf.rs", PROGRAM, &all_files());
    let crlf_text = PROGRAM.replace('\n', "\r\n");
    let crlf = lint_source("crlf.rs", &crlf_text, &all_files());
    assert_sound(&crlf);
    assert!(!lf.diagnostics.is_empty());
    assert_eq!(positions(&lf), positions(&crlf));
    // Offsets point at the same text.
    for (a, b) in lf.diagnostics.iter().zip(&crlf.diagnostics) {
        let at = |d: &fork_lint::Diagnostic| {
            let t = &d.primary.file.text;
            t[d.primary.start.offset..]
                .chars()
                .take(8)
                .collect::<String>()
        };
        assert_eq!(at(a), at(b));
    }
    // A lone CR (old Mac line endings) is no line break for Rust: still no crash.
    let cr = lint_source("cr.rs", &PROGRAM.replace('\n', "\r"), &all_files());
    assert_sound(&cr);
}

#[test]
fn tabs_and_multibyte_characters_count_as_one_column() {
    // The unsafe call `vec!` at column 9 (4 spaces, then `let v = `) in PROGRAM; here
    // the line starts with tabs, CJK, an emoji and combining accents in a comment.
    let prefix = "\t\t/* 日本語 🦀 é */ ";
    let src = PROGRAM.replace("        let v = vec!", &format!("{prefix}let v = vec!"));
    let report = lint_source("wide.rs", &src, &all_files());
    assert_sound(&report);
    let fl004: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == "FL004")
        .collect();
    assert_eq!(fl004.len(), 1, "{:?}", positions(&report));
    let start = fl004[0].primary.start;
    let expected_column = prefix.chars().count() + "let v = ".len() + 1;
    assert_eq!((start.line, start.column), (6, expected_column));
    assert!(src[start.offset..].starts_with("vec!"));
    // With a byte order mark the columns of line 1 do not move (rustc ignores it too).
    let bom = format!("\u{feff}{src}");
    let report = lint_source("bom.rs", &bom, &all_files());
    assert_eq!(
        positions(&report),
        positions(&lint_source("wide.rs", &src, &all_files()))
    );
}

#[test]
fn junk_in_macro_arguments_is_linear() {
    // `println!` arguments that do not parse as a list are parsed expression by
    // expression; restarting after every token of a 1,900-deep failing prefix was
    // quadratic (a 380 kB file took 28 s in a release build).
    let junk = format!("{}; ", "- ".repeat(1900)).repeat(100);
    let src =
        format!("fn main() {{ unsafe {{ cmd.pre_exec(|| {{ println!({junk}); Ok(()) }}) }}; }}\n");
    let started = Instant::now();
    let report = lint_source("junk.rs", &src, &all_files());
    assert_sound(&report);
    assert_eq!(codes(&report), ["FL004"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn thousands_of_fork_points_in_one_file_are_linear() {
    // Each fork point asked for its function's callers, resolved the calls of its
    // child by scanning every function of the file, and searched the whole text:
    // 4,000 forking functions took 32 s in a release build, 40,000 (5 MB) 75 s after
    // the first fix.
    let mut src = String::from(
        "fn main() {\n    std::thread::spawn(|| {});\n    if unsafe { libc::fork() } == 0 {\n        f0();\n    }\n}\nfn f0() {}\nfn helper() { let s = format!(\"x\"); }\n",
    );
    for i in 0..5000 {
        src.push_str(&format!(
            "fn k{i}(m: &std::sync::Mutex<u8>) {{ let g = m.lock().unwrap(); let pid = unsafe {{ libc::fork() }}; if pid == 0 {{ helper(); }} }}\n"
        ));
    }
    let started = Instant::now();
    let report = lint_source("forks.rs", &src, &all_files());
    assert_sound(&report);
    assert!(report.diagnostics.len() > 5000);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------
// Fuzzer findings

/// Every input the fuzzers crashed on (`fuzz/`, see docs/robustness.md), replayed.
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("the regression directory") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let started = Instant::now();
        let report = lint_source("fuzz.rs", &text, &all_files());
        assert_sound(&report);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}: {:?}",
            path.display(),
            started.elapsed()
        );
        count += 1;
    }
    assert!(count > 0, "no regression inputs in {}", dir.display());
}
