//! Files at the repository root that the CLI is responsible for: the pre-commit hook
//! definition and the generated rule reference.

mod common;

use std::path::{Path, PathBuf};

use common::{CLEAN, FALLS_THROUGH, dir_with, run};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(serde::Deserialize)]
struct Hook {
    id: String,
    entry: String,
    language: String,
    types: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default = "yes")]
    pass_filenames: bool,
}

fn yes() -> bool {
    true
}

/// The hook as pre-commit sees it: `language: rust` (pre-commit builds it with
/// `cargo install --bins --path .` at the repository root), an `entry` that is a binary
/// of the root package and runs `fork-lint`'s main, on Rust files. Then the hook is run
/// as pre-commit runs it — `entry`, `args`, the staged files — with the `fork-lint`
/// binary built for this test, which is the same program. (`tests/pre_commit.rs` runs
/// real pre-commit.)
#[test]
fn pre_commit_hook_runs_fork_lint_on_the_staged_files() {
    let text = std::fs::read_to_string(repo_root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: Vec<Hook> = serde_yaml_ng::from_str(&text).expect("valid .pre-commit-hooks.yaml");
    let hook = hooks
        .iter()
        .find(|h| h.id == "fork-lint")
        .expect("a `fork-lint` hook");
    assert_eq!(hook.types, ["rust"]);
    assert_eq!(hook.language, "rust");
    assert!(
        hook.pass_filenames,
        "the hook lints the files pre-commit passes"
    );

    let mut words = hook.entry.split_whitespace();
    let binary = words.next().unwrap();
    let entry_args: Vec<&str> = words.collect();
    // The root package installs that binary, and it is `fork-lint`.
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap()).unwrap();
    assert!(
        manifest.contains_key("package"),
        "`cargo install --path .` needs a package at the root"
    );
    let bin = manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"].as_str() == Some(binary))
        .expect("the entry is a binary of the root package");
    let source = std::fs::read_to_string(repo_root().join(bin["path"].as_str().unwrap())).unwrap();
    assert!(source.contains("cargo_fork_lint::main(cargo_fork_lint::Binary::Files)"));

    let dir = dir_with(&[
        ("src/main.rs", FALLS_THROUGH),
        ("src/clean.rs", CLEAN),
        ("src/unstaged.rs", FALLS_THROUGH),
    ]);
    let hook_run = |files: &[&str]| {
        run(common::fork_lint(dir.path())
            .args(&entry_args)
            .args(&hook.args)
            .args(["--select", "FL005", "--format", "concise"])
            .args(files))
    };
    let r = hook_run(&["src/main.rs", "src/clean.rs"]);
    assert_eq!(r.code, 1, "findings fail the hook: {}", r.stderr);
    assert!(r.stdout.contains("src/main.rs:5:9: FL005"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("unstaged"),
        "only the files passed are linted"
    );
    let r = hook_run(&["src/clean.rs"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
}

/// `docs/rules.md` is generated from the rule registry. Stale? Run
/// `UPDATE_DOCS=1 cargo test -p cargo-fork-lint --test repo_files`.
#[test]
fn rules_doc_is_up_to_date() {
    let path = repo_root().join("docs/rules.md");
    let expected = cargo_fork_lint::rule_docs::rules_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/rules.md is stale: regenerate it with `UPDATE_DOCS=1 cargo test -p cargo-fork-lint --test repo_files`"
    );
}
