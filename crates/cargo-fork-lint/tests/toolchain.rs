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
