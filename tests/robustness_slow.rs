//! The slow robustness cases of `crates/fork-lint/tests/robustness.rs` (seconds each in
//! a debug build): kept out of `cargo test -p fork-lint` so that the library's inner
//! loop stays fast, run by `cargo test --workspace` (the README's test command) and on
//! their own by `cargo test -p fork-lint-tests --test robustness_slow`.
//! `docs/robustness.md` (section "Linter") tells what was tried and found.
//!
//! Memory is measured in a child process (this test binary, re-run on one ignored
//! test), whose peak resident set (`VmHWM`) is read from `/proc/self/status`.

#[path = "../crates/fork-lint/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{NESTERS, all_files, assert_sound, codes, input, nested_program};
use fork_lint::discover::{Exclude, collect_files};
use fork_lint::{LintOptions, MAX_FILE_BYTES, MAX_NESTING, lint, lint_source};

// ---------------------------------------------------------------------------------
// Nesting

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
    let dir = tempfile::tempdir().unwrap();
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
    std::fs::write(dir.path().join("big.rs"), &text).unwrap();
    drop(text);
    let (out, hwm) = run_child("big-file", dir.path());
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
fn a_hundred_thousand_tiny_files() {
    let dir = tempfile::tempdir().unwrap();
    // A tree of 100 directories of 1,000 files; half of them fork and call a helper.
    for d in 0..100 {
        let sub = dir.path().join(format!("d{d:03}"));
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
    let (out, hwm) = run_child("many-files", dir.path());
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
// Long lines

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
