//! Fixes end to end: how each format shows them (snapshots), `--fix`,
//! `--unsafe-fixes`, `--diff`, and fixes that depend on the package's dependencies.

mod common;

use common::{FIXABLE, dir_with, fixable_package, fork_lint, run};
use serde_json::Value;

const SELECT: [&str; 2] = ["--select", "FL004,FL011"];

fn main_rs(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("src/main.rs")).unwrap()
}

#[test]
fn human_output_shows_each_fix_and_what_applies_it() {
    let dir = fixable_package();
    let r = run(fork_lint(dir.path())
        .args(SELECT)
        .args(["--color", "never", "src/main.rs"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("human_with_fixes", r.stdout);
}

#[test]
fn json_output_has_the_fix_with_applicability_and_edits() {
    let dir = fixable_package();
    let r = run(fork_lint(dir.path())
        .args(SELECT)
        .args(["--format", "json", "src/main.rs"]));
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let fixes: Vec<&Value> = v.as_array().unwrap().iter().map(|d| &d["fix"]).collect();
    insta::assert_json_snapshot!("json_fixes", fixes);
}

#[test]
fn sarif_output_has_fixes_as_artifact_changes() {
    let dir = fixable_package();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let r = run(fork_lint(dir.path())
        .args(SELECT)
        .args(["--format", "sarif", "src/main.rs"]));
    let log: Value = serde_json::from_str(&r.stdout).unwrap();
    let fixes: Vec<&Value> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["fixes"])
        .collect();
    insta::assert_json_snapshot!("sarif_fixes", fixes);
}

#[test]
fn fix_applies_safe_fixes_and_reports_what_remains() {
    let dir = fixable_package();
    let r =
        run(fork_lint(dir.path())
            .args(SELECT)
            .args(["--fix", "--color", "never", "src/main.rs"]));
    assert_eq!(r.code, 1, "the unsafe fix's finding remains: {}", r.stderr);
    let fixed = main_rs(&dir);
    assert!(fixed.contains(
        "    print!(\"starting... \");\n    let _ = std::io::Write::flush(&mut std::io::stdout());\n    let pid"
    ));
    assert!(fixed.contains("return Err(io::Error::last_os_error());"));
    assert!(
        fixed.contains("std::process::exit(1);"),
        "unsafe fixes wait for --unsafe-fixes"
    );
    assert!(
        r.stdout
            .contains("`std::process::exit` is not async-signal-safe")
    );
    assert!(
        r.stdout.ends_with(
            "fork-lint: fixed 2 findings in 1 file; 1 finding left (0 errors, 1 warning) in 1 file (1 file checked); 1 fixable with `--fix --unsafe-fixes`\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn unsafe_fixes_flag_applies_the_unsafe_fixes_too() {
    let dir = fixable_package();
    let r =
        run(fork_lint(dir.path())
            .args(SELECT)
            .args(["--fix", "--unsafe-fixes", "src/main.rs"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        "fork-lint: fixed 3 findings in 1 file; nothing left (1 file checked)\n"
    );
    // Already inside `unsafe { … }`: no second unsafe block.
    assert!(main_rs(&dir).contains("                libc::_exit(1);\n"));
    // Fixed code is clean: a second run has nothing to do.
    let again =
        run(fork_lint(dir.path())
            .args(SELECT)
            .args(["--fix", "--unsafe-fixes", "src/main.rs"]));
    assert_eq!(again.code, 0);
    assert_eq!(again.stdout, "fork-lint: no findings (1 file checked)\n");
}

#[test]
fn diff_prints_a_unified_diff_writes_nothing_and_exits_one() {
    let dir = fixable_package();
    let r =
        run(fork_lint(dir.path())
            .args(SELECT)
            .args(["--diff", "--unsafe-fixes", "src/main.rs"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(main_rs(&dir), FIXABLE, "--diff writes nothing");
    assert_eq!(r.stderr, "fork-lint: would fix 3 findings in 1 file\n");
    insta::assert_snapshot!("diff", r.stdout);
    // Nothing to change: no diff, status 0.
    let clean = dir_with(&[("src/main.rs", common::CLEAN)]);
    let r = run(fork_lint(clean.path()).args(["--diff", "src/main.rs"]));
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

#[test]
fn exit_fix_calls_only_a_crate_the_package_depends_on() {
    let exit_fix = |manifest: &str| -> Option<String> {
        let dir = dir_with(&[("Cargo.toml", manifest), ("src/main.rs", FIXABLE)]);
        let r = run(fork_lint(dir.path()).args([
            "--select",
            "FL004",
            "--format",
            "json",
            "src/main.rs",
        ]));
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let exit = v
            .as_array()
            .unwrap()
            .iter()
            .find(|d| {
                d["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("`std::process::exit`")
            })
            .unwrap()
            .clone();
        exit["fix"]["edits"][0]["content"]
            .as_str()
            .map(String::from)
    };
    let head = "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2024\"\n";
    assert_eq!(
        exit_fix(&format!("{head}[dependencies]\nlibc = \"0.2\"\n")).as_deref(),
        Some("libc::_exit(1)")
    );
    assert_eq!(
        exit_fix(&format!("{head}[dependencies]\nnix = \"0.31\"\n")).as_deref(),
        Some("nix::libc::_exit(1)")
    );
    assert_eq!(
        exit_fix(&format!(
            "{head}[dependencies]\nc = {{ package = \"libc\", version = \"0.2\" }}\n"
        ))
        .as_deref(),
        Some("c::_exit(1)")
    );
    assert_eq!(
        exit_fix(&format!("{head}[dependencies]\nserde = \"1\"\n")),
        None
    );
    assert_eq!(
        exit_fix(&format!("{head}[dev-dependencies]\nlibc = \"0.2\"\n")),
        None
    );
}
