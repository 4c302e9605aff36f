//! `--merge-with COMMAND`: runs another command that prints cargo's JSON messages
//! (`cargo clippy --message-format=json`), passes them through as they come, and keeps
//! its `build-finished` for the one fork-lint prints last — so one editor check shows
//! rustc's and Clippy's diagnostics beside fork-lint's.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// What the merged command did.
pub struct Merged {
    /// It exited with success and its `build-finished` (if any) said success.
    pub success: bool,
}

/// Runs `command` (split at whitespace) in `cwd`; its stdout lines but
/// `build-finished` are copied to ours, its stderr is left to it. A cargo command
/// without `--message-format` gets `--message-format=json`.
pub fn run(command: &str, cwd: &Path) -> Result<Merged, String> {
    let mut words: Vec<String> = command.split_whitespace().map(String::from).collect();
    if words.is_empty() {
        return Err("--merge-with: the command is empty: give one, e.g. \"cargo clippy --message-format=json\"".into());
    }
    let is_cargo = Path::new(&words[0])
        .file_stem()
        .is_some_and(|s| s == "cargo");
    if is_cargo && !words.iter().any(|w| w.starts_with("--message-format")) {
        // Before a `--` that passes the rest to rustc or the linter.
        let at = words.iter().position(|w| w == "--").unwrap_or(words.len());
        words.insert(at, "--message-format=json".into());
    }
    let mut child = Command::new(&words[0])
        .args(&words[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "--merge-with: cannot run `{}`: {e}; check that it is installed and on PATH",
                words[0]
            )
        })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reported = true;
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line =
            line.map_err(|e| format!("--merge-with: cannot read `{command}`'s output: {e}"))?;
        let value: Option<serde_json::Value> = serde_json::from_str(&line).ok();
        if let Some(v) = value.as_ref().filter(|v| v["reason"] == "build-finished") {
            reported &= v["success"].as_bool().unwrap_or(false);
            continue;
        }
        // A closed stdout (the editor went away) ends the copy, not the run.
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    let _ = out.flush();
    let status = child
        .wait()
        .map_err(|e| format!("--merge-with: `{command}` did not finish: {e}"))?;
    Ok(Merged {
        success: status.success() && reported,
    })
}
