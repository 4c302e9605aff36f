//! The pipeline: read and prefilter every file in parallel, group candidates by
//! package, analyse each package on one thread (syntax trees are not `Send`), run the
//! enabled rules with panics caught per rule, apply suppressions, sort.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;
use typed_arena::Arena;

use crate::analysis::{
    AnalysisOptions, CrateCx, Package, PackageFinder, ParseFailure, TreeCache,
    signal_safety::Catalog,
};
use crate::checker::Checker;
use crate::config::{Config, ConfigError, RuleSet};
use crate::diagnostic::{self, Diagnostic, Span};
use crate::input::{InputError, InputFile};
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
    /// file, e.g. to report every syntax error).
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
    /// With the prefilter on (the default) or off (every file is parsed, e.g. to
    /// report every syntax error).
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

enum Loaded {
    Skipped {
        bytes: u64,
        lines: u64,
    },
    Candidate {
        source: Arc<SourceFile>,
        bytes: u64,
        lines: u64,
    },
    Failed(InputError, u64),
}

/// Lints files from disk.
pub fn lint(files: &[InputFile], options: &LintOptions) -> Report {
    let prefilter = Prefilter::new(&options.analysis.extra_fork_points);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs)
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("fork-lint-{i}"))
        .build()
        .expect("a thread pool can be built");
    pool.install(|| {
        let loaded: Vec<Loaded> = files
            .par_iter()
            .map(|f| load(f, &prefilter, options.prefilter))
            .collect();
        let mut report = Report::default();
        report.stats.files = files.len();
        let mut groups: HashMap<Package, Group> = HashMap::new();
        let mut packages = PackageFinder::default();
        let mut skipped: Vec<usize> = Vec::new();
        for (index, l) in loaded.into_iter().enumerate() {
            match l {
                Loaded::Skipped { bytes, lines } => {
                    report.stats.bytes += bytes;
                    report.stats.lines += lines;
                    skipped.push(index);
                }
                Loaded::Candidate {
                    source,
                    bytes,
                    lines,
                } => {
                    report.stats.bytes += bytes;
                    report.stats.lines += lines;
                    report.stats.candidates += 1;
                    let pkg = packages.package_of(&source.path);
                    groups
                        .entry(pkg)
                        .or_default()
                        .candidates
                        .push((index, source));
                }
                Loaded::Failed(e, bytes) => {
                    report.stats.bytes += bytes;
                    report.errors.push(e);
                }
            }
        }
        // The files the prefilter skipped in packages that have candidates: a call to
        // a crate-local fork wrapper found in a candidate makes them candidates too.
        if !groups.is_empty() {
            for index in skipped {
                let pkg = packages.package_of(&files[index].path);
                if let Some(group) = groups.get_mut(&pkg) {
                    group.skipped.push(index);
                }
            }
        }
        // Largest groups first, one task each: a big package starts early instead of
        // being the last thing left on one thread.
        let mut groups: Vec<(Package, Group)> = groups.into_iter().collect();
        let weight = |g: &Group| g.candidates.iter().map(|f| f.1.text.len()).sum::<usize>();
        groups.sort_by(|a, b| {
            weight(&b.1)
                .cmp(&weight(&a.1))
                .then_with(|| a.0.root.cmp(&b.0.root))
        });
        let results: Vec<GroupResult> = groups
            .into_par_iter()
            .with_max_len(1)
            .map(|(pkg, group)| analyze_group(pkg, group, files, options))
            .collect();
        for r in results {
            report.diagnostics.extend(r.diagnostics);
            report.errors.extend(r.errors);
            report.stats.parsed += r.parsed;
        }
        finish(&mut report);
        report
    })
}

/// Lints one in-memory file (no package around it): for tests, fuzzing and editors.
pub fn lint_source(name: &str, text: &str, options: &LintOptions) -> Report {
    let source = Arc::new(SourceFile::new(
        PathBuf::from(name),
        name.to_string(),
        text.to_string(),
    ));
    let mut report = Report::default();
    report.stats.files = 1;
    report.stats.bytes = text.len() as u64;
    report.stats.lines = count_lines(text.as_bytes());
    let prefilter = Prefilter::new(&options.analysis.extra_fork_points);
    if options.prefilter && !prefilter.may_match(text.as_bytes()) {
        return report;
    }
    report.stats.candidates = 1;
    // On a thread of its own, with the stack `lint` gives its workers: the caller's
    // thread (8 MB for a main thread, 2 MB for others) is too small for files nested
    // close to the limit.
    let inline = source.clone();
    let r = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("fork-lint".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, move || {
                analyze_group(Package { root: None }, Group::of(source), &[], options)
            });
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload)),
            // No thread could be started: analyse on this one.
            Err(_) => analyze_group(Package { root: None }, Group::of(inline), &[], options),
        }
    });
    report.diagnostics = r.diagnostics;
    report.errors = r.errors;
    report.stats.parsed = r.parsed;
    finish(&mut report);
    report
}

fn count_lines(bytes: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

thread_local! {
    /// The buffer each reading thread reads into: a file the prefilter skips costs no
    /// allocation, and the buffer's pages are touched once, not once per file.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A read buffer larger than this is not kept for the next file.
const KEEP_BUF: usize = 4 << 20;

fn load(file: &InputFile, prefilter: &Prefilter, use_prefilter: bool) -> Loaded {
    // A FIFO or device would block or never end: read regular files only.
    match std::fs::metadata(&file.path) {
        Ok(m) if !m.is_file() && !m.is_dir() => {
            return Loaded::Failed(
                InputError::new(
                    file.name.clone(),
                    "is not a regular file (a FIFO, socket or device): not read".into(),
                ),
                0,
            );
        }
        _ => {}
    }
    READ_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        let loaded = load_into(file, prefilter, use_prefilter, &mut buf);
        if buf.capacity() > KEEP_BUF {
            *buf = Vec::new();
        }
        loaded
    })
}

fn load_into(
    file: &InputFile,
    prefilter: &Prefilter,
    use_prefilter: bool,
    buf: &mut Vec<u8>,
) -> Loaded {
    let read =
        std::fs::File::open(&file.path).and_then(|mut f| std::io::Read::read_to_end(&mut f, buf));
    if let Err(e) = read {
        let message = if file.path.is_dir() {
            "is a directory, not a file".to_string()
        } else {
            crate::discover::unreadable(&file.path, &e)
        };
        return Loaded::Failed(InputError::new(file.name.clone(), message), 0);
    }
    let bytes = &buf[..];
    let size = bytes.len() as u64;
    let lines = count_lines(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            return Loaded::Failed(
                InputError::new(
                    file.name.clone(),
                    format!(
                        "is not valid UTF-8 (invalid byte at offset {at}); Rust source must be UTF-8 — exclude the file if it is not Rust"
                    ),
                ),
                size,
            );
        }
    };
    if use_prefilter && !prefilter.may_match(bytes) {
        return Loaded::Skipped { bytes: size, lines };
    }
    let source = Arc::new(SourceFile::new(
        file.path.clone(),
        file.name.clone(),
        text.to_string(),
    ));
    Loaded::Candidate {
        source,
        bytes: size,
        lines,
    }
}

struct GroupResult {
    /// Suppressions applied; unused-suppression findings added.
    diagnostics: Vec<Diagnostic>,
    errors: Vec<InputError>,
    parsed: usize,
}

/// The candidates of one package (with their index in the input), and the input
/// files of the package that the prefilter skipped.
#[derive(Default)]
struct Group {
    candidates: Vec<(usize, Arc<SourceFile>)>,
    skipped: Vec<usize>,
}

impl Group {
    fn of(source: Arc<SourceFile>) -> Group {
        Group {
            candidates: vec![(0, source)],
            skipped: Vec::new(),
        }
    }
}

/// How many times a package is analysed again with the callers of its fork wrappers:
/// one round per level of wrapping (the analysis follows wrappers four levels deep).
const WRAPPER_ROUNDS: usize = 5;

fn analyze_group(
    package: Package,
    mut group: Group,
    inputs: &[InputFile],
    options: &LintOptions,
) -> GroupResult {
    let mut rounds = 0;
    let mut expansion = Expansion {
        skipped: std::mem::take(&mut group.skipped),
        inputs,
        searched: Vec::new(),
    };
    let mut result = {
        // The trees live as long as the group: an analysis round that finds more
        // candidates is followed by another that reuses them.
        let asts = Arena::new();
        let file_cxs = Arena::new();
        let trees = TreeCache::default();
        let cxs = Arena::new();
        loop {
            let files: Vec<Arc<SourceFile>> =
                group.candidates.iter().map(|c| c.1.clone()).collect();
            let expand = (rounds < WRAPPER_ROUNDS && !expansion.skipped.is_empty())
                .then_some(&mut expansion);
            let cx: &CrateCx<'_> = cxs.alloc(
                CrateCx::new(package.clone(), &options.analysis, &asts, &file_cxs)
                    .with_tree_cache(&trees),
            );
            let outcome = analyze_group_inner(cx, &files, options, expand);
            rounds += 1;
            match outcome {
                Outcome::Done(result) => break result,
                Outcome::Again(found) => {
                    group.candidates.extend(found);
                    group.candidates.sort_by_key(|c| c.0);
                }
            }
        }
    };
    // Spans of every tree parsed on this thread are no longer needed (the trees are
    // gone with the group's arenas).
    proc_macro2::extra::invalidate_current_thread_spans();
    // Suppressions are per file and every file of a finding is in this package, so
    // they are applied here: the texts of candidates without findings are released
    // with the group instead of being held until the end of the run.
    let files: Vec<Arc<SourceFile>> = group.candidates.into_iter().map(|c| c.1).collect();
    result.diagnostics = suppress(std::mem::take(&mut result.diagnostics), &files, options);
    result
}

/// Removes from `skipped` the files that mention one of `names` as a whole word, and
/// returns them (read, with their input index).
fn take_mentioning(
    skipped: &mut Vec<usize>,
    inputs: &[InputFile],
    names: &[String],
) -> Vec<(usize, Arc<SourceFile>)> {
    let finders: Vec<memchr::memmem::Finder<'_>> = names
        .iter()
        .map(|n| memchr::memmem::Finder::new(n.as_bytes()))
        .collect();
    let mut found = Vec::new();
    skipped.retain(|&index| {
        let file = &inputs[index];
        let Ok(text) = std::fs::read(&file.path).map(String::from_utf8) else {
            return true;
        };
        let Ok(text) = text else { return true };
        let bytes = text.as_bytes();
        let mentions = finders.iter().any(|f| {
            f.find_iter(bytes).any(|at| {
                let end = at + f.needle().len();
                (at == 0 || !is_word_byte(bytes[at - 1]))
                    && bytes.get(end).is_none_or(|b| !is_word_byte(*b))
            })
        });
        if mentions {
            let source = SourceFile::new(file.path.clone(), file.name.clone(), text);
            found.push((index, Arc::new(source)));
        }
        !mentions
    });
    found
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Files a package may need as candidates: the skipped input files of the package,
/// and the wrapper names already looked for in them.
struct Expansion<'i> {
    skipped: Vec<usize>,
    inputs: &'i [InputFile],
    searched: Vec<String>,
}

enum Outcome {
    Done(GroupResult),
    /// Files that mention fork wrappers: analyse again with them as candidates.
    Again(Vec<(usize, Arc<SourceFile>)>),
}

fn analyze_group_inner<'a>(
    cx: &'a CrateCx<'a>,
    files: &[Arc<SourceFile>],
    options: &'a LintOptions,
    expand: Option<&mut Expansion<'_>>,
) -> Outcome {
    let mut diagnostics = Vec::new();
    let mut errors = Vec::new();
    for source in files {
        let parsed = catch_unwind(AssertUnwindSafe(|| cx.add_candidate(source.clone())));
        match parsed {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => diagnostics.extend(parse_error(failure, options)),
            Err(payload) => errors.push(InputError::new(
                source.name.clone(),
                format!("internal error while parsing: {}; this is a bug in fork-lint, please report it with this file", panic_message(&payload)),
            )),
        }
    }
    if let Some(expansion) = expand {
        // Fork wrappers (crate-local functions that fork and return to their caller)
        // make their call sites fork points, in any file. A call names the wrapper, so
        // only the skipped files that mention a wrapper's name can hold one.
        // The fork points are computed once either way (the rules ask for them next);
        // a panic here is left for the rules to report.
        let names = catch_unwind(AssertUnwindSafe(|| {
            let mut names: Vec<String> = cx
                .forks()
                .iter()
                .filter(|p| p.wrapper && !expansion.searched.contains(&p.func.def.name))
                .map(|p| p.func.def.name.clone())
                .collect();
            names.sort();
            names.dedup();
            names
        }))
        .unwrap_or_default();
        if !names.is_empty() {
            let found = take_mentioning(&mut expansion.skipped, expansion.inputs, &names);
            expansion.searched.extend(names);
            if !found.is_empty() {
                cx.release_caches();
                return Outcome::Again(found);
            }
        }
    }
    let checker = Checker::new(cx, &options.rules);
    for (rule, _) in options.rules.iter() {
        let Some(check) = rule.check else { continue };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(&checker))) {
            errors.push(InputError::new(
                file_list(files),
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
    let parsed = cx.parsed_count();
    Outcome::Done(GroupResult {
        diagnostics,
        errors,
        parsed,
    })
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
