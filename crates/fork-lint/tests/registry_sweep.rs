//! Lints every `.rs` file of the cargo registry sources on this machine (whatever
//! `cargo fetch` of this workspace brought: generated code, huge files, macro-heavy
//! code, edition-2015 syntax) with the prefilter off, one `lint` call per registry
//! source directory naming all its files (as `fork-lint .` in that crate would: each
//! file is analysed once, with its package around it), and requires:
//!
//! * no panic and no internal error;
//! * each crate done within a generous time bound (the slowest are reported);
//! * a clean `FL000 parse-error` at `syn`'s location for every file `syn` cannot
//!   parse, an input error for every file that is not UTF-8, and no `FL000` for any
//!   file `syn` parses (the nesting and size guards refuse no real code).
//!
//! Ignored by default (minutes of work): run it with
//! `cargo test --release -p fork-lint --test registry_sweep -- --ignored --nocapture`.
//! `docs/robustness.md` records the last run. With no registry sources it fails
//! (run `cargo fetch` first) rather than passing on nothing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fork_lint::{InputFile, LintOptions, lint};

/// The registry source directories: one per published crate (and version).
fn registry_sources() -> Vec<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let src = cargo_home.join("registry/src");
    let Ok(indexes) = std::fs::read_dir(&src) else {
        panic!(
            "no registry sources at {}: run `cargo fetch` in the workspace first",
            src.display()
        );
    };
    let dirs = |p: PathBuf| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    };
    indexes
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .flat_map(dirs)
        .collect()
}

/// The `.rs` files of one registry source directory (one published crate).
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

enum Expect {
    NotUtf8,
    /// `syn` fails at this 1-based line.
    ParseError(usize),
    Parses,
}

/// What `syn` says of a file: the oracle.
fn expect(path: &Path) -> (Expect, usize) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let expect = match std::str::from_utf8(&bytes) {
        Err(_) => Expect::NotUtf8,
        Ok(text) => match syn::parse_file(text) {
            Ok(_) => Expect::Parses,
            Err(e) => Expect::ParseError(e.span().start().line),
        },
    };
    // The oracle's spans are no longer needed.
    proc_macro2::extra::invalidate_current_thread_spans();
    (expect, bytes.len())
}

/// One registry source directory, linted in one call as a user would lint it.
struct Outcome {
    root: PathBuf,
    files: usize,
    bytes: usize,
    elapsed: Duration,
    problems: Vec<String>,
    fl000: Vec<PathBuf>,
}

fn sweep_crate(root: &Path) -> Outcome {
    let files = rust_files(root);
    let expected: Vec<(Expect, usize)> = files.iter().map(|f| expect(f)).collect();
    let inputs: Vec<InputFile> = files
        .iter()
        .map(|f| InputFile {
            path: f.clone(),
            name: f.display().to_string(),
        })
        .collect();
    let mut options = LintOptions::default();
    options.prefilter = false;
    options.jobs = 1;
    let started = Instant::now();
    let report = lint(&inputs, &options);
    let elapsed = started.elapsed();
    let mut problems = Vec::new();
    for e in &report.errors {
        if e.message.contains("internal error") {
            problems.push(format!("{}: internal error: {}", e.file, e.message));
        }
    }
    let mut fl000 = Vec::new();
    for ((path, input), (expect, _)) in files.iter().zip(&inputs).zip(&expected) {
        let name = &input.name;
        let found: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.code == "FL000" && &d.primary.file.name == name)
            .collect();
        if !found.is_empty() {
            fl000.push(path.clone());
        }
        let problem = match expect {
            Expect::NotUtf8 => (!report
                .errors
                .iter()
                .any(|e| &e.file == name && e.message.contains("not valid UTF-8")))
            .then(|| "not UTF-8, but no input error says so".to_string()),
            Expect::ParseError(line) => match found.as_slice() {
                [d] if d.primary.start.line == (*line).max(1)
                    && d.message.starts_with("cannot parse this file: ") =>
                {
                    None
                }
                other => Some(format!(
                    "syn fails at line {line}; FL000 findings: {:?}",
                    other
                        .iter()
                        .map(|d| (d.primary.start.line, &d.message))
                        .collect::<Vec<_>>()
                )),
            },
            Expect::Parses => found.first().map(|d| {
                format!(
                    "syn parses it, but FL000 at line {}: {}",
                    d.primary.start.line, d.message
                )
            }),
        };
        if let Some(p) = problem {
            problems.push(format!("{}: {p}", path.display()));
        }
    }
    Outcome {
        root: root.to_path_buf(),
        files: files.len(),
        bytes: expected.iter().map(|e| e.1).sum(),
        elapsed,
        problems,
        fl000,
    }
}

#[test]
#[ignore = "sweeps the whole cargo registry (minutes); run with --ignored, preferably --release"]
fn every_registry_file() {
    let mut roots = registry_sources();
    // Largest first, so that the last crates left do not leave a core idle.
    let size = |r: &PathBuf| -> u64 {
        walkdir::WalkDir::new(r)
            .into_iter()
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    };
    let mut sized: Vec<(u64, PathBuf)> = roots.drain(..).map(|r| (size(&r), r)).collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let roots: Vec<PathBuf> = sized.into_iter().map(|(_, r)| r).collect();
    // Generous: a debug build of windows' 114 MB of generated code is the slowest case.
    let bound = if cfg!(debug_assertions) {
        Duration::from_secs(900)
    } else {
        Duration::from_secs(300)
    };
    // Plain threads, not a rayon pool: a `lint` call on a rayon worker that waits for
    // its own pool would run other crates' jobs meanwhile, and its time would include
    // theirs. The oracle parses with `syn` too, so the threads get the linter's stack.
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::with_capacity(roots.len()));
    let done_files = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn_scoped(scope, || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(root) = roots.get(i) else { break };
                        let outcome = sweep_crate(root);
                        let before = done_files.fetch_add(outcome.files, Ordering::Relaxed);
                        if (before + outcome.files) / 2000 > before / 2000 {
                            eprintln!(
                                "{} files ({} / {} crates), {:?}",
                                before + outcome.files,
                                i + 1,
                                roots.len(),
                                started.elapsed()
                            );
                        }
                        outcomes.lock().unwrap().push(outcome);
                    }
                })
                .expect("a sweep thread");
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let total = started.elapsed();
    let files: usize = outcomes.iter().map(|o| o.files).sum();
    let bytes: usize = outcomes.iter().map(|o| o.bytes).sum();
    assert!(
        files >= 1000,
        "only {files} .rs files under {} registry sources: run `cargo fetch` in the workspace first",
        outcomes.len()
    );
    let parse_errors: usize = outcomes.iter().map(|o| o.fl000.len()).sum();
    let mut slowest: Vec<&Outcome> = outcomes.iter().collect();
    slowest.sort_by_key(|o| std::cmp::Reverse(o.elapsed));
    println!(
        "registry sweep: {files} files ({:.1} MB) in {} registry source directories in {:.1} s; {parse_errors} FL000 parse errors",
        bytes as f64 / 1e6,
        outcomes.len(),
        total.as_secs_f64(),
    );
    println!("slowest crates:");
    for o in slowest.iter().take(10) {
        println!(
            "  {:>8.1} ms  {:>5} files  {:>10} bytes  {}",
            o.elapsed.as_secs_f64() * 1e3,
            o.files,
            o.bytes,
            o.root.display()
        );
    }
    for o in &outcomes {
        for f in &o.fl000 {
            println!("  FL000: {}", f.display());
        }
    }
    let mut failures: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.problems.iter().cloned())
        .collect();
    failures.extend(outcomes.iter().filter(|o| o.elapsed > bound).map(|o| {
        format!(
            "{}: took {:?} (bound {bound:?})",
            o.root.display(),
            o.elapsed
        )
    }));
    assert!(
        failures.is_empty(),
        "{} problems in {files} files:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
