//! Every fixture's `//~` annotations agree with the linter, both ways, and every fixture
//! declares what it is: one trial per fixture file, named after it
//! (`cargo test -p fork-lint-tests --test fixtures_lint fl002_` runs the FL002 ones).
//!
//! The harness is `libtest-mimic` rather than `datatest-stable`: both turn data into
//! named trials, but `fixtures_run` needs one trial per (fixture, start method) taken
//! from each fixture's declarations, not one per file, and its own thread count; with
//! libtest-mimic both targets share one harness that keeps libtest's command line
//! (filters, `--exact`, `--list`, `--test-threads`).

use std::collections::BTreeSet;
use std::sync::Arc;

use fork_lint_tests::{Fixture, fixtures, lint, multiset_minus, repo_root};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let all = fixtures();
    let found = !all.is_empty();
    let mut trials = vec![
        Trial::test("fixtures_are_found", move || {
            // A moved directory would leave no fixture trial, and nothing would fail.
            ensure(found, || "no fixtures found".into())
        }),
        Trial::test(
            "the_bundled_example_shows_real_findings",
            the_bundled_example_shows_real_findings,
        ),
    ];
    let not_tests = Arc::new(bins_not_tests());
    trials.extend(all.into_iter().map(|f| {
        let not_tests = not_tests.clone();
        Trial::test(f.name.clone(), move || check(&f, &not_tests))
    }));
    libtest_mimic::run(&args, trials).exit();
}

fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok { Ok(()) } else { Err(message().into()) }
}

/// What the fixture declares is complete and coherent, and the linter reports exactly
/// the findings it annotates.
fn check(f: &Fixture, bins_not_tests: &BTreeSet<String>) -> Result<(), Failed> {
    says_what_it_is(f)?;
    ensure(!f.runnable || bins_not_tests.contains(&f.name), || {
        format!(
            "{}: add `{{ name = \"{}\", test = false }},` to `bin` in fixtures/Cargo.toml (no empty test harness per fixture)",
            f.name, f.name
        )
    })?;
    let got = lint(f);
    let missing = multiset_minus(&f.expected, &got);
    let extra = multiset_minus(&got, &f.expected);
    ensure(missing.is_empty() && extra.is_empty(), || {
        format!(
            "{} disagrees with the linter:\n    missing (declared, not reported): {missing:?}\n    extra (reported, not declared): {extra:?}",
            f.path.display()
        )
    })
}

fn says_what_it_is(f: &Fixture) -> Result<(), Failed> {
    let Some(rule) = f.rule.as_deref() else {
        return Err(format!("{}: missing `//@ rule:`", f.name).into());
    };
    ensure(
        matches!(f.kind.as_deref(), Some("hazard" | "safe" | "compile-error")),
        || {
            format!(
                "{}: `//@ kind:` must be hazard, safe or compile-error",
                f.name
            )
        },
    )?;
    let expects_own_rule = f.expected.iter().any(|(_, c)| c == rule);
    if f.kind.as_deref() == Some("compile-error") {
        // The compiler reports it; the rule leaves it alone.
        ensure(!expects_own_rule && f.runs.is_empty(), || {
            format!(
                "{}: a program that does not compile neither runs nor expects its own rule {rule}",
                f.name
            )
        })?;
    } else if f.kind.as_deref() == Some("safe") {
        // Other rules may fire (a safe twin of FL004 still forks with threads: FL007),
        // but every finding is declared, and none is the twin's own rule.
        ensure(!expects_own_rule, || {
            format!(
                "{}: a safe twin must not expect its own rule {rule}",
                f.name
            )
        })?;
    } else {
        ensure(expects_own_rule, || {
            format!(
                "{}: a hazard fixture must expect its own rule {rule}",
                f.name
            )
        })?;
    }
    ensure(!f.runnable || !f.runs.is_empty(), || {
        format!(
            "{}: a runnable fixture must declare `//@ run METHOD: OUTCOME`",
            f.name
        )
    })
}

/// The binaries `fixtures/Cargo.toml` declares with `test = false`.
fn bins_not_tests() -> BTreeSet<String> {
    let path = repo_root().join("fixtures/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(&path)
        .expect("fixtures/Cargo.toml")
        .parse()
        .expect("fixtures/Cargo.toml is TOML");
    let bins = manifest.get("bin").and_then(|b| b.as_array());
    bins.into_iter()
        .flatten()
        .filter(|b| b.get("test").and_then(|t| t.as_bool()) == Some(false))
        .filter_map(|b| Some(b.get("name")?.as_str()?.to_string()))
        .collect()
}

/// The README's first command lints `examples/hazards.rs`; it must keep showing real
/// findings of several rules.
fn the_bundled_example_shows_real_findings() -> Result<(), Failed> {
    let path = fork_lint_tests::repo_root().join("examples/hazards.rs");
    let input = fork_lint::InputFile {
        path: path.clone(),
        name: "examples/hazards.rs".into(),
    };
    let report = fork_lint::lint(&[input], &fork_lint::LintOptions::default());
    let codes: std::collections::BTreeSet<&str> =
        report.diagnostics.iter().map(|d| d.code).collect();
    for code in ["FL001", "FL003", "FL004", "FL005", "FL007", "FL009"] {
        ensure(codes.contains(code), || {
            format!("examples/hazards.rs no longer shows {code}: {codes:?}")
        })?;
    }
    Ok(())
}
