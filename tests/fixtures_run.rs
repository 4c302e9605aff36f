//! Every runnable fixture shows, at run time, the outcome it declares under each start
//! method: one trial per (fixture, start method), named `FIXTURE::METHOD`
//! (`cargo test -p fork-lint-tests --test fixtures_run -- fl002_guard_held_forkrt::fork`).
//! `FIXTURE_REPEAT=N` makes N trials of each (`…::fork#2`, …: to show a fixture is not
//! flaky); `FIXTURE_FILTER=substring` keeps only the fixtures whose name contains it.
//! Why `libtest-mimic`: see `fixtures_lint.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fork_lint_tests::{build_fixtures, fixtures, run, timeout};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let mut args = Arguments::from_args();
    // Most of a run is waiting (a deadlock lasts the whole timeout), so twice as many
    // trials as cores run at once unless `--test-threads` says otherwise.
    args.test_threads = args.test_threads.or_else(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Some(cores.max(2) * 2)
    });
    let filter = std::env::var("FIXTURE_FILTER").unwrap_or_default();
    let repeat: usize = std::env::var("FIXTURE_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    // `--list` needs no binaries; everything else runs them.
    let dir = Arc::new(if args.list {
        PathBuf::new()
    } else {
        build_fixtures()
    });
    let mut trials = Vec::new();
    for f in fixtures()
        .into_iter()
        .filter(|f| f.runnable && f.name.contains(&filter))
    {
        for (method, declared) in &f.runs {
            for round in 1..=repeat {
                let name = match round {
                    1 => format!("{}::{method}", f.name),
                    _ => format!("{}::{method}#{round}", f.name),
                };
                let (dir, fixture, method, declared) = (
                    dir.clone(),
                    f.name.clone(),
                    method.clone(),
                    declared.clone(),
                );
                trials.push(Trial::test(name, move || {
                    confirm(&dir, &fixture, &method, &declared)
                }));
            }
        }
    }
    let none = trials.is_empty();
    trials.push(Trial::test("fixtures_to_run_are_found", move || {
        // A moved directory or a mistyped filter would leave no trial, and nothing would fail.
        if none {
            Err("no fixture to run".into())
        } else {
            Ok(())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// Runs the fixture binary under `method` and compares the observed outcome with the
/// declared one.
fn confirm(dir: &Path, fixture: &str, method: &str, declared: &str) -> Result<(), Failed> {
    let observed = run(&dir.join(fixture), method, timeout());
    if observed.outcome == declared {
        return Ok(());
    }
    Err(format!(
        "{fixture} under {method}: declared `{declared}`, observed `{}`\n--- stdout\n{}--- stderr\n{}",
        observed.outcome, observed.stdout, observed.stderr
    )
    .into())
}
