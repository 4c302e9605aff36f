//! Inputs that must not break the linter: deep nesting, huge files, many files, binary
//! junk, bad encodings, odd line endings, and the crashes the fuzzers found. Each case
//! must end without a panic or an internal error, in bounded time and memory, with a
//! clear message when the file cannot be analysed. `docs/robustness.md` (section
//! "Linter") tells what was tried and found.
//!
//! Memory is measured in a child process (this test binary, re-run on one ignored
//! test), whose peak resident set (`VmHWM`) is read from `/proc/self/status`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fork_lint::discover::{Exclude, collect_files};
use fork_lint::{InputFile, LintOptions, MAX_FILE_BYTES, MAX_NESTING, Report, lint, lint_source};

fn all_files() -> LintOptions {
    LintOptions::default().with_prefilter(false)
}

/// No caught panic, and every position inside its file.
fn assert_sound(report: &Report) {
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

fn codes(report: &Report) -> Vec<&'static str> {
    report.diagnostics.iter().map(|d| d.code).collect()
}

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "fork-lint-robustness-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn input(path: &Path) -> InputFile {
    InputFile {
        path: path.to_path_buf(),
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
    }
}

// ---------------------------------------------------------------------------------
// Nesting

/// Constructs that nest, as `(prefix, unit, suffix per unit, tail)`: `n` units make a
/// tree `n` deep. Brackets, and the chains that need no bracket (prefix operators and
/// keywords, closures, generics, postfix and binary chains, `else if`).
const NESTERS: &[(&str, &str, &str, &str)] = &[
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
fn nested_program(nester: &(&str, &str, &str, &str), n: usize) -> String {
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

/// The largest `n` whose program measures at most `MAX_NESTING`.
fn deepest_accepted(nester: &(&str, &str, &str, &str)) -> usize {
    let (mut lo, mut hi) = (1, 4 * MAX_NESTING);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fork_lint::nesting_depth(&nested_program(nester, mid), MAX_NESTING).is_some() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

#[test]
fn nesting_just_under_the_limit_is_analysed() {
    // Runs in this test's thread (2 MB of stack): `lint_source` must bring its own.
    for nester in NESTERS {
        let n = deepest_accepted(nester);
        let src = nested_program(nester, n);
        let depth = fork_lint::nesting_depth(&src, MAX_NESTING).expect("under the limit");
        assert!(depth + 10 >= MAX_NESTING, "{}: {depth}", nester.0);
        let report = lint_source("deep.rs", &src, &all_files());
        assert_sound(&report);
        assert!(
            !report
                .diagnostics
                .iter()
                .any(|d| d.message.contains("levels deep")),
            "{}: refused at depth {depth}",
            nester.0
        );
        // One unit more is refused.
        let report = lint_source("deep.rs", &nested_program(nester, n + 1), &all_files());
        assert_eq!(codes(&report), ["FL000"], "{}", nester.0);
    }
}

#[test]
fn deep_nesting_in_a_file_read_for_a_cross_file_lookup() {
    // `main.rs` forks and calls `helper`, defined in a file the prefilter skips (it
    // mentions no fork point) and that is parsed only when the analysis looks the name
    // up: that parse must be guarded as well.
    let dir = TempDir::new("lazy");
    let root = &dir.0;
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
// Size: one huge file, many small ones

/// Re-runs this test binary on [`child`] with `case`, and returns what it printed
/// and its peak resident set in kB.
fn run_child(case: &str, dir: &Path) -> (String, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FORK_LINT_ROBUSTNESS_CHILD", case)
        .env("FORK_LINT_ROBUSTNESS_DIR", dir)
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child {case} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let hwm = stdout
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM-kB="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM from child {case}:\n{stdout}"));
    (stdout, hwm)
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The work of the memory tests, in a process of its own.
#[test]
#[ignore = "run by the memory tests in a child process"]
fn child() {
    let Ok(case) = std::env::var("FORK_LINT_ROBUSTNESS_CHILD") else {
        return;
    };
    let dir = PathBuf::from(std::env::var("FORK_LINT_ROBUSTNESS_DIR").unwrap());
    let started = Instant::now();
    let report = match case.as_str() {
        "big-file" => lint(&[input(&dir.join("big.rs"))], &all_files()),
        "many-files" => {
            let (files, errors) = collect_files(std::slice::from_ref(&dir), &Exclude::default());
            assert!(errors.is_empty(), "{errors:?}");
            println!("files={}", files.len());
            lint(&files, &LintOptions::default())
        }
        other => panic!("unknown case {other}"),
    };
    assert_sound(&report);
    println!("elapsed-ms={}", started.elapsed().as_millis());
    println!("diagnostics={}", report.diagnostics.len());
    println!("errors={}", report.errors.len());
    for d in report.diagnostics.iter().take(3) {
        println!("diagnostic={} {}", d.code, d.message);
    }
    println!("VmHWM-kB={}", peak_rss_kb());
}

#[test]
fn a_50_mb_file_is_refused_quickly_in_bounded_memory() {
    let dir = TempDir::new("big");
    // Real-looking code with a fork in every hundredth function: 50 MiB.
    let mut text = String::with_capacity(51 << 20);
    let mut i = 0;
    while text.len() < 50 << 20 {
        if i % 100 == 0 {
            text.push_str(&format!(
                "pub fn f{i}(m: &std::sync::Mutex<u8>) {{\n    let g = m.lock().unwrap();\n    if unsafe {{ libc::fork() }} == 0 {{\n        println!(\"child {{}}\", *g);\n    }}\n}}\n"
            ));
        } else {
            text.push_str(&format!(
                "/// Adds.\npub fn f{i}(a: u32, b: u32) -> u32 {{\n    let c = a.wrapping_add(b) * 3;\n    if c > 10 {{ return c - 1; }}\n    c\n}}\n"
            ));
        }
        i += 1;
    }
    assert!(text.len() > MAX_FILE_BYTES);
    std::fs::write(dir.0.join("big.rs"), &text).unwrap();
    drop(text);
    let (out, hwm) = run_child("big-file", &dir.0);
    assert!(
        out.contains("diagnostic=FL000 cannot parse this file: the file is 50.0 MiB, larger than the 8 MiB fork-lint parses"),
        "{out}"
    );
    // The text, its line index and the test harness: a few times the file, not the
    // 130 bytes per byte a syntax tree would take (6.5 GB).
    assert!(hwm < 400 << 10, "peak RSS {hwm} kB\n{out}");
    println!("50 MiB file: peak RSS {hwm} kB\n{out}");
}

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

#[test]
fn a_hundred_thousand_tiny_files() {
    let dir = TempDir::new("many");
    // A tree of 100 directories of 1,000 files; half of them fork and call a helper.
    for d in 0..100 {
        let sub = dir.0.join(format!("d{d:03}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..1000 {
            let i = d * 1000 + f;
            let text = if i % 2 == 0 {
                format!("pub fn f{i}() {{ if unsafe {{ libc::fork() }} == 0 {{ helper(); }} }}\n")
            } else {
                format!("fn g{i}() {{}}\n")
            };
            std::fs::write(sub.join(format!("f{i}.rs")), text).unwrap();
        }
    }
    let (out, hwm) = run_child("many-files", &dir.0);
    assert!(out.contains("files=100000"), "{out}");
    assert!(out.contains("errors=0"), "{out}");
    let ms: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("elapsed-ms="))
        .unwrap()
        .parse()
        .unwrap();
    // Generous: a debug build on two cores.
    assert!(ms < 300_000, "took {ms} ms\n{out}");
    assert!(hwm < 4 << 20, "peak RSS {hwm} kB\n{out}");
    println!("100,000 files: {ms} ms, peak RSS {hwm} kB\n{out}");
}

// ---------------------------------------------------------------------------------
// Encodings, junk and layout

#[test]
fn binary_junk_named_rs() {
    let dir = TempDir::new("junk");
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
    std::fs::write(dir.0.join("junk.rs"), &junk).unwrap();
    // Valid UTF-8 that is not Rust: control characters, NULs, stray quotes.
    let ascii_junk: String = junk
        .iter()
        .map(|b| char::from(b & 0x7f))
        .collect::<String>();
    std::fs::write(dir.0.join("ascii_junk.rs"), &ascii_junk).unwrap();
    // An ELF header, as when a binary is named `.rs` by mistake.
    std::fs::write(
        dir.0.join("elf.rs"),
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\xa0\x10\x40\0fork",
    )
    .unwrap();
    let files: Vec<InputFile> = ["junk.rs", "ascii_junk.rs", "elf.rs"]
        .iter()
        .map(|f| input(&dir.0.join(f)))
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
    let dir = TempDir::new("utf8");
    let path = dir.0.join("latin1.rs");
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
    let dir = TempDir::new("empty");
    std::fs::write(dir.0.join("empty.rs"), "").unwrap();
    std::fs::write(dir.0.join("bom.rs"), "\u{feff}").unwrap();
    let files = [input(&dir.0.join("empty.rs")), input(&dir.0.join("bom.rs"))];
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
fn long_lines_with_many_spans_are_linear() {
    // 200,000 statements on one line, each with a span the rules may convert to a
    // position: walking the line per position was quadratic (minutes).
    for unit in ["a()?; ", "é()?; "] {
        let src = format!(
            "fn main() {{ if unsafe {{ libc::fork() }} == 0 {{ {} }} }}\n",
            unit.repeat(200_000)
        );
        let started = Instant::now();
        let report = lint_source("long.rs", &src, &all_files());
        assert_sound(&report);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{unit:?}: {:?}",
            started.elapsed()
        );
    }
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
