//! Which files to lint: explicit files and directory walks that skip `target/`,
//! hidden directories and excluded paths.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::engine::{InputError, InputFile};

/// Paths not to lint: the configuration's `exclude` globs, relative to `root`.
#[derive(Clone, Debug, Default)]
pub struct Exclude {
    pub root: PathBuf,
    pub globs: globset::GlobSet,
}

impl Exclude {
    pub fn is_excluded(&self, path: &Path) -> bool {
        if self.globs.is_empty() {
            return false;
        }
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        let relative = relative.strip_prefix(".").unwrap_or(relative);
        self.globs.is_match(relative)
            || self.globs.is_match(path)
            || path.file_name().is_some_and(|n| self.globs.is_match(n))
    }
}

/// Expands `paths` into the files to lint. Explicit files are linted whatever their
/// extension (unless excluded); directories contribute their `.rs` files. A walk
/// follows symbolic links but never loops, and skips `target/` and hidden directories.
pub fn collect_files(paths: &[PathBuf], exclude: &Exclude) -> (Vec<InputFile>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                errors.push(InputError::new(
                    display(root),
                    format!("cannot read it: {e}"),
                ));
                continue;
            }
        };
        if !meta.is_dir() {
            if !exclude.is_excluded(root) {
                files.push(InputFile {
                    path: root.clone(),
                    name: display(root),
                });
            }
            continue;
        }
        let walk = WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_type().is_dir() && skip_dir(e.file_name()))
                        && !exclude.is_excluded(e.path())
            });
        for entry in walk {
            match entry {
                Ok(e)
                    if e.file_type().is_file()
                        && e.path().extension().is_some_and(|x| x == "rs") =>
                {
                    files.push(InputFile {
                        path: e.path().to_path_buf(),
                        name: display(e.path()),
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    let path = e.path().map_or_else(|| display(root), display);
                    let message = if e.loop_ancestor().is_some() {
                        "skipped: a symbolic link here loops back to one of its parent directories"
                            .to_string()
                    } else {
                        format!(
                            "cannot read it: {}",
                            e.io_error()
                                .map_or_else(|| e.to_string(), |io| io.to_string())
                        )
                    };
                    errors.push(InputError::new(path, message));
                }
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    (files, errors)
}

fn skip_dir(name: &std::ffi::OsStr) -> bool {
    name == "target"
        || name
            .to_str()
            .is_some_and(|n| n.starts_with('.') && n != "." && n != "..")
}

/// A path as users expect to see it: as given, without a leading `./`.
pub fn display(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}
