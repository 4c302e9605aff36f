//! Every fixture's `//~` annotations agree with the linter, both ways.

use fork_lint_tests::{fixtures, lint};

#[test]
fn fixtures_agree_with_the_linter() {
    let all = fixtures();
    assert!(!all.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for f in &all {
        let got = lint(f);
        let missing: Vec<_> = f.expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(&f.expected).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!("{}:\n    missing (declared, not reported): {missing:?}\n    extra (reported, not declared): {extra:?}", f.path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures disagree with the linter:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_says_what_it_is() {
    for f in fixtures() {
        assert!(f.rule.is_some(), "{}: missing `//@ rule:`", f.name);
        assert!(
            matches!(f.kind.as_deref(), Some("hazard" | "safe")),
            "{}: `//@ kind:` must be hazard or safe",
            f.name
        );
        let rule = f.rule.as_deref().unwrap();
        if f.kind.as_deref() == Some("safe") {
            // Other rules may fire (a safe twin of FL004 still forks with threads: FL007),
            // but every finding is declared, and none is the twin's own rule.
            assert!(
                !f.expected.iter().any(|(_, c)| c == rule),
                "{}: a safe twin must not expect its own rule {rule}",
                f.name
            );
        } else {
            assert!(
                f.expected.iter().any(|(_, c)| c == rule),
                "{}: a hazard fixture must expect its own rule {rule}",
                f.name
            );
        }
        if f.runnable {
            assert!(
                !f.runs.is_empty(),
                "{}: a runnable fixture must declare `//@ run METHOD: OUTCOME`",
                f.name
            );
        }
    }
}

/// The README's first command lints `examples/hazards.rs`; it must keep showing real
/// findings of several rules.
#[test]
fn the_bundled_example_shows_real_findings() {
    let path = fork_lint_tests::repo_root().join("examples/hazards.rs");
    let input = fork_lint::InputFile {
        path: path.clone(),
        name: "examples/hazards.rs".into(),
    };
    let report = fork_lint::lint(&[input], &fork_lint::LintOptions::default());
    let codes: std::collections::BTreeSet<&str> =
        report.diagnostics.iter().map(|d| d.code).collect();
    for code in ["FL001", "FL003", "FL004", "FL005", "FL007", "FL009"] {
        assert!(
            codes.contains(code),
            "examples/hazards.rs no longer shows {code}: {codes:?}"
        );
    }
}
