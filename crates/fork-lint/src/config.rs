//! Configuration: `fork-lint.toml`, or `[package.metadata.fork-lint]` /
//! `[workspace.metadata.fork-lint]` in `Cargo.toml`; and rule selection.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Severity;
use crate::rules::{self, Rule};

/// The configuration keys. Every key is optional; an unknown key is an error.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Rules to run (codes, code prefixes, names, or `ALL`). Default: every rule.
    pub select: Option<Vec<String>>,
    /// Rules not to run, applied after `select`.
    pub ignore: Vec<String>,
    /// Severity overrides: `{ FL007 = "error", unreaped-child = "warning" }`.
    pub severity: BTreeMap<String, Severity>,
    /// Globs of paths not to lint (matched against the path relative to the
    /// configuration file's directory, and against the file name).
    pub exclude: Vec<String>,
    /// Extra fork points: paths of functions that fork like `libc::fork` (return 0
    /// in the child), e.g. `"mycrate::sys::raw_fork"`.
    pub fork_points: Vec<String>,
    /// Extra functions that are not async-signal-safe (paths or bare names).
    pub unsafe_functions: Vec<String>,
    /// Extra lock types, by type name (`"SpinLock"`): their `lock()` guards are tracked.
    pub lock_types: Vec<String>,
    /// Report suppression comments that suppress nothing (FL100).
    pub report_unused_allows: bool,
    /// Who calls a package's library: `"internal"` (the default) when the package
    /// also has binaries means only its own targets do; `"public"` means code outside
    /// the package may (its `pub` functions then have unknown callers, as in a package
    /// without binaries).
    pub library: LibraryPolicy,
    /// FL006 also reports a child the parent does not wait for when it leaves through an
    /// error (`?`, `return Err(..)`) between the fork and the wait. Off by default: only
    /// the parent's normal paths are checked (a missed zombie on an error path rather
    /// than a false alarm, after Clippy's `zombie_processes`).
    pub strict_error_paths: bool,
}

/// Who may call the library of a package that also has binaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LibraryPolicy {
    /// Only the package's own targets (its binaries, tests, examples).
    #[default]
    Internal,
    /// Other packages too.
    Public,
}

/// A configuration that could not be used: names the file and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file at fault, if any.
    pub file: Option<PathBuf>,
    /// What is wrong, naming the key or value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(
                f,
                "invalid configuration in {}: {}",
                file.display(),
                self.message
            ),
            None => write!(f, "invalid configuration: {}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The name of the stand-alone configuration file.
pub const CONFIG_FILE: &str = "fork-lint.toml";

impl Config {
    /// Parses a `fork-lint.toml` text.
    pub fn from_toml(text: &str, file: Option<&Path>) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.map(Path::to_path_buf),
            message: e.to_string().trim().to_string(),
        })?;
        config.validate(file)?;
        Ok(config)
    }

    /// Reads the `fork-lint` table of a `Cargo.toml` text, if it has one:
    /// `[package.metadata.fork-lint]` wins over `[workspace.metadata.fork-lint]`.
    pub fn from_cargo_toml(text: &str, file: Option<&Path>) -> Result<Option<Config>, ConfigError> {
        let err = |message: String| ConfigError {
            file: file.map(Path::to_path_buf),
            message,
        };
        let doc: toml::Table =
            toml::from_str(text).map_err(|e| err(e.to_string().trim().to_string()))?;
        let table = ["package", "workspace"].iter().find_map(|section| {
            doc.get(*section)?
                .get("metadata")?
                .get("fork-lint")
                .cloned()
        });
        let Some(table) = table else { return Ok(None) };
        let config: Config = table.try_into().map_err(|e: toml::de::Error| {
            err(format!("[metadata.fork-lint]: {}", e.to_string().trim()))
        })?;
        config.validate(file)?;
        Ok(Some(config))
    }

    /// Finds the configuration that applies to `dir`: the nearest `fork-lint.toml`, or
    /// `Cargo.toml` with a `fork-lint` metadata table, in `dir` or its ancestors. Returns
    /// the directory it was found in (the root `exclude` globs are relative to).
    pub fn discover(dir: &Path) -> Result<Option<(PathBuf, Config)>, ConfigError> {
        for dir in dir.ancestors() {
            let standalone = dir.join(CONFIG_FILE);
            if standalone.is_file() {
                let text = read(&standalone)?;
                return Ok(Some((
                    dir.to_path_buf(),
                    Config::from_toml(&text, Some(&standalone))?,
                )));
            }
            let manifest = dir.join("Cargo.toml");
            if manifest.is_file() {
                let text = read(&manifest)?;
                if let Some(config) = Config::from_cargo_toml(&text, Some(&manifest))? {
                    return Ok(Some((dir.to_path_buf(), config)));
                }
            }
        }
        Ok(None)
    }

    fn validate(&self, file: Option<&Path>) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError {
            file: file.map(Path::to_path_buf),
            message,
        };
        for selector in self.select.iter().flatten().chain(&self.ignore) {
            resolve_selector(selector).map_err(err)?;
        }
        for key in self.severity.keys() {
            if rules::by_code_or_name(key).is_none() {
                return Err(err(format!(
                    "`severity` names an unknown rule `{key}`: use a code (FL004) or a name (unsafe-call-after-fork); `fork-lint --list-rules` shows them"
                )));
            }
        }
        for glob in &self.exclude {
            globset::Glob::new(glob).map_err(|e| err(format!("`exclude` glob `{glob}`: {e}")))?;
        }
        Ok(())
    }

    /// The rules to run, with their effective severities.
    pub fn rule_set(&self) -> Result<RuleSet, ConfigError> {
        let err = |message: String| ConfigError {
            file: None,
            message,
        };
        let mut enabled: Vec<&'static Rule> = match &self.select {
            None => rules::ALL
                .iter()
                .copied()
                .filter(|r| r.code != "FL100")
                .collect(),
            Some(selectors) => {
                let mut v = Vec::new();
                for s in selectors {
                    v.extend(resolve_selector(s).map_err(err)?);
                }
                v
            }
        };
        for s in &self.ignore {
            let ignored = resolve_selector(s).map_err(err)?;
            enabled.retain(|r| !ignored.iter().any(|i| std::ptr::eq(*i, *r)));
        }
        let unused = rules::by_code_or_name("FL100").expect("FL100 is registered");
        let ignores_unused = self
            .ignore
            .iter()
            .any(|s| resolve_selector(s).is_ok_and(|v| v.iter().any(|r| std::ptr::eq(*r, unused))));
        if self.report_unused_allows
            && !ignores_unused
            && !enabled.iter().any(|r| std::ptr::eq(*r, unused))
        {
            enabled.push(unused);
        }
        enabled.sort_by_key(|r| r.code);
        enabled.dedup_by(|a, b| std::ptr::eq(*a, *b));
        let mut rules = Vec::with_capacity(enabled.len());
        for rule in enabled {
            let severity = self
                .severity
                .iter()
                .find(|(k, _)| rules::by_code_or_name(k).is_some_and(|r| std::ptr::eq(r, rule)))
                .map_or(rule.default_severity, |(_, s)| *s);
            rules.push((rule, severity));
        }
        Ok(RuleSet { rules })
    }

    /// The `exclude` globs, compiled.
    pub fn exclude_set(&self) -> Result<globset::GlobSet, ConfigError> {
        let mut builder = globset::GlobSetBuilder::new();
        for glob in &self.exclude {
            let g = globset::GlobBuilder::new(glob)
                .literal_separator(false)
                .build()
                .map_err(|e| ConfigError {
                    file: None,
                    message: format!("`exclude` glob `{glob}`: {e}"),
                })?;
            builder.add(g);
        }
        builder.build().map_err(|e| ConfigError {
            file: None,
            message: e.to_string(),
        })
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: Some(path.to_path_buf()),
        message: format!("cannot read it: {e}"),
    })
}

/// The rules a selector names: `ALL`, a code, a code prefix, or a name.
pub fn resolve_selector(selector: &str) -> Result<Vec<&'static Rule>, String> {
    let s = selector.trim();
    if s.eq_ignore_ascii_case("ALL") {
        return Ok(rules::ALL.to_vec());
    }
    if let Some(rule) = rules::by_code_or_name(s) {
        return Ok(vec![rule]);
    }
    let upper = s.to_ascii_uppercase();
    let matched: Vec<_> = if upper.starts_with("FL") {
        rules::ALL
            .iter()
            .copied()
            .filter(|r| r.code.starts_with(&upper))
            .collect()
    } else {
        Vec::new()
    };
    if matched.is_empty() {
        Err(format!(
            "unknown rule selector `{selector}`: expected a code (FL004), a code prefix (FL00), a name (unsafe-call-after-fork) or ALL; `fork-lint --list-rules` shows them"
        ))
    } else {
        Ok(matched)
    }
}

/// The enabled rules and their severities.
/// The enabled rules with their severities.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<(&'static Rule, Severity)>,
}

impl RuleSet {
    /// Every rule at its default severity.
    pub fn all() -> RuleSet {
        Config::default()
            .rule_set()
            .expect("the default configuration is valid")
    }

    /// The enabled rules, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static Rule, Severity)> + '_ {
        self.rules.iter().copied()
    }

    /// The severity of `code`, or `None` if it is not enabled.
    pub fn severity(&self, code: &str) -> Option<Severity> {
        self.rules
            .iter()
            .find(|(r, _)| r.code == code)
            .map(|(_, s)| *s)
    }

    /// Whether `code` is enabled.
    pub fn is_enabled(&self, code: &str) -> bool {
        self.severity(code).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml("selct = [\"FL001\"]", None).unwrap_err();
        assert!(e.message.contains("selct"), "{e}");
    }

    #[test]
    fn unknown_code_is_named() {
        let e = Config::from_toml("ignore = [\"FL999\"]", None).unwrap_err();
        assert!(e.message.contains("FL999"), "{e}");
    }

    #[test]
    fn cargo_metadata_table_is_read() {
        let text =
            "[package]\nname = \"x\"\n[package.metadata.fork-lint]\nignore = [\"parse-error\"]\n";
        let c = Config::from_cargo_toml(text, None).unwrap().unwrap();
        assert_eq!(c.ignore, vec!["parse-error".to_string()]);
        assert!(!c.rule_set().unwrap().is_enabled("FL000"));
    }

    #[test]
    fn unused_allow_rule_needs_opt_in() {
        assert!(!RuleSet::all().is_enabled("FL100"));
        let c = Config {
            report_unused_allows: true,
            ..Config::default()
        };
        assert!(c.rule_set().unwrap().is_enabled("FL100"));
    }

    #[test]
    fn strict_error_paths_is_read_from_both_places() {
        assert!(!Config::default().strict_error_paths);
        let c = Config::from_toml("strict-error-paths = true", None).unwrap();
        assert!(c.strict_error_paths);
        let text =
            "[package]\nname = \"x\"\n[package.metadata.fork-lint]\nstrict-error-paths = true\n";
        let c = Config::from_cargo_toml(text, None).unwrap().unwrap();
        assert!(c.strict_error_paths);
    }
}
