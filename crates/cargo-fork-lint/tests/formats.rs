//! Every output format on one input with real FL005 findings (snapshots), the SARIF
//! output validated against the official SARIF 2.1.0 schema, and the SARIF parts no
//! rule exercises yet (call chains, labels in other files) on hand-made findings.

mod common;

use std::sync::Arc;

use cargo_fork_lint::output::{self, Locator};
use common::{FALLS_THROUGH, dir_with, fork_lint, run};
use fork_lint::SourceFile;
use fork_lint::{Diagnostic, Label, LabelKind, Severity, Span, rules};
use serde_json::Value;

/// Runs `fork-lint --select FL005 --format FORMAT src` on the sample: only FL005, so
/// the snapshots follow the output code, not the growth of other rules.
fn sample_output(format: &str, extra: &[&str]) -> common::Run {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let r = run(fork_lint(dir.path())
        .args(["--select", "FL005", "--color", "never", "--format", format])
        .args(extra)
        .arg("src"));
    assert_eq!(r.code, 1, "findings exit with 1; stderr: {}", r.stderr);
    assert_eq!(r.stderr, "", "nothing on stderr");
    r
}

#[test]
fn human_snapshot() {
    insta::assert_snapshot!("human", sample_output("human", &[]).stdout);
}

#[test]
fn human_statistics_snapshot() {
    insta::assert_snapshot!(
        "human_statistics",
        sample_output("human", &["--statistics"]).stdout
    );
}

#[test]
fn concise_snapshot() {
    insta::assert_snapshot!("concise", sample_output("concise", &[]).stdout);
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!("json", sample_output("json", &[]).stdout);
}

#[test]
fn json_statistics_snapshot() {
    insta::assert_snapshot!(
        "json_statistics",
        sample_output("json", &["--statistics"]).stdout
    );
}

#[test]
fn github_snapshot() {
    insta::assert_snapshot!("github", sample_output("github", &[]).stdout);
}

/// The SARIF log with the rule descriptors cut down to FL005's identity: their text is
/// the rules' docs (checked against the registry below), not this crate's output code.
#[test]
fn sarif_snapshot() {
    let mut log: Value = serde_json::from_str(&sample_output("sarif", &[]).stdout).unwrap();
    let driver = &mut log["runs"][0]["tool"]["driver"];
    let rules = driver["rules"].as_array().unwrap();
    let fl005 = rules.iter().find(|r| r["id"] == "FL005").unwrap().clone();
    driver["rules"] = serde_json::json!([{
        "id": fl005["id"],
        "name": fl005["name"],
        "defaultConfiguration": fl005["defaultConfiguration"],
    }]);
    driver["version"] = "[version]".into();
    driver["semanticVersion"] = "[version]".into();
    for r in log["runs"][0]["results"].as_array_mut().unwrap() {
        r["ruleIndex"] = "[index of FL005]".into();
    }
    insta::assert_snapshot!("sarif", serde_json::to_string_pretty(&log).unwrap());
}

#[test]
fn json_has_exactly_the_documented_fields() {
    let text = sample_output("json", &[]).stdout;
    let v: Value = serde_json::from_str(&text).unwrap();
    let fields = [
        "code",
        "name",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "labels",
        "help",
        "fix",
    ];
    for d in v.as_array().unwrap() {
        let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = fields.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        for l in d["labels"].as_array().unwrap() {
            let mut keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["column", "file", "line", "message"]);
        }
    }
    // And in the documented order (`Value` sorts keys, so read the text).
    let first = &text[..text.find("\n  },").unwrap()];
    let at: Vec<usize> = fields
        .iter()
        .map(|f| first.find(&format!("\"{f}\":")).unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "fields out of order: {first}"
    );
}

#[test]
fn human_color_follows_the_flag() {
    let colored = sample_output("human", &["--color", "always"]).stdout;
    assert!(
        colored.contains("\u{1b}["),
        "ANSI escapes with --color always"
    );
    let plain = sample_output("human", &[]).stdout;
    assert!(!plain.contains('\u{1b}'));
}

fn sarif_validator() -> jsonschema::Validator {
    let mut schema: Value =
        serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    // The official schema's `language` patterns have a stray `]` that the strict
    // ECMA-262 check of the meta-schema's `format: regex` rejects; use what they mean.
    let fixed = fix_pattern(
        &mut schema,
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    assert_eq!(fixed, 2, "the schema changed: review this fix");
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles (offline: it has no remote references)")
}

fn fix_pattern(v: &mut Value, broken: &str, fixed: &str) -> usize {
    match v {
        Value::Object(map) => {
            let mut n = 0;
            for (k, child) in map.iter_mut() {
                if k == "pattern" && child == broken {
                    *child = fixed.into();
                    n += 1;
                } else {
                    n += fix_pattern(child, broken, fixed);
                }
            }
            n
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|c| fix_pattern(c, broken, fixed))
            .sum(),
        _ => 0,
    }
}

fn assert_valid_sarif(log: &Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sarif_output_validates_against_the_schema() {
    let log: Value = serde_json::from_str(&sample_output("sarif", &[]).stdout).unwrap();
    assert_valid_sarif(&log);
    // The validator does reject what the schema forbids.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    assert_eq!(sarif_validator().iter_errors(&broken).count(), 2);
    let run = &log["runs"][0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rules_json = run["tool"]["driver"]["rules"].as_array().unwrap();
    // Every registered rule, in registry order, described from its own doc.
    assert_eq!(rules_json.len(), rules::ALL.len());
    for (json, rule) in rules_json.iter().zip(rules::ALL) {
        assert_eq!(json["id"], rule.code);
        assert_eq!(json["name"], rule.name);
        assert_eq!(json["shortDescription"]["text"], rule.summary());
        assert_eq!(
            json["fullDescription"]["text"],
            rule.section("What it does")
                .unwrap_or_else(|| rule.summary())
        );
        assert_eq!(json["help"]["markdown"], rule.doc());
        assert_eq!(
            json["defaultConfiguration"]["level"],
            rule.default_severity.as_str()
        );
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules_json[index]["id"], r["ruleId"]);
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "src/main.rs");
        assert!(r["relatedLocations"][0]["message"]["text"].is_string());
    }
}

// Hand-made findings: a call chain (FL004-style) across two files.

fn file(name: &str, text: &str) -> Arc<SourceFile> {
    Arc::new(SourceFile::new(name.into(), name.into(), text.into()))
}

fn span(file: &Arc<SourceFile>, line: usize, col0: usize, len: usize) -> Span {
    Span {
        file: file.clone(),
        start: file.position(line, col0),
        end: file.position(line, col0 + len),
    }
}

fn chain_finding(main: &Arc<SourceFile>, helper: &Arc<SourceFile>) -> Diagnostic {
    Diagnostic {
        code: "FL004",
        name: "unsafe-call-after-fork",
        severity: Severity::Warning,
        message: "`println!` allocates and locks stdout: not async-signal-safe".into(),
        primary: span(helper, 2, 4, 14),
        primary_label: "called in the child".into(),
        labels: vec![
            Label {
                span: span(main, 2, 23, 12),
                message: "the process forks here".into(),
                kind: LabelKind::ChainStep,
            },
            Label {
                span: span(main, 4, 8, 8),
                message: "the child calls `helper`".into(),
                kind: LabelKind::ChainStep,
            },
            Label {
                span: span(main, 1, 0, 9),
                message: "a thread was started here".into(),
                kind: LabelKind::Secondary,
            },
        ],
        help: Some("use only async-signal-safe calls".into()),
        fix: None,
    }
}

const MAIN_RS: &str = "fn main() { std::thread::spawn(|| {});\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        helper();\n        unsafe { libc::_exit(0) }\n    }\n}\n";
const HELPER_RS: &str = "pub fn helper() {\n    println!(\"hi\");\n}\n";

#[test]
fn sarif_call_chain_is_a_code_flow_ending_at_the_finding() {
    let main = file("src/main.rs", MAIN_RS);
    let helper = file("src/helper.rs", HELPER_RS);
    let d = chain_finding(&main, &helper);
    let log = serde_json::to_value(output::sarif::build(&[d], &[], &Locator::default())).unwrap();
    assert_valid_sarif(&log);
    let r = &log["runs"][0]["results"][0];
    let steps = r["codeFlows"][0]["threadFlows"][0]["locations"]
        .as_array()
        .unwrap();
    let seen: Vec<(String, u64, String)> = steps
        .iter()
        .map(|s| {
            let loc = &s["location"];
            (
                loc["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                loc["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap(),
                loc["message"]["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "src/main.rs".to_string(),
                2,
                "the process forks here".to_string()
            ),
            (
                "src/main.rs".to_string(),
                4,
                "the child calls `helper`".to_string()
            ),
            (
                "src/helper.rs".to_string(),
                2,
                "called in the child".to_string()
            ),
        ]
    );
    // Every secondary label is a related location, the chain steps included.
    let related: Vec<&str> = r["relatedLocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        related,
        [
            "the process forks here",
            "the child calls `helper`",
            "a thread was started here"
        ]
    );
    assert_eq!(r["level"], "warning");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/helper.rs"
    );
}

#[test]
fn human_output_shows_labels_in_other_files() {
    let main = file("src/main.rs", MAIN_RS);
    let helper = file("src/helper.rs", HELPER_RS);
    let mut buf = codespan_reporting::term::termcolor::Buffer::no_color();
    output::human::render(
        &[chain_finding(&main, &helper)],
        "fork-lint --explain",
        &mut buf,
    )
    .unwrap();
    insta::assert_snapshot!(
        "human_two_files",
        String::from_utf8(buf.into_inner()).unwrap()
    );
}

#[test]
fn sarif_fingerprints_survive_unrelated_edits() {
    let before = file(
        "src/lib.rs",
        "fn a() {}\nlet pid = fork();\nlet pid = fork();\n",
    );
    let after = file(
        "src/lib.rs",
        "// a new comment\n\nfn a() {}\nlet pid = fork();\nlet pid = fork();\n",
    );
    let finding = |f: &Arc<SourceFile>, line| Diagnostic {
        code: "FL006",
        name: "unreaped-child",
        severity: Severity::Warning,
        message: "never waited for".into(),
        primary: span(f, line, 10, 6),
        primary_label: String::new(),
        labels: Vec::new(),
        help: None,
        fix: None,
    };
    let locator = Locator::default();
    let a = output::sarif::fingerprints(&[finding(&before, 2), finding(&before, 3)], &locator);
    let b = output::sarif::fingerprints(&[finding(&after, 4), finding(&after, 5)], &locator);
    assert_eq!(a, b, "moved by two lines, same fingerprints");
    assert_ne!(
        a[0], a[1],
        "two findings on identical lines differ by occurrence"
    );
    assert!(a[0].ends_with(":1") && a[1].ends_with(":2"));
}

#[test]
fn sarif_uri_is_relative_to_the_repository_root() {
    let dir = dir_with(&[("repo/crates/a/src/main.rs", FALLS_THROUGH)]);
    std::fs::create_dir(dir.path().join("repo/.git")).unwrap();
    // Run from a subdirectory: the URI is still relative to the repository root.
    let r = run(fork_lint(&dir.path().join("repo/crates/a")).args([
        "--select",
        "FL005",
        "--format",
        "sarif",
        "src/main.rs",
    ]));
    let log: Value = serde_json::from_str(&r.stdout).unwrap();
    let loc = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(loc["uri"], "crates/a/src/main.rs");
    assert_eq!(loc["uriBaseId"], "%SRCROOT%");
    let r = run(fork_lint(&dir.path().join("repo/crates/a")).args([
        "--select",
        "FL005",
        "--format",
        "github",
        "src/main.rs",
    ]));
    assert!(
        r.stdout
            .starts_with("::error file=crates/a/src/main.rs,line=5,col=9,"),
        "{}",
        r.stdout
    );
}

#[test]
fn sarif_reports_unreadable_files_as_notifications() {
    let dir = dir_with(&[("src/main.rs", FALLS_THROUGH)]);
    let r = run(fork_lint(dir.path()).args(["--format", "sarif", "src", "missing.rs"]));
    assert_eq!(r.code, 2);
    let log: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_valid_sarif(&log);
    let inv = &log["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let text = inv["toolExecutionNotifications"][0]["message"]["text"]
        .as_str()
        .unwrap();
    assert!(text.starts_with("missing.rs: "), "{text}");
}
