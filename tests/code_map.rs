//! ARCHITECTURE.md's code map names every source file and module directory of every
//! crate, so that the map a newcomer reads first cannot silently fall behind the code.
//!
//! A file `crates/C/src/R` is on the map when the `###` section whose heading names
//! `` `crates/C` `` holds a code span naming it: `` `R` `` itself (`engine.rs`,
//! `rules/mod.rs`, `bin/cargo-fork-lint.rs`), `` `C/src/R` ``, or, inside a list item
//! that starts with a directory (`` * `analysis/` — … ``, sub-items included), the path
//! relative to that directory (`` `forks.rs` ``). A directory `crates/C/src/D/` is on the
//! map when a code span is `` `D/` `` or starts with it. Directory items nest: under
//! `` * `analysis/` ``, an item `` * `model/` `` is `analysis/model/`.

use std::collections::BTreeSet;
use std::path::Path;

use fork_lint_tests::repo_root;

/// A `###` section of the code map: the crates its heading names, and the paths its
/// code spans name, relative to `src/` (for spans that name their crate, `(Some(crate),
/// path)`).
struct Section {
    crates: Vec<String>,
    names: BTreeSet<(Option<String>, String)>,
}

fn code_spans(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

fn sections(map: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    // The directory list items enclosing the current line: (indent, full directory).
    let mut dirs: Vec<(usize, String)> = Vec::new();
    for line in map.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            let crates = code_spans(heading)
                .filter_map(|s| s.strip_prefix("crates/"))
                .map(str::to_string)
                .collect();
            out.push(Section {
                crates,
                names: BTreeSet::new(),
            });
            dirs.clear();
            continue;
        }
        if line.starts_with('#') {
            // A `##` heading ends the code map: what follows names no crate's files.
            out.push(Section {
                crates: Vec::new(),
                names: BTreeSet::new(),
            });
            dirs.clear();
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        if let Some(item) = line.trim_start().strip_prefix("* ") {
            while dirs.last().is_some_and(|(i, _)| *i >= indent) {
                dirs.pop();
            }
            if let Some(d) = code_spans(item)
                .next()
                .filter(|s| s.ends_with('/') && !s.contains(' '))
            {
                let parent = dirs.last().map(|(_, p)| p.clone()).unwrap_or_default();
                dirs.push((indent, format!("{parent}{d}")));
            }
        } else if !line.starts_with(' ') {
            dirs.clear();
        }
        for span in code_spans(line) {
            match span.split_once("/src/") {
                Some((krate, rel)) => {
                    let krate = krate.rsplit('/').next().unwrap_or(krate);
                    section
                        .names
                        .insert((Some(krate.to_string()), rel.to_string()));
                }
                None => {
                    section.names.insert((None, span.to_string()));
                    for (_, dir) in &dirs {
                        section.names.insert((None, format!("{dir}{span}")));
                    }
                }
            }
        }
    }
    out.retain(|s| !s.crates.is_empty());
    out
}

/// Every crate directory, and each `.rs` file and directory under its `src/`, relative
/// to `src/` (directories with a trailing `/`).
fn crate_sources() -> Vec<(String, Vec<String>)> {
    let crates_dir = repo_root().join("crates");
    let mut crates: Vec<String> = std::fs::read_dir(&crates_dir)
        .expect("crates/")
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    crates
        .into_iter()
        .map(|c| {
            let src = crates_dir.join(&c).join("src");
            let mut paths = Vec::new();
            walk(&src, &src, &mut paths);
            paths.sort();
            (c, paths)
        })
        .collect()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            out.push(format!("{rel}/"));
            walk(root, &path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(rel);
        }
    }
}

#[test]
fn every_source_file_and_module_directory_is_on_the_code_map() {
    let map = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).unwrap();
    let sections = sections(&map);
    let mut missing = Vec::new();
    for (krate, paths) in crate_sources() {
        let Some(section) = sections.iter().find(|s| s.crates.contains(&krate)) else {
            missing.push(format!(
                "crates/{krate}: no `### \\`crates/{krate}\\` — …` section"
            ));
            continue;
        };
        let named = |rel: &str| {
            section.names.contains(&(None, rel.to_string()))
                || section
                    .names
                    .contains(&(Some(krate.clone()), rel.to_string()))
        };
        for rel in paths {
            let on_map = if rel.ends_with('/') {
                section
                    .names
                    .iter()
                    .any(|(_, name)| name.starts_with(rel.as_str()))
            } else {
                named(&rel)
            };
            if !on_map {
                let file = match rel.trim_end_matches('/').rsplit_once('/') {
                    Some((_, last)) => {
                        &rel[rel.len() - last.len() - usize::from(rel.ends_with('/'))..]
                    }
                    None => rel.as_str(),
                };
                missing.push(format!(
                    "crates/{krate}/src/{rel}: add `{file}` with a one-line description to the section `crates/{krate}`{}",
                    match rel.trim_end_matches('/').rsplit_once('/') {
                        Some((dir, _)) => format!(", in the list item of `{dir}/`"),
                        None => String::new(),
                    }
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name:\n  {}",
        missing.join("\n  ")
    );
}
