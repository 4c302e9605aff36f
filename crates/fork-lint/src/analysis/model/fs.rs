//! Where the model reads files from: the disk, or (in tests) a package held in memory.
//! Every read of the analysis goes through [`FileSystem`], so a test can build a whole
//! package from strings and run every analysis on it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The files the analysis may read.
pub trait FileSystem: Sync {
    /// The bytes of a regular file (a FIFO or device is an `InvalidInput` error).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.read_into(path, &mut buf)?;
        Ok(buf)
    }
    /// Appends the bytes of a regular file to `buf`.
    fn read_into(&self, path: &Path, buf: &mut Vec<u8>) -> io::Result<()>;
    /// Whether `path` is a regular file.
    fn is_file(&self, path: &Path) -> bool;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// `path` made absolute (symbolic links resolved where possible), so that every
    /// spelling of a file is the same path.
    fn absolute(&self, path: &Path) -> PathBuf;
    /// Whether `path` is a symbolic link (not followed).
    fn is_symlink(&self, _path: &Path) -> bool {
        false
    }
    /// The directory relative paths start from.
    fn current_dir(&self) -> Option<PathBuf>;
    /// The `.rs` files of a package directory (see [`PackageWalk`]), sorted.
    fn package_files(&self, walk: &PackageWalk<'_>) -> Vec<PathBuf>;
}

/// What a package walk keeps: the `.rs` files under `root`, minus hidden directories,
/// `.gitignore`d paths, the cargo target directory (`target/` beside a `Cargo.toml`, or
/// `CARGO_TARGET_DIR`) and nested packages (directories with their own `Cargo.toml`).
/// A source folder that happens to be named `target` is kept.
pub struct PackageWalk<'p> {
    /// The package root (the directory of its `Cargo.toml`).
    pub root: &'p Path,
    /// `CARGO_TARGET_DIR`, absolute, if set.
    pub target_dir: Option<&'p Path>,
}

impl PackageWalk<'_> {
    /// Whether a directory below the root is skipped (hidden ones aside).
    fn skips_dir(&self, dir: &Path, is_file: &dyn Fn(&Path) -> bool) -> bool {
        if self.target_dir == Some(dir) {
            return true;
        }
        let parent_is_package = || dir.parent().is_some_and(|p| is_file(&p.join("Cargo.toml")));
        (dir.file_name().is_some_and(|n| n == "target") && parent_is_package())
            || is_file(&dir.join("Cargo.toml"))
    }
}

/// The real file system.
pub struct Disk;

impl FileSystem for Disk {
    fn read_into(&self, path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
        // A FIFO or a device would block or never end: read regular files only.
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let mut f = std::fs::File::open(path)?;
        io::Read::read_to_end(&mut f, buf)?;
        Ok(())
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn is_symlink(&self, path: &Path) -> bool {
        path.is_symlink()
    }

    fn absolute(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }

    fn current_dir(&self) -> Option<PathBuf> {
        std::env::current_dir().ok()
    }

    fn package_files(&self, walk: &PackageWalk<'_>) -> Vec<PathBuf> {
        let root = walk.root.to_path_buf();
        let target_dir = walk.target_dir.map(Path::to_path_buf);
        let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(&root)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .ignore(false)
            .parents(true)
            // `.gitignore` applies in a package that is not (yet) a git repository too.
            .require_git(false)
            .follow_links(false)
            .filter_entry(move |e| {
                if e.depth() == 0 || !e.file_type().is_some_and(|t| t.is_dir()) {
                    return true;
                }
                let walk = PackageWalk {
                    root: &root,
                    target_dir: target_dir.as_deref(),
                };
                !walk.skips_dir(e.path(), &|p: &Path| p.is_file())
            })
            .build()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(ignore::DirEntry::into_path)
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        files
    }
}

/// A package held in memory, for tests: paths to texts.
#[derive(Default)]
pub struct Memory {
    files: BTreeMap<PathBuf, String>,
}

impl Memory {
    /// A file system holding `files` (path, text).
    pub fn new<'f>(files: impl IntoIterator<Item = (&'f str, &'f str)>) -> Memory {
        Memory {
            files: files
                .into_iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect(),
        }
    }
}

impl FileSystem for Memory {
    fn read_into(&self, path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
        let text = self
            .files
            .get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))?;
        buf.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.files.keys().any(|p| p.starts_with(path) && p != path)
    }

    fn absolute(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }

    fn current_dir(&self) -> Option<PathBuf> {
        None
    }

    fn package_files(&self, walk: &PackageWalk<'_>) -> Vec<PathBuf> {
        let is_file = |p: &Path| self.files.contains_key(p);
        self.files
            .keys()
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .filter(|p| {
                let Ok(rel) = p.strip_prefix(walk.root) else {
                    return false;
                };
                let mut dir = walk.root.to_path_buf();
                let parts: Vec<_> = rel.components().collect();
                for part in &parts[..parts.len().saturating_sub(1)] {
                    dir.push(part);
                    let hidden = part.as_os_str().to_string_lossy().starts_with('.');
                    if hidden || walk.skips_dir(&dir, &is_file) {
                        return false;
                    }
                }
                true
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_walk_skips_target_beside_a_manifest_and_nested_packages_but_not_src_target() {
        let fs = Memory::new([
            ("/p/Cargo.toml", "[package]\nname = \"p\"\n"),
            ("/p/src/main.rs", ""),
            ("/p/src/target/unix.rs", ""),
            ("/p/target/debug/build/out.rs", ""),
            ("/p/.hidden/x.rs", ""),
            ("/p/nested/Cargo.toml", "[package]\nname = \"n\"\n"),
            ("/p/nested/src/lib.rs", ""),
            ("/p/custom-target/gen.rs", ""),
        ]);
        let files = fs.package_files(&PackageWalk {
            root: Path::new("/p"),
            target_dir: Some(Path::new("/p/custom-target")),
        });
        let files: Vec<_> = files.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(files, ["/p/src/main.rs", "/p/src/target/unix.rs"]);
    }

    #[test]
    fn disk_walk_respects_gitignore_outside_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, t: &str| {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        write("Cargo.toml", "[package]\nname = \"p\"\n");
        write(".gitignore", "generated/\n");
        write("src/main.rs", "");
        write("src/target/unix.rs", "");
        write("generated/big.rs", "");
        write("target/debug/out.rs", "");
        let files = Disk.package_files(&PackageWalk {
            root,
            target_dir: None,
        });
        let rel: Vec<_> = files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(rel, ["src/main.rs", "src/target/unix.rs"]);
    }
}
