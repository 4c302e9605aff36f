//! The "compile error" verdict class: each fixture of `fixtures/compile-fail/` must not
//! compile, with the error in the `.stderr` beside it (rustc's, naming the bound the
//! runtime sets, e.g. `Process::new`'s `A: Send`). `fixtures_lint` checks that the rule
//! stays silent on them. After a toolchain update changes rustc's wording, regenerate the
//! `.stderr` files with `TRYBUILD=overwrite cargo test -p fork-lint-tests --test
//! compile_fail` and read the diff.

#[test]
fn compile_fail_fixtures_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/compile-fail/*.rs"
    ));
}
