//! What `--explain`, `--list-rules` and the generated `docs/rules.md` print. All of it
//! comes from the rule registry (each rule's doc comment): no rule text lives here.

use fork_lint::rules::{self, Rule};

/// `--explain CODE`: the rule's doc under a title naming it.
pub fn explain(rule: &Rule) -> String {
    format!(
        "# {}: {}\n\nDefault severity: {}.\n\n{}",
        rule.code,
        rule.name,
        rule.default_severity,
        rule.doc()
    )
}

/// `--list-rules`: one aligned line per rule.
pub fn list() -> String {
    let name_width = rules::ALL.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in rules::ALL {
        out.push_str(&format!(
            "{}  {:name_width$}  {:7}  {}\n",
            r.code,
            r.name,
            r.default_severity.as_str(),
            r.summary()
        ));
    }
    out
}

/// `--list-rules --format json`.
pub fn list_json() -> String {
    #[derive(serde::Serialize)]
    struct Entry {
        code: &'static str,
        name: &'static str,
        severity: &'static str,
        summary: String,
    }
    let items: Vec<Entry> = rules::ALL
        .iter()
        .map(|r| Entry {
            code: r.code,
            name: r.name,
            severity: r.default_severity.as_str(),
            summary: r.summary(),
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).expect("JSON values serialize");
    out.push('\n');
    out
}

/// The text of `docs/rules.md`: an index, then every rule's doc in code order, its
/// headings one level down.
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# Rules\n\n\
         <!-- Generated from the rule registry (each rule's doc comment in\n     \
         crates/fork-lint/src/rules/). Do not edit: run\n     \
         `UPDATE_DOCS=1 cargo test -p cargo-fork-lint --test repo_files` -->\n\n\
         `fork-lint --explain CODE` prints the same text for one rule.\n\n\
         | Code | Name | Default | Summary |\n|---|---|---|---|\n",
    );
    for r in rules::ALL {
        out.push_str(&format!(
            "| [{}](#{}) | `{}` | {} | {} |\n",
            r.code,
            anchor(r),
            r.name,
            r.default_severity,
            r.summary().replace('|', "\\|")
        ));
    }
    for r in rules::ALL {
        out.push_str(&format!(
            "\n## {}: {}\n\nDefault severity: {}.\n\n{}",
            r.code,
            r.name,
            r.default_severity,
            demote_headings(&r.doc())
        ));
    }
    out
}

/// GitHub's anchor for the heading `## FL005: child-falls-through`.
fn anchor(rule: &Rule) -> String {
    format!("{}-{}", rule.code.to_ascii_lowercase(), rule.name)
}

/// `## X` → `### X`, outside fenced code blocks.
fn demote_headings(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + 16);
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence && line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
