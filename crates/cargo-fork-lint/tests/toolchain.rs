//! The declared `rust-version` is what `Cargo.lock` needs: no locked dependency asks
//! for a newer Rust than the workspace declares (a user at the declared version could
//! not build fork-lint), and every published member declares the same.

use std::path::Path;

use cargo_metadata::MetadataCommand;

#[test]
fn declared_rust_version_covers_every_locked_dependency() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let metadata = MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .other_options(vec!["--locked".to_string()])
        .exec()
        .expect("cargo metadata (run `cargo fetch --locked` first when offline)");
    let members: Vec<_> = metadata.workspace_packages();
    let declared = members
        .iter()
        .find_map(|m| m.rust_version.clone())
        .expect("the workspace declares rust-version");
    for m in &members {
        // Published packages must declare it; the others (fixtures, tests) may not.
        let published = m.publish.as_ref().is_none_or(|to| !to.is_empty());
        if published || m.rust_version.is_some() {
            assert_eq!(
                m.rust_version.as_ref(),
                Some(&declared),
                "{} declares the workspace's rust-version",
                m.name
            );
        }
    }
    let (needed, by) = metadata
        .packages
        .iter()
        .filter(|p| !metadata.workspace_members.contains(&p.id))
        .filter_map(|p| Some((p.rust_version.clone()?, format!("{} {}", p.name, p.version))))
        .max_by(|a, b| a.0.cmp(&b.0))
        .expect("locked dependencies declare rust-version");
    assert!(
        declared >= needed,
        "rust-version = \"{declared}\" in Cargo.toml, but {by} (in Cargo.lock) needs Rust {needed}: raise [workspace.package] rust-version"
    );
    // Not higher than the lock needs, either: the declaration is a promise to users of
    // older toolchains. Raise both together when the code itself needs a newer Rust.
    assert_eq!(
        declared, needed,
        "rust-version = \"{declared}\" but Cargo.lock needs only {needed} ({by}): lower it, or note why the code needs {declared}"
    );
}

/// The code keeps to the declared rust-version too: `if let … && let …` chains need
/// Rust 1.88, and rustc on a newer toolchain accepts them without a word.
#[test]
fn no_let_chains_below_rust_1_88() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != "target") {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["crates", "fixtures", "tests", "pre-commit"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut found = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("&& let ") || (l.starts_with("if let ") && l.contains(" && let ")) {
                found.push(format!("{}:{}", path.display(), i + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "let chains need Rust 1.88, above the declared rust-version: {found:#?}"
    );
}
