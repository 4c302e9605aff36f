//! The cargo package: where it is, its targets (from `Cargo.toml` and cargo's
//! auto-discovery), the module tree of each target, and so which target (crate) each
//! file belongs to and whether its items can be called from outside the package.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::fs::{FileSystem, PackageWalk};
use super::modules;

/// The package a file belongs to: the nearest directory with a `Cargo.toml` that has
/// a `[package]` table (a virtual workspace manifest is not a package). `root` is
/// `None` for a file outside any package, which is then analysed on its own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Package {
    /// The directory of the package's `Cargo.toml`, absolute.
    pub root: Option<PathBuf>,
}

/// Finds the package of many files, reading each directory's manifest once.
#[derive(Debug, Default)]
pub struct PackageFinder {
    roots: HashMap<PathBuf, Option<PathBuf>>,
}

impl PackageFinder {
    /// The package of `path` (absolute).
    pub fn package_of(&mut self, fs: &dyn FileSystem, path: &Path) -> Package {
        let Some(dir) = path.parent() else {
            return Package { root: None };
        };
        let mut pending: Vec<&Path> = Vec::new();
        let mut root = None;
        for d in dir.ancestors() {
            if let Some(known) = self.roots.get(d) {
                root = known.clone();
                break;
            }
            pending.push(d);
            if is_package_manifest(fs, &d.join("Cargo.toml")) {
                root = Some(d.to_path_buf());
                break;
            }
        }
        for d in pending {
            self.roots.insert(d.to_path_buf(), root.clone());
        }
        Package { root }
    }
}

fn is_package_manifest(fs: &dyn FileSystem, manifest: &Path) -> bool {
    if !fs.is_file(manifest) {
        return false;
    }
    let Ok(bytes) = fs.read(manifest) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    // The usual header, without parsing the whole manifest (some are hundreds of kB).
    if text
        .lines()
        .any(|l| matches!(l.trim(), "[package]" | "[project]"))
    {
        return true;
    }
    match toml::from_str::<toml::Table>(&text) {
        Ok(doc) => doc.contains_key("package") || doc.contains_key("project"),
        // A manifest cargo cannot read still marks a package for the user.
        Err(_) => text.contains("[package]"),
    }
}

/// What kind of crate a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// `src/lib.rs` or `[lib]`.
    Lib,
    /// `src/main.rs`, `src/bin/*`, `[[bin]]`.
    Bin,
    /// `examples/*`, `[[example]]`.
    Example,
    /// `tests/*`, `[[test]]`.
    Test,
    /// `benches/*`, `[[bench]]`.
    Bench,
    /// `build.rs`.
    Build,
}

/// One crate of the package.
#[derive(Clone, Debug)]
pub struct Target {
    /// Lib, bin, test…
    pub kind: TargetKind,
    /// The target's name (`demo`, `cli`, `integration`).
    pub name: String,
    /// The crate root file.
    pub root: PathBuf,
    /// Whether libtest runs it (tests and benches; `harness = false` ones run `main`).
    pub harness: bool,
}

impl Target {
    /// Whether the target starts at a `main` that runs on one thread.
    pub fn has_main(&self) -> bool {
        match self.kind {
            TargetKind::Lib => false,
            TargetKind::Test | TargetKind::Bench => !self.harness,
            _ => true,
        }
    }

    /// A key naming the crate: `lib`, `bin:demo`…
    pub fn key(&self) -> String {
        match self.kind {
            TargetKind::Lib => "lib".to_string(),
            k => format!("{}:{}", format!("{k:?}").to_lowercase(), self.name),
        }
    }
}

/// Where a file sits in one target's module tree.
#[derive(Clone, Debug)]
pub struct Membership {
    /// Index into [`Layout::targets`].
    pub target: usize,
    /// The module path from the crate root (`[]` for the root itself).
    pub module: Vec<String>,
    /// Every module on the path is `pub`: the file's `pub` items are the target's API.
    pub exported: bool,
    /// Some module on the path is `#[cfg(test)]`.
    pub cfg_test: bool,
}

/// The package's targets and which files make up each.
#[derive(Debug, Default)]
pub struct Layout {
    /// The library crate's name as code writes it (`my_lib` for package `my-lib`).
    pub lib_crate: Option<String>,
    /// Every target, lib first.
    pub targets: Vec<Target>,
    /// Each file's places in the module trees (a file can be in several targets).
    pub files: HashMap<PathBuf, Vec<Membership>>,
    /// The manifest, parsed (empty when it cannot be read).
    pub manifest: toml::Table,
}

impl Layout {
    /// Reads the manifest, discovers the targets the way cargo does, and follows
    /// `mod` declarations from each target's root. `texts` answers with a file's text
    /// (the package's files are read once, by the caller).
    pub fn read(
        fs: &dyn FileSystem,
        root: &Path,
        package_files: &[PathBuf],
        texts: &mut dyn FnMut(&Path) -> Option<String>,
    ) -> Layout {
        let manifest = fs
            .read(&root.join("Cargo.toml"))
            .ok()
            .and_then(|b| toml::from_str::<toml::Table>(&String::from_utf8_lossy(&b)).ok())
            .unwrap_or_default();
        let package = manifest.get("package").and_then(|p| p.as_table());
        let name = package
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .map(String::from);
        let lib_table = manifest.get("lib").and_then(|l| l.as_table());
        let lib_crate = lib_table
            .and_then(|l| l.get("name"))
            .and_then(|n| n.as_str())
            .map(String::from)
            .or_else(|| name.as_ref().map(|n| n.replace('-', "_")));
        let mut layout = Layout {
            lib_crate,
            ..Layout::default()
        };
        layout.targets = discover_targets(fs, root, &manifest, package_files);
        layout.follow_modules(fs, package_files, texts);
        layout.manifest = manifest;
        layout
    }

    fn follow_modules(
        &mut self,
        fs: &dyn FileSystem,
        package_files: &[PathBuf],
        texts: &mut dyn FnMut(&Path) -> Option<String>,
    ) {
        let known: HashSet<&Path> = package_files.iter().map(PathBuf::as_path).collect();
        let exists = |p: &Path| known.contains(p) || fs.is_file(p);
        let mut decls_of: HashMap<PathBuf, Vec<modules::ModDecl>> = HashMap::new();
        for (index, target) in self.targets.iter().enumerate() {
            let mut stack = vec![(target.root.clone(), Vec::<String>::new(), true, false)];
            let mut seen = HashSet::new();
            while let Some((file, module, exported, cfg_test)) = stack.pop() {
                if !seen.insert(file.clone()) {
                    continue;
                }
                let is_root = module.is_empty();
                self.files
                    .entry(file.clone())
                    .or_default()
                    .push(Membership {
                        target: index,
                        module: module.clone(),
                        exported: exported && target.kind == TargetKind::Lib,
                        cfg_test,
                    });
                let decls = decls_of.entry(file.clone()).or_insert_with(|| {
                    texts(&file).map_or_else(Vec::new, |t| modules::declarations(&t))
                });
                for decl in decls.iter() {
                    let Some(child) = modules::module_files(&file, is_root, decl)
                        .into_iter()
                        .find(|p| exists(p))
                    else {
                        continue;
                    };
                    let mut path = module.clone();
                    path.extend(decl.inline.iter().map(|m| m.name.clone()));
                    path.push(decl.name.clone());
                    let public = decl.public && decl.inline.iter().all(|m| m.public);
                    let test = decl.cfg_test || decl.inline.iter().any(|m| m.cfg_test);
                    stack.push((child, path, exported && public, cfg_test || test));
                }
            }
        }
    }

    /// Whether the package builds a binary (`src/main.rs`, `src/bin/*`, `[[bin]]`).
    /// Examples, tests and benches do not count.
    pub fn has_binary(&self) -> bool {
        self.targets.iter().any(|t| t.kind == TargetKind::Bin)
    }

    /// The places of `path` in the module trees (empty for a file no target reaches).
    pub fn memberships(&self, path: &Path) -> &[Membership] {
        self.files.get(path).map_or(&[], Vec::as_slice)
    }
}

/// The targets of a package, as cargo discovers them: `[lib]`/`src/lib.rs`,
/// `src/main.rs`, `src/bin/*.rs` and `src/bin/*/main.rs`, the same under `examples/`,
/// `tests/` and `benches/`, `build.rs`, plus the manifest's `[[bin]]`, `[[example]]`,
/// `[[test]]`, `[[bench]]` entries (by path or by name); `auto*` switches respected.
fn discover_targets(
    fs: &dyn FileSystem,
    root: &Path,
    manifest: &toml::Table,
    files: &[PathBuf],
) -> Vec<Target> {
    let package = manifest.get("package").and_then(|p| p.as_table());
    let pkg_name = package
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("main")
        .to_string();
    let auto = |key: &str| {
        package
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_bool())
            .unwrap_or(true)
    };
    let mut targets = Vec::new();
    // The library.
    let lib = manifest.get("lib").and_then(|l| l.as_table());
    let lib_path = lib
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str())
        .map(|p| root.join(p))
        .or_else(|| Some(root.join("src/lib.rs")).filter(|p| fs.is_file(p)));
    if let Some(path) = lib_path {
        targets.push(Target {
            kind: TargetKind::Lib,
            name: pkg_name.replace('-', "_"),
            root: path,
            harness: true,
        });
    }
    let sections = [
        (TargetKind::Bin, "bin", "src/bin", "autobins"),
        (TargetKind::Example, "example", "examples", "autoexamples"),
        (TargetKind::Test, "test", "tests", "autotests"),
        (TargetKind::Bench, "bench", "benches", "autobenches"),
    ];
    for (kind, key, dir, auto_key) in sections {
        let declared: Vec<&toml::Table> = manifest
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|t| t.as_table()).collect())
            .unwrap_or_default();
        let mut named: HashSet<PathBuf> = HashSet::new();
        for t in &declared {
            let name = t.get("name").and_then(|n| n.as_str()).unwrap_or(&pkg_name);
            let path = match t.get("path").and_then(|p| p.as_str()) {
                Some(p) => root.join(p),
                None if kind == TargetKind::Bin && name == pkg_name => root.join("src/main.rs"),
                None => {
                    let flat = root.join(dir).join(format!("{name}.rs"));
                    if fs.is_file(&flat) {
                        flat
                    } else {
                        root.join(dir).join(name).join("main.rs")
                    }
                }
            };
            let harness = t.get("harness").and_then(|h| h.as_bool()).unwrap_or(true);
            named.insert(path.clone());
            targets.push(Target {
                kind,
                name: name.to_string(),
                root: path,
                harness,
            });
        }
        if !auto(auto_key) {
            continue;
        }
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        if kind == TargetKind::Bin {
            let main = root.join("src/main.rs");
            if fs.is_file(&main) {
                found.push((pkg_name.clone(), main));
            }
        }
        let base = root.join(dir);
        for f in files {
            let Ok(rel) = f.strip_prefix(&base) else {
                continue;
            };
            let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
            match parts.as_slice() {
                [file] => {
                    if let Some(stem) = file.strip_suffix(".rs") {
                        found.push((stem.to_string(), f.clone()));
                    }
                }
                [sub, "main.rs"] => found.push((sub.to_string(), f.clone())),
                _ => {}
            }
        }
        // A set, not a scan of `targets` per file: a package with 2,000 test files
        // compared 2 million paths.
        let mut roots: HashSet<PathBuf> = targets.iter().map(|t| t.root.clone()).collect();
        for (name, path) in found {
            if named.contains(&path) || !roots.insert(path.clone()) {
                continue;
            }
            targets.push(Target {
                kind,
                name,
                root: path,
                harness: true,
            });
        }
    }
    let build = match package.and_then(|p| p.get("build")) {
        Some(toml::Value::String(p)) => Some(root.join(p)),
        Some(toml::Value::Boolean(false)) => None,
        _ => Some(root.join("build.rs")).filter(|p| fs.is_file(p)),
    };
    if let Some(path) = build {
        targets.push(Target {
            kind: TargetKind::Build,
            name: "build-script-build".into(),
            root: path,
            harness: false,
        });
    }
    targets
}

/// The walk of a package's files, with `CARGO_TARGET_DIR` taken into account.
pub fn package_files(fs: &dyn FileSystem, root: &Path) -> Vec<PathBuf> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(|d| {
        let d = PathBuf::from(d);
        if d.is_absolute() { d } else { root.join(d) }
    });
    fs.package_files(&PackageWalk {
        root,
        target_dir: target_dir.as_deref(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fs::Memory;
    use super::*;

    fn layout(files: &[(&str, &str)]) -> Layout {
        let fs = Memory::new(files.iter().copied());
        let root = Path::new("/p");
        let list = package_files(&fs, root);
        let mut texts = |p: &Path| {
            fs.read(p)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        Layout::read(&fs, root, &list, &mut texts)
    }

    #[test]
    fn targets_are_discovered_like_cargo() {
        let l = layout(&[
            (
                "/p/Cargo.toml",
                "[package]\nname = \"my-tool\"\n\n[[test]]\nname = \"raw\"\nharness = false\n",
            ),
            ("/p/src/lib.rs", ""),
            ("/p/src/main.rs", ""),
            ("/p/src/bin/extra.rs", ""),
            ("/p/src/bin/multi/main.rs", ""),
            ("/p/src/bin/multi/helper.rs", ""),
            ("/p/tests/it.rs", ""),
            ("/p/tests/raw.rs", ""),
            ("/p/tests/common/mod.rs", ""),
            ("/p/examples/demo.rs", ""),
            ("/p/build.rs", ""),
        ]);
        let keys: Vec<String> = l.targets.iter().map(Target::key).collect();
        assert_eq!(
            keys,
            [
                "lib",
                "bin:my-tool",
                "bin:extra",
                "bin:multi",
                "example:demo",
                "test:raw",
                "test:it",
                "build:build-script-build"
            ]
        );
        assert_eq!(l.lib_crate.as_deref(), Some("my_tool"));
        assert!(l.has_binary());
        let raw = l.targets.iter().find(|t| t.name == "raw").unwrap();
        assert!(raw.has_main());
        let it = l.targets.iter().find(|t| t.name == "it").unwrap();
        assert!(!it.has_main());
    }

    #[test]
    fn modules_follow_declarations_and_visibility() {
        let l = layout(&[
            ("/p/Cargo.toml", "[package]\nname = \"lib-only\"\n"),
            (
                "/p/src/lib.rs",
                "pub mod api;\nmod private;\npub(crate) mod internal;\n#[cfg(test)]\nmod tests;\n",
            ),
            ("/p/src/api.rs", "pub mod deeper;\n"),
            ("/p/src/api/deeper.rs", ""),
            ("/p/src/private.rs", ""),
            ("/p/src/internal/mod.rs", "pub mod more;\n"),
            ("/p/src/internal/more.rs", ""),
            ("/p/src/tests.rs", ""),
            ("/p/src/orphan.rs", ""),
        ]);
        assert!(!l.has_binary());
        let m = |p: &str| l.memberships(Path::new(p)).first().cloned();
        assert!(m("/p/src/api/deeper.rs").unwrap().exported);
        assert_eq!(m("/p/src/api/deeper.rs").unwrap().module, ["api", "deeper"]);
        assert!(!m("/p/src/private.rs").unwrap().exported);
        assert!(!m("/p/src/internal/more.rs").unwrap().exported);
        assert!(m("/p/src/tests.rs").unwrap().cfg_test);
        assert!(m("/p/src/orphan.rs").is_none());
    }

    #[test]
    fn a_virtual_manifest_is_not_a_package() {
        let fs = Memory::new([
            ("/w/Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            ("/w/a/Cargo.toml", "[package]\nname = \"a\"\n"),
            ("/w/a/src/lib.rs", ""),
            ("/w/scripts/x.rs", ""),
        ]);
        let mut finder = PackageFinder::default();
        let a = finder.package_of(&fs, Path::new("/w/a/src/lib.rs"));
        assert_eq!(a.root.as_deref(), Some(Path::new("/w/a")));
        let loose = finder.package_of(&fs, Path::new("/w/scripts/x.rs"));
        assert_eq!(loose.root, None);
    }
}
