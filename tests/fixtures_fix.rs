//! Every fixture fork-lint can fix is fixed (`--fix --unsafe-fixes`, through the same
//! `fork_lint::fix::fix_files` the CLI calls) in a copy, linted again — the fixed
//! findings are gone, the others remain — and, when runnable, built and run: it shows
//! the outcome its `//@ fixed METHOD: OUTCOME` lines declare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fork_lint::{InputFile, LintOptions};
use fork_lint_tests::{Fixture, fixtures, repo_root, run, timeout};

/// `code → count` of a file's findings.
fn codes<'a>(
    diagnostics: impl Iterator<Item = &'a fork_lint::Diagnostic>,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for d in diagnostics {
        *out.entry(d.code.to_string()).or_default() += 1;
    }
    out
}

/// A Cargo package in `dir` that builds like `fixtures/` (same dependencies, same
/// lock file, the workspace's target directory, so nothing is built twice), without
/// being part of the workspace.
fn write_package(dir: &Path) {
    let root = repo_root();
    let workspace: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let mut manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("fixtures/Cargo.toml")).unwrap())
            .unwrap();
    let inherit = |table: &mut toml::Table, from: &toml::Table| {
        for (key, value) in table.iter_mut() {
            let inherited = value.get("workspace").and_then(|w| w.as_bool()) == Some(true);
            if !inherited {
                continue;
            }
            let mut v = from[key].clone();
            if let Some(path) = v.get("path").and_then(|p| p.as_str()) {
                let abs = root.join(path).display().to_string();
                v.as_table_mut().unwrap().insert("path".into(), abs.into());
            }
            *value = v;
        }
    };
    let ws = workspace["workspace"].as_table().unwrap();
    inherit(
        manifest["package"].as_table_mut().unwrap(),
        ws["package"].as_table().unwrap(),
    );
    inherit(
        manifest["dependencies"].as_table_mut().unwrap(),
        ws["dependencies"].as_table().unwrap(),
    );
    manifest.insert("workspace".into(), toml::Table::new().into());
    std::fs::write(dir.join("Cargo.toml"), toml::to_string(&manifest).unwrap()).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(dir.join("src/bin")).unwrap();
    std::fs::copy(root.join("fixtures/src/lib.rs"), dir.join("src/lib.rs")).unwrap();
    // Macros that fixtures include with `#[path = "../macros/…"]`.
    std::fs::create_dir_all(dir.join("src/macros")).unwrap();
    for entry in std::fs::read_dir(root.join("fixtures/src/macros")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.join("src/macros").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

#[test]
fn every_fixable_fixture_is_fixed_relinted_and_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    write_package(dir.path());
    let options = LintOptions::default();

    // Which fixtures have a fix: copy each, lint it in the copy's package.
    let mut fixable: Vec<(Fixture, InputFile, BTreeMap<String, usize>)> = Vec::new();
    for f in fixtures() {
        let sub = if f.runnable { "src/bin" } else { "lint-only" };
        let copy = dir.path().join(sub).join(f.path.file_name().unwrap());
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(&f.path, &copy).unwrap();
        let input = InputFile {
            name: format!("{sub}/{}.rs", f.name),
            path: copy.clone(),
        };
        let report = fork_lint::lint(std::slice::from_ref(&input), &options);
        let mine: Vec<&fork_lint::Diagnostic> = report
            .diagnostics
            .iter()
            .filter(|d| d.primary.file.path == copy)
            .collect();
        if mine.iter().any(|d| d.fix.is_some()) {
            // What must remain: the findings without a fix.
            let kept = codes(mine.iter().copied().filter(|d| d.fix.is_none()));
            fixable.push((f, input, kept));
        }
    }
    let names: Vec<&str> = fixable.iter().map(|(f, _, _)| f.name.as_str()).collect();
    for expected in [
        "fl004_pre_exec_errno_boxed",
        "fl004_pre_exec_process_exit",
        "fl011_bufwriter_report",
        "fl011_child_falls_through",
        "fl011_child_process_exit",
        "fl011_print_partial_line",
    ] {
        assert!(names.contains(&expected), "{expected} has a fix: {names:?}");
    }
    // Its hazard is in a macro's expansion: a fix would rewrite the macro call.
    assert!(
        !names.contains(&"fl004_pre_exec_die_macro"),
        "no fix edits a macro call: {names:?}"
    );

    let inputs: Vec<InputFile> = fixable.iter().map(|(_, i, _)| i.clone()).collect();
    let fixed = fork_lint::fix::fix_files(&inputs, &options, true, true);
    assert!(fixed.errors.is_empty(), "{:?}", fixed.errors);
    assert!(fixed.report.errors.is_empty(), "{:?}", fixed.report.errors);
    for (f, input, kept) in &fixable {
        let remaining = codes(
            fixed
                .report
                .diagnostics
                .iter()
                .filter(|d| d.primary.file.path == input.path),
        );
        assert_eq!(
            &remaining,
            kept,
            "{}: the fixed findings are gone, the others remain; the file is now:\n{}",
            f.name,
            std::fs::read_to_string(&input.path).unwrap()
        );
        assert!(
            fixed.files.iter().any(|x| x.path == input.path),
            "{}: changed",
            f.name
        );
        if f.runnable {
            assert_eq!(
                f.fixed.keys().collect::<Vec<_>>(),
                f.runs.keys().collect::<Vec<_>>(),
                "{}: declare `//@ fixed METHOD: OUTCOME` for every `//@ run` method",
                f.name
            );
        }
    }

    // The fixed programs still build, and show what they declare.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", target_dir())
        .args([
            "build",
            "--offline",
            "--message-format=json-render-diagnostics",
        ]);
    for (f, _, _) in fixable.iter().filter(|(f, _, _)| f.runnable) {
        build.args(["--bin", &f.name]);
    }
    let out = build.stderr(Stdio::inherit()).output().expect("cargo runs");
    assert!(out.status.success(), "the fixed fixtures build");
    let mut exes: BTreeMap<String, PathBuf> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(exe), Some(name)) =
            (msg["executable"].as_str(), msg["target"]["name"].as_str())
        {
            exes.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    let mut failures = Vec::new();
    for (f, _, _) in fixable.iter().filter(|(f, _, _)| f.runnable) {
        for (method, declared) in &f.fixed {
            let observed = run(&exes[&f.name], method, timeout());
            if observed.outcome != *declared {
                failures.push(format!(
                    "{} (fixed) under {method}: declared `{declared}`, observed `{}`\n--- stdout\n{}--- stderr\n{}",
                    f.name, observed.outcome, observed.stdout, observed.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
