//! Every runnable fixture shows, at run time, the outcome it declares under each start
//! method. `FIXTURE_REPEAT=N` runs each N times (to show a fixture is not flaky);
//! `FIXTURE_FILTER=substring` runs only matching fixtures.

use std::sync::Mutex;

use fork_lint_tests::{build_fixtures, fixtures, run, timeout};

#[test]
fn fixtures_confirm_at_run_time() {
    let dir = build_fixtures();
    let filter = std::env::var("FIXTURE_FILTER").unwrap_or_default();
    let repeat: usize = std::env::var("FIXTURE_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let jobs: Vec<(String, String, String)> = fixtures()
        .into_iter()
        .filter(|f| f.runnable && f.name.contains(&filter))
        .flat_map(|f| {
            f.runs
                .clone()
                .into_iter()
                .map(move |(m, o)| (f.name.clone(), m, o))
        })
        .flat_map(|j| std::iter::repeat_n(j, repeat))
        .collect();
    assert!(!jobs.is_empty(), "no fixture to run");
    let queue = Mutex::new(jobs.iter());
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
        * 2;
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let Some((name, method, declared)) = queue.lock().unwrap().next() else { break };
                    let observed = run(&dir.join(name), method, timeout());
                    if observed.outcome != *declared {
                        failures.lock().unwrap().push(format!(
                            "{name} under {method}: declared `{declared}`, observed `{}`\n--- stdout\n{}--- stderr\n{}",
                            observed.outcome, observed.stdout, observed.stderr
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} runs did not confirm:\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n")
    );
}
