//! The shared analyses rules query. One [`CrateCx`] per package holds the package's
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
pub mod fixes;
pub mod flow;
pub mod forks;
pub mod locks;
pub mod nesting;
pub mod processes;
pub mod resolve;
pub mod signal_safety;
pub mod syntax;
pub mod threads;
pub mod types;
pub mod walk;

use std::cell::{OnceCell, RefCell, RefMut};
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proc_macro2::Span as SynSpan;
use typed_arena::Arena;

use crate::diagnostic::Span;
use crate::source::SourceFile;
use resolve::Resolver;

/// What the analyses need from the configuration.
#[derive(Clone, Debug, Default)]
pub struct AnalysisOptions {
    pub extra_fork_points: Vec<String>,
    pub extra_lock_types: Vec<String>,
    pub catalog: signal_safety::Catalog,
}

/// The package a file belongs to: the nearest directory with a `Cargo.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Package {
    pub root: Option<PathBuf>,
}

impl Package {
    /// Every `.rs` file of the package, skipping `target/`, hidden directories and
    /// nested packages.
    fn files(&self) -> Vec<PathBuf> {
        let Some(root) = &self.root else {
            return Vec::new();
        };
        walkdir::WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_type().is_dir()
                        && (e.file_name() == "target"
                            || e.file_name().to_str().is_some_and(|n| n.starts_with('.'))
                            || e.path().join("Cargo.toml").is_file()))
            })
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
            .map(|e| e.into_path())
            .collect()
    }
}

/// Finds the package of many files, looking at each directory once (the answer for a
/// directory is remembered for all its descendants).
#[derive(Debug, Default)]
pub struct PackageFinder {
    roots: HashMap<PathBuf, Option<PathBuf>>,
}

impl PackageFinder {
    /// The nearest directory of `path` with a `Cargo.toml`.
    pub fn package_of(&mut self, path: &Path) -> Package {
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
            if d.join("Cargo.toml").is_file() {
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

/// Which kind of crate target a file is part of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// A binary (`src/main.rs`, `src/bin`, `examples`, `benches`, `build.rs`, or any
    /// file with a top-level `fn main`): callers are known, `main` is the start.
    Bin,
    /// A library: its public functions' callers are unknown.
    Lib,
    /// An integration test: run by the multi-threaded test harness.
    Test,
}

/// A function-like item with a body: free functions, methods, trait default methods,
/// functions nested in blocks.
pub struct FnDef<'a> {
    pub name: String,
    pub sig: &'a syn::Signature,
    pub attrs: &'a [syn::Attribute],
    pub body: &'a syn::Block,
    /// The `impl` or `trait` it belongs to (last path segment of the self type).
    pub self_ty: Option<String>,
    #[expect(dead_code, reason = "the program model reads it (next change)")]
    pub is_pub: bool,
    /// Inside a `#[cfg(test)]` module.
    pub in_test_module: bool,
}

impl<'a> FnDef<'a> {
    pub fn is_main(&self) -> bool {
        self.name == "main" && self.self_ty.is_none()
    }

    /// `#[test]`, `#[tokio::test]`, `#[tokio::main]`…: the function runs with other
    /// threads around.
    pub fn threaded_attr(&self) -> Option<&'static str> {
        catalog::THREADED_FN_ATTRS.iter().copied().find(|name| {
            let want: Vec<&str> = name.split("::").collect();
            self.attrs.iter().any(|a| {
                let segs: Vec<String> = a
                    .path()
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                segs.iter().map(String::as_str).eq(want.iter().copied())
                    || (want.len() == 1 && segs.last().is_some_and(|s| s == want[0]))
            })
        })
    }

    pub fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }

    /// Parameter names and types, in order (`self` excluded).
    pub fn params(&self) -> Vec<(Option<String>, &'a syn::Type)> {
        self.sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                syn::FnArg::Typed(t) => Some((syntax::pat_ident(&t.pat), &*t.ty)),
                syn::FnArg::Receiver(_) => None,
            })
            .collect()
    }

    /// Whether the function never returns (`-> !`).
    pub fn returns_never(&self) -> bool {
        matches!(&self.sig.output, syn::ReturnType::Type(_, ty) if matches!(**ty, syn::Type::Never(_)))
    }
}

/// One parsed file and what is known about it.
pub struct FileCx<'a> {
    pub source: Arc<SourceFile>,
    pub ast: &'a syn::File,
    pub resolver: Resolver,
    pub fns: Vec<FnDef<'a>>,
    pub kind: TargetKind,
    /// See [`FileCx::fns_using`].
    fns_by_name_used: OnceCell<HashMap<String, Vec<usize>>>,
    /// See [`FileCx::fns_named`].
    fns_by_name: OnceCell<HashMap<String, Vec<usize>>>,
    /// See [`FileCx::word_offsets`].
    words: OnceCell<HashMap<Box<str>, Vec<usize>>>,
}

impl<'a> FileCx<'a> {
    /// The indices (in `fns`) of the functions whose bodies call a function or method
    /// named `name`, or use a path ending in `name` (`pre_exec(helper)`). Built once
    /// per file: walking every body of the file for each function whose callers are
    /// asked for was quadratic (a file forking in 4,000 functions took 32 s).
    pub fn fns_using(&self, name: &str) -> &[usize] {
        let index = self.fns_by_name_used.get_or_init(|| {
            let mut index: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, def) in self.fns.iter().enumerate() {
                syntax::each_expr(def.body, &mut |e, _| {
                    let used = match e {
                        syn::Expr::Call(c) => match syntax::peel(&c.func) {
                            syn::Expr::Path(p) => syntax::last_ident(&p.path),
                            _ => None,
                        },
                        syn::Expr::MethodCall(m) => Some(m.method.to_string()),
                        syn::Expr::Path(p) => syntax::last_ident(&p.path),
                        _ => None,
                    };
                    if let Some(name) = used {
                        let fns = index.entry(name).or_default();
                        if fns.last() != Some(&i) {
                            fns.push(i);
                        }
                    }
                });
            }
            index
        });
        index.get(name).map_or(&[], Vec::as_slice)
    }

    /// The diagnostics span of a syntax span in this file.
    pub fn span(&self, span: SynSpan) -> Span {
        let (s, e) = (span.start(), span.end());
        Span {
            file: self.source.clone(),
            start: self.source.position(s.line, s.column),
            end: self.source.position(e.line, e.column),
        }
    }

    pub fn span_of(&self, node: &impl syn::spanned::Spanned) -> Span {
        self.span(node.span())
    }

    /// The byte offsets of `word` as a whole word in the text (comments and strings
    /// included), from an index built on first use: a package-less file answers every
    /// lookup from its own text, and scanning it for each name was quadratic.
    pub fn word_offsets(&self, word: &str) -> &[usize] {
        let index = self.words.get_or_init(|| {
            let mut index: HashMap<Box<str>, Vec<usize>> = HashMap::new();
            for (start, word) in ident_words(&self.source.text) {
                match index.get_mut(word) {
                    Some(offsets) => offsets.push(start),
                    None => {
                        index.insert(word.into(), vec![start]);
                    }
                }
            }
            index
        });
        index.get(word).map_or(&[], Vec::as_slice)
    }

    /// The functions named `name`, in file order (from an index built on first use:
    /// resolving every call of every child region by scanning all the file's
    /// functions was quadratic in a file with thousands of them).
    pub fn fns_named(&self, name: &str) -> impl Iterator<Item = &FnDef<'a>> {
        let index = self.fns_by_name.get_or_init(|| {
            let mut index: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, f) in self.fns.iter().enumerate() {
                index.entry(f.name.clone()).or_default().push(i);
            }
            index
        });
        index
            .get(name)
            .into_iter()
            .flatten()
            .map(move |&i| &self.fns[i])
    }

    pub fn main_fn(&self) -> Option<&FnDef<'a>> {
        self.fns.iter().find(|f| f.is_main())
    }
}

/// A function and the file it is in.
#[derive(Clone, Copy)]
pub struct FnRef<'a> {
    pub file: &'a FileCx<'a>,
    pub def: &'a FnDef<'a>,
}

impl<'a> FnRef<'a> {
    pub fn key(&self) -> (usize, usize) {
        (
            self.file as *const FileCx<'a> as usize,
            self.def as *const FnDef<'a> as usize,
        )
    }
}

/// The per-package analysis context.
pub struct CrateCx<'a> {
    pub package: Package,
    pub options: &'a AnalysisOptions,
    asts: &'a Arena<syn::File>,
    file_cxs: &'a Arena<FileCx<'a>>,
    /// Candidate files, in the order given.
    candidates: RefCell<Vec<&'a FileCx<'a>>>,
    /// Every parsed file by path; `None` when it could not be read or parsed.
    parsed: RefCell<HashMap<PathBuf, Option<&'a FileCx<'a>>>>,
    /// Where each candidate is in `candidates` (a file given twice is there twice).
    candidate_pos: RefCell<HashMap<PathBuf, Vec<usize>>>,
    package_files: OnceCell<Vec<PathBuf>>,
    /// Texts of parsed files (candidates, and files parsed for lookups).
    texts: RefCell<HashMap<PathBuf, Option<Arc<SourceFile>>>>,
    /// The package's files, read on the first cross-file lookup.
    package_texts: RefCell<Option<PackageTexts>>,
    fn_lookups: RefCell<HashMap<String, Vec<FnRef<'a>>>>,
    /// Answers of [`CrateCx::files_defining`]: (crate, needle, introducers).
    def_lookups: RefCell<HashMap<LookupKey, Vec<&'a FileCx<'a>>>>,
    forks: OnceCell<Vec<forks::ForkPoint<'a>>>,
    processes: OnceCell<processes::Processes<'a>>,
    has_lib: OnceCell<bool>,
    has_main_rs: OnceCell<bool>,
    /// Trees parsed by an earlier analysis of the same package, to reuse.
    trees: Option<&'a TreeCache<'a>>,
}

/// Syntax trees kept across analyses of one package (the engine analyses a package
/// again when fork wrappers make more of its files candidates): a file is parsed once.
#[derive(Default)]
pub struct TreeCache<'a> {
    trees: RefCell<HashMap<PathBuf, (Arc<SourceFile>, &'a syn::File)>>,
}

/// A lookup: the crate asking, the name, the introducers.
type LookupKey = (String, String, String);

/// A file that did not parse: where and why.
pub struct ParseFailure {
    pub source: Arc<SourceFile>,
    pub line: usize,
    pub column0: usize,
    pub message: String,
    /// What to do about it: a limit is not a syntax error.
    pub help: &'static str,
}

impl<'a> CrateCx<'a> {
    pub fn new(
        package: Package,
        options: &'a AnalysisOptions,
        asts: &'a Arena<syn::File>,
        file_cxs: &'a Arena<FileCx<'a>>,
    ) -> CrateCx<'a> {
        CrateCx {
            package,
            options,
            asts,
            file_cxs,
            candidates: RefCell::default(),
            parsed: RefCell::default(),
            candidate_pos: RefCell::default(),
            package_files: OnceCell::new(),
            texts: RefCell::default(),
            package_texts: RefCell::default(),
            fn_lookups: RefCell::default(),
            def_lookups: RefCell::default(),
            forks: OnceCell::new(),
            processes: OnceCell::new(),
            has_lib: OnceCell::new(),
            has_main_rs: OnceCell::new(),
            trees: None,
        }
    }

    /// Lets go of what lookups read (texts, the word index, answers): for a context
    /// that is done but cannot be dropped yet.
    pub fn release_caches(&self) {
        self.texts.borrow_mut().clear();
        self.package_texts.borrow_mut().take();
        self.def_lookups.borrow_mut().clear();
        self.fn_lookups.borrow_mut().clear();
    }

    /// Reuses (and fills) `trees`: trees allocated in the same arena by an earlier
    /// context of this package.
    pub fn with_tree_cache(mut self, trees: &'a TreeCache<'a>) -> CrateCx<'a> {
        self.trees = Some(trees);
        self
    }

    /// Parses a candidate file. A parse error is returned for the engine to report.
    pub fn add_candidate(&self, source: Arc<SourceFile>) -> Result<(), ParseFailure> {
        let path = source.path.clone();
        self.texts
            .borrow_mut()
            .insert(path.clone(), Some(source.clone()));
        match self.parse(source) {
            Ok(fcx) => {
                self.parsed.borrow_mut().insert(path.clone(), Some(fcx));
                let mut candidates = self.candidates.borrow_mut();
                self.candidate_pos
                    .borrow_mut()
                    .entry(path.clone())
                    .or_default()
                    .push(candidates.len());
                candidates.push(fcx);
                drop(candidates);
                // Normally every candidate is added before the first lookup; if not, the
                // package's texts and the answers learn about this one.
                if let Some(texts) = self.package_texts.borrow_mut().as_mut() {
                    if !texts.ids.contains_key(&path) {
                        let key = self.crate_key(&path);
                        texts.add_file(path, key, Some(Text::Source(fcx.source.clone())));
                    }
                }
                self.def_lookups.borrow_mut().clear();
                self.fn_lookups.borrow_mut().clear();
                Ok(())
            }
            Err(failure) => {
                self.parsed.borrow_mut().insert(path, None);
                Err(failure)
            }
        }
    }

    pub fn candidates(&self) -> Vec<&'a FileCx<'a>> {
        self.candidates.borrow().clone()
    }

    fn parse(&self, source: Arc<SourceFile>) -> Result<&'a FileCx<'a>, ParseFailure> {
        let cached = self.trees.and_then(|t| {
            let trees = t.trees.borrow();
            let (text, ast) = trees.get(&source.path)?;
            (Arc::ptr_eq(text, &source) || text.text == source.text).then_some((text.clone(), *ast))
        });
        let (source, ast) = match cached {
            Some(hit) => hit,
            None => {
                let ast = self.parse_tree(&source)?;
                if let Some(t) = self.trees {
                    t.trees
                        .borrow_mut()
                        .insert(source.path.clone(), (source.clone(), ast));
                }
                (source, ast)
            }
        };
        let resolver = Resolver::new(ast);
        let mut fns = Vec::new();
        collect_fns(&ast.items, None, false, &mut fns);
        let kind = self.target_kind(&source.path, ast);
        Ok(self.file_cxs.alloc(FileCx {
            source,
            ast,
            resolver,
            fns,
            kind,
            fns_by_name_used: OnceCell::new(),
            fns_by_name: OnceCell::new(),
            words: OnceCell::new(),
        }))
    }

    fn parse_tree(&self, source: &Arc<SourceFile>) -> Result<&'a syn::File, ParseFailure> {
        if source.text.len() > crate::MAX_FILE_BYTES {
            return Err(ParseFailure {
                source: source.clone(),
                line: 1,
                column0: 0,
                message: format!(
                    "the file is {:.1} MiB, larger than the {} MiB fork-lint parses (the syntax tree takes about 130 bytes of memory per byte of source): not analysed",
                    source.text.len() as f64 / f64::from(1 << 20),
                    crate::MAX_FILE_BYTES >> 20
                ),
                help: "split the file into smaller modules, or exclude it (`exclude` in fork-lint.toml) if it is generated",
            });
        }
        if let Err(deep) = nesting::measure(&source.text, crate::MAX_NESTING) {
            return Err(ParseFailure {
                source: source.clone(),
                line: deep.line,
                column0: deep.column0,
                message: format!(
                    "nested more than {} levels deep (brackets, or operators and keywords that nest within one statement): not analysed",
                    crate::MAX_NESTING
                ),
                help: "split the deeply nested expression into smaller ones, or exclude the file (`exclude` in fork-lint.toml) if it is generated",
            });
        }
        let ast = syn::parse_file(&source.text).map_err(|e| {
            let start = e.span().start();
            ParseFailure {
                source: source.clone(),
                line: start.line,
                column0: start.column,
                message: e.to_string(),
                help: "fork-lint parses with `syn`; fix the syntax, or exclude the file if it is not Rust",
            }
        })?;
        Ok(self.asts.alloc(ast))
    }

    fn target_kind(&self, path: &Path, ast: &syn::File) -> TargetKind {
        let has_main = ast
            .items
            .iter()
            .any(|i| matches!(i, syn::Item::Fn(f) if f.sig.ident == "main"));
        if has_main {
            return TargetKind::Bin;
        }
        let Some(root) = &self.package.root else {
            return TargetKind::Lib;
        };
        let rel = path.strip_prefix(root).unwrap_or(path);
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        if rel_s.starts_with("tests/") {
            return TargetKind::Test;
        }
        if ["src/bin/", "examples/", "benches/"]
            .iter()
            .any(|p| rel_s.starts_with(p))
            || rel_s == "build.rs"
            || rel_s == "src/main.rs"
        {
            return TargetKind::Bin;
        }
        let has_lib = *self
            .has_lib
            .get_or_init(|| root.join("src/lib.rs").is_file());
        let has_main_rs = *self
            .has_main_rs
            .get_or_init(|| root.join("src/main.rs").is_file());
        if !has_lib && has_main_rs {
            return TargetKind::Bin;
        }
        if has_lib && has_main_rs {
            // Both: a module belongs to the binary if only `main.rs` declares it.
            let stem = rel.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let stem = if stem == "mod" {
                rel.parent()
                    .and_then(|p| p.file_name())
                    .and_then(|s| s.to_str())
                    .unwrap_or("")
            } else {
                stem
            };
            // Read once per package (cached), not once per file.
            let declares = |f: &str| {
                self.text(&root.join(f))
                    .is_some_and(|t| t.text.contains(&format!("mod {stem}")))
            };
            if declares("src/main.rs") && !declares("src/lib.rs") {
                return TargetKind::Bin;
            }
        }
        TargetKind::Lib
    }

    fn text(&self, path: &Path) -> Option<Arc<SourceFile>> {
        if let Some(t) = self.texts.borrow().get(path) {
            return t.clone();
        }
        // Read already, for lookups: the text moves into the `SourceFile`.
        let known = self.package_texts.borrow_mut().as_mut().and_then(|p| {
            let id = *p.ids.get(path)? as usize;
            let source = match p.texts[id].take()? {
                Text::Raw(raw) => Arc::new(SourceFile::new(
                    path.to_path_buf(),
                    self.display_name(path),
                    raw.into_string(),
                )),
                Text::Source(source) => source,
            };
            p.texts[id] = Some(Text::Source(source.clone()));
            Some(source)
        });
        if let Some(source) = known {
            self.texts
                .borrow_mut()
                .insert(path.to_path_buf(), Some(source.clone()));
            return Some(source);
        }
        let text = std::fs::read(path)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let source = text.map(|t| {
            Arc::new(SourceFile::new(
                path.to_path_buf(),
                self.display_name(path),
                t,
            ))
        });
        self.texts
            .borrow_mut()
            .insert(path.to_path_buf(), source.clone());
        source
    }

    /// The name to show for a file the analysis read on its own: written the way the
    /// candidates' names are (relative to the workspace root under `cargo fork-lint`, as
    /// given on the command line otherwise), by swapping a candidate's path prefix for
    /// its name prefix.
    fn display_name(&self, path: &Path) -> String {
        for c in self.candidates.borrow().iter() {
            let (cpath, cname) = (&c.source.path, Path::new(&c.source.name));
            // The candidate's name is its path with some prefix replaced (or removed).
            let mut common = 0;
            for (a, b) in cpath.components().rev().zip(cname.components().rev()) {
                if a != b {
                    break;
                }
                common += 1;
            }
            let path_prefix: PathBuf = cpath
                .components()
                .take(cpath.components().count() - common)
                .collect();
            let name_prefix: PathBuf = cname
                .components()
                .take(cname.components().count() - common)
                .collect();
            if let Ok(rest) = path.strip_prefix(&path_prefix) {
                return crate::input::display(&name_prefix.join(rest));
            }
        }
        crate::input::display(path)
    }

    /// A package file, parsed on first use.
    pub fn file(&self, path: &Path) -> Option<&'a FileCx<'a>> {
        if let Some(p) = self.parsed.borrow().get(path) {
            return *p;
        }
        let parsed = self.text(path).and_then(|src| self.parse(src).ok());
        self.parsed.borrow_mut().insert(path.to_path_buf(), parsed);
        parsed
    }

    fn package_files(&self) -> &[PathBuf] {
        self.package_files.get_or_init(|| self.package.files())
    }

    /// Which crate of the package a file belongs to: each file (or directory) under
    /// `src/bin`, `examples`, `benches` and `tests` is a crate of its own; everything
    /// else is the package's main crate. Modules in subdirectories of `tests/` are
    /// shared by the test crates.
    fn crate_key(&self, path: &Path) -> String {
        let Some(root) = &self.package.root else {
            return path.display().to_string();
        };
        let Ok(rel) = path.strip_prefix(root) else {
            return path.display().to_string();
        };
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let stem = |s: &str| s.strip_suffix(".rs").unwrap_or(s).to_string();
        match parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["src", "bin", x, ..] => format!("bin:{}", stem(x)),
            ["examples", x, ..] => format!("example:{}", stem(x)),
            ["benches", x, ..] => format!("bench:{}", stem(x)),
            ["tests", x] => format!("test:{}", stem(x)),
            ["tests", ..] => "test-shared".to_string(),
            _ => "main".to_string(),
        }
    }

    /// Files of `from`'s crate whose text mentions `needle` as a whole word after one
    /// of `introducers` (`fn`, `static`, `struct`…), parsed. Candidates come first (in
    /// the order given), then the other files of the package (in walk order).
    ///
    /// The package's files are read once (on the first lookup); answers are
    /// remembered; once lookups have searched many times the package's size, an index
    /// of its words answers them instead (see [`PackageTexts`]).
    pub fn files_defining(
        &self,
        from: &FileCx<'_>,
        needle: &str,
        introducers: &[&str],
    ) -> Vec<&'a FileCx<'a>> {
        // Without a package every file is a crate of its own, so only `from` can
        // define the name. (Going through the index made each lookup walk every other
        // file's crate: quadratic in the number of files.)
        if self.package.root.is_none() {
            let text = &from.source.text;
            let found = if !needle.is_empty() && needle.bytes().all(is_ident_byte) {
                from.word_offsets(needle)
                    .iter()
                    .any(|&at| defines_at(text, at, needle, introducers))
            } else {
                defines(text, needle, introducers)
            };
            if !found {
                return Vec::new();
            }
            let own = self
                .parsed
                .borrow()
                .get(&from.source.path)
                .copied()
                .flatten();
            return own.into_iter().collect();
        }
        let krate = match &self.package.root {
            Some(_) => self.crate_key(&from.source.path),
            None => format!("{:?}", from.source.path),
        };
        let key = (krate, needle.to_string(), introducers.join(" "));
        if let Some(v) = self.def_lookups.borrow().get(&key) {
            return v.clone();
        }
        let v = self.files_defining_uncached(from, needle, introducers);
        self.def_lookups.borrow_mut().insert(key, v.clone());
        v
    }

    /// The package's texts, read on first use: every package file, then the
    /// candidates outside the package walk.
    fn package_texts(&self) -> RefMut<'_, PackageTexts> {
        if self.package_texts.borrow().is_none() {
            let built = self.read_package_texts();
            *self.package_texts.borrow_mut() = Some(built);
        }
        RefMut::map(self.package_texts.borrow_mut(), |t| {
            t.as_mut().expect("the texts were just read")
        })
    }

    fn read_package_texts(&self) -> PackageTexts {
        let mut texts = PackageTexts::default();
        let walk = self.package_files();
        let candidates: Vec<PathBuf> = self
            .candidates
            .borrow()
            .iter()
            .map(|c| c.source.path.clone())
            .collect();
        for (n, path) in walk.iter().chain(&candidates).enumerate() {
            if n == walk.len() {
                texts.walk_len = texts.paths.len();
            }
            if n >= walk.len() && texts.ids.contains_key(path) {
                continue; // a candidate that is also a package file
            }
            let key = self.crate_key(path);
            let known = self.texts.borrow().get(path).cloned();
            let text = match known {
                Some(source) => source.map(Text::Source),
                None => std::fs::read(path)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .map(|t| Text::Raw(t.into_boxed_str())),
            };
            texts.add_file(path.clone(), key, text);
        }
        if candidates.is_empty() {
            texts.walk_len = texts.paths.len();
        }
        texts
    }

    fn files_defining_uncached(
        &self,
        from: &FileCx<'_>,
        needle: &str,
        introducers: &[&str],
    ) -> Vec<&'a FileCx<'a>> {
        let from_path = from.source.path.clone();
        let from_key = self.crate_key(&from_path);
        // The files of `from`'s crate that define the needle, in file order.
        let (matching, walk_len) = {
            let mut texts = self.package_texts();
            let matching = texts.defining(&from_key, needle, introducers);
            (matching, texts.walk_len)
        };
        let mut out: Vec<&'a FileCx<'a>> = Vec::new();
        let mut taken: HashSet<PathBuf> = HashSet::new();
        {
            let positions = self.candidate_pos.borrow();
            let candidates = self.candidates.borrow();
            let mut cands: Vec<usize> = matching
                .iter()
                .filter_map(|(_, p)| positions.get(p))
                .flatten()
                .copied()
                .collect();
            cands.sort_unstable();
            for i in cands {
                out.push(candidates[i]);
                taken.insert(candidates[i].source.path.clone());
            }
        }
        for (file, path) in matching {
            if file as usize >= walk_len || taken.contains(&path) {
                continue;
            }
            if let Some(f) = self.file(&path) {
                out.push(f);
            }
        }
        out
    }

    /// Files of `from`'s crate whose text has `word` as a whole word, parsed.
    pub fn files_mentioning(&self, from: &FileCx<'_>, word: &str) -> Vec<&'a FileCx<'a>> {
        self.files_defining(from, word, &[])
    }

    /// Every function of `from`'s crate named `name`.
    pub fn fns_named(&self, from: &FileCx<'_>, name: &str) -> Vec<FnRef<'a>> {
        let key = format!("{}\0{name}", self.crate_key(&from.source.path));
        if let Some(v) = self.fn_lookups.borrow().get(&key) {
            return v.clone();
        }
        let mut v = Vec::new();
        for file in self.files_defining(from, name, &["fn"]) {
            for def in file.fns_named(name) {
                v.push(FnRef { file, def });
            }
        }
        self.fn_lookups.borrow_mut().insert(key, v.clone());
        v
    }

    /// The `main` function of the binary a file belongs to.
    pub fn main_of(&self, file: &'a FileCx<'a>) -> Option<FnRef<'a>> {
        if let Some(def) = file.main_fn() {
            return Some(FnRef { file, def });
        }
        if file.kind != TargetKind::Bin {
            return None;
        }
        let root = self.package.root.as_ref()?;
        // `src/bin/tool/x.rs` → `src/bin/tool/main.rs`; otherwise `src/main.rs`.
        let mut dir = file.source.path.parent();
        while let Some(d) = dir {
            let main = d.join("main.rs");
            if main != file.source.path && main.is_file() {
                let f = self.file(&main)?;
                return f.main_fn().map(|def| FnRef { file: f, def });
            }
            if d == root.as_path() {
                break;
            }
            dir = d.parent();
        }
        None
    }

    /// How many files were parsed (candidates and files read for cross-file facts).
    pub fn parsed_count(&self) -> usize {
        self.parsed
            .borrow()
            .values()
            .filter(|p| p.is_some())
            .count()
    }

    pub fn forks(&'a self) -> &'a [forks::ForkPoint<'a>] {
        self.forks.get_or_init(|| forks::find(self))
    }

    pub fn processes(&'a self) -> &'a processes::Processes<'a> {
        self.processes.get_or_init(|| processes::find(self))
    }
}

/// Whether crate keys `a` and `b` (see `CrateCx::crate_key`) name items of each other
/// without a crate path.
fn same_crate_keys(a: &str, b: &str) -> bool {
    a == b
        || (a.starts_with("test:") && b == "test-shared")
        || (a == "test-shared" && b.starts_with("test:"))
}

/// Whether `text` has `needle` as a word right after one of `introducers` (or
/// anywhere, when `introducers` is empty).
fn defines(text: &str, needle: &str, introducers: &[&str]) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), needle.as_bytes())
        .any(|at| defines_at(text, at, needle, introducers))
}

/// Whether the occurrence of `needle` at byte `at` of `text` is a whole word right
/// after one of `introducers` (or any whole word, when `introducers` is empty).
fn defines_at(text: &str, at: usize, needle: &str, introducers: &[&str]) -> bool {
    let bytes = text.as_bytes();
    if bytes.get(at..at + needle.len()) != Some(needle.as_bytes()) {
        return false;
    }
    let end = at + needle.len();
    let word_end = bytes.get(end).is_none_or(|b| !is_ident_byte(*b));
    let word_start = at == 0 || !is_ident_byte(bytes[at - 1]);
    if !(word_end && word_start) {
        return false;
    }
    if introducers.is_empty() {
        return true;
    }
    let before = text[..at].trim_end();
    let before = before.strip_suffix("mut").map_or(before, str::trim_end);
    // `lazy_static! { static ref NAME: … }`
    let before = if introducers.contains(&"ref") {
        before.strip_suffix("ref").map_or(before, |b| {
            if b.trim_end().ends_with("static") {
                "ref"
            } else {
                before
            }
        })
    } else {
        before
    };
    introducers.iter().any(|i| {
        before.ends_with(i)
            && before[..before.len() - i.len()]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_')
    })
}

/// Words the index leaves out (keywords: never a name looked up, and the most
/// frequent words); a lookup of one of them searches the texts instead.
fn unindexed_word(word: &[u8]) -> bool {
    matches!(
        word,
        b"as"
            | b"break"
            | b"const"
            | b"continue"
            | b"crate"
            | b"else"
            | b"enum"
            | b"extern"
            | b"false"
            | b"fn"
            | b"for"
            | b"if"
            | b"impl"
            | b"in"
            | b"let"
            | b"loop"
            | b"match"
            | b"mod"
            | b"move"
            | b"mut"
            | b"pub"
            | b"ref"
            | b"return"
            | b"self"
            | b"Self"
            | b"static"
            | b"struct"
            | b"super"
            | b"trait"
            | b"true"
            | b"type"
            | b"unsafe"
            | b"use"
            | b"where"
            | b"while"
            | b"dyn"
            | b"async"
            | b"await"
    )
}

/// Whether lookups of `needle` can be answered by the index: an ASCII identifier
/// (a maximal run of identifier bytes, as `defines` sees words) that is indexed.
fn indexable(needle: &str) -> bool {
    !needle.is_empty()
        && needle.bytes().all(is_ident_byte)
        && !needle.as_bytes()[0].is_ascii_digit()
        && !unindexed_word(needle.as_bytes())
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn word_hash(word: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in word {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

/// A file's text: the `SourceFile` of a parsed file, or the bare text of one read
/// only to be searched.
enum Text {
    Source(Arc<SourceFile>),
    Raw(Box<str>),
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Text::Source(s) => &s.text,
            Text::Raw(r) => r,
        }
    }
}

/// Lookups search the package this many times over before the word index is built.
const INDEX_AFTER: usize = 16;

type WordIndex = HashMap<u64, Vec<(u32, u32)>, BuildHasherDefault<WordHasher>>;

/// The files of a package, read once on the first cross-file lookup, and where the
/// words are in them.
///
/// A lookup searches the texts of its crate's files (`memmem`, fast) until lookups
/// have searched [`INDEX_AFTER`] times the package's size; then an index of where
/// each identifier occurs is built (one pass), and lookups read only the files that
/// hold the word. Either way the work is linear in the package's size: searching
/// every file at every lookup made many lookups quadratic, and an index built for
/// every package costs more than the few lookups most packages need.
#[derive(Default)]
struct PackageTexts {
    /// The package's files in walk order, then candidates outside the walk.
    paths: Vec<PathBuf>,
    /// How many of `paths` come from the package walk.
    walk_len: usize,
    ids: HashMap<PathBuf, u32>,
    /// Each file's crate, an index into `crates`.
    crate_of: Vec<u32>,
    /// Crate keys (see `CrateCx::crate_key`), their indices, the files of each (in
    /// order), and the integration-test crates (`test:…`).
    crates: Vec<String>,
    crate_ids: HashMap<String, u32>,
    files_of: Vec<Vec<u32>>,
    test_crates: Vec<u32>,
    /// `None`: unreadable or not UTF-8.
    texts: Vec<Option<Text>>,
    total_bytes: usize,
    searched_bytes: usize,
    /// A file too large for 32-bit offsets: no index, lookups always search.
    too_large: bool,
    /// Word hash → (file, byte offset) of each whole-word occurrence, in file order.
    words: Option<WordIndex>,
}

impl PackageTexts {
    fn add_file(&mut self, path: PathBuf, crate_key: String, text: Option<Text>) {
        let id = self.paths.len() as u32;
        let krate = match self.crate_ids.get(&crate_key) {
            Some(&i) => i,
            None => {
                let i = self.crates.len() as u32;
                if crate_key.starts_with("test:") {
                    self.test_crates.push(i);
                }
                self.crate_ids.insert(crate_key.clone(), i);
                self.crates.push(crate_key);
                self.files_of.push(Vec::new());
                i
            }
        };
        self.ids.insert(path.clone(), id);
        self.paths.push(path);
        self.crate_of.push(krate);
        self.files_of[krate as usize].push(id);
        let len = text.as_ref().map_or(0, |t| t.as_str().len());
        self.total_bytes += len;
        if u32::try_from(len).is_err() {
            self.too_large = true;
            self.words = None;
        }
        if let (Some(words), Some(t)) = (self.words.as_mut(), &text) {
            index_words(words, id, t.as_str());
        }
        self.texts.push(text);
    }

    /// The files of the crate `from_key` in which `needle` occurs as a whole word
    /// after one of `introducers` (see `defines`), in file order, with their paths.
    fn defining(
        &mut self,
        from_key: &str,
        needle: &str,
        introducers: &[&str],
    ) -> Vec<(u32, PathBuf)> {
        // The crates whose items `from_key`'s code names without a path (see
        // `same_crate_keys`), sorted.
        let mut same: Vec<u32> = Vec::new();
        same.extend(self.crate_ids.get(from_key));
        if from_key.starts_with("test:") {
            same.extend(self.crate_ids.get("test-shared"));
        }
        if from_key == "test-shared" {
            same.extend(&self.test_crates);
        }
        same.sort_unstable();
        same.dedup();
        debug_assert!(
            same.iter()
                .all(|&c| same_crate_keys(from_key, &self.crates[c as usize]))
        );
        let in_crate = |file: u32| same.binary_search(&self.crate_of[file as usize]).is_ok();
        let index_pays = self.searched_bytes > INDEX_AFTER * self.total_bytes.max(1 << 16);
        if self.words.is_none() && index_pays && indexable(needle) && !self.too_large {
            let mut words = WordIndex::default();
            for (id, t) in self.texts.iter().enumerate() {
                if let Some(t) = t {
                    index_words(&mut words, id as u32, t.as_str());
                }
            }
            self.words = Some(words);
        }
        let mut out = Vec::new();
        match &self.words {
            Some(words) if indexable(needle) => {
                let occurrences = words
                    .get(&word_hash(needle.as_bytes()))
                    .map_or(&[][..], Vec::as_slice);
                let mut last = None;
                for &(file, at) in occurrences {
                    if last == Some(file) || !in_crate(file) {
                        continue;
                    }
                    let Some(text) = &self.texts[file as usize] else {
                        continue;
                    };
                    if defines_at(text.as_str(), at as usize, needle, introducers) {
                        last = Some(file);
                        out.push((file, self.paths[file as usize].clone()));
                    }
                }
            }
            _ => {
                let finder = memchr::memmem::Finder::new(needle.as_bytes());
                let mut files: Vec<u32> = same
                    .iter()
                    .flat_map(|&c| self.files_of[c as usize].iter().copied())
                    .collect();
                files.sort_unstable();
                let mut searched = 0;
                for file in files {
                    let Some(text) = &self.texts[file as usize] else {
                        continue;
                    };
                    let text = text.as_str();
                    searched += text.len();
                    if finder
                        .find_iter(text.as_bytes())
                        .any(|at| defines_at(text, at, needle, introducers))
                    {
                        out.push((file, self.paths[file as usize].clone()));
                    }
                }
                self.searched_bytes += searched;
            }
        }
        out
    }
}

/// Adds the whole-word occurrences of identifiers in `text` (file `id`) to `words`.
fn index_words(words: &mut WordIndex, id: u32, text: &str) {
    for (start, word) in ident_words(text) {
        let word = word.as_bytes();
        if word[0].is_ascii_digit() || unindexed_word(word) {
            continue;
        }
        words
            .entry(word_hash(word))
            .or_default()
            .push((id, start as u32));
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The maximal runs of ASCII identifier bytes in `text`, with their byte offsets.
fn ident_words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && !is_ident_byte(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && is_ident_byte(bytes[i]) {
            i += 1;
        }
        Some((start, &text[start..i]))
    })
}

fn collect_fns<'a>(
    items: &'a [syn::Item],
    self_ty: Option<&str>,
    in_test: bool,
    out: &mut Vec<FnDef<'a>>,
) {
    for item in items {
        match item {
            syn::Item::Fn(f) => push_fn(
                out,
                &f.sig,
                &f.attrs,
                &f.block,
                self_ty,
                matches!(f.vis, syn::Visibility::Public(_)),
                in_test,
            ),
            syn::Item::Impl(imp) => {
                let ty = type_name(&imp.self_ty);
                let trait_impl = imp.trait_.is_some();
                for ii in &imp.items {
                    if let syn::ImplItem::Fn(f) = ii {
                        let is_pub = trait_impl || matches!(f.vis, syn::Visibility::Public(_));
                        push_fn(
                            out,
                            &f.sig,
                            &f.attrs,
                            &f.block,
                            ty.as_deref(),
                            is_pub,
                            in_test,
                        );
                    }
                }
            }
            syn::Item::Trait(t) => {
                let name = t.ident.to_string();
                for ti in &t.items {
                    if let syn::TraitItem::Fn(f) = ti {
                        if let Some(body) = &f.default {
                            push_fn(out, &f.sig, &f.attrs, body, Some(&name), true, in_test);
                        }
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_fns(items, None, in_test || syntax::is_cfg_test(&m.attrs), out);
                }
            }
            _ => {}
        }
    }
}

fn push_fn<'a>(
    out: &mut Vec<FnDef<'a>>,
    sig: &'a syn::Signature,
    attrs: &'a [syn::Attribute],
    body: &'a syn::Block,
    self_ty: Option<&str>,
    is_pub: bool,
    in_test: bool,
) {
    out.push(FnDef {
        name: sig.ident.to_string(),
        sig,
        attrs,
        body,
        self_ty: self_ty.map(String::from),
        is_pub,
        in_test_module: in_test,
    });
    // Functions nested in the body.
    let mut nested = NestedFns { out: Vec::new() };
    syn::visit::Visit::visit_block(&mut nested, body);
    for (sig, attrs, block) in nested.out {
        out.push(FnDef {
            name: sig.ident.to_string(),
            sig,
            attrs,
            body: block,
            self_ty: None,
            is_pub: false,
            in_test_module: in_test,
        });
    }
}

struct NestedFns<'a> {
    out: Vec<(&'a syn::Signature, &'a [syn::Attribute], &'a syn::Block)>,
}

impl<'a> syn::visit::Visit<'a> for NestedFns<'a> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.out.push((&f.sig, &f.attrs, &f.block));
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_item_impl(&mut self, _: &'a syn::ItemImpl) {}
    fn visit_item_mod(&mut self, _: &'a syn::ItemMod) {}
}

/// The last path segment of a type (`Foo` for `crate::a::Foo<T>`, `&Foo`).
pub fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => syntax::last_ident(&p.path),
        syn::Type::Reference(r) => type_name(&r.elem),
        syn::Type::Paren(p) => type_name(&p.elem),
        syn::Type::Group(g) => type_name(&g.elem),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_search() {
        assert!(defines("pub fn helper() {}", "helper", &["fn"]));
        assert!(defines("fn  helper<T>()", "helper", &["fn"]));
        assert!(!defines("helper();", "helper", &["fn"]));
        assert!(!defines("fn helper2()", "helper", &["fn"]));
        assert!(!defines("fn my_helper()", "helper", &["fn"]));
        assert!(defines(
            "static mut COUNTER: u32 = 0;",
            "COUNTER",
            &["static"]
        ));
        assert!(!defines("cfn helper()", "helper", &["fn"]));
    }
}
