//! `--format sarif`: SARIF 2.1.0 as GitHub code scanning accepts it, built with
//! serde-sarif's model (generated from the official schema, so field names and shapes
//! cannot drift from it).
//!
//! Every registered rule is listed in `tool.driver.rules` (so `ruleIndex` is stable
//! whatever is selected); each result has one physical location with a
//! repository-relative URI, `partialFingerprints` that survive unrelated edits, every
//! secondary label (call-chain steps included) as `relatedLocations`, the call chain as
//! one `codeFlows` entry, and the fix, if any, as `fixes`.

use std::collections::{BTreeMap, HashMap};

use fork_lint::rules::{self, Rule};
use fork_lint::{Diagnostic, InputError, Severity, Span};
use serde_sarif::sarif::{
    ArtifactChange, ArtifactContent, ArtifactLocation, CodeFlow, Fix as SarifFix, Invocation,
    Location, Message, MultiformatMessageString, Notification, PhysicalLocation, Region,
    Replacement, ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel,
    Run, Sarif, ThreadFlow, ThreadFlowLocation, Tool, ToolComponent,
};
use sha2::{Digest, Sha256};

use super::Locator;

/// The base every relative `uri` is resolved against: the repository checkout.
pub const SRCROOT: &str = "%SRCROOT%";

/// The schema URL GitHub's documentation uses (serde-sarif's constant is an older
/// address of the same file).
pub const SCHEMA_URL: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of our fingerprint in `partialFingerprints` (versioned: a change of the
/// algorithm must not match old alerts by accident).
pub const FINGERPRINT_KEY: &str = "forkLint/v1";

pub fn render(diagnostics: &[Diagnostic], errors: &[InputError], locator: &Locator) -> String {
    let log = build(diagnostics, errors, locator);
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serializes");
    out.push('\n');
    out
}

/// The SARIF log of one run.
pub fn build(diagnostics: &[Diagnostic], errors: &[InputError], locator: &Locator) -> Sarif {
    let rule_index: HashMap<&str, usize> = rules::ALL
        .iter()
        .enumerate()
        .map(|(i, r)| (r.code, i))
        .collect();
    let descriptors: Vec<ReportingDescriptor> = rules::ALL.iter().map(|r| descriptor(r)).collect();
    let driver = ToolComponent::builder()
        .name("fork-lint")
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri(env!("CARGO_PKG_REPOSITORY"))
        .rules(descriptors)
        .build();

    let fingerprints = fingerprints(diagnostics, locator);
    let results: Vec<SarifResult> = diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fingerprint)| result(d, rule_index.get(d.code).copied(), fingerprint, locator))
        .collect();

    let notifications: Vec<Notification> = errors
        .iter()
        .map(|e| {
            Notification::builder()
                .level(serde_json::json!(if e.warning {
                    "warning"
                } else {
                    "error"
                }))
                .message(text(format!("{}: {}", e.file, e.message)))
                .build()
        })
        .collect();
    let mut invocation = Invocation::builder()
        .execution_successful(!errors.iter().any(|e| !e.warning))
        .build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }

    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .invocations(vec![invocation])
        // Columns count characters (Unicode code points), not UTF-16 units.
        .column_kind(serde_json::json!("unicodeCodePoints"))
        .build();
    Sarif::builder()
        .schema(SCHEMA_URL)
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build()
}

fn descriptor(rule: &Rule) -> ReportingDescriptor {
    let doc = rule.doc();
    let full = rule
        .section("What it does")
        .unwrap_or_else(|| rule.summary());
    ReportingDescriptor::builder()
        .id(rule.code)
        .name(rule.name)
        .short_description(multiformat(rule.summary()))
        .full_description(multiformat(full))
        .help(
            MultiformatMessageString::builder()
                .text(doc.clone())
                .markdown(doc)
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(serde_json::json!(level(rule.default_severity).to_string()))
                .build(),
        )
        .build()
}

fn result(
    d: &Diagnostic,
    rule_index: Option<usize>,
    fingerprint: String,
    locator: &Locator,
) -> SarifResult {
    let related: Vec<Location> = d
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Location::builder()
                .id(i as i64 + 1)
                .physical_location(physical(&l.span, locator))
                .message(text(l.message.clone()))
                .build()
        })
        .collect();

    // The chain in order, ending where the finding is.
    let mut steps: Vec<ThreadFlowLocation> = d
        .chain()
        .map(|l| flow_step(&l.span, &l.message, locator))
        .collect();
    let code_flows = if steps.is_empty() {
        None
    } else {
        let last = if d.primary_label.is_empty() {
            &d.message
        } else {
            &d.primary_label
        };
        steps.push(flow_step(&d.primary, last, locator));
        Some(vec![
            CodeFlow::builder()
                .thread_flows(vec![ThreadFlow::builder().locations(steps).build()])
                .build(),
        ])
    };

    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut partial = BTreeMap::new();
    partial.insert(FINGERPRINT_KEY.to_string(), fingerprint);

    let mut r = SarifResult::builder()
        .rule_id(d.code)
        .level(level(d.severity))
        .message(text(message))
        .locations(vec![
            Location::builder()
                .physical_location(physical(&d.primary, locator))
                .build(),
        ])
        .partial_fingerprints(partial)
        .build();
    r.rule_index = rule_index.map(|i| i as i64);
    if !related.is_empty() {
        r.related_locations = Some(related);
    }
    r.code_flows = code_flows;
    r.fixes = d.fix.as_ref().map(|fix| vec![sarif_fix(fix, locator)]);
    r
}

/// A fix as SARIF's `fix`: one artifact change with a replacement per edit (an empty
/// deleted region inserts).
fn sarif_fix(fix: &fork_lint::Fix, locator: &Locator) -> SarifFix {
    let replacements: Vec<Replacement> = fix
        .edits
        .iter()
        .map(|e| {
            Replacement::builder()
                .deleted_region(region(&e.span))
                .inserted_content(ArtifactContent::builder().text(e.content.clone()).build())
                .build()
        })
        .collect();
    let changes = fix
        .edits
        .first()
        .map(|e| {
            vec![
                ArtifactChange::builder()
                    .artifact_location(artifact(&e.span, locator))
                    .replacements(replacements)
                    .build(),
            ]
        })
        .unwrap_or_default();
    SarifFix::builder()
        .description(text(format!(
            "{} ({} fix)",
            fix.message,
            fix.applicability.as_str()
        )))
        .artifact_changes(changes)
        .build()
}

fn flow_step(span: &Span, message: &str, locator: &Locator) -> ThreadFlowLocation {
    ThreadFlowLocation::builder()
        .location(
            Location::builder()
                .physical_location(physical(span, locator))
                .message(text(message.to_string()))
                .build(),
        )
        .build()
}

fn physical(span: &Span, locator: &Locator) -> PhysicalLocation {
    PhysicalLocation::builder()
        .artifact_location(artifact(span, locator))
        .region(region(span))
        .build()
}

fn artifact(span: &Span, locator: &Locator) -> ArtifactLocation {
    match locator.relative(&span.file) {
        Some(rel) => ArtifactLocation::builder()
            .uri(percent_encode(&rel))
            .uri_base_id(SRCROOT)
            .build(),
        None => ArtifactLocation::builder()
            .uri(uri_of_name(&span.file.name))
            .build(),
    }
}

fn region(span: &Span) -> Region {
    Region::builder()
        .start_line(span.start.line as i64)
        .start_column(span.start.column as i64)
        .end_line(span.end.line as i64)
        .end_column(span.end.column as i64)
        .build()
}

/// A file outside any repository: an absolute name becomes a `file://` URI, a relative
/// one stays relative (to where fork-lint ran).
fn uri_of_name(name: &str) -> String {
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        format!("file://{}", percent_encode(&name))
    } else {
        percent_encode(&name)
    }
}

/// Percent-encodes what may not appear in a URI path (RFC 3986 `pchar` plus `/`).
pub fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
    }
}

fn text(s: String) -> Message {
    Message::builder().text(s).build()
}

fn multiformat(s: String) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s).build()
}

/// One fingerprint per finding: a hash of the rule, the file and the trimmed text of
/// the primary line, plus the occurrence index among findings with the same hash. Line
/// numbers are left out, so edits elsewhere in the file do not change it.
pub fn fingerprints(diagnostics: &[Diagnostic], locator: &Locator) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    diagnostics
        .iter()
        .map(|d| {
            let mut h = Sha256::new();
            for part in [
                d.code,
                &locator.display(&d.primary.file),
                d.primary.file.line_text(d.primary.start.line).trim(),
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            let hex: String = h.finalize()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let n = seen.entry(hex.clone()).or_insert(0);
            *n += 1;
            format!("{hex}:{n}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_spaces_and_percent() {
        assert_eq!(percent_encode("src/a b%.rs"), "src/a%20b%25.rs");
        assert_eq!(percent_encode("src/é.rs"), "src/%C3%A9.rs");
    }
}
