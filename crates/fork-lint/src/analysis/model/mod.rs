//! The program model: one package-wide picture that every analysis queries.
//!
//! * [`package`]: the cargo package — its targets (from `Cargo.toml` and cargo's
//!   auto-discovery), the module tree of each ([`modules`], read from text), so which
//!   crate each file belongs to and whether its items can be called from outside.
//! * [`fs`]: where files come from (the disk, or a package held in memory in tests).
//! * [`texts`]: every file's text and name lookups over them (which files define or
//!   mention a name), without parsing.
//! * [`file`]: a parsed file ([`FileCx`]) and its functions ([`FnDef`], [`FnRef`]).
//! * [`calls`]: which function of the package a call calls, in every form (paths,
//!   methods on values of known type, function values), and who calls a function.
//! * [`threads`]: the thread context of every function, from the entry points down
//!   the call graph; "may start a thread" summaries.
//!
//! [`PackageCx`] ties them together for one package: it holds the package's texts,
//! parses a file the first time an analysis needs it, and memoises each fact.
//!
//! Invariants: a file is parsed at most once per run; every question is answered in
//! time linear in what it reads (lookups search texts, then an index); nothing here
//! depends on a rule.

pub mod calls;
pub mod expand;
pub mod file;
pub mod fs;
pub mod modules;
pub mod package;
pub mod texts;
pub mod threads;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use typed_arena::Arena;

use super::resolve::Resolver;
use super::{AnalysisOptions, forks, nesting, processes};
use crate::source::SourceFile;
pub use file::{CodeKind, FileCx, FnRef, Place};
use fs::FileSystem;
pub use package::{Layout, Package, PackageFinder, TargetKind};
use texts::{PackageTexts, Text};

/// A file of the package as the engine hands it over: its path, the name to show,
/// and its text (`None` when it could not be read or is not UTF-8).
pub struct PackageFile {
    /// Absolute path.
    pub path: PathBuf,
    /// As shown to users.
    pub name: String,
    /// The text, already a `SourceFile` for candidates.
    pub text: Option<Text>,
}

/// A file that did not parse: where and why.
pub struct ParseFailure {
    pub source: Arc<SourceFile>,
    pub line: usize,
    pub column0: usize,
    pub message: String,
    /// What to do about it: a limit is not a syntax error.
    pub help: &'static str,
}

/// A stand-in for a file too large to analyse, for its `FL000`: its first line, cut
/// short (a generated file may be one line of megabytes, which a report would print).
fn first_line_only(source: &SourceFile) -> SourceFile {
    let line = source.text.split('\n').next().unwrap_or("");
    let mut end = line.len().min(160);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < line.len() { "…" } else { "" };
    SourceFile::new(
        source.path.clone(),
        source.name.clone(),
        format!("{}{cut}\n", &line[..end]),
    )
}

/// The per-package analysis context.
pub struct PackageCx<'a> {
    pub package: Package,
    pub options: &'a AnalysisOptions,
    fs: &'a dyn FileSystem,
    asts: &'a Arena<syn::File>,
    file_cxs: &'a Arena<FileCx<'a>>,
    /// The targets and module trees (empty for a file outside any package).
    layout: Layout,
    /// Candidate files (the prefilter's hits), in the order added.
    candidates: RefCell<Vec<&'a FileCx<'a>>>,
    /// Every parsed file by path; `None` when it could not be parsed.
    parsed: RefCell<HashMap<PathBuf, Option<&'a FileCx<'a>>>>,
    /// Where each candidate is in `candidates`.
    candidate_pos: RefCell<HashMap<PathBuf, usize>>,
    texts: RefCell<PackageTexts>,
    fn_lookups: RefCell<HashMap<String, Vec<FnRef<'a>>>>,
    /// Answers of [`PackageCx::files_defining_in`]: (crates, needle, introducers).
    def_lookups: RefCell<HashMap<(String, String, String), Vec<u32>>>,
    forks: OnceCell<Vec<forks::ForkPoint<'a>>>,
    /// See [`PackageCx::externally_callable`].
    reexports: OnceCell<Reexports>,
    /// See [`PackageCx::package_aliases`].
    aliases: OnceCell<HashMap<String, Vec<Vec<String>>>>,
    /// The fork points of each function (indices into `forks`).
    forks_by_fn: OnceCell<HashMap<(usize, usize), Vec<usize>>>,
    processes: OnceCell<processes::Processes<'a>>,
    pub(crate) threads: threads::ThreadCache<'a>,
    pub(crate) calls: calls::CallCache<'a>,
    /// The macro calls expanded so far: (file, start offset, end offset). Code of an
    /// expansion carries its call's span, so an edit there would rewrite the call.
    pub(crate) expanded_calls: RefCell<std::collections::HashSet<(usize, usize, usize)>>,
    /// Macros the package's macros define, by crate set (see
    /// [`PackageCx::generated_macro`]).
    pub(crate) generated_macros: RefCell<HashMap<String, std::rc::Rc<expand::Generated<'a>>>>,
}

impl<'a> PackageCx<'a> {
    /// A context for `package` and its files (every file of the package, read by the
    /// engine; for a file outside any package, that file alone).
    pub fn new(
        package: Package,
        options: &'a AnalysisOptions,
        fs: &'a dyn FileSystem,
        files: Vec<PackageFile>,
        asts: &'a Arena<syn::File>,
        file_cxs: &'a Arena<FileCx<'a>>,
    ) -> PackageCx<'a> {
        let layout = match &package.root {
            Some(root) => {
                let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
                let by_path: HashMap<&Path, &PackageFile> =
                    files.iter().map(|f| (f.path.as_path(), f)).collect();
                let mut text_of = |p: &Path| {
                    by_path
                        .get(p)
                        .and_then(|f| f.text.as_ref())
                        .map(|t| t.as_str().to_string())
                        .or_else(|| fs.read(p).ok().and_then(|b| String::from_utf8(b).ok()))
                };
                Layout::read(fs, root, &paths, &mut text_of)
            }
            None => Layout::default(),
        };
        let mut texts = PackageTexts::default();
        for f in files {
            let keys = crate_keys(&layout, package.root.as_deref(), &f.path);
            texts.add_file(f.path, f.name, &keys, f.text);
        }
        PackageCx {
            package,
            options,
            fs,
            asts,
            file_cxs,
            layout,
            candidates: RefCell::default(),
            parsed: RefCell::default(),
            candidate_pos: RefCell::default(),
            texts: RefCell::new(texts),
            fn_lookups: RefCell::default(),
            def_lookups: RefCell::default(),
            forks: OnceCell::new(),
            reexports: OnceCell::new(),
            aliases: OnceCell::new(),
            forks_by_fn: OnceCell::new(),
            processes: OnceCell::new(),
            threads: threads::ThreadCache::default(),
            calls: calls::CallCache::default(),
            expanded_calls: RefCell::default(),
            generated_macros: RefCell::default(),
        }
    }

    /// Parses a candidate file. A parse error is returned for the engine to report.
    pub fn add_candidate(&self, path: &Path) -> Result<(), ParseFailure> {
        if self.candidate_pos.borrow().contains_key(path) {
            return Ok(());
        }
        let parsed = self.parse_path(path);
        match parsed {
            Ok(Some(fcx)) => {
                let mut candidates = self.candidates.borrow_mut();
                self.candidate_pos
                    .borrow_mut()
                    .insert(path.to_path_buf(), candidates.len());
                candidates.push(fcx);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(failure) => Err(failure),
        }
    }

    /// The package's manifest, parsed (empty for a file outside any package).
    pub fn manifest(&self) -> &toml::Table {
        &self.layout.manifest
    }

    /// Keeps a syntax tree made by an expansion for the package's lifetime.
    pub(crate) fn alloc_ast(&self, file: syn::File) -> &'a syn::File {
        self.asts.alloc(file)
    }

    /// The candidate files, in the order added.
    pub fn candidates(&self) -> Vec<&'a FileCx<'a>> {
        self.candidates.borrow().clone()
    }

    /// Parses the file at `path` (a package file), once.
    fn parse_path(&self, path: &Path) -> Result<Option<&'a FileCx<'a>>, ParseFailure> {
        if let Some(p) = self.parsed.borrow().get(path) {
            return Ok(*p);
        }
        let source = {
            let mut texts = self.texts.borrow_mut();
            let id = texts.ids.get(path).copied();
            id.and_then(|id| texts.source(id))
        };
        let Some(source) = source else {
            self.parsed.borrow_mut().insert(path.to_path_buf(), None);
            return Ok(None);
        };
        match self.parse(source) {
            Ok(fcx) => {
                self.parsed
                    .borrow_mut()
                    .insert(path.to_path_buf(), Some(fcx));
                Ok(Some(fcx))
            }
            Err(failure) => {
                self.parsed.borrow_mut().insert(path.to_path_buf(), None);
                Err(failure)
            }
        }
    }

    fn parse(&self, source: Arc<SourceFile>) -> Result<&'a FileCx<'a>, ParseFailure> {
        let ast = self.parse_tree(&source)?;
        let resolver = Resolver::new(ast);
        let mut fns = Vec::new();
        file::collect_fns(&ast.items, &mut fns);
        let place = self.place(&source.path, ast);
        Ok(self
            .file_cxs
            .alloc(FileCx::new(source, ast, resolver, fns, place)))
    }

    fn parse_tree(&self, source: &Arc<SourceFile>) -> Result<&'a syn::File, ParseFailure> {
        if source.text.len() > crate::MAX_FILE_BYTES {
            return Err(ParseFailure {
                source: Arc::new(first_line_only(source)),
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

    /// Where a file sits: which crates, what kind of code, whether its `pub` items
    /// can be called from outside the package.
    fn place(&self, path: &Path, ast: &syn::File) -> Place {
        let has_main = ast
            .items
            .iter()
            .any(|i| matches!(i, syn::Item::Fn(f) if f.sig.ident == "main"));
        let memberships = self.layout.memberships(path);
        let crates = {
            let texts = self.texts.borrow();
            texts
                .ids
                .get(path)
                .map(|&id| texts.crates_of(id).into_iter().map(String::from).collect())
                .unwrap_or_default()
        };
        if self.package.root.is_none() {
            // A file on its own: a program if it has `main`, a library otherwise.
            let kind = if has_main {
                CodeKind::Bin
            } else {
                CodeKind::Lib
            };
            return Place {
                kind,
                crates,
                module: Vec::new(),
                exported: kind == CodeKind::Lib,
                public_library: kind == CodeKind::Lib,
                cfg_test: false,
                in_tree: false,
            };
        }
        let public_library = self.options.library_public || !self.layout.has_binary();
        if let Some(m) = memberships.first() {
            let target = &self.layout.targets[m.target];
            let kind = if memberships
                .iter()
                .any(|m| self.layout.targets[m.target].kind == TargetKind::Lib)
            {
                CodeKind::Lib
            } else if target.has_main() {
                CodeKind::Bin
            } else {
                CodeKind::Test
            };
            return Place {
                kind,
                crates,
                module: m.module.clone(),
                exported: public_library && memberships.iter().any(|m| m.exported),
                public_library,
                cfg_test: memberships.iter().all(|m| m.cfg_test),
                in_tree: true,
            };
        }
        // A file no target's module tree reaches (declared in a way the text scan does
        // not follow, included with `include!`, or a loose snippet): judged by where it
        // is.
        let rel = self
            .package
            .root
            .as_ref()
            .and_then(|r| path.strip_prefix(r).ok())
            .unwrap_or(path);
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        let kind = if has_main
            || ["src/bin/", "examples/", "benches/"]
                .iter()
                .any(|p| rel_s.starts_with(p))
            || rel_s == "build.rs"
            || rel_s == "src/main.rs"
        {
            CodeKind::Bin
        } else if rel_s.starts_with("tests/") {
            CodeKind::Test
        } else if self.layout.has_binary()
            && !self
                .layout
                .targets
                .iter()
                .any(|t| t.kind == TargetKind::Lib)
        {
            CodeKind::Bin
        } else {
            CodeKind::Lib
        };
        // Nothing tells who calls it: a library file's `pub` items have unknown callers.
        Place {
            kind,
            crates,
            module: Vec::new(),
            exported: kind == CodeKind::Lib,
            public_library: kind == CodeKind::Lib,
            cfg_test: false,
            in_tree: false,
        }
    }

    /// A package file, parsed on first use (`None` if it is not a package file, cannot
    /// be read, or does not parse).
    pub fn file(&self, path: &Path) -> Option<&'a FileCx<'a>> {
        self.parse_path(path).ok().flatten()
    }

    /// Files of `from`'s crates whose text mentions `word` and holds `text` (any
    /// bytes), parsed: the text is checked before a file is parsed.
    pub fn files_containing(
        &self,
        from: &FileCx<'_>,
        word: &str,
        text: &str,
    ) -> Vec<&'a FileCx<'a>> {
        let keys: Vec<&str> = from.place.crates.iter().map(String::as_str).collect();
        let ids = self.texts.borrow_mut().defining(&keys, word, &[]);
        let paths: Vec<PathBuf> = {
            let texts = self.texts.borrow();
            ids.iter()
                .filter(|&&id| texts.text(id).is_some_and(|t| t.contains(text)))
                .map(|&id| texts.paths[id as usize].clone())
                .collect()
        };
        paths.iter().filter_map(|p| self.file(p)).collect()
    }

    /// Files of `from`'s crates whose text mentions `needle` as a whole word after
    /// one of `introducers` (`fn`, `static`, `struct`…), parsed. Candidates come first
    /// (in the order added), then the other files of the package (in walk order).
    pub fn files_defining(
        &self,
        from: &FileCx<'_>,
        needle: &str,
        introducers: &[&str],
    ) -> Vec<&'a FileCx<'a>> {
        let keys: Vec<&str> = from.place.crates.iter().map(String::as_str).collect();
        self.files_defining_in(&keys, needle, introducers)
    }

    /// Like [`PackageCx::files_defining`], in the crates named by `keys`.
    pub fn files_defining_in(
        &self,
        keys: &[&str],
        needle: &str,
        introducers: &[&str],
    ) -> Vec<&'a FileCx<'a>> {
        let key = (keys.join(" "), needle.to_string(), introducers.join(" "));
        let cached = self.def_lookups.borrow().get(&key).cloned();
        let ids = match cached {
            Some(ids) => ids,
            None => {
                let ids = self.texts.borrow_mut().defining(keys, needle, introducers);
                self.def_lookups.borrow_mut().insert(key, ids.clone());
                ids
            }
        };
        let paths: Vec<PathBuf> = {
            let texts = self.texts.borrow();
            ids.iter()
                .map(|&id| texts.paths[id as usize].clone())
                .collect()
        };
        let mut out: Vec<&'a FileCx<'a>> = Vec::new();
        let mut rest = Vec::new();
        {
            let positions = self.candidate_pos.borrow();
            let candidates = self.candidates.borrow();
            let mut cands: Vec<usize> = Vec::new();
            for p in &paths {
                match positions.get(p) {
                    Some(&i) => cands.push(i),
                    None => rest.push(p.clone()),
                }
            }
            cands.sort_unstable();
            out.extend(cands.into_iter().map(|i| candidates[i]));
        }
        out.extend(rest.iter().filter_map(|p| self.file(p)));
        out
    }

    /// The crate keys from which `file`'s items can be called: its own crates, and for
    /// the library every crate of the package (binaries, tests and examples use it).
    pub fn caller_crates(&self, file: &FileCx<'_>) -> Vec<String> {
        if file.place.kind == CodeKind::Lib && file.place.in_tree {
            return self
                .texts
                .borrow()
                .all_crates()
                .into_iter()
                .map(String::from)
                .collect();
        }
        file.place.crates.clone()
    }

    /// Files of the crates that can call `from`'s items whose text has `word` as a
    /// whole word, parsed.
    pub fn files_mentioning(&self, from: &FileCx<'_>, word: &str) -> Vec<&'a FileCx<'a>> {
        let keys = self.caller_crates(from);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.files_defining_in(&keys, word, &[])
    }

    /// Every function of `from`'s crates named `name`.
    pub fn fns_named(&self, from: &FileCx<'_>, name: &str) -> Vec<FnRef<'a>> {
        let keys: Vec<&str> = from.place.crates.iter().map(String::as_str).collect();
        self.fns_named_in(&keys, name)
    }

    /// Every function of the crates `keys` named `name`.
    pub fn fns_named_in(&self, keys: &[&str], name: &str) -> Vec<FnRef<'a>> {
        let key = format!("{}\0{name}", keys.join(" "));
        self.fns_named_cached(key, name, || self.files_defining_in(keys, name, &["fn"]))
    }

    /// The functions `name` of the crates `keys` in files whose text also has the word
    /// `word`: a method of a type (or an implementation of a trait) is in a file that
    /// writes the type's (trait's) name, in its `impl` or in the macro call that makes
    /// it, so only those files are parsed. Looking up every `fn new` of the crate to
    /// keep those of one type parsed most of a library.
    pub fn fns_named_near(&self, keys: &[&str], name: &str, word: &str) -> Vec<FnRef<'a>> {
        let key = format!("{}\0{name}\0{word}", keys.join(" "));
        self.fns_named_cached(key, name, || {
            let ids = self.texts.borrow_mut().defining(keys, name, &["fn"]);
            let paths: Vec<PathBuf> = {
                let texts = self.texts.borrow();
                ids.iter()
                    .filter(|&&id| texts.text(id).is_some_and(|t| texts::defines(t, word, &[])))
                    .map(|&id| texts.paths[id as usize].clone())
                    .collect()
            };
            paths.iter().filter_map(|p| self.file(p)).collect()
        })
    }

    /// The functions named `name` of the files `files` gives, remembered under `key`.
    fn fns_named_cached(
        &self,
        key: String,
        name: &str,
        files: impl FnOnce() -> Vec<&'a FileCx<'a>>,
    ) -> Vec<FnRef<'a>> {
        if let Some(v) = self.fn_lookups.borrow().get(&key) {
            return v.clone();
        }
        let mut v = Vec::new();
        for file in files() {
            for def in file.fns_named(self, name) {
                v.push(FnRef { file, def });
            }
        }
        self.fn_lookups.borrow_mut().insert(key, v.clone());
        v
    }

    /// Whether code outside the package can call `func`: a `pub` function of a library
    /// others use (see [`Place::public_library`]), in `pub` modules or re-exported by a
    /// `pub use` of the library (by name, by its type's name, or by a glob of its module).
    pub fn externally_callable(&self, func: FnRef<'_>) -> bool {
        let place = &func.file.place;
        let def = func.def;
        if !def.is_pub || def.in_test_module || place.cfg_test || def.nested {
            return false;
        }
        if place.exported {
            return true;
        }
        if !(place.kind == CodeKind::Lib && place.public_library && place.in_tree) {
            return false;
        }
        let reexports = self.reexports.get_or_init(|| self.read_reexports());
        let module = func.module_path();
        module
            .last()
            .is_some_and(|m| reexports.globbed_modules.contains(m))
            || reexports.names.contains(&def.name)
            || def
                .self_ty
                .as_ref()
                .is_some_and(|t| reexports.names.contains(t))
    }

    /// Every crate key of the package.
    pub fn all_crates(&self) -> Vec<String> {
        self.texts
            .borrow()
            .all_crates()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Names the package gives other crates' items in `use` items other modules can
    /// see (`pub use libc::fork as raw_fork;`, `pub(crate) use nix::unistd::fork;`):
    /// the name code writes → what it stands for. Read from text, once.
    pub fn package_aliases(&self) -> &HashMap<String, Vec<Vec<String>>> {
        self.aliases.get_or_init(|| {
            let mut out: HashMap<String, Vec<Vec<String>>> = HashMap::new();
            let texts = self.texts.borrow();
            for id in 0..texts.paths.len() as u32 {
                let Some(text) = texts.text(id) else { continue };
                for at in memchr::memmem::find_iter(text.as_bytes(), b"pub") {
                    let rest = &text[at..];
                    let use_at = if rest.starts_with("pub use ") {
                        4
                    } else if rest.starts_with("pub(crate) use ") {
                        11
                    } else {
                        continue;
                    };
                    let Some(end) = rest.find(';') else { continue };
                    let Ok(tree) = syn::parse_str::<syn::UseTree>(&rest[use_at + 4..end]) else {
                        continue;
                    };
                    alias_leaves(&tree, &mut Vec::new(), &mut out);
                }
            }
            out
        })
    }

    /// `candidates` of a call path, plus what a package alias it names stands for
    /// (`crate::sys::raw_fork` → `libc::fork`).
    pub fn with_package_aliases(
        &self,
        file: &FileCx<'_>,
        mut candidates: Vec<Vec<String>>,
    ) -> Vec<Vec<String>> {
        let Some(canon) = candidates.first() else {
            return candidates;
        };
        let local = file.resolver.is_crate_local(canon) || is_library_path(self, canon);
        if !local {
            return candidates;
        }
        let Some(last) = canon.last() else {
            return candidates;
        };
        if let Some(targets) = self.package_aliases().get(last) {
            candidates.extend(targets.iter().cloned());
        }
        candidates
    }

    /// The names the library re-exports with `pub use` (read from text: each `pub use
    /// …;` of a library file is parsed on its own).
    fn read_reexports(&self) -> Reexports {
        let mut out = Reexports::default();
        let texts = self.texts.borrow();
        let lib = texts.all_crates().contains(&"lib");
        if !lib {
            return out;
        }
        for id in 0..texts.paths.len() as u32 {
            if !texts.crates_of(id).contains(&"lib") {
                continue;
            }
            let Some(text) = texts.text(id) else { continue };
            for at in memchr::memmem::find_iter(text.as_bytes(), b"pub use ") {
                let Some(end) = text[at..].find(';') else {
                    continue;
                };
                let Ok(item) = syn::parse_str::<syn::ItemUse>(&text[at..=at + end]) else {
                    continue;
                };
                collect_use(&item.tree, &mut Vec::new(), &mut out);
            }
        }
        out
    }

    /// Whether the package defines a type named `name` (struct, enum, union, alias or
    /// trait) that `file` can see: in its crates or the library.
    pub fn type_defined(&self, file: &FileCx<'_>, name: &str) -> bool {
        const TYPES: &[&str] = &["struct", "enum", "union", "type", "trait"];
        !self.files_defining(file, name, TYPES).is_empty()
            || (file.place.kind != CodeKind::Lib
                && !self.files_defining_in(&["lib"], name, TYPES).is_empty())
    }

    /// The type of the field `field` of the package struct `ty`, by name.
    pub fn field_type(&self, file: &FileCx<'_>, ty: &str, field: &str) -> Option<String> {
        let mut files = self.files_defining(file, ty, &["struct"]);
        if file.place.kind != CodeKind::Lib {
            files.extend(self.files_defining_in(&["lib"], ty, &["struct"]));
        }
        files
            .iter()
            .find_map(|f| find_field(&f.ast.items, ty, field))
    }

    /// The crate key of the package's library, if it has one and `name` is how code
    /// names it (`my_lib::…`).
    pub fn library_named(&self, name: &str) -> bool {
        self.layout.lib_crate.as_deref() == Some(name)
            && self
                .layout
                .targets
                .iter()
                .any(|t| t.kind == TargetKind::Lib)
    }

    /// The `main` function of the program a file belongs to.
    pub fn main_of(&self, file: &'a FileCx<'a>) -> Option<FnRef<'a>> {
        if let Some(def) = file.main_fn(self) {
            return Some(FnRef { file, def });
        }
        if file.place.kind != CodeKind::Bin {
            return None;
        }
        let roots: Vec<PathBuf> = self
            .layout
            .memberships(&file.source.path)
            .iter()
            .map(|m| &self.layout.targets[m.target])
            .filter(|t| t.has_main())
            .map(|t| t.root.clone())
            .collect();
        let roots = if roots.is_empty() {
            // Outside the module trees: the nearest `main.rs` up the directories.
            let root = self.package.root.as_ref()?;
            let mut dir = file.source.path.parent();
            let mut found = Vec::new();
            while let Some(d) = dir {
                let main = d.join("main.rs");
                if main != file.source.path && self.fs.is_file(&main) {
                    found.push(main);
                    break;
                }
                if d == root.as_path() {
                    break;
                }
                dir = d.parent();
            }
            found
        } else {
            roots
        };
        roots.iter().find_map(|r| {
            let f = self.file(r)?;
            f.main_fn(self).map(|def| FnRef { file: f, def })
        })
    }

    /// How many files were parsed (candidates and files read for cross-file facts).
    pub fn parsed_count(&self) -> usize {
        self.parsed
            .borrow()
            .values()
            .filter(|p| p.is_some())
            .count()
    }

    /// Every fork point (computed once).
    pub fn forks(&'a self) -> &'a [forks::ForkPoint<'a>] {
        self.forks.get_or_init(|| forks::find(self))
    }

    /// The fork points inside `func`.
    pub fn forks_in(&'a self, func: FnRef<'a>) -> impl Iterator<Item = &'a forks::ForkPoint<'a>> {
        let all = self.forks();
        let index = self.forks_by_fn.get_or_init(|| {
            let mut index: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
            for (i, fp) in all.iter().enumerate() {
                index.entry(fp.func.key()).or_default().push(i);
            }
            index
        });
        index
            .get(&func.key())
            .into_iter()
            .flatten()
            .map(move |&i| &all[i])
    }

    /// Every runtime process (computed once).
    pub fn processes(&'a self) -> &'a processes::Processes<'a> {
        self.processes.get_or_init(|| processes::find(self))
    }
}

/// What a library re-exports with `pub use`.
#[derive(Default)]
struct Reexports {
    /// Items re-exported by name (the original names).
    names: std::collections::HashSet<String>,
    /// Modules re-exported whole (`pub use command::*`), by last segment.
    globbed_modules: std::collections::HashSet<String>,
}

/// The leaves of a `use` tree that name another crate's items: name → full path.
fn alias_leaves(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut HashMap<String, Vec<Vec<String>>>,
) {
    let external = |p: &[String]| {
        p.first()
            .is_some_and(|f| !matches!(f.as_str(), "crate" | "self" | "super"))
    };
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            alias_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut full = prefix.clone();
            full.push(n.ident.to_string());
            if external(&full) && full.len() > 1 {
                out.entry(n.ident.to_string()).or_default().push(full);
            }
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            if external(&full) {
                out.entry(r.rename.to_string()).or_default().push(full);
            }
        }
        syn::UseTree::Glob(_) => {}
        syn::UseTree::Group(g) => {
            for t in &g.items {
                alias_leaves(t, prefix, out);
            }
        }
    }
}

fn collect_use(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Reexports) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            collect_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            out.names.insert(n.ident.to_string());
        }
        syn::UseTree::Rename(r) => {
            out.names.insert(r.ident.to_string());
        }
        syn::UseTree::Glob(_) => {
            if let Some(last) = prefix.last() {
                out.globbed_modules.insert(last.clone());
            }
        }
        syn::UseTree::Group(g) => {
            for t in &g.items {
                collect_use(t, prefix, out);
            }
        }
    }
}

/// The type of `field` in the struct `ty` among `items` (inline modules included).
fn find_field(items: &[syn::Item], ty: &str, field: &str) -> Option<String> {
    items.iter().find_map(|item| match item {
        syn::Item::Struct(s) if s.ident == ty => s.fields.iter().find_map(|f| {
            (f.ident.as_ref()? == field)
                .then(|| calls::core_type_name(&f.ty))
                .flatten()
        }),
        syn::Item::Mod(m) => m
            .content
            .as_ref()
            .and_then(|(_, items)| find_field(items, ty, field)),
        _ => None,
    })
}

/// The crates a file is part of: its targets in the module trees, or (outside them)
/// the crate its place in the package suggests.
fn crate_keys(layout: &Layout, root: Option<&Path>, path: &Path) -> Vec<String> {
    let Some(root) = root else {
        // Outside any package, every file is a crate of its own.
        return vec![format!("file:{}", path.display())];
    };
    let memberships = layout.memberships(path);
    if !memberships.is_empty() {
        let mut keys: Vec<String> = memberships
            .iter()
            .map(|m| layout.targets[m.target].key())
            .collect();
        keys.dedup();
        return keys;
    }
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let stem = |s: &str| s.strip_suffix(".rs").unwrap_or(s).to_string();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["src", "bin", x, ..] => vec![format!("bin:{}", stem(x))],
        ["examples", x, ..] => vec![format!("example:{}", stem(x))],
        ["benches", x, ..] => vec![format!("bench:{}", stem(x))],
        ["tests", x] => vec![format!("test:{}", stem(x))],
        ["tests", ..] => {
            // Shared by the test crates that declare it (none did): all of them.
            let tests: Vec<String> = layout
                .targets
                .iter()
                .filter(|t| t.kind == TargetKind::Test)
                .map(|t| t.key())
                .collect();
            if tests.is_empty() {
                vec!["test-shared".to_string()]
            } else {
                tests
            }
        }
        _ => {
            let main = layout
                .targets
                .iter()
                .find(|t| t.kind == TargetKind::Lib)
                .or_else(|| layout.targets.iter().find(|t| t.kind == TargetKind::Bin));
            vec![main.map_or_else(|| "lib".to_string(), |t| t.key())]
        }
    }
}

/// Whether `a` is a path of the form `[library, …]` naming the package's library.
pub fn is_library_path(cx: &PackageCx<'_>, canon: &[String]) -> bool {
    canon.len() >= 2 && cx.library_named(&canon[0])
}

#[cfg(test)]
mod tests;

impl PackageCx<'_> {
    /// Whether `span` lies inside a macro call that the analysis expanded: findings
    /// made in an expansion point at the call, and no fix may edit it.
    pub fn inside_expanded_call(&self, span: &crate::diagnostic::Span) -> bool {
        let file = Arc::as_ptr(&span.file) as usize;
        self.expanded_calls.borrow().iter().any(|&(f, start, end)| {
            f == file && start <= span.start.offset && span.end.offset <= end
        })
    }
}
