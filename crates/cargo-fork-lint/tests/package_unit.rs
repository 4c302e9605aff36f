//! The package is the unit, whatever the command line says: the same crate linted
//! through every spelling of its paths (what pre-commit passes, a directory, `.` from a
//! subdirectory, `./` prefixes, absolute paths, `cargo fork-lint`) gives the same
//! findings for the files named.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{cargo_fork_lint, dir_with, fork_lint, run};

/// A binary whose `main` starts a thread and then calls a library function (in a
/// `pub(crate)` module, in another file) that forks; the child calls a helper in a
/// third file that prints. Findings: FL007 at the fork (`src/sys.rs`), FL004 at the
/// `println!` (`src/report.rs`).
const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nlibc = \"0.2\"\n",
    ),
    ("src/lib.rs", "pub(crate) mod sys;\npub mod report;\n"),
    (
        "src/sys.rs",
        "pub fn spawn_child() -> i32 {\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        crate::report::done();\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n    pid\n}\n",
    ),
    (
        "src/report.rs",
        "pub fn done() {\n    println!(\"child done\");\n}\n",
    ),
    (
        "src/main.rs",
        "fn main() {\n    let _logger = std::thread::spawn(|| loop {});\n    demo::sys::spawn_child();\n}\n",
    ),
];

/// `(canonical path, line, column, code)` of each finding, whatever the file was called.
fn findings(cwd: &Path, json: &str) -> BTreeSet<(String, u64, u64, String)> {
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON output");
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|d| {
            let file = cwd.join(d["file"].as_str().unwrap());
            let file = std::fs::canonicalize(&file).unwrap_or(file);
            (
                file.display().to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_spelling_of_the_paths_gives_the_same_findings() {
    let dir = dir_with(FILES);
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let src = root.join("src");
    let abs = |p: &str| root.join(p).display().to_string();
    let spellings: Vec<(&str, &Path, Vec<String>)> = vec![
        (
            "staged files, as pre-commit passes them",
            &root,
            ["src/main.rs", "src/lib.rs", "src/sys.rs", "src/report.rs"]
                .map(String::from)
                .to_vec(),
        ),
        ("a directory", &root, vec!["src".into()]),
        ("`.` from inside src/", &src, vec![".".into()]),
        (
            "`./` prefixes",
            &root,
            [
                "./src/main.rs",
                "./src/lib.rs",
                "./src/sys.rs",
                "./src/report.rs",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "absolute paths",
            &root,
            vec![
                abs("src/main.rs"),
                abs("src/lib.rs"),
                abs("src/sys.rs"),
                abs("src/report.rs"),
            ],
        ),
        (
            "relative paths from inside src/",
            &src,
            ["main.rs", "lib.rs", "sys.rs", "report.rs"]
                .map(String::from)
                .to_vec(),
        ),
    ];
    let mut expected: Option<BTreeSet<_>> = None;
    for (what, cwd, args) in &spellings {
        let mut cmd = fork_lint(cwd);
        cmd.args(["--format", "json"]).args(args);
        let r = run(&mut cmd);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        let f = findings(cwd, &r.stdout);
        match &expected {
            None => {
                let codes: Vec<&str> = f.iter().map(|x| x.3.as_str()).collect();
                assert_eq!(codes, ["FL004", "FL007"], "{what}: {f:#?}");
                expected = Some(f);
            }
            Some(e) => assert_eq!(&f, e, "{what}"),
        }
    }
    let mut cmd = cargo_fork_lint(&root);
    cmd.args(["--format", "json"]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "cargo fork-lint: {}", r.stderr);
    assert_eq!(
        findings(&root, &r.stdout),
        expected.unwrap(),
        "cargo fork-lint"
    );
}

#[test]
fn a_file_named_alone_gets_the_findings_its_package_gives_it() {
    let dir = dir_with(FILES);
    let root = std::fs::canonicalize(dir.path()).unwrap();
    // Only the helper changed: its hazard comes from the fork in another file.
    let mut cmd = fork_lint(&root);
    cmd.args(["--format", "json", "src/report.rs"]);
    let r = run(&mut cmd);
    let f = findings(&root, &r.stdout);
    let codes: Vec<&str> = f.iter().map(|x| x.3.as_str()).collect();
    assert_eq!(codes, ["FL004"], "{f:#?}");
    // Only `main.rs` changed: the findings are in files not named, so none.
    let mut cmd = fork_lint(&root);
    cmd.args(["--format", "json", "src/main.rs"]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stdout);
}
