//! The files a run is given, the errors about them, and how a path is shown.

use std::path::{Path, PathBuf};

/// A file to lint: where to read it and the name to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Where to read it.
    pub path: PathBuf,
    /// How to show it (as given, or relative to the workspace root).
    pub name: String,
}

/// A file that could not be linted (or a note about one), with what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file (or path) as shown to users.
    pub file: String,
    /// What went wrong and what to do.
    pub message: String,
    /// A note that does not make the run fail (e.g. a symbolic-link loop skipped).
    pub warning: bool,
}

impl InputError {
    /// An error (not a warning) about `file`.
    pub fn new(file: String, message: String) -> InputError {
        InputError {
            file,
            message,
            warning: false,
        }
    }
}

/// A path as users expect to see it: as given, without a leading `./`.
pub fn display(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}
