//! `--message-format json` for editors: every line is a cargo message that
//! `cargo_metadata` (what rust-analyzer and other tools parse cargo's output with)
//! reads, with the fields rust-analyzer uses; `--merge-with` keeps rustc's and Clippy's
//! messages beside fork-lint's in one stream.

mod common;

use cargo_metadata::diagnostic::{Applicability, DiagnosticLevel};
use cargo_metadata::{Message, MetadataCommand};
use common::{cargo_fork_lint, dir_with, fixable_package, fork_lint, run};
use serde_json::Value;

const SELECT: [&str; 2] = ["--select", "FL004,FL011"];

fn messages(stdout: &str) -> Vec<Message> {
    let parsed: Vec<Message> = Message::parse_stream(stdout.as_bytes())
        .collect::<Result<_, _>>()
        .expect("cargo_metadata reads the stream");
    for (m, line) in parsed.iter().zip(stdout.lines()) {
        assert!(
            !matches!(m, Message::TextLine(_)),
            "not a cargo message: {line}"
        );
    }
    parsed
}

#[test]
fn every_line_parses_as_a_cargo_message_with_the_fields_editors_read() {
    let dir = fixable_package();
    let r =
        run(fork_lint(dir.path())
            .args(SELECT)
            .args(["--message-format", "json", "src/main.rs"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let msgs = messages(&r.stdout);
    assert_eq!(msgs.len(), 4, "three findings and build-finished");
    let Some(Message::BuildFinished(done)) = msgs.last() else {
        panic!("build-finished comes last: {:?}", msgs.last())
    };
    assert!(done.success, "warnings only: success, as cargo says");

    let metadata = MetadataCommand::new()
        .manifest_path(dir.path().join("Cargo.toml"))
        .no_deps()
        .exec()
        .unwrap();
    let package = &metadata.packages[0];
    let source = std::fs::canonicalize(dir.path().join("src/main.rs")).unwrap();
    let text = common::FIXABLE;
    let mut suggestions = Vec::new();
    for m in &msgs[..3] {
        let Message::CompilerMessage(cm) = m else {
            panic!("a compiler-message: {m:?}")
        };
        assert_eq!(cm.package_id, package.id);
        assert_eq!(cm.target.name, "fixable");
        assert!(cm.target.is_bin());
        let d = &cm.message;
        assert_eq!(d.level, DiagnosticLevel::Warning);
        let code = d.code.as_ref().expect("a code");
        assert!(code.code.starts_with("FL0"));
        let rule = fork_lint::rules::by_code_or_name(&code.code).unwrap();
        assert_eq!(code.explanation.as_deref(), Some(rule.doc().as_str()));
        let primary = d
            .spans
            .iter()
            .find(|s| s.is_primary)
            .expect("a primary span");
        assert_eq!(primary.file_name, source.display().to_string());
        // Byte offsets, 1-based lines and columns agree with the text.
        let (b0, b1) = (primary.byte_start as usize, primary.byte_end as usize);
        let line = text.lines().nth(primary.line_start - 1).unwrap();
        let col_text: String = line
            .chars()
            .skip(primary.column_start - 1)
            .take(primary.column_end - primary.column_start)
            .collect();
        assert_eq!(&text[b0..b1], col_text);
        assert_eq!(primary.text[0].text, line);
        assert!(d.spans.iter().any(|s| !s.is_primary && s.label.is_some()));
        assert!(d.rendered.as_deref().unwrap().contains(&code.code));
        for child in &d.children {
            for s in &child.spans {
                if let Some(new) = &s.suggested_replacement {
                    suggestions.push((
                        code.code.clone(),
                        new.clone(),
                        s.suggestion_applicability.clone(),
                    ));
                }
            }
        }
    }
    assert_eq!(
        suggestions,
        [
            (
                "FL011".to_string(),
                "let _ = std::io::Write::flush(&mut std::io::stdout());\n    ".to_string(),
                Some(Applicability::MachineApplicable)
            ),
            (
                "FL004".to_string(),
                "io::Error::last_os_error()".to_string(),
                Some(Applicability::MachineApplicable)
            ),
            (
                "FL004".to_string(),
                "libc::_exit(1)".to_string(),
                Some(Applicability::MaybeIncorrect)
            ),
        ]
    );
}

/// One message as it is printed (pretty, with the temporary directory and the rule's
/// doc cut out).
#[test]
fn compiler_message_snapshot() {
    let dir = fixable_package();
    let r = run(fork_lint(dir.path()).args([
        "--select",
        "FL011",
        "--message-format",
        "json",
        "src/main.rs",
    ]));
    let first = r.stdout.lines().next().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let first = first.replace(&root.display().to_string(), "[package]");
    let mut v: Value = serde_json::from_str(&first).unwrap();
    v["message"]["code"]["explanation"] = "[the doc of FL011]".into();
    insta::assert_json_snapshot!("cargo_compiler_message", v);
    assert_eq!(
        r.stdout.lines().last(),
        Some(r#"{"reason":"build-finished","success":true}"#)
    );
}

#[test]
fn error_findings_make_build_finished_unsuccessful() {
    let dir = dir_with(&[("src/main.rs", common::FALLS_THROUGH)]);
    let r = run(fork_lint(dir.path()).args(["--message-format", "json", "src"]));
    assert_eq!(r.code, 1);
    let msgs = messages(&r.stdout);
    assert!(matches!(msgs.last(), Some(Message::BuildFinished(b)) if !b.success));
    // Files outside any Cargo package still get a package and a target.
    assert!(
        matches!(&msgs[0], Message::CompilerMessage(m) if m.message.level == DiagnosticLevel::Error)
    );
}

#[test]
fn cargo_fork_lint_names_the_package_cargo_would() {
    let dir = fixable_package();
    let r = run(cargo_fork_lint(dir.path())
        .args(SELECT)
        .args(["--message-format=json-diagnostic-short"]));
    let msgs = messages(&r.stdout);
    let Message::CompilerMessage(cm) = &msgs[0] else {
        panic!()
    };
    assert!(cm.package_id.repr.contains("fixable"), "{}", cm.package_id);
    let rendered = cm.message.rendered.as_deref().unwrap();
    assert!(
        rendered.starts_with("src/main.rs:7:24: FL011 "),
        "short form: {rendered}"
    );
}

#[test]
fn message_format_rejects_statistics_and_merge_needs_json() {
    let dir = fixable_package();
    let r = run(fork_lint(dir.path()).args(["--message-format", "json", "--statistics", "src"]));
    assert_eq!(r.code, 2);
    let r = run(fork_lint(dir.path()).args([
        "--message-format",
        "short",
        "--merge-with",
        "true",
        "src",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--merge-with"), "{}", r.stderr);
}

/// A package with no dependency: a rustc warning, a Clippy warning and an FL004
/// finding (in `pre_exec`).
const MIXED: &str = r#"use std::os::unix::process::CommandExt;
use std::process::Command;

fn main() {
    let unused = 1;
    let mut cmd = Command::new("true");
    unsafe {
        cmd.pre_exec(|| {
            std::process::exit(1);
        });
    }
    let _ = cmd.status();
}

fn double(x: u32) -> u32 {
    return x * 2;
}
"#;

#[test]
fn merge_with_clippy_puts_rustc_clippy_and_fork_lint_in_one_stream() {
    let clippy = std::process::Command::new("cargo")
        .args(["clippy", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let check = if clippy { "clippy" } else { "check" };
    let dir = dir_with(&[
        (
            "Cargo.toml",
            "[package]\nname = \"mixed\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
        ),
        ("src/main.rs", MIXED),
    ]);
    let command = format!("cargo {check} --message-format=json");
    let r = run(fork_lint(dir.path())
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .env_remove("RUSTFLAGS")
        .args([
            "--message-format",
            "json",
            "--merge-with",
            &command,
            "src/main.rs",
        ]));
    let msgs = messages(&r.stdout);
    let codes: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            Message::CompilerMessage(cm) => cm.message.code.as_ref().map(|c| c.code.clone()),
            _ => None,
        })
        .collect();
    assert!(
        codes.iter().any(|c| c == "unused_variables"),
        "rustc's: {codes:?}"
    );
    if clippy {
        assert!(
            codes.iter().any(|c| c == "clippy::needless_return"),
            "Clippy's: {codes:?}"
        );
    }
    assert!(codes.iter().any(|c| c == "FL004"), "fork-lint's: {codes:?}");
    let finished: Vec<&Message> = msgs
        .iter()
        .filter(|m| matches!(m, Message::BuildFinished(_)))
        .collect();
    assert_eq!(finished.len(), 1, "one build-finished");
    assert!(matches!(msgs.last(), Some(Message::BuildFinished(b)) if b.success));
    // rustc's and Clippy's messages come first, as the command printed them.
    let fl004 = codes.iter().position(|c| c == "FL004").unwrap();
    assert!(codes[..fl004].iter().any(|c| c == "unused_variables"));
    assert_eq!(r.code, 1, "fork-lint found something: {}", r.stderr);

    // A command that cannot run is an error naming it.
    let r = run(fork_lint(dir.path()).args([
        "--message-format",
        "json",
        "--merge-with",
        "no-such-command-xyz",
        "src",
    ]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot run `no-such-command-xyz`"),
        "{}",
        r.stderr
    );
}
