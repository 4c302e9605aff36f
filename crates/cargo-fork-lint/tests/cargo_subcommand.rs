//! `cargo fork-lint` on a temporary workspace with two members: which packages and
//! which of their directories are linted, and how files are named.

mod common;

use std::path::Path;

use common::{FALLS_THROUGH, Run, cargo_fork_lint, dir_with, findings, run, write};

/// A workspace with members `alpha` (a binary with an example and a build script) and
/// `beta` (a library with an integration test), each source with FL005 findings, plus
/// a `notes/` directory in alpha that is no target's and must not be linted.
fn workspace() -> tempfile::TempDir {
    let lib = FALLS_THROUGH.replace("fn main()", "pub fn start()");
    dir_with(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"alpha\", \"beta\"]\nresolver = \"2\"\n\n[workspace.metadata.fork-lint]\nselect = [\"FL005\"]\n",
        ),
        (
            "alpha/Cargo.toml",
            "[package]\nname = \"alpha\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n",
        ),
        ("alpha/src/main.rs", FALLS_THROUGH),
        ("alpha/src/bin/tool.rs", FALLS_THROUGH),
        ("alpha/examples/demo.rs", FALLS_THROUGH),
        ("alpha/build.rs", FALLS_THROUGH),
        ("alpha/notes/draft.rs", FALLS_THROUGH),
        (
            "beta/Cargo.toml",
            "[package]\nname = \"beta\"\nversion = \"0.2.0\"\nedition = \"2021\"\n",
        ),
        ("beta/src/lib.rs", &lib),
        ("beta/tests/it.rs", FALLS_THROUGH),
    ])
}

const ALPHA: [&str; 4] = [
    "alpha/build.rs",
    "alpha/examples/demo.rs",
    "alpha/src/bin/tool.rs",
    "alpha/src/main.rs",
];
const BETA: [&str; 2] = ["beta/src/lib.rs", "beta/tests/it.rs"];

/// The files with findings (two FL005 each), in report order.
fn linted(r: &Run) -> Vec<String> {
    assert!(!r.stdout.is_empty(), "no output; stderr: {}", r.stderr);
    let mut files: Vec<String> = findings(&r.stdout).into_iter().map(|f| f.0).collect();
    let n = files.len();
    files.dedup();
    assert_eq!(n, files.len() * 2, "two findings per file: {}", r.stdout);
    files
}

fn cargo_json(dir: &Path, args: &[&str]) -> Run {
    run(cargo_fork_lint(dir).args(["--format", "json"]).args(args))
}

#[test]
fn virtual_manifest_lints_every_default_member_with_workspace_relative_names() {
    let ws = workspace();
    let r = cargo_json(ws.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut expected: Vec<&str> = ALPHA.iter().chain(&BETA).copied().collect();
    expected.sort_unstable();
    assert_eq!(linted(&r), expected);
}

#[test]
fn package_directory_lints_that_package() {
    let ws = workspace();
    let r = cargo_json(&ws.path().join("alpha"), &[]);
    assert_eq!(linted(&r), ALPHA);
    // …from a subdirectory of it too, as cargo does.
    let r = cargo_json(&ws.path().join("alpha/src/bin"), &[]);
    assert_eq!(linted(&r), ALPHA);
}

#[test]
fn package_flag_selects_members() {
    let ws = workspace();
    let r = cargo_json(ws.path(), &["-p", "beta"]);
    assert_eq!(linted(&r), BETA);
    let r = cargo_json(&ws.path().join("alpha"), &["--package", "beta@0.2.0"]);
    assert_eq!(linted(&r), BETA);
    let r = cargo_json(ws.path(), &["-p", "beta", "-p", "alpha"]);
    assert_eq!(linted(&r).len(), ALPHA.len() + BETA.len());
}

#[test]
fn unknown_package_is_named_with_the_members() {
    let ws = workspace();
    let r = cargo_json(ws.path(), &["-p", "gamma"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`gamma`") && r.stderr.contains("alpha, beta"),
        "{}",
        r.stderr
    );
}

#[test]
fn workspace_flag_from_a_member() {
    let ws = workspace();
    let r = cargo_json(&ws.path().join("beta"), &["--workspace"]);
    assert_eq!(linted(&r).len(), ALPHA.len() + BETA.len());
}

#[test]
fn manifest_path_from_elsewhere() {
    let ws = workspace();
    let elsewhere = tempfile::tempdir().unwrap();
    let manifest = ws.path().join("beta/Cargo.toml");
    let r = cargo_json(
        elsewhere.path(),
        &["--manifest-path", manifest.to_str().unwrap()],
    );
    assert_eq!(linted(&r), BETA);
    let r = cargo_json(elsewhere.path(), &["--manifest-path", "nope/Cargo.toml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nope/Cargo.toml"), "{}", r.stderr);
}

#[test]
fn outside_any_package_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let r = cargo_json(empty.path(), &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("could not find Cargo.toml"),
        "{}",
        r.stderr
    );
}

#[test]
fn broken_manifest_shows_cargos_message() {
    let ws = workspace();
    write(ws.path(), "beta/Cargo.toml", "[package\nname = \"beta\"\n");
    let r = cargo_json(ws.path(), &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cargo metadata") && r.stderr.contains("beta/Cargo.toml"),
        "{}",
        r.stderr
    );
}

#[test]
fn package_metadata_config_applies_to_that_package() {
    let ws = workspace();
    write(
        ws.path(),
        "beta/Cargo.toml",
        "[package]\nname = \"beta\"\nversion = \"0.2.0\"\nedition = \"2021\"\n\n[package.metadata.fork-lint]\nselect = [\"FL005\"]\nexclude = [\"tests/**\"]\n",
    );
    let r = cargo_json(ws.path(), &["-p", "beta"]);
    assert_eq!(linted(&r), ["beta/src/lib.rs"]);
}

#[test]
fn runs_without_the_cargo_subcommand_argument() {
    let ws = workspace();
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cargo-fork-lint"));
    cmd.current_dir(ws.path())
        .args(["--format", "json", "-p", "beta"]);
    assert_eq!(linted(&run(&mut cmd)), BETA);
}

/// A root that is a package too (as this repository's is): at the root, what `cargo
/// build` builds there — the default members when set, else the root package.
#[test]
fn root_package_lints_the_default_members_at_the_root() {
    let ws = workspace();
    let manifest = ws.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let root_package = "[package]\nname = \"root\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n";
    write(ws.path(), "src/main.rs", FALLS_THROUGH);
    write(
        ws.path(),
        "Cargo.toml",
        &format!(
            "{root_package}{}",
            text.replace("resolver", "default-members = [\"beta\"]\nresolver")
        ),
    );
    let r = cargo_json(ws.path(), &[]);
    assert_eq!(linted(&r), BETA, "{}", r.stderr);
    write(ws.path(), "Cargo.toml", &format!("{root_package}{text}"));
    let r = cargo_json(ws.path(), &[]);
    assert_eq!(linted(&r), ["src/main.rs"], "{}", r.stderr);
}
