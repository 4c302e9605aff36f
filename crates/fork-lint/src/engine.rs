//! The pipeline: group the files given by cargo package (each with every file of its
//! package), read and prefilter every file in parallel, analyse each package with a
//! candidate on one thread (syntax trees are not `Send`), run the enabled rules with
//! panics caught per rule, keep the findings of the files given, apply suppressions,
//! sort.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use typed_arena::Arena;

use crate::analysis::model::PackageFile;
use crate::analysis::model::fs::{Disk, FileSystem, Memory};
use crate::analysis::model::package::package_files;
use crate::analysis::model::texts::Text;
use crate::analysis::{
    AnalysisOptions, Package, PackageCx, PackageFinder, ParseFailure, signal_safety::Catalog,
};
use crate::checker::Checker;
use crate::config::{Config, ConfigError, RuleSet};
use crate::diagnostic::{self, Diagnostic, Span};
use crate::input::{InputError, InputFile, display};
use crate::prefilter::Prefilter;
use crate::rules;
use crate::source::SourceFile;
use crate::suppression::Suppressions;

/// How to lint.
#[derive(Clone, Debug)]
pub struct LintOptions {
    /// The rules to run, with their severities.
    pub rules: RuleSet,
    /// Catalog additions from the configuration.
    pub(crate) analysis: AnalysisOptions,
    /// Skip files that cannot contain a fork point (on by default; off parses every
    /// file named, e.g. to report every syntax error).
    pub prefilter: bool,
    /// Worker threads (0: one per core).
    pub jobs: usize,
}

impl Default for LintOptions {
    fn default() -> LintOptions {
        LintOptions {
            rules: RuleSet::all(),
            analysis: AnalysisOptions::default(),
            prefilter: true,
            jobs: 0,
        }
    }
}

impl LintOptions {
    /// With the prefilter on (the default) or off (every file named is parsed, e.g.
    /// to report every syntax error; the package's other files are still prefiltered).
    pub fn with_prefilter(mut self, on: bool) -> LintOptions {
        self.prefilter = on;
        self
    }

    /// With `jobs` worker threads (0: one per core).
    pub fn with_jobs(mut self, jobs: usize) -> LintOptions {
        self.jobs = jobs;
        self
    }

    /// The options a configuration asks for (rule selection, severities, catalog
    /// additions).
    pub fn from_config(config: &Config) -> Result<LintOptions, ConfigError> {
        Ok(LintOptions {
            rules: config.rule_set()?,
            analysis: AnalysisOptions {
                extra_fork_points: config.fork_points.clone(),
                extra_lock_types: config.lock_types.clone(),
                catalog: Catalog::new(&config.unsafe_functions),
                library_public: config.library == crate::config::LibraryPolicy::Public,
                strict_error_paths: config.strict_error_paths,
            },
            prefilter: true,
            jobs: 0,
        })
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Files given.
    pub files: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Files parsed: candidates plus files read to answer cross-file questions.
    pub parsed: usize,
    /// Files the prefilter let through.
    pub candidates: usize,
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Sorted by file, line and column; suppressed findings removed.
    pub diagnostics: Vec<Diagnostic>,
    /// Files that could not be linted (or notes about them).
    pub errors: Vec<InputError>,
    /// What the run measured.
    pub stats: Stats,
}

/// Files nested deeper than this are not parsed: a parser that recursed that deep
/// could exhaust the stack. Depth is estimated from the text (brackets, plus the
/// operators and keywords that nest within one statement; see
/// [`crate::nesting_depth`]). No hand-written Rust comes close.
pub const MAX_NESTING: usize = 2_000;

/// Files larger than this are not parsed: `syn`'s tree takes about 130 bytes of
/// memory per byte of source, so a 50 MB file would need 6.5 GB (and a minute). The
/// largest hand-written or generated file in the registry sweep is 4 MB.
pub const MAX_FILE_BYTES: usize = 8 << 20;

/// The stack of the threads that parse and analyse: deep enough for [`MAX_NESTING`]
/// levels of the most stack-hungry construct in a debug build, with a wide margin.
const STACK_SIZE: usize = 256 << 20;

/// Lints files from disk.
///
/// The unit of analysis is the cargo package: each file given is analysed with every
/// file of its package around it (read and prefiltered here), so the findings for a
/// file do not depend on which other files were named or how paths were spelled.
/// Findings are reported for the files given only.
pub fn lint(files: &[InputFile], options: &LintOptions) -> Report {
    lint_with(&Disk, files, options)
}

/// Lints one in-memory file (no package around it): for tests, fuzzing and editors.
pub fn lint_source(name: &str, text: &str, options: &LintOptions) -> Report {
    let fs = Memory::new([(name, text)]);
    let input = InputFile {
        path: PathBuf::from(name),
        name: name.to_string(),
    };
    let options = options.clone().with_jobs(1);
    lint_with(&fs, &[input], &options)
}

/// Lints a package held in memory (`files`: absolute path and text), reporting the
/// findings of the files named by `named`. For tests of the analyses.
#[cfg(test)]
pub(crate) fn lint_memory(files: &[(&str, &str)], named: &[&str], options: &LintOptions) -> Report {
    let fs = Memory::new(files.iter().copied());
    let inputs: Vec<InputFile> = named
        .iter()
        .map(|n| InputFile {
            path: PathBuf::from(n),
            name: n.trim_start_matches('/').to_string(),
        })
        .collect();
    lint_with(&fs, &inputs, options)
}

pub(crate) fn lint_with(fs: &dyn FileSystem, files: &[InputFile], options: &LintOptions) -> Report {
    let prefilter = Prefilter::new(&options.analysis.extra_fork_points);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs)
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("fork-lint-{i}"))
        .build()
        .expect("a thread pool can be built");
    pool.install(|| {
        let mut report = Report::default();
        report.stats.files = files.len();
        let groups = group_inputs(fs, files);
        let results: Vec<GroupResult> = groups
            .into_par_iter()
            .with_max_len(1)
            .map(|g| run_group(fs, g, &prefilter, options))
            .collect();
        for r in results {
            report.diagnostics.extend(r.diagnostics);
            report.errors.extend(r.errors);
            report.stats.bytes += r.stats.bytes;
            report.stats.lines += r.stats.lines;
            report.stats.candidates += r.stats.candidates;
            report.stats.parsed += r.stats.parsed;
        }
        finish(&mut report);
        report
    })
}

/// Files analysed together: every file of one package, or one file outside any.
struct Group {
    package: Package,
    files: Vec<GroupFile>,
}

struct GroupFile {
    /// Absolute.
    path: PathBuf,
    name: String,
    /// Whether this file was given (its findings are reported).
    named: bool,
}

/// Groups the files given by package (the package's other files are added by
/// [`complete_group`]), largest groups first.
fn group_inputs(fs: &dyn FileSystem, files: &[InputFile]) -> Vec<Group> {
    let mut finder = PackageFinder::default();
    let mut order: Vec<PathBuf> = Vec::new();
    let mut by_root: HashMap<PathBuf, Vec<(PathBuf, &InputFile)>> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    // Files outside any package: one group, each file a crate of its own.
    let mut loose: Vec<GroupFile> = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // Directories made absolute: resolving every component of every file's path
    // (`realpath`) was a tenth of the time on a tree of 5,000 files.
    let mut dirs: HashMap<PathBuf, PathBuf> = HashMap::new();
    for f in files {
        let abs = match (f.path.parent(), f.path.file_name()) {
            (Some(parent), Some(name))
                if !parent.as_os_str().is_empty() && !fs.is_symlink(&f.path) =>
            {
                let dir = dirs
                    .entry(parent.to_path_buf())
                    .or_insert_with(|| fs.absolute(parent));
                dir.join(name)
            }
            _ => fs.absolute(&f.path),
        };
        if !seen.insert(abs.clone()) {
            continue; // the same file under two spellings
        }
        let package = finder.package_of(fs, &abs);
        match package.root {
            Some(root) => {
                if !by_root.contains_key(&root) {
                    order.push(root.clone());
                }
                by_root.entry(root).or_default().push((abs, f));
            }
            None => loose.push(GroupFile {
                path: abs,
                name: f.name.clone(),
                named: true,
            }),
        }
    }
    for root in order {
        let named = by_root.remove(&root).unwrap_or_default();
        groups.push(Group {
            package: Package { root: Some(root) },
            files: named
                .into_iter()
                .map(|(path, f)| GroupFile {
                    path,
                    name: f.name.clone(),
                    named: true,
                })
                .collect(),
        });
    }
    if !loose.is_empty() {
        groups.push(Group {
            package: Package { root: None },
            files: loose,
        });
    }
    // Largest groups first, one task each: a big package starts early instead of
    // being the last thing left on one thread.
    groups.sort_by_key(|g| std::cmp::Reverse(g.files.len()));
    groups
}

/// Adds the package's other files to a group of given files (named like the given
/// ones). Run for each group in parallel: the walk is a package's directory tree.
fn complete_group(fs: &dyn FileSystem, group: &mut Group) {
    let Some(root) = &group.package.root else {
        return;
    };
    let named = std::mem::take(&mut group.files);
    let names = Namer::new(fs, &named);
    let given: HashMap<&Path, &GroupFile> = named.iter().map(|f| (f.path.as_path(), f)).collect();
    let walk = package_files(fs, root);
    let in_walk: HashSet<&Path> = walk.iter().map(PathBuf::as_path).collect();
    let mut files: Vec<GroupFile> = Vec::with_capacity(walk.len());
    for path in &walk {
        let (name, named) = match given.get(path.as_path()) {
            Some(f) => (f.name.clone(), true),
            None => (names.name(path), false),
        };
        files.push(GroupFile {
            path: path.clone(),
            name,
            named,
        });
    }
    for f in &named {
        if !in_walk.contains(f.path.as_path()) {
            files.push(GroupFile {
                path: f.path.clone(),
                name: f.name.clone(),
                named: true,
            });
        }
    }
    group.files = files;
}

/// Names the files of a package that were not given, the way the given ones are
/// named: a given file's name is its path with some prefix replaced (or removed), and
/// the other files get the same replacement.
struct Namer {
    prefix: Option<(PathBuf, PathBuf)>,
    cwd: Option<PathBuf>,
}

impl Namer {
    fn new(fs: &dyn FileSystem, named: &[GroupFile]) -> Namer {
        let prefix = named.first().map(|f| {
            let (abs, name) = (&f.path, Path::new(&f.name));
            let common = abs
                .components()
                .rev()
                .zip(name.components().rev())
                .take_while(|(a, b)| a == b)
                .count();
            let strip = |p: &Path| -> PathBuf {
                let n = p.components().count() - common;
                p.components().take(n).collect()
            };
            (strip(abs), strip(name))
        });
        Namer {
            prefix,
            cwd: fs.current_dir(),
        }
    }

    fn name(&self, path: &Path) -> String {
        if let Some((abs_prefix, name_prefix)) = &self.prefix {
            if let Ok(rest) = path.strip_prefix(abs_prefix) {
                return display(&name_prefix.join(rest));
            }
        }
        match &self.cwd {
            Some(cwd) => display(&relative_to(path, cwd)),
            None => display(path),
        }
    }
}

/// `path` relative to `base` (both absolute), with `..` where needed.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    out.extend(&p[common..]);
    out
}

/// A file of a group, read and prefiltered.
struct Loaded {
    text: Option<String>,
    candidate: bool,
    bytes: u64,
    lines: u64,
    error: Option<String>,
}

struct GroupResult {
    /// Suppressions applied; unused-suppression findings added.
    diagnostics: Vec<Diagnostic>,
    errors: Vec<InputError>,
    stats: Stats,
}

fn run_group(
    fs: &dyn FileSystem,
    mut group: Group,
    prefilter: &Prefilter,
    options: &LintOptions,
) -> GroupResult {
    complete_group(fs, &mut group);
    let loaded: Vec<Loaded> = group
        .files
        .par_iter()
        // `--no-prefilter` exists to report every syntax error of the files named; a
        // file of the package around them is parsed only if the prefilter lets it
        // through (else one named file of a 700-file package parses all 700).
        .map(|f| load(fs, &f.path, prefilter, options.prefilter || !f.named, false))
        .collect();
    let mut result = GroupResult {
        diagnostics: Vec::new(),
        errors: Vec::new(),
        stats: Stats::default(),
    };
    for (f, l) in group.files.iter().zip(&loaded) {
        if !f.named {
            continue;
        }
        result.stats.bytes += l.bytes;
        result.stats.lines += l.lines;
        if let Some(e) = &l.error {
            result
                .errors
                .push(InputError::new(f.name.clone(), e.clone()));
        }
        if l.candidate {
            result.stats.candidates += 1;
        }
    }
    if !loaded.iter().any(|l| l.candidate) {
        return result;
    }
    // The package is analysed: the texts of its other files answer lookups. They were
    // not kept on the first read, as most packages have no candidate at all (copying
    // every text of a workspace cost more than reading it twice where needed).
    // (A file outside any package sees no other file.)
    let loose = group.package.root.is_none();
    let loaded: Vec<Loaded> = loaded
        .into_par_iter()
        .zip(group.files.par_iter())
        .map(|(l, f)| {
            if loose || l.text.is_some() || l.error.is_some() {
                return l;
            }
            let again = load(fs, &f.path, prefilter, options.prefilter || !f.named, true);
            Loaded {
                text: again.text,
                candidate: again.candidate,
                ..l
            }
        })
        .collect();
    let analysed = analyze_group(fs, group, loaded, options);
    result.diagnostics = analysed.diagnostics;
    result.errors.extend(analysed.errors);
    result.stats.parsed = analysed.stats.parsed;
    result
}

thread_local! {
    /// The buffer each reading thread reads into: a file the prefilter skips costs no
    /// allocation, and the buffer's pages are touched once, not once per file.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A read buffer larger than this is not kept for the next file.
const KEEP_BUF: usize = 4 << 20;

/// Reads and prefilters a file. Its text is kept if it is a candidate or `keep_text`.
fn load(
    fs: &dyn FileSystem,
    path: &Path,
    prefilter: &Prefilter,
    use_prefilter: bool,
    keep_text: bool,
) -> Loaded {
    let failed = |error: String, bytes: u64| Loaded {
        text: None,
        candidate: false,
        bytes,
        lines: 0,
        error: Some(error),
    };
    READ_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        if let Err(e) = fs.read_into(path, &mut buf) {
            let message = if e.kind() == std::io::ErrorKind::InvalidInput {
                "is not a regular file (a FIFO, socket or device): not read".to_string()
            } else if fs.is_dir(path) {
                "is a directory, not a file".to_string()
            } else {
                crate::discover::unreadable(path, &e)
            };
            return failed(message, 0);
        }
        let size = buf.len() as u64;
        let lines = count_lines(&buf);
        let loaded = match std::str::from_utf8(&buf) {
            Err(e) => failed(
                format!(
                    "is not valid UTF-8 (invalid byte at offset {}); Rust source must be UTF-8 — exclude the file if it is not Rust",
                    e.valid_up_to()
                ),
                size,
            ),
            Ok(text) => {
                let candidate = !use_prefilter || prefilter.may_match(&buf);
                Loaded {
                    candidate,
                    text: (candidate || keep_text).then(|| text.to_string()),
                    bytes: size,
                    lines,
                    error: None,
                }
            }
        };
        if buf.capacity() > KEEP_BUF {
            *buf = Vec::new();
        }
        loaded
    })
}

fn count_lines(bytes: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

fn analyze_group(
    fs: &dyn FileSystem,
    group: Group,
    loaded: Vec<Loaded>,
    options: &LintOptions,
) -> GroupResult {
    let mut diagnostics = Vec::new();
    let mut errors = Vec::new();
    let mut package_files = Vec::with_capacity(group.files.len());
    let mut candidates: Vec<(PathBuf, Arc<SourceFile>, bool)> = Vec::new();
    let named: HashSet<PathBuf> = group
        .files
        .iter()
        .filter(|f| f.named)
        .map(|f| f.path.clone())
        .collect();
    let loose = group.package.root.is_none();
    for (f, l) in group.files.into_iter().zip(loaded) {
        // A file outside any package sees no other file: only candidates are kept.
        if loose && !l.candidate {
            continue;
        }
        let text = l.text.map(|t| {
            if l.candidate {
                let source = Arc::new(SourceFile::new(f.path.clone(), f.name.clone(), t));
                candidates.push((f.path.clone(), source.clone(), f.named));
                Text::Source(source)
            } else {
                Text::Raw(t.into_boxed_str())
            }
        });
        package_files.push(PackageFile {
            path: f.path,
            name: f.name,
            text,
        });
    }
    let parsed = {
        let asts = Arena::new();
        let file_cxs = Arena::new();
        let cx = PackageCx::new(
            group.package,
            &options.analysis,
            fs,
            package_files,
            &asts,
            &file_cxs,
        );
        for (path, source, is_named) in &candidates {
            let parsed = catch_unwind(AssertUnwindSafe(|| cx.add_candidate(path)));
            match parsed {
                Ok(Ok(())) => {}
                Ok(Err(failure)) => {
                    if *is_named {
                        diagnostics.extend(parse_error(failure, options));
                    }
                }
                Err(payload) => errors.push(InputError::new(
                    source.name.clone(),
                    format!("internal error while parsing: {}; this is a bug in fork-lint, please report it with this file", panic_message(&payload)),
                )),
            }
        }
        let checker = Checker::new(&cx, &options.rules);
        for (rule, _) in options.rules.iter() {
            let Some(check) = rule.check else { continue };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(&checker))) {
                let files: Vec<Arc<SourceFile>> = candidates
                    .iter()
                    .filter(|c| c.2)
                    .map(|c| c.1.clone())
                    .collect();
                errors.push(InputError::new(
                    file_list(&files),
                    format!(
                        "internal error: rule {} ({}) panicked: {}; this is a bug in fork-lint, please report it with this file. The other rules still ran.",
                        rule.code,
                        rule.name,
                        panic_message(&payload)
                    ),
                ));
            }
        }
        diagnostics.extend(checker.into_diagnostics());
        cx.parsed_count()
    };
    // Spans of every tree parsed on this thread are no longer needed (the trees are
    // gone with the arenas).
    proc_macro2::extra::invalidate_current_thread_spans();
    diagnostics.retain(|d| named.contains(&d.primary.file.path));
    // Suppressions are per file and every file of a finding is in this package, so
    // they are applied here: the texts go with the group.
    let named_candidates: Vec<Arc<SourceFile>> = candidates
        .into_iter()
        .filter(|c| c.2)
        .map(|c| c.1)
        .collect();
    let diagnostics = suppress(diagnostics, &named_candidates, options);
    GroupResult {
        diagnostics,
        errors,
        stats: Stats {
            parsed,
            ..Stats::default()
        },
    }
}

/// The files of a package, for a message: the first few and how many more.
fn file_list(files: &[Arc<SourceFile>]) -> String {
    let mut names: Vec<&str> = files.iter().take(3).map(|f| f.name.as_str()).collect();
    let more = files.len().saturating_sub(3);
    let more = (more > 0).then(|| format!("and {more} more"));
    names.extend(more.as_deref());
    names.join(", ")
}

fn parse_error(failure: ParseFailure, options: &LintOptions) -> Option<Diagnostic> {
    let rule = &rules::parse_error::PARSE_ERROR;
    let severity = options.rules.severity(rule.code)?;
    let source = failure.source;
    let start = source.position(failure.line, failure.column0);
    let end = source.position(failure.line, failure.column0 + 1);
    Some(Diagnostic {
        code: rule.code,
        name: rule.name,
        severity,
        message: format!("cannot parse this file: {}", failure.message),
        primary: Span {
            file: source.clone(),
            start,
            end,
        },
        primary_label: failure.message,
        labels: Vec::new(),
        help: Some(failure.help.into()),
        fix: None,
    })
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Suppressions and unused-suppression findings, for the diagnostics of one package
/// and its candidate files.
fn suppress(
    diagnostics: Vec<Diagnostic>,
    candidates: &[Arc<SourceFile>],
    options: &LintOptions,
) -> Vec<Diagnostic> {
    let mut by_file: HashMap<PathBuf, Suppressions> = HashMap::new();
    let mut kept = Vec::with_capacity(diagnostics.len());
    for d in diagnostics {
        let file = &d.primary.file;
        let sup = by_file
            .entry(file.path.clone())
            .or_insert_with(|| Suppressions::parse(file));
        if !sup.suppresses(&d) {
            kept.push(d);
        }
    }
    if let Some(severity) = options
        .rules
        .severity(rules::unused_allow::UNUSED_ALLOW.code)
    {
        for c in candidates {
            by_file
                .entry(c.path.clone())
                .or_insert_with(|| Suppressions::parse(c));
        }
        for sup in by_file.values() {
            kept.extend(sup.unused(severity));
        }
    }
    kept
}

/// Order.
fn finish(report: &mut Report) {
    diagnostic::sort_and_dedup(&mut report.diagnostics);
    report
        .errors
        .sort_by(|a, b| a.file.cmp(&b.file).then(a.message.cmp(&b.message)));
}
