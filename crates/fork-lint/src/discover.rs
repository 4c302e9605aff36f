//! Which files to lint: explicit files, and directory walks that skip the cargo target
//! directory (`target/` beside a `Cargo.toml`, or `CARGO_TARGET_DIR`), hidden
//! directories, `.gitignore`d paths and excluded paths (the `ignore` crate, as ripgrep
//! and Ruff walk).

use std::path::{Path, PathBuf};

use crate::input::{InputError, InputFile, display};

/// Paths not to lint: the configuration's `exclude` globs, relative to `root`.
#[derive(Clone, Debug, Default)]
pub struct Exclude {
    /// The directory the globs are relative to (the configuration's).
    pub root: PathBuf,
    /// The `exclude` globs.
    pub globs: globset::GlobSet,
}

impl Exclude {
    /// Whether `path` matches a glob (relative to `root`, as given, or by file name).
    pub fn is_excluded(&self, path: &Path) -> bool {
        if self.globs.is_empty() {
            return false;
        }
        // A relative path is relative to the current directory, which need not be the
        // root the globs are relative to.
        let absolute = match path.is_relative() && self.root.is_absolute() {
            true => std::path::absolute(path).ok(),
            false => None,
        };
        let relative = absolute
            .as_deref()
            .and_then(|a| a.strip_prefix(&self.root).ok())
            .or_else(|| path.strip_prefix(&self.root).ok())
            .unwrap_or(path);
        let relative = relative.strip_prefix(".").unwrap_or(relative);
        self.globs.is_match(relative)
            || self.globs.is_match(path)
            || path.file_name().is_some_and(|n| self.globs.is_match(n))
    }
}

/// Expands `paths` into the files to lint. Explicit files are linted whatever their
/// extension (unless excluded); directories contribute their `.rs` files. A walk
/// follows symbolic links but never loops, and skips target directories, hidden
/// directories and `.gitignore`d paths.
pub fn collect_files(paths: &[PathBuf], exclude: &Exclude) -> (Vec<InputFile>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                errors.push(InputError::new(display(root), unreadable(root, &e)));
                continue;
            }
        };
        if !meta.is_dir() {
            if exclude.is_excluded(root) {
                continue;
            }
            if !meta.is_file() {
                // Reading a FIFO would block forever, a device might never end.
                errors.push(InputError::new(
                    display(root),
                    "is not a regular file (a FIFO, socket or device): not linted; pass Rust source files or directories".to_string(),
                ));
                continue;
            }
            files.push(InputFile {
                path: root.clone(),
                name: display(root),
            });
            continue;
        }
        let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(|d| {
            let d = PathBuf::from(d);
            std::path::absolute(&d).unwrap_or(d)
        });
        let filter_exclude = exclude.clone();
        let walk = ignore::WalkBuilder::new(root)
            .follow_links(true)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .ignore(false)
            .parents(true)
            // `.gitignore` applies outside a git repository too, as in Ruff.
            .require_git(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(move |e| {
                e.depth() == 0
                    || !(filter_exclude.is_excluded(e.path())
                        || e.file_type().is_some_and(|t| t.is_dir())
                            && is_target_dir(e.path(), target_dir.as_deref()))
            })
            .build();
        for entry in walk {
            match entry {
                Ok(e)
                    if e.file_type().is_some_and(|t| t.is_file())
                        && e.path().extension().is_some_and(|x| x == "rs") =>
                {
                    files.push(InputFile {
                        path: e.path().to_path_buf(),
                        name: display(e.path()),
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    if let Some((ancestor, child)) = loop_of(&e) {
                        // The files behind the link are linted through the real path.
                        let _ = ancestor;
                        errors.push(InputError {
                            file: display(&child),
                            message: "skipped: this symbolic link loops back to one of its parent directories".to_string(),
                            warning: true,
                        });
                        continue;
                    }
                    let path = path_of(&e).unwrap_or_else(|| root.clone());
                    // A broken or looping link matters only if it would have been
                    // linted: one named `*.rs`.
                    let is_rust = path.extension().is_some_and(|x| x == "rs");
                    let is_link =
                        std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
                    if is_link && !is_rust {
                        continue;
                    }
                    let message = match io_of(&e) {
                        Some(io) => unreadable(&path, io),
                        None => format!("cannot read it: {e}"),
                    };
                    errors.push(InputError::new(display(&path), message));
                }
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    (files, errors)
}

/// Why a path cannot be read, and what to do about it (the message of an
/// [`InputError`] about it).
pub fn unreadable(path: &Path, e: &std::io::Error) -> String {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if link {
        let target = std::fs::read_link(path)
            .map(|t| format!(" `{}`", t.display()))
            .unwrap_or_default();
        if e.raw_os_error() == Some(40) || e.to_string().contains("symbolic links") {
            return format!(
                "cannot read it: the symbolic link{target} loops ({e}); fix or delete the link, or exclude it"
            );
        }
        if e.kind() == std::io::ErrorKind::NotFound {
            return format!(
                "cannot read it: the symbolic link points to{target}, which does not exist; fix or delete the link, or exclude it"
            );
        }
    }
    if e.kind() == std::io::ErrorKind::NotFound {
        return "does not exist: check the path".to_string();
    }
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        return "cannot read it: permission denied; give your user read permission (`chmod u+r`), or exclude it".to_string();
    }
    format!("cannot read it: {e}; check the file, or exclude it")
}

/// Whether a directory is a cargo target directory: `target/` beside a `Cargo.toml`,
/// or `CARGO_TARGET_DIR`. A source folder named `target` (`src/target/unix.rs`) is not.
fn is_target_dir(dir: &Path, target_dir: Option<&Path>) -> bool {
    if target_dir.is_some_and(|t| std::path::absolute(dir).is_ok_and(|d| d == t) || dir == t) {
        return true;
    }
    dir.file_name().is_some_and(|n| n == "target")
        && dir.parent().is_some_and(|p| p.join("Cargo.toml").is_file())
}

/// The looping link of a walk error, if it is one.
fn loop_of(e: &ignore::Error) -> Option<(PathBuf, PathBuf)> {
    match e {
        ignore::Error::Loop { ancestor, child } => Some((ancestor.clone(), child.clone())),
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => loop_of(err),
        _ => None,
    }
}

/// The path a walk error is about.
fn path_of(e: &ignore::Error) -> Option<PathBuf> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            path_of(err)
        }
        _ => None,
    }
}

/// The I/O error under a walk error.
fn io_of(e: &ignore::Error) -> Option<&std::io::Error> {
    match e {
        ignore::Error::Io(io) => Some(io),
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => io_of(err),
        _ => None,
    }
}
