//! The shared analyses rules query. One [`PackageCx`] per package holds the package's
//! parsed files (the candidates the prefilter let through, plus any file that defines
//! a name an analysis asks about, parsed lazily) and computes each fact once:
//!
//! * [`forks`]: fork points and the child region of each (and the parent's pid);
//! * [`processes`]: forkrt and procspawn processes, their targets, arguments and start
//!   methods; `set_start_method` calls;
//! * [`threads`]: whether other threads may exist at a program point;
//! * [`walk`]: the walk over a region and the crate-local functions it calls, with the
//!   call chain;
//! * [`signal_safety`]: the async-signal-safety catalog;
//! * [`locks`]: lock acquisitions, guards alive at a point, lock identity;
//! * [`types`]: whether a type or value can cross a process boundary;
//! * [`flow`]: "does every path from here reach X" over structured code.

pub mod catalog;
pub mod commands;
pub mod fixes;
pub mod flow;
pub mod forks;
pub mod locks;
pub(crate) mod macros;
pub mod model;
pub mod nesting;
pub mod processes;
pub mod resolve;
pub mod signal_safety;
pub mod syntax;
pub mod types;
pub mod walk;

pub use model::{
    CodeKind, FileCx, FnRef, Package, PackageCx, PackageFinder, ParseFailure, threads,
};

/// What the analyses need from the configuration.
#[derive(Clone, Debug, Default)]
pub struct AnalysisOptions {
    pub extra_fork_points: Vec<String>,
    pub extra_lock_types: Vec<String>,
    pub catalog: signal_safety::Catalog,
    /// `library = "public"`: a package's library is called from outside even when the
    /// package has binaries.
    pub library_public: bool,
}
