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

/// Runs the hook as pre-commit does: `entry`, then `args`, then the staged files. The
/// entry's `fork-lint` is the binary built for this test (what `cargo install` puts on
/// PATH).
#[test]
fn pre_commit_hook_runs_fork_lint_on_the_staged_files() {
    let text = std::fs::read_to_string(repo_root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: Vec<Hook> = serde_yaml_ng::from_str(&text).expect("valid .pre-commit-hooks.yaml");
    let hook = hooks
        .iter()
        .find(|h| h.id == "fork-lint")
        .expect("a `fork-lint` hook");
    assert_eq!(hook.types, ["rust"]);
    assert_eq!(hook.language, "system");
    assert!(
        hook.pass_filenames,
        "the hook lints the files pre-commit passes"
    );

    let mut words = hook.entry.split_whitespace();
    assert_eq!(words.next(), Some("fork-lint"));
    let entry_args: Vec<&str> = words.collect();

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
