//! `docs/confirmation.md` is generated from the fixtures; it must be current.
//! `UPDATE_DOCS=1 cargo test -p fork-lint-tests --test confirmation` rewrites it.

use fork_lint_tests::{confirmation_table, fixtures, repo_root};

#[test]
fn confirmation_table_is_current() {
    let table = confirmation_table(&fixtures());
    let path = repo_root().join("docs/confirmation.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &table).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == table,
        "docs/confirmation.md is stale: run `UPDATE_DOCS=1 cargo test -p fork-lint-tests --test confirmation`"
    );
}

#[test]
fn every_rule_is_confirmed_both_ways() {
    let all = fixtures();
    for rule in fork_lint::rules::ALL.iter().filter(|r| r.checks_code()) {
        let runs = |kind: &str| {
            all.iter()
                .filter(|f| {
                    f.rule.as_deref() == Some(rule.code)
                        && f.kind.as_deref() == Some(kind)
                        && !f.runs.is_empty()
                })
                .count()
        };
        assert!(
            runs("hazard") > 0,
            "{} has no hazard fixture confirmed at run time",
            rule.code
        );
        assert!(
            runs("safe") > 0,
            "{} has no safe twin confirmed at run time",
            rule.code
        );
        let confirmed_ok = all.iter().any(|f| {
            f.rule.as_deref() == Some(rule.code)
                && f.kind.as_deref() == Some("safe")
                && f.runs.values().all(|o| o == "ok")
        });
        assert!(
            confirmed_ok,
            "{} has no safe twin that runs `ok` under every method it declares",
            rule.code
        );
    }
}
