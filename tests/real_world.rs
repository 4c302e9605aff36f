//! fork-lint over real code nobody here wrote: the crates that `tests/corpus` brings in
//! as dev-dependencies (fetched by cargo, never built). Every finding must have a
//! verdict in `tests/corpus/verdicts.toml`, every verdict must still match a finding,
//! and `docs/real-world.md` is generated from both:
//! `UPDATE_DOCS=1 cargo test -p fork-lint-tests --test real_world` rewrites it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use fork_lint_tests::repo_root;

#[derive(serde::Deserialize)]
struct Verdicts {
    group: Vec<Group>,
    #[serde(default)]
    fixed: Vec<Fixed>,
}

/// A false positive this corpus revealed, fixed in the analysis.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixed {
    title: String,
    why: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    title: String,
    #[serde(rename = "crate")]
    krate: String,
    /// Globs of paths relative to the crate's root.
    paths: Vec<String>,
    codes: Vec<String>,
    /// Lines the group is limited to (every line when empty): a verdict on one statement
    /// among findings of the same file and rule that get another verdict.
    #[serde(default)]
    lines: Vec<usize>,
    verdict: String,
    why: String,
}

struct Finding {
    krate: String,
    version: String,
    path: String,
    line: usize,
    column: usize,
    code: &'static str,
    message: String,
}

/// The direct dev-dependencies of the corpus package: (name, version, root).
fn corpus() -> Vec<(String, String, PathBuf)> {
    let manifest = repo_root().join("tests/corpus/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo metadata on the corpus failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let root = meta["resolve"]["root"]
        .as_str()
        .expect("the corpus is a package");
    let node = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == root)
        .unwrap();
    let deps: Vec<&str> = node["deps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pkg"].as_str().unwrap())
        .collect();
    let mut out: Vec<(String, String, PathBuf)> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| deps.contains(&p["id"].as_str().unwrap()))
        .map(|p| {
            let dir = Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf();
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                dir,
            )
        })
        .collect();
    out.sort();
    out
}

fn lint(
    krate: &str,
    version: &str,
    dir: &Path,
    stats: &mut BTreeMap<String, (usize, u64)>,
) -> Vec<Finding> {
    let (files, errors) = fork_lint::discover::collect_files(
        &[dir.to_path_buf()],
        &fork_lint::discover::Exclude::default(),
    );
    assert!(errors.is_empty(), "{krate}: {errors:?}");
    let report = fork_lint::lint(&files, &fork_lint::LintOptions::default());
    assert!(report.errors.is_empty(), "{krate}: {:?}", report.errors);
    stats.insert(
        format!("{krate} {version}"),
        (report.stats.files, report.stats.lines),
    );
    report
        .diagnostics
        .iter()
        .map(|d| Finding {
            krate: krate.to_string(),
            version: version.to_string(),
            path: d
                .primary
                .file
                .path
                .strip_prefix(dir)
                .unwrap_or(&d.primary.file.path)
                .display()
                .to_string(),
            line: d.primary.start.line,
            column: d.primary.start.column,
            code: d.code,
            message: d.message.clone(),
        })
        .collect()
}

fn matches(g: &Group, f: &Finding) -> bool {
    let globs = {
        let mut b = globset::GlobSetBuilder::new();
        for p in &g.paths {
            b.add(
                globset::Glob::new(p)
                    .unwrap_or_else(|e| panic!("verdict `{}`: bad glob `{p}`: {e}", g.title)),
            );
        }
        b.build().unwrap()
    };
    g.krate == f.krate
        && g.codes.iter().any(|c| c == f.code)
        && (g.lines.is_empty() || g.lines.contains(&f.line))
        && globs.is_match(&f.path)
}

#[test]
fn every_finding_on_real_code_has_a_verdict() {
    let verdicts: Verdicts = toml::from_str(
        &std::fs::read_to_string(repo_root().join("tests/corpus/verdicts.toml")).unwrap(),
    )
    .expect("verdicts.toml parses");
    let mut stats = BTreeMap::new();
    let mut findings = Vec::new();
    let crates = corpus();
    assert!(
        crates.len() >= 7,
        "the corpus resolved to too few crates: {crates:?}"
    );
    for (name, version, dir) in &crates {
        findings.extend(lint(name, version, dir, &mut stats));
    }
    let mut grouped: Vec<Vec<&Finding>> = verdicts.group.iter().map(|_| Vec::new()).collect();
    let mut unmatched = Vec::new();
    for f in &findings {
        match verdicts.group.iter().position(|g| matches(g, f)) {
            Some(i) => grouped[i].push(f),
            None => unmatched.push(format!(
                "{}-{}/{}:{}:{} {} {}",
                f.krate, f.version, f.path, f.line, f.column, f.code, f.message
            )),
        }
    }
    assert!(
        unmatched.is_empty(),
        "{} findings on real code have no verdict in tests/corpus/verdicts.toml:\n{}",
        unmatched.len(),
        unmatched.join("\n")
    );
    let unused: Vec<&str> = verdicts
        .group
        .iter()
        .zip(&grouped)
        .filter(|(_, f)| f.is_empty())
        .map(|(g, _)| g.title.as_str())
        .collect();
    assert!(
        unused.is_empty(),
        "verdicts that no longer match any finding: {unused:?}"
    );
    for g in &verdicts.group {
        assert!(
            matches!(g.verdict.as_str(), "true positive" | "false positive"),
            "verdict `{}` must be `true positive` or `false positive`",
            g.title
        );
        assert!(
            !g.why.trim().is_empty(),
            "verdict `{}` must say why",
            g.title
        );
    }

    let doc = render(&crates, &stats, &findings, &verdicts, &grouped);
    let path = repo_root().join("docs/real-world.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/real-world.md is stale: run `UPDATE_DOCS=1 cargo test -p fork-lint-tests --test real_world`"
    );
}

fn render(
    crates: &[(String, String, PathBuf)],
    stats: &BTreeMap<String, (usize, u64)>,
    findings: &[Finding],
    verdicts: &Verdicts,
    grouped: &[Vec<&Finding>],
) -> String {
    let groups = &verdicts.group;
    let codes = [
        "FL001", "FL002", "FL003", "FL004", "FL005", "FL006", "FL007", "FL008", "FL009", "FL010",
        "FL011",
    ];
    let mut s = String::from(
        "# fork-lint on real code\n\n\
         Generated by `UPDATE_DOCS=1 cargo test -p fork-lint-tests --test real_world` from the\n\
         sources of the crates `tests/corpus/Cargo.toml` brings in (fetched by cargo, never\n\
         built; versions pinned by `tests/corpus/Cargo.lock`) and the verdicts in\n\
         `tests/corpus/verdicts.toml`. The test fails when a finding has no verdict, when a\n\
         verdict matches nothing, or when this page is stale.\n\n",
    );
    let tp: usize = groups
        .iter()
        .zip(grouped)
        .filter(|(g, _)| g.verdict == "true positive")
        .map(|(_, f)| f.len())
        .sum();
    let fp: usize = groups
        .iter()
        .zip(grouped)
        .filter(|(g, _)| g.verdict == "false positive")
        .map(|(_, f)| f.len())
        .sum();
    s.push_str(&format!(
        "**{} findings: {tp} true positives, {fp} false positives.**\n\n",
        findings.len()
    ));
    s.push_str("| crate | files | lines |");
    for c in codes {
        s.push_str(&format!(" {c} |"));
    }
    s.push_str("\n|---|---|---|");
    s.push_str(&"---|".repeat(codes.len()));
    s.push('\n');
    for (name, version, _) in crates {
        let (files, lines) = stats[&format!("{name} {version}")];
        s.push_str(&format!("| {name} {version} | {files} | {lines} |"));
        for c in codes {
            let n = findings
                .iter()
                .filter(|f| f.krate == *name && f.code == c)
                .count();
            s.push_str(&if n == 0 {
                " |".to_string()
            } else {
                format!(" {n} |")
            });
        }
        s.push('\n');
    }
    s.push_str("\n## Verdicts\n");
    for (g, fs) in groups.iter().zip(grouped) {
        s.push_str(&format!(
            "\n### {} — {} ({} finding{})\n\n",
            g.title,
            g.verdict,
            fs.len(),
            if fs.len() == 1 { "" } else { "s" }
        ));
        s.push_str(&format!(
            "`{}` · {} · `{}`{}\n\n",
            g.krate,
            g.codes.join(", "),
            g.paths.join("`, `"),
            if g.lines.is_empty() {
                String::new()
            } else {
                let lines: Vec<String> = g.lines.iter().map(|l| l.to_string()).collect();
                format!(" · line{} {}", if lines.len() == 1 { "" } else { "s" }, lines.join(", "))
            }
        ));
        s.push_str(g.why.trim());
        s.push_str("\n\n<details><summary>the findings</summary>\n\n");
        for f in fs {
            s.push_str(&format!(
                "- `{}-{}/{}:{}:{}` {} {}\n",
                f.krate,
                f.version,
                f.path,
                f.line,
                f.column,
                f.code,
                f.message.replace('|', "\\|")
            ));
        }
        s.push_str("\n</details>\n");
    }
    if !verdicts.fixed.is_empty() {
        s.push_str("\n## False positives this corpus revealed, fixed in the analysis\n");
        for f in &verdicts.fixed {
            s.push_str(&format!("\n### {}\n\n{}\n", f.title, f.why.trim()));
        }
    }
    s
}
