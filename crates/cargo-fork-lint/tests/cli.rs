//! `fork-lint PATH…` end to end: exit statuses, rule selection, configuration,
//! suppression comments, colors, and every kind of bad input.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command as StdCommand;
use std::time::Duration;

use common::{CLEAN, FALLS_THROUGH, Run, dir_with, findings, fork_lint, run, write};
use fork_lint::rules;

/// A file that does not parse (but has a fork point, so the prefilter keeps it):
/// syn stops at line 2, column 2 (the `let` after the missing `;`).
const UNPARSABLE: &str = "fn main() { let x = unsafe { libc::fork() }\n let y = 1; }\n";

fn json(dir: &std::path::Path, args: &[&str]) -> (Run, Vec<(String, u64, String)>) {
    let r = run(fork_lint(dir).args(["--format", "json"]).args(args));
    let f = if r.stdout.is_empty() {
        Vec::new()
    } else {
        findings(&r.stdout)
    };
    (r, f)
}

fn codes(f: &[(String, u64, String)]) -> Vec<&str> {
    let mut c: Vec<&str> = f.iter().map(|x| x.2.as_str()).collect();
    c.dedup();
    c
}

fn assert_no_panic(r: &Run) {
    assert!(
        !r.stderr.contains("panicked"),
        "a panic leaked: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("internal error"),
        "internal error: {}",
        r.stderr
    );
}

// Exit statuses.

#[test]
fn clean_code_exits_zero() {
    let dir = dir_with(&[("src/main.rs", CLEAN)]);
    let r = run(&mut fork_lint(dir.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "fork-lint: no findings (1 file checked)\n");
    let r = run(fork_lint(dir.path()).arg("--quiet"));
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
}

#[test]
fn findings_exit_one() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let (r, f) = json(dir.path(), &["--select", "FL005"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        f,
        [
            ("src/main.rs".to_string(), 5, "FL005".to_string()),
            ("src/main.rs".to_string(), 14, "FL005".to_string())
        ]
    );
}

#[test]
fn exit_zero_keeps_findings_but_not_errors() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let r = run(fork_lint(dir.path()).args(["--exit-zero", "--format", "concise"]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("src/main.rs:5:9: FL005 "), "{}", r.stdout);
    let r = run(fork_lint(dir.path()).args(["--exit-zero", "src", "missing.rs"]));
    assert_eq!(r.code, 2, "an I/O error still exits with 2");
}

#[test]
fn usage_errors_exit_two() {
    let dir = dir_with(&[("src/main.rs", CLEAN)]);
    let r = run(fork_lint(dir.path()).args(["--format", "xml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("xml"), "{}", r.stderr);
    let r = run(fork_lint(dir.path()).args(["--statistics", "--format", "sarif"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--statistics"), "{}", r.stderr);
}

#[test]
fn help_documents_every_flag() {
    let dir = dir_with(&[]);
    let r = run(fork_lint(dir.path()).arg("--help"));
    assert_eq!(r.code, 0);
    for flag in [
        "--format",
        "--color",
        "--select",
        "--ignore",
        "--explain",
        "--list-rules",
        "--statistics",
        "--exit-zero",
        "--report-unused-allows",
        "--config",
        "--no-prefilter",
        "--jobs",
        "--quiet",
        "--help",
        "--version",
    ] {
        assert!(r.stdout.contains(flag), "fork-lint --help lacks {flag}");
    }
    let r = run(common::cargo_fork_lint(dir.path()).arg("--help"));
    assert_eq!(r.code, 0);
    for flag in [
        "--manifest-path",
        "--package",
        "--workspace",
        "--format",
        "--select",
    ] {
        assert!(
            r.stdout.contains(flag),
            "cargo fork-lint --help lacks {flag}"
        );
    }
}

#[test]
fn a_panic_is_an_internal_error_with_exit_two() {
    let dir = dir_with(&[("src/main.rs", CLEAN)]);
    let r = run(fork_lint(dir.path()).env("FORK_LINT_TEST_PANIC", "1"));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("error: internal error: FORK_LINT_TEST_PANIC is set"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("please report it"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("panicked at"),
        "the raw panic message is not shown: {}",
        r.stderr
    );
}

// Selection.

fn two_rules_dir() -> tempfile::TempDir {
    dir_with(&[("src/main.rs", FALLS_THROUGH), ("src/bad.rs", UNPARSABLE)])
}

#[test]
fn select_and_ignore_by_code_prefix_and_name() {
    let dir = two_rules_dir();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--select", "FL005"], &["FL005"]),
        (&["--select", "child-falls-through"], &["FL005"]),
        (&["--select", "fl00"], &["FL000", "FL005"]),
        (&["--select", "FL000,FL005"], &["FL000", "FL005"]),
        (
            &["--select", "FL000", "--select", "FL005"],
            &["FL000", "FL005"],
        ),
        (
            &["--select", "FL000,FL005", "--ignore", "FL005"],
            &["FL000"],
        ),
        (
            &["--select", "FL000,FL005", "--ignore", "parse-error"],
            &["FL005"],
        ),
        (&["--select", "FL000,FL005", "--ignore", "FL00"], &[]),
        (
            &[
                "--select",
                "ALL",
                "--ignore",
                "FL001,FL002,FL003,FL004,FL006,FL007,FL008,FL009,FL01",
            ],
            &["FL000", "FL005"],
        ),
    ];
    for (args, expected) in cases {
        let (r, f) = json(dir.path(), args);
        let mut got = codes(&f);
        got.sort_unstable();
        got.dedup();
        assert_eq!(&got, expected, "{args:?}: {}", r.stderr);
        assert_eq!(r.code, if expected.is_empty() { 0 } else { 1 }, "{args:?}");
    }
}

#[test]
fn unknown_selector_is_a_usage_error_naming_it() {
    let dir = two_rules_dir();
    for flag in ["--select", "--ignore"] {
        let r = run(fork_lint(dir.path()).args([flag, "FL005,FL999"]));
        assert_eq!(r.code, 2, "{flag}");
        assert!(
            r.stderr.contains(flag) && r.stderr.contains("`FL999`"),
            "{}",
            r.stderr
        );
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn statistics_count_per_rule() {
    let dir = two_rules_dir();
    let r = run(fork_lint(dir.path()).args([
        "--select",
        "FL000,FL005",
        "--statistics",
        "--format",
        "concise",
    ]));
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stdout,
        "2  FL005  child-falls-through\n1  FL000  parse-error\n"
    );
    let r = run(fork_lint(dir.path()).args([
        "--select",
        "FL000,FL005",
        "--statistics",
        "--format",
        "json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v[0],
        serde_json::json!({"code": "FL005", "name": "child-falls-through", "count": 2})
    );
}

// --explain and --list-rules read the registry.

#[test]
fn explain_prints_the_rules_doc() {
    let dir = dir_with(&[]);
    for key in ["FL005", "fl005", "child-falls-through"] {
        let r = run(fork_lint(dir.path()).args(["--explain", key]));
        assert_eq!(r.code, 0);
        let rule = rules::by_code_or_name("FL005").unwrap();
        assert_eq!(r.stdout, cargo_fork_lint::rule_docs::explain(rule));
        assert!(r.stdout.starts_with("# FL005: child-falls-through\n"));
        assert!(r.stdout.contains(&rule.doc()));
        assert!(r.stdout.contains("## What it does"));
    }
    let r = run(fork_lint(dir.path()).args(["--explain", "FL999"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown rule `FL999`") && r.stderr.contains("--list-rules"),
        "{}",
        r.stderr
    );
}

#[test]
fn list_rules_shows_every_rule() {
    let dir = dir_with(&[]);
    let r = run(fork_lint(dir.path()).arg("--list-rules"));
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), rules::ALL.len());
    for (line, rule) in lines.iter().zip(rules::ALL) {
        assert!(line.starts_with(rule.code), "{line}");
        assert!(line.contains(rule.name) && line.contains(rule.default_severity.as_str()));
        assert!(line.ends_with(&rule.summary()), "{line}");
    }
    let r = run(fork_lint(dir.path()).args(["--list-rules", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), rules::ALL.len());
    assert_eq!(v[0]["code"], "FL000");
}

// Configuration.

#[test]
fn config_from_fork_lint_toml() {
    let dir = two_rules_dir();
    write(
        dir.path(),
        "fork-lint.toml",
        "select = [\"FL000\", \"FL005\"]\nignore = [\"FL005\"]\n",
    );
    let (r, f) = json(dir.path(), &[]);
    assert_eq!(codes(&f), ["FL000"], "{}", r.stderr);
    // Found from a subdirectory too (searched upwards).
    let (_, f) = json(&dir.path().join("src"), &["."]);
    assert_eq!(codes(&f), ["FL000"]);
}

#[test]
fn config_from_cargo_toml_metadata() {
    for table in ["package.metadata.fork-lint", "workspace.metadata.fork-lint"] {
        let dir = two_rules_dir();
        let package = if table.starts_with("package") {
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\n"
        } else {
            "[workspace]\n"
        };
        write(
            dir.path(),
            "Cargo.toml",
            &format!(
                "{package}\n[{table}]\nselect = [\"FL000\", \"FL005\"]\nignore = [\"parse-error\"]\n"
            ),
        );
        let (r, f) = json(dir.path(), &[]);
        assert_eq!(codes(&f), ["FL005"], "{table}: {}", r.stderr);
    }
}

#[test]
fn command_line_replaces_the_configuration() {
    let dir = two_rules_dir();
    write(
        dir.path(),
        "fork-lint.toml",
        "select = [\"FL000\", \"FL005\"]\nignore = [\"FL005\"]\n",
    );
    // --ignore replaces the configuration's ignore list: FL005 is back.
    let (_, f) = json(dir.path(), &["--ignore", "FL000"]);
    assert_eq!(codes(&f), ["FL005"]);
    // --select replaces its select list.
    let (_, f) = json(dir.path(), &["--select", "FL000"]);
    assert_eq!(codes(&f), ["FL000"]);
}

#[test]
fn explicit_config_file() {
    let dir = two_rules_dir();
    write(dir.path(), "fork-lint.toml", "select = [\"FL000\"]\n");
    write(dir.path(), "conf/strict.toml", "select = [\"FL005\"]\n");
    let (r, f) = json(dir.path(), &["--config", "conf/strict.toml"]);
    assert_eq!(codes(&f), ["FL005"], "{}", r.stderr);
    let r = run(fork_lint(dir.path()).args(["--config", "conf/none.toml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("conf/none.toml"), "{}", r.stderr);
}

#[test]
fn unknown_key_or_code_in_config_is_named() {
    let cases = [
        ("selct = [\"FL005\"]\n", "selct"),
        ("ignore = [\"FL999\"]\n", "FL999"),
        ("[severity]\nFL998 = \"warning\"\n", "FL998"),
        ("[severity]\nFL005 = \"fatal\"\n", "fatal"),
    ];
    for (text, named) in cases {
        let dir = two_rules_dir();
        write(dir.path(), "fork-lint.toml", text);
        let r = run(&mut fork_lint(dir.path()));
        assert_eq!(r.code, 2, "{text}");
        assert!(
            r.stderr.contains(named) && r.stderr.contains("fork-lint.toml"),
            "{text}: {}",
            r.stderr
        );
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn severity_override() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    write(
        dir.path(),
        "fork-lint.toml",
        "select = [\"FL005\"]\n[severity]\nchild-falls-through = \"warning\"\n",
    );
    let r = run(fork_lint(dir.path()).args(["--format", "github"]));
    assert_eq!(r.code, 1, "warnings are findings too");
    assert!(
        r.stdout.starts_with("::warning file=src/main.rs,line=5,"),
        "{}",
        r.stdout
    );
}

#[test]
fn exclude_globs_apply_to_walks_and_explicit_files() {
    let dir = dir_with(&[
        ("src/main.rs", FALLS_THROUGH),
        ("src/generated/gen.rs", FALLS_THROUGH),
        ("vendored.rs", FALLS_THROUGH),
    ]);
    write(
        dir.path(),
        "fork-lint.toml",
        "select = [\"FL005\"]\nexclude = [\"src/generated/**\", \"vendored.rs\"]\n",
    );
    let (_, f) = json(dir.path(), &[]);
    let files: Vec<&str> = f.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(files, ["src/main.rs", "src/main.rs"]);
    // Explicit files are excluded too (pre-commit passes files one by one)…
    let (r, f) = json(dir.path(), &["src/generated/gen.rs", "vendored.rs"]);
    assert_eq!((r.code, f.len()), (0, 0));
    // …also when run from a subdirectory: globs are relative to the configuration's
    // directory, not to the current one.
    let (r, f) = json(&dir.path().join("src"), &["generated/gen.rs", "main.rs"]);
    assert_eq!(r.code, 1);
    assert!(f.iter().all(|x| x.0 == "main.rs"), "{f:?}");
}

#[test]
fn directory_walks_skip_target_hidden_and_gitignored_directories() {
    let dir = dir_with(&[
        (
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n",
        ),
        ("src/main.rs", FALLS_THROUGH),
        // Source that happens to live in a folder named `target` is source.
        ("src/target/unix.rs", FALLS_THROUGH),
        ("target/debug/build/out.rs", FALLS_THROUGH),
        (".hidden/x.rs", FALLS_THROUGH),
        (".gitignore", "generated/\n"),
        ("generated/big.rs", FALLS_THROUGH),
        ("README.md", "fork()"),
    ]);
    let (_, f) = json(dir.path(), &["--select", "FL005"]);
    let files: std::collections::BTreeSet<&str> = f.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        ["src/main.rs", "src/target/unix.rs"],
        "{f:?}"
    );
}

// Suppression comments.

fn suppressed(src: &str, extra: &[&str]) -> Vec<(String, u64, String)> {
    let dir = dir_with(&[("src/main.rs", src)]);
    let mut args = vec!["--select", "FL005"];
    args.extend_from_slice(extra);
    let (r, f) = json(dir.path(), &args);
    assert_no_panic(&r);
    f
}

#[test]
fn allow_on_the_line_or_the_line_above() {
    let same_line = FALLS_THROUGH.replace(
        "    if pid == 0 {\n",
        "    if pid == 0 { // fork-lint: allow(FL005) -- the child execs in run_child_work\n",
    );
    assert_eq!(
        suppressed(&same_line, &[]),
        [("src/main.rs".into(), 5, "FL005".into())]
    );
    let line_above = FALLS_THROUGH.replace(
        "    if pid == 0 {\n",
        "    // fork-lint: allow(child-falls-through)\n    if pid == 0 {\n",
    );
    assert_eq!(
        suppressed(&line_above, &[]),
        [("src/main.rs".into(), 5, "FL005".into())]
    );
    // Two lines above is too far.
    let too_far = FALLS_THROUGH.replace(
        "    if pid == 0 {\n",
        "    // fork-lint: allow(FL005)\n\n    if pid == 0 {\n",
    );
    assert_eq!(suppressed(&too_far, &[]).len(), 2);
}

#[test]
fn allow_text_in_a_string_is_not_a_directive() {
    let in_string = FALLS_THROUGH.replace(
        "    if pid == 0 {\n",
        "    let _doc = \"// fork-lint: allow(FL005)\";\n    if pid == 0 {\n",
    );
    assert_eq!(suppressed(&in_string, &[]).len(), 2);
}

#[test]
fn allow_file_suppresses_everywhere() {
    let src = format!("// fork-lint: allow-file(FL005) -- a test fixture\n{FALLS_THROUGH}");
    assert_eq!(suppressed(&src, &[]), []);
}

#[test]
fn unused_allows_are_reported_when_asked() {
    let src = format!("{CLEAN}// fork-lint: allow(FL005)\nfn other() {{}}\n");
    assert_eq!(suppressed(&src, &[]), []);
    let f = suppressed(&src, &["--report-unused-allows"]);
    assert_eq!(f, [("src/main.rs".into(), 9, "FL100".into())]);
    // From the configuration too.
    let dir = dir_with(&[("src/main.rs", &src)]);
    write(
        dir.path(),
        "fork-lint.toml",
        "report-unused-allows = true\n",
    );
    let (_, f) = json(dir.path(), &["--select", "FL005"]);
    assert_eq!(codes(&f), ["FL100"]);
}

// Colors.

/// Runs fork-lint with stdout on a pseudo-terminal (util-linux `script`), which is
/// what `--color auto` looks at.
fn on_a_terminal(dir: &std::path::Path, args: &str, no_color: Option<&str>) -> String {
    let bin = env!("CARGO_BIN_EXE_fork-lint");
    let mut cmd = StdCommand::new("script");
    cmd.args([
        "-qec",
        &format!("{bin} --select FL005 {args} src"),
        "/dev/null",
    ])
    .current_dir(dir)
    .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd
        .output()
        .expect("util-linux `script` runs (it gives the test a terminal)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn color_auto_honours_the_terminal_and_no_color() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let esc = '\u{1b}';
    assert!(
        on_a_terminal(dir.path(), "", None).contains(esc),
        "a terminal gets colors"
    );
    assert!(
        !on_a_terminal(dir.path(), "", Some("1")).contains(esc),
        "NO_COLOR turns them off"
    );
    assert!(
        on_a_terminal(dir.path(), "", Some("")).contains(esc),
        "an empty NO_COLOR does not"
    );
    assert!(
        on_a_terminal(dir.path(), "--color always", Some("1")).contains(esc),
        "--color always wins"
    );
    assert!(!on_a_terminal(dir.path(), "--color never", None).contains(esc));
    // Not a terminal: no colors unless asked.
    let r = run(fork_lint(dir.path()).args(["--select", "FL005"]));
    assert!(!r.stdout.contains(esc));
    let r = run(fork_lint(dir.path()).args(["--select", "FL005", "--color", "always"]));
    assert!(r.stdout.contains(esc));
}

// Bad input: each is named, the other files are still linted, nothing panics.

#[test]
fn unparsable_file_is_fl000_at_the_parsers_location() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH), ("src/bad.rs", UNPARSABLE)]);
    let r = run(fork_lint(dir.path()).args(["--select", "FL000,FL005", "--format", "concise"]));
    assert_eq!(r.code, 1);
    assert_no_panic(&r);
    assert!(
        r.stdout
            .starts_with("src/bad.rs:2:2: FL000 cannot parse this file: expected `;`\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("src/main.rs:5:9: FL005"),
        "the other file is linted: {}",
        r.stdout
    );
}

#[test]
fn no_prefilter_parses_every_file() {
    // No fork point: the prefilter skips this file, so its syntax error is only
    // reported with --no-prefilter.
    let dir = dir_with(&[("src/lib.rs", "fn broken( {}\n")]);
    let (r, f) = json(dir.path(), &[]);
    assert_eq!((r.code, f.len()), (0, 0));
    let (r, f) = json(dir.path(), &["--no-prefilter", "--jobs", "1"]);
    assert_eq!(r.code, 1);
    assert_eq!(codes(&f), ["FL000"]);
}

#[test]
fn non_utf8_file_is_named_and_others_still_linted() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    std::fs::write(
        dir.path().join("src/latin1.rs"),
        b"// caf\xe9 fork()\nfn main() {}\n",
    )
    .unwrap();
    let (r, f) = json(dir.path(), &["--select", "FL005"]);
    assert_eq!(r.code, 2);
    assert_no_panic(&r);
    assert!(
        r.stderr.contains("src/latin1.rs") && r.stderr.contains("UTF-8"),
        "{}",
        r.stderr
    );
    assert_eq!(f.len(), 2, "src/main.rs is still linted");
}

#[test]
fn unreadable_paths_are_named_and_others_still_linted() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    symlink("does-not-exist.rs", dir.path().join("src/dangling.rs")).unwrap();
    // A dangling link that would not be linted anyway is not an error.
    symlink("nowhere.txt", dir.path().join("src/notes.txt")).unwrap();
    let (r, f) = json(dir.path(), &["--select", "FL005"]);
    assert_eq!(r.code, 2);
    assert_no_panic(&r);
    assert!(
        r.stderr.contains("src/dangling.rs") && r.stderr.contains("does not exist"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("notes.txt"), "{}", r.stderr);
    assert_eq!(f.len(), 2, "src/main.rs is still linted");
}

#[test]
fn fifo_named_like_rust_is_rejected_not_read() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let fifo = dir.path().join("src/pipe.rs");
    let made = StdCommand::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Explicitly: an error, not a hang.
    let r = run(fork_lint(dir.path())
        .timeout(Duration::from_secs(60))
        .args([
            "--select",
            "FL005",
            "--format",
            "json",
            "src/pipe.rs",
            "src/main.rs",
        ]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("src/pipe.rs") && r.stderr.contains("not a regular file"),
        "{}",
        r.stderr
    );
    assert_eq!(findings(&r.stdout).len(), 2);
    // In a walk it is not a Rust file at all: skipped.
    let (r, f) = json(dir.path(), &["--select", "FL005"]);
    assert_eq!((r.code, f.len()), (1, 2), "{}", r.stderr);
}

#[test]
fn directory_named_like_rust_is_walked() {
    let dir = dir_with(&[
        ("src/main.rs", FALLS_THROUGH),
        ("src/mod.rs/inner.rs", CLEAN),
    ]);
    let (r, f) = json(
        dir.path(),
        &["--select", "FL005", "src/mod.rs", "src/main.rs"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(f.len(), 2);
}

#[test]
fn empty_file_is_fine() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH), ("src/empty.rs", "")]);
    let (r, f) = json(
        dir.path(),
        &[
            "--select",
            "FL000,FL005",
            "--no-prefilter",
            "src/empty.rs",
            "src/main.rs",
        ],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "");
    assert_eq!(f.len(), 2);
}

#[test]
fn five_megabyte_file_is_linted() {
    let mut big = String::with_capacity(5_300_000);
    let mut n = 0;
    while big.len() < 5_000_000 {
        big.push_str(&format!(
            "fn filler_{n}(x: u64) -> u64 {{ x.wrapping_mul({n}).rotate_left(7) ^ 0x5bd1e995 }}\n"
        ));
        n += 1;
    }
    let lines = big.lines().count() as u64;
    big.push_str(FALLS_THROUGH);
    let dir = dir_with(&[("src/big.rs", &big), ("src/main.rs", FALLS_THROUGH)]);
    let (r, f) = json(dir.path(), &["--select", "FL005"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_no_panic(&r);
    assert_eq!(
        f,
        [
            ("src/big.rs".to_string(), lines + 5, "FL005".to_string()),
            ("src/big.rs".to_string(), lines + 14, "FL005".to_string()),
            ("src/main.rs".to_string(), 5, "FL005".to_string()),
            ("src/main.rs".to_string(), 14, "FL005".to_string()),
        ]
    );
}

#[test]
fn nonexistent_path_is_named_and_others_still_linted() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let (r, f) = json(dir.path(), &["--select", "FL005", "nope.rs", "src"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr, "error: nope.rs: does not exist: check the path\n");
    assert_eq!(f.len(), 2);
}

#[test]
fn symlink_loops_do_not_hang() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    // A directory link back to an ancestor: skipped with a warning (its files are
    // linted through the real path), so the status is that of the findings.
    symlink("..", dir.path().join("src/again")).unwrap();
    let r = run(fork_lint(dir.path())
        .timeout(Duration::from_secs(60))
        .args(["--select", "FL005", "--format", "json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_no_panic(&r);
    assert!(
        r.stderr.starts_with("warning: src/again: skipped"),
        "{}",
        r.stderr
    );
    assert_eq!(findings(&r.stdout).len(), 2);
    // A file link to itself: cannot be read, an error naming it.
    symlink("self.rs", dir.path().join("src/self.rs")).unwrap();
    let r = run(fork_lint(dir.path())
        .timeout(Duration::from_secs(60))
        .args(["--select", "FL005", "--format", "json"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("src/self.rs") && r.stderr.contains("loops"),
        "{}",
        r.stderr
    );
    assert_eq!(findings(&r.stdout).len(), 2);
}

#[test]
fn empty_directory_says_so() {
    let dir = dir_with(&[("notes.txt", "nothing")]);
    let r = run(&mut fork_lint(dir.path()));
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("no Rust files to lint"), "{}", r.stderr);
}

// What a new user tripped over.

#[test]
fn a_run_with_errors_never_says_no_findings_and_unreadable_files_are_not_checked() {
    let dir = dir_with(&[("src/main.rs", CLEAN)]);
    std::fs::write(dir.path().join("src/latin1.rs"), b"fn main() { \xe9 }\n").unwrap();
    let r = run(fork_lint(dir.path()).arg("src"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stdout.contains("no findings"), "{}", r.stdout);
    assert_eq!(
        r.stdout,
        "fork-lint: 1 file could not be linted (the errors are on stderr; 1 file checked)\n"
    );
    assert!(
        r.stderr.contains("src/latin1.rs: is not valid UTF-8"),
        "{}",
        r.stderr
    );
    // With findings too: the unreadable file is counted apart.
    write(dir.path(), "src/main.rs", FALLS_THROUGH);
    let r = run(fork_lint(dir.path()).args(["--select", "FL005", "src"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.ends_with(
            "fork-lint: 2 findings (2 errors, 0 warnings) in 1 file (1 file checked, 1 file could not be linted)\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn a_missing_path_beside_a_clean_file_is_a_failure_not_no_findings() {
    let dir = dir_with(&[("src/main.rs", CLEAN)]);
    let r = run(fork_lint(dir.path()).args(["src/nothere.rs", "src/main.rs"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "fork-lint: 1 file could not be linted (the errors are on stderr; 1 file checked)\n"
    );
    assert!(r.stderr.contains("src/nothere.rs"), "{}", r.stderr);
}

#[test]
fn a_file_over_the_size_limit_on_one_line_is_not_printed_whole() {
    let dir = dir_with(&[("src/main.rs", CLEAN)]);
    let line = format!("// {}\n", "x".repeat(9 << 20));
    std::fs::write(dir.path().join("src/gen.rs"), line).unwrap();
    let r = run(fork_lint(dir.path()).args(["--no-prefilter", "--color", "never", "src"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("larger than the 8 MiB"), "{}", r.stdout);
    assert!(r.stdout.contains("split the file"), "{}", r.stdout);
    assert!(r.stdout.len() < 4000, "{} bytes of output", r.stdout.len());
}

/// Run as an unprivileged user (root reads every file): `setpriv` to `nobody`.
#[test]
fn a_file_without_read_permission_is_named_with_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir_with(&[("src/main.rs", CLEAN), ("src/secret.rs", CLEAN)]);
    for d in [dir.path(), &dir.path().join("src")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let main = dir.path().join("src/main.rs");
    std::fs::set_permissions(main, std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret = dir.path().join("src/secret.rs");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    };
    let mut cmd = if root {
        let mut c = assert_cmd::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_fork-lint"));
        c.current_dir(dir.path()).env_remove("NO_COLOR");
        c
    } else {
        fork_lint(dir.path())
    };
    let r = run(cmd.args(["src/main.rs", "src/secret.rs"]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stderr,
        "error: src/secret.rs: cannot read it: permission denied; give your user read permission (`chmod u+r`), or exclude it\n"
    );
    assert!(r.stdout.contains("; 1 file checked)"), "{}", r.stdout);
}

#[test]
fn a_missing_config_file_says_what_to_do() {
    let dir = dir_with(&[("src/main.rs", CLEAN)]);
    let r = run(fork_lint(dir.path()).args(["--config", "lint.toml", "src"]));
    assert_eq!(r.code, 2);
    let path = dir.path().join("lint.toml");
    assert_eq!(
        r.stderr,
        format!(
            "error: --config {}: does not exist: check the path, or leave out --config to use the nearest fork-lint.toml or Cargo.toml table\n",
            path.display()
        )
    );
}

#[test]
fn a_file_over_the_size_limit_says_split_or_exclude() {
    let mut text = String::from("fn main() { let pid = unsafe { libc::fork() }; }\n");
    let filler = "// padding padding padding padding padding padding padding padding\n";
    while text.len() <= fork_lint::MAX_FILE_BYTES {
        text.push_str(filler);
    }
    let dir = dir_with(&[("src/gen.rs", &text)]);
    let (r, f) = json(dir.path(), &["src/gen.rs"]);
    assert_eq!(codes(&f), ["FL000"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let help = v[0]["help"].as_str().unwrap();
    assert!(
        help.contains("split the file") && help.contains("exclude it"),
        "{help}"
    );
    assert!(!help.contains("fix the syntax"), "{help}");
    assert!(v[0]["message"].as_str().unwrap().contains("8 MiB"));
}

#[test]
fn package_flags_on_fork_lint_point_at_cargo_fork_lint() {
    for (args, tip) in [
        (&["-p", "foo"][..], "run `cargo fork-lint -p NAME`"),
        (
            &["--package=foo"][..],
            "run `cargo fork-lint --package NAME`",
        ),
        (&["--workspace"][..], "run `cargo fork-lint --workspace`"),
    ] {
        let r = run(fork_lint(Path::new(".")).args(args));
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains(tip), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("as a value"), "{}", r.stderr);
    }
}

#[test]
fn explain_hint_is_a_command_that_works_from_here() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let hint = |cmd: &mut assert_cmd::Command| -> String {
        let r = run(cmd.args(["--select", "FL005", "--color", "never", "src"]));
        let line = r
            .stdout
            .lines()
            .find(|l| l.contains("tells more"))
            .unwrap()
            .to_string();
        line[line.find('`').unwrap()..].to_string()
    };
    // Run by cargo (cargo run / cargo test): through cargo, before any install.
    assert_eq!(
        hint(&mut fork_lint(dir.path())),
        "`cargo run -p cargo-fork-lint --bin fork-lint -- --explain FL005` tells more"
    );
    // An installed copy (in a `bin` directory on PATH): by name.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_fork-lint"), bin.join("fork-lint")).unwrap();
    let mut installed = assert_cmd::Command::new(bin.join("fork-lint"));
    installed
        .current_dir(dir.path())
        .env("PATH", &bin)
        .env_remove("NO_COLOR");
    assert_eq!(
        hint(&mut installed),
        "`fork-lint --explain FL005` tells more"
    );
    // Not on PATH: by its full path.
    let mut elsewhere = assert_cmd::Command::new(bin.join("fork-lint"));
    elsewhere
        .current_dir(dir.path())
        .env("PATH", "/nonexistent")
        .env_remove("NO_COLOR");
    assert_eq!(
        hint(&mut elsewhere),
        format!(
            "`{} --explain FL005` tells more",
            bin.join("fork-lint").display()
        )
    );
    // A build in a checkout's target directory run by hand from another project:
    // `cargo run` would not work there, its full path does.
    let build = std::path::PathBuf::from(env!("CARGO_BIN_EXE_fork-lint"));
    let mut by_hand = assert_cmd::Command::new(&build);
    by_hand
        .current_dir(dir.path())
        .env_remove("CARGO_PKG_NAME")
        .env_remove("NO_COLOR");
    assert_eq!(
        hint(&mut by_hand),
        format!("`{} --explain FL005` tells more", build.display())
    );
}
