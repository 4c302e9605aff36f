//! Lints every `.rs` file of the cargo registry sources on this machine (whatever
//! `cargo fetch` of this workspace brought: generated code, huge files, macro-heavy
//! code, edition-2015 syntax) with the prefilter off, one file per `lint` call (so
//! each file's own package is around it for cross-file lookups), and requires:
//!
//! * no panic and no internal error;
//! * each file done within a generous time bound (the slowest are reported);
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

fn registry_sources() -> Vec<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let src = cargo_home.join("registry/src");
    let Ok(entries) = std::fs::read_dir(&src) else {
        panic!(
            "no registry sources at {}: run `cargo fetch` in the workspace first",
            src.display()
        );
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

fn rust_files(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = roots
        .iter()
        .flat_map(|r| walkdir::WalkDir::new(r).follow_links(false))
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

struct Outcome {
    path: PathBuf,
    bytes: usize,
    elapsed: Duration,
    problem: Option<String>,
    fl000: bool,
}

fn sweep_one(path: &Path) -> Outcome {
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
    let name = path.display().to_string();
    let mut options = LintOptions::default();
    options.prefilter = false;
    options.jobs = 1;
    let started = Instant::now();
    let report = lint(
        &[InputFile {
            path: path.to_path_buf(),
            name: name.clone(),
        }],
        &options,
    );
    let elapsed = started.elapsed();
    let mut problems = Vec::new();
    for e in &report.errors {
        if e.message.contains("internal error") {
            problems.push(format!("internal error: {}", e.message));
        }
    }
    let fl000: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == "FL000" && d.primary.file.name == name)
        .collect();
    match expect {
        Expect::NotUtf8 => {
            if !report
                .errors
                .iter()
                .any(|e| e.message.contains("not valid UTF-8"))
            {
                problems.push("not UTF-8, but no input error says so".into());
            }
        }
        Expect::ParseError(line) => match fl000.as_slice() {
            [d] if d.primary.start.line == line.max(1)
                && d.message.starts_with("cannot parse this file: ") => {}
            other => problems.push(format!(
                "syn fails at line {line}; FL000 findings: {:?}",
                other
                    .iter()
                    .map(|d| (d.primary.start.line, &d.message))
                    .collect::<Vec<_>>()
            )),
        },
        Expect::Parses => {
            if let Some(d) = fl000.first() {
                problems.push(format!(
                    "syn parses it, but FL000 at line {}: {}",
                    d.primary.start.line, d.message
                ));
            }
        }
    }
    Outcome {
        path: path.to_path_buf(),
        bytes: bytes.len(),
        elapsed,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
        fl000: !fl000.is_empty(),
    }
}

#[test]
#[ignore = "sweeps the whole cargo registry (minutes); run with --ignored, preferably --release"]
fn every_registry_file() {
    let roots = registry_sources();
    let files = rust_files(&roots);
    assert!(
        files.len() >= 1000,
        "only {} .rs files under {:?}: run `cargo fetch` in the workspace first",
        files.len(),
        roots
    );
    // Generous: a debug build of a 4 MB generated file is the slowest case.
    let bound = if cfg!(debug_assertions) {
        Duration::from_secs(180)
    } else {
        Duration::from_secs(30)
    };
    // Plain threads, not a rayon pool: a `lint` call on a rayon worker that waits for
    // its own pool would run other files' jobs meanwhile, and its time would include
    // theirs. The oracle parses with `syn` too, so the threads get the linter's stack.
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn_scoped(scope, || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        let outcome = sweep_one(file);
                        let mut all = outcomes.lock().unwrap();
                        all.push(outcome);
                        if all.len() % 2000 == 0 {
                            eprintln!(
                                "{} / {} files, {:?}",
                                all.len(),
                                files.len(),
                                started.elapsed()
                            );
                        }
                    }
                })
                .expect("a sweep thread");
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let total = started.elapsed();
    let bytes: usize = outcomes.iter().map(|o| o.bytes).sum();
    let parse_errors = outcomes.iter().filter(|o| o.fl000).count();
    let mut slowest: Vec<&Outcome> = outcomes.iter().collect();
    slowest.sort_by_key(|o| std::cmp::Reverse(o.elapsed));
    println!(
        "registry sweep: {} files ({:.1} MB) under {} registry source directories in {:.1} s; {} FL000 parse errors",
        outcomes.len(),
        bytes as f64 / 1e6,
        roots.len(),
        total.as_secs_f64(),
        parse_errors
    );
    println!("slowest files:");
    for o in slowest.iter().take(10) {
        println!(
            "  {:>8.1} ms  {:>9} bytes  {}",
            o.elapsed.as_secs_f64() * 1e3,
            o.bytes,
            o.path.display()
        );
    }
    for o in outcomes.iter().filter(|o| o.fl000) {
        println!("  FL000: {}", o.path.display());
    }
    let mut failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.problem
                .as_ref()
                .map(|p| format!("{}: {p}", o.path.display()))
        })
        .collect();
    failures.extend(outcomes.iter().filter(|o| o.elapsed > bound).map(|o| {
        format!(
            "{}: took {:?} (bound {bound:?})",
            o.path.display(),
            o.elapsed
        )
    }));
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        outcomes.len(),
        failures.join("\n")
    );
}
