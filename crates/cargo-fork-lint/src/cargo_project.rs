//! `cargo fork-lint`: which packages to lint (`cargo metadata`) and which of their
//! directories hold target sources.

use std::path::{Path, PathBuf};

use cargo_metadata::{Metadata, MetadataCommand, Package, TargetKind};

use crate::cli::PackageSelection;

/// What a `cargo fork-lint` run lints.
#[derive(Debug)]
pub struct Project {
    pub workspace_root: PathBuf,
    /// Where the configuration search starts: the selected package's directory when
    /// one package is linted, else the workspace root.
    pub config_start: PathBuf,
    /// Directories to walk and files (build scripts) to lint.
    pub paths: Vec<PathBuf>,
    /// The roots of the selected packages.
    pub selected_roots: Vec<PathBuf>,
    /// The roots of every workspace member: a file belongs to the deepest one.
    pub member_roots: Vec<PathBuf>,
    /// What `cargo metadata` said (package ids and targets for `--message-format json`).
    pub metadata: Metadata,
}

impl Project {
    /// Whether a file found by walking belongs to a selected package, not to a nested
    /// member that was not selected.
    pub fn owns(&self, file: &Path) -> bool {
        let owner = self
            .member_roots
            .iter()
            .filter(|r| file.starts_with(r))
            .max_by_key(|r| r.components().count());
        match owner {
            Some(owner) => self.selected_roots.contains(owner),
            // A target source outside every package directory (`path = "../x.rs"`).
            None => true,
        }
    }

    /// The name shown for a file: relative to the workspace root.
    pub fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.workspace_root) {
            Ok(rel) => fork_lint::display(rel),
            Err(_) => fork_lint::display(path),
        }
    }
}

/// Finds the packages to lint. Errors are messages for the user.
pub fn resolve(cli: &PackageSelection, cwd: &Path) -> Result<Project, String> {
    let manifest = match &cli.manifest_path {
        Some(p) => {
            let p = cwd.join(p);
            if !p.is_file() {
                return Err(format!(
                    "`--manifest-path {}` does not exist or is not a file: pass the path of a Cargo.toml",
                    p.display()
                ));
            }
            p
        }
        None => cwd
            .ancestors()
            .map(|d| d.join("Cargo.toml"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "could not find Cargo.toml in `{}` or any parent directory: run `cargo fork-lint` inside a Cargo package, pass `--manifest-path`, or lint files with `fork-lint PATH…`",
                    cwd.display()
                )
            })?,
    };
    let metadata = MetadataCommand::new()
        .manifest_path(&manifest)
        .no_deps()
        .exec()
        .map_err(|e| metadata_error(&manifest, e))?;
    select(&metadata, cli, &manifest)
}

fn metadata_error(manifest: &Path, e: cargo_metadata::Error) -> String {
    let detail = match e {
        cargo_metadata::Error::CargoMetadata { stderr } => stderr.trim().to_string(),
        other => other.to_string(),
    };
    format!(
        "`cargo metadata` failed for {}:\n{detail}",
        manifest.display()
    )
}

fn select(metadata: &Metadata, cli: &PackageSelection, manifest: &Path) -> Result<Project, String> {
    let members: Vec<&Package> = metadata.workspace_packages();
    let root_of = |p: &Package| -> PathBuf {
        p.manifest_path
            .parent()
            .map_or_else(PathBuf::new, |d| d.as_std_path().to_path_buf())
    };
    let selected: Vec<&Package> = if cli.workspace {
        members.clone()
    } else if !cli.packages.is_empty() {
        let mut v = Vec::new();
        for spec in &cli.packages {
            // `name` or `name@version`, as cargo's `-p` takes.
            let (name, version) = spec.split_once('@').unwrap_or((spec, ""));
            let found = members.iter().find(|p| {
                p.name.as_str() == name && (version.is_empty() || p.version.to_string() == version)
            });
            match found {
                Some(p) => v.push(*p),
                None => {
                    let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
                    return Err(format!(
                        "package `{spec}` is not a member of the workspace at {}; its members are: {}",
                        metadata.workspace_root,
                        names.join(", ")
                    ));
                }
            }
        }
        v
    } else {
        let manifest = manifest
            .canonicalize()
            .unwrap_or_else(|_| manifest.to_path_buf());
        let current = members.iter().find(|p| {
            p.manifest_path
                .as_std_path()
                .canonicalize()
                .is_ok_and(|m| m == manifest)
        });
        let at_root = metadata
            .workspace_root
            .join("Cargo.toml")
            .as_std_path()
            .canonicalize()
            .is_ok_and(|m| m == manifest);
        match current {
            // At the workspace root, what `cargo build` would build there: the default
            // members (the root package itself unless `default-members` says otherwise).
            _ if at_root && metadata.workspace_default_members.is_available() => members
                .iter()
                .copied()
                .filter(|p| metadata.workspace_default_members.contains(&p.id))
                .collect(),
            Some(p) => vec![*p],
            // A virtual manifest: what `cargo build` would build there.
            None if metadata.workspace_default_members.is_available() => members
                .iter()
                .copied()
                .filter(|p| metadata.workspace_default_members.contains(&p.id))
                .collect(),
            None => members.clone(),
        }
    };

    let mut paths = Vec::new();
    for p in &selected {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for t in &p.targets {
            let src = t.src_path.as_std_path();
            if t.kind.contains(&TargetKind::CustomBuild) {
                // build.rs sits in the package root: lint the file, not the root.
                paths.push(src.to_path_buf());
            } else if let Some(dir) = src.parent() {
                dirs.push(dir.to_path_buf());
            }
        }
        dirs.sort();
        dirs.dedup();
        // src/bin is walked as part of src: keep only the outermost directories.
        let outer: Vec<PathBuf> = dirs
            .iter()
            .filter(|d| !dirs.iter().any(|o| o != *d && d.starts_with(o)))
            .cloned()
            .collect();
        paths.extend(outer);
    }
    paths.sort();
    paths.dedup();

    let workspace_root = metadata.workspace_root.as_std_path().to_path_buf();
    let config_start = match selected.as_slice() {
        [one] => root_of(one),
        _ => workspace_root.clone(),
    };
    Ok(Project {
        config_start,
        paths,
        selected_roots: selected.iter().map(|p| root_of(p)).collect(),
        member_roots: members.iter().map(|p| root_of(p)).collect(),
        workspace_root,
        metadata: metadata.clone(),
    })
}
