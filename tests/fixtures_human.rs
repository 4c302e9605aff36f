//! The human output of every fixture, as users see it, is an `insta` snapshot: messages,
//! labels and help are reviewed like code. One trial and one snapshot file per fixture,
//! named after it: `tests/snapshots/human/<fixture>.snap` holds what
//! `fork-lint --color never fixtures/…/<fixture>.rs`, run at the repository root,
//! prints (file names relative to the root, so the same on every machine).
//!
//! When messages change on purpose, accept every changed snapshot with one command, then
//! read the diff before committing:
//!
//! ```sh
//! INSTA_UPDATE=always cargo test -p fork-lint-tests --test fixtures_human
//! git diff tests/snapshots/human
//! ```
//!
//! To review them one by one instead: a failing run leaves `.snap.new` files beside the
//! snapshots, which `cargo insta review` (`cargo install cargo-insta`) walks through.
//! Under `CI` a missing or different snapshot just fails. See docs/fixtures.md. Why
//! `libtest-mimic`: see `fixtures_lint.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use fork_lint_tests::{Fixture, build_cli, fixtures, repo_root};
use libtest_mimic::{Arguments, Failed, Trial};

/// Where the snapshots are, relative to this file (insta's convention).
const SNAPSHOTS: &str = "snapshots/human";

fn main() {
    let args = Arguments::from_args();
    let cli = Arc::new(if args.list {
        PathBuf::new()
    } else {
        build_cli()
    });
    let all = fixtures();
    let names: Vec<String> = all.iter().map(|f| f.name.clone()).collect();
    let mut trials = vec![Trial::test("every_snapshot_has_a_fixture", move || {
        every_snapshot_has_a_fixture(&names)
    })];
    trials.extend(all.into_iter().map(|f| {
        let cli = cli.clone();
        Trial::test(f.name.clone(), move || snapshot(&cli, &f))
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// Lints the fixture alone, as a user would, and compares the output with its snapshot.
fn snapshot(cli: &Path, f: &Fixture) -> Result<(), Failed> {
    let root = repo_root();
    let rel = f
        .path
        .strip_prefix(&root)
        .expect("fixtures are in the repository");
    // A fixture's `//@ config:` reaches the command line as a configuration file.
    let config = f.config.as_ref().map(|text| {
        let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("written");
        file
    });
    let mut cmd = Command::new(cli);
    if let Some(file) = &config {
        cmd.arg("--config").arg(file.path());
    }
    let out = cmd
        .current_dir(&root)
        .args(["--color", "never"])
        .arg(rel)
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("fork-lint runs");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !matches!(out.status.code(), Some(0 | 1)) || !stderr.is_empty() {
        return Err(format!("fork-lint {}: {}\n{stderr}", rel.display(), out.status).into());
    }
    if stdout.contains(&*root.to_string_lossy()) {
        return Err(format!("an absolute path in the output:\n{stdout}").into());
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(SNAPSHOTS);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let with = f.config.as_deref().map_or(String::new(), |c| {
        format!(" (configured: {})", c.trim().replace('\n', ", "))
    });
    settings.set_description(format!("fork-lint --color never {}{with}", rel.display()));
    settings.set_input_file(&f.path);
    settings.bind(|| insta::assert_snapshot!(f.name.as_str(), stdout));
    Ok(())
}

/// A renamed or deleted fixture leaves its snapshot behind; name it.
fn every_snapshot_has_a_fixture(names: &[String]) -> Result<(), Failed> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOTS);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let orphans: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|file| {
            let stem = file
                .strip_suffix(".snap.new")
                .or(file.strip_suffix(".snap"));
            stem.is_some_and(|s| !names.iter().any(|n| n == s))
        })
        .collect();
    if orphans.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "snapshots without a fixture in {}: {orphans:?} (delete them)",
            dir.display()
        )
        .into())
    }
}
