//! The linter on a real package directory: the package is the unit (a file named
//! alone is analysed with the rest of its package around it), and the files the
//! analysis reads on its own are named like the ones on the command line.

use fork_lint::{InputFile, LintOptions, lint};
use tempfile::TempDir;

/// A package directory holding `files` (relative path, contents), removed on drop.
fn package(files: &[(&str, &str)]) -> TempDir {
    let root = tempfile::tempdir().expect("a temporary directory");
    for (path, text) in files {
        let p = root.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    root
}

#[test]
fn a_helper_named_alone_is_analysed_with_its_package_around_it() {
    let dir = package(&[
        (
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "src/main.rs",
            "mod report;\nfn main() {\n    let _t = std::thread::spawn(|| {});\n    if unsafe { libc::fork() } == 0 {\n        report::done();\n        unsafe { libc::_exit(0) }\n    }\n}\n",
        ),
        (
            "src/report.rs",
            "pub fn done() {\n    println!(\"child done\");\n}\n",
        ),
    ]);
    let root = dir.path();
    // Only the helper is named (a pre-commit run where only it changed): the fork
    // that reaches it is in `main.rs`, which the analysis reads on its own.
    let input = InputFile {
        path: root.join("src/report.rs"),
        name: "demo/src/report.rs".into(),
    };
    let report = lint(&[input], &LintOptions::default());
    let fl004: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == "FL004")
        .collect();
    assert_eq!(fl004.len(), 1, "{:#?}", report.diagnostics);
    assert_eq!(fl004[0].primary.file.name, "demo/src/report.rs");
    assert_eq!(fl004[0].primary.start.line, 2);
    let chain: Vec<_> = fl004[0].chain().map(|l| l.span.file.name.clone()).collect();
    assert_eq!(chain, vec!["demo/src/main.rs".to_string()]);
}

#[test]
fn fl001_reads_serde_rc_from_the_manifest() {
    let main = "#[forkrt::task]\nfn bump(c: std::sync::Arc<std::sync::Mutex<u32>>) {}\n#[forkrt::main]\nfn main() -> forkrt::Result<()> {\n    let c = std::sync::Arc::new(std::sync::Mutex::new(0));\n    let mut p = forkrt::Process::new(bump, c);\n    p.start()\n}\n";
    let fl001 = |manifest: &str| {
        let dir = package(&[("Cargo.toml", manifest), ("src/main.rs", main)]);
        let input = InputFile {
            path: dir.path().join("src/main.rs"),
            name: "src/main.rs".into(),
        };
        let report = lint(&[input], &LintOptions::default());
        report
            .diagnostics
            .iter()
            .filter(|d| d.code == "FL001")
            .count()
    };
    let head = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
    // Without `rc`, serde does not serialize `Arc`.
    assert_eq!(fl001(&format!("{head}[dependencies]\nserde = \"1\"\n")), 1);
    assert_eq!(
        fl001(&format!(
            "{head}[dependencies]\nserde = {{ version = \"1\", features = [\"derive\", \"rc\"] }}\n"
        )),
        0
    );
    // procspawn turns it on (through ipc-channel).
    assert_eq!(
        fl001(&format!("{head}[dependencies]\nprocspawn = \"1\"\n")),
        0
    );
}
