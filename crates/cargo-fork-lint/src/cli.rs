//! The command lines of both binaries: `fork-lint PATH…` and `cargo fork-lint`.
//! Both share [`CommonArgs`]; only how the files are found differs.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

const AFTER_HELP: &str = "\
Exit status: 0 no findings; 1 findings (including files that fail to parse, FL000);
2 usage, configuration or I/O error (2 wins over 1).

Configuration: the nearest fork-lint.toml, or a [package.metadata.fork-lint] /
[workspace.metadata.fork-lint] table in Cargo.toml; the command line wins.
Suppress a finding with `// fork-lint: allow(FL004) -- reason` on its line or the line
above, or `// fork-lint: allow-file(FL004)` anywhere in the file.";

/// `fork-lint PATH…`: lints files and directories (what pre-commit calls).
#[derive(Debug, Parser)]
#[command(
    name = "fork-lint",
    version,
    args_override_self = true,
    about = "Finds fork-safety hazards in Rust source: locks held across fork, children that run the parent's code, non-serializable spawn arguments, …",
    after_help = AFTER_HELP
)]
pub struct FilesCli {
    /// Files and directories to lint [default: .]. Directories contribute their `.rs`
    /// files, skipping `target/`, hidden directories and `exclude`d paths; a file named
    /// explicitly is linted whatever its extension.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// `cargo fork-lint`: lints the package or workspace in the current directory.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-fork-lint",
    bin_name = "cargo fork-lint",
    version,
    args_override_self = true,
    about = "Finds fork-safety hazards in the sources of every target (src/, src/bin/, examples/, tests/, benches/, build.rs) of a Cargo package or workspace",
    after_help = AFTER_HELP
)]
pub struct CargoCli {
    #[command(flatten)]
    pub selection: PackageSelection,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Which packages `cargo fork-lint` lints.
#[derive(Debug, Args)]
pub struct PackageSelection {
    /// Path to the Cargo.toml of the package or workspace to lint [default: the one
    /// cargo finds from the current directory].
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Lint only this workspace member (`name` or `name@version`; repeatable).
    /// Default: the package in the current directory, or the workspace's default
    /// members at a virtual manifest.
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,

    /// Lint every member of the workspace.
    #[arg(long, alias = "all", conflicts_with = "packages")]
    pub workspace: bool,
}

/// Flags both binaries take.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, value_name = "FORMAT")]
    pub format: Format,

    /// When to color the output: `auto` colors only a terminal and honours `NO_COLOR`;
    /// `always` colors even with `NO_COLOR` set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Rules to run, replacing the configuration's `select`: codes (FL004), code
    /// prefixes (FL00), names (unsafe-call-after-fork) or ALL; comma-separated or
    /// repeated.
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub select: Option<Vec<String>>,

    /// Rules not to run, replacing the configuration's `ignore`; same forms as
    /// `--select`, applied after it.
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub ignore: Option<Vec<String>>,

    /// Print the documentation of a rule (code or name) as Markdown, and exit.
    #[arg(long, value_name = "CODE", conflicts_with = "list_rules")]
    pub explain: Option<String>,

    /// List every rule: code, name, default severity and summary (JSON with
    /// `--format json`), and exit.
    #[arg(long)]
    pub list_rules: bool,

    /// Print the number of findings per rule instead of the findings themselves
    /// (a JSON array with `--format json`). The exit status is the same as without it.
    #[arg(long)]
    pub statistics: bool,

    /// Exit with status 0 even when there are findings (errors of usage,
    /// configuration or I/O still exit with 2).
    #[arg(long)]
    pub exit_zero: bool,

    /// Report suppression comments that suppress nothing (FL100), as
    /// `report-unused-allows = true` in the configuration does.
    #[arg(long)]
    pub report_unused_allows: bool,

    /// Use this configuration file (a fork-lint.toml, or a Cargo.toml with a
    /// `fork-lint` metadata table) instead of searching for one. `exclude` globs are
    /// relative to its directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Parse every file named, not only those the text prefilter finds a fork point
    /// or a process start in: reports syntax errors (FL000) in files that would
    /// otherwise be skipped. Slower.
    #[arg(long)]
    pub no_prefilter: bool,

    /// Number of files analysed in parallel [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Print only the findings: no summary line, no "no findings" message.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Apply the safe fixes to the files, then lint again and report what remains.
    /// Never writes a file that changed since it was read.
    #[arg(long)]
    pub fix: bool,

    /// Also apply the unsafe fixes (those that may change what the code does) with
    /// `--fix` or `--diff`.
    #[arg(long)]
    pub unsafe_fixes: bool,

    /// Print the fixes as a unified diff and write nothing; exit with 1 if anything
    /// would change.
    #[arg(long)]
    pub diff: bool,

    /// Print cargo's JSON messages (`compiler-message` per finding, then
    /// `build-finished`), what rust-analyzer's `check.overrideCommand` reads; also
    /// `short` (= `--format concise`) and `human`. Overrides `--format`.
    #[arg(long, value_enum, value_name = "FMT")]
    pub message_format: Option<MessageFormat>,

    /// With `--message-format json`: run this command first (split at whitespace; e.g.
    /// "cargo clippy --workspace --all-targets --message-format=json"), pass its JSON
    /// messages through, then add fork-lint's and one final `build-finished`: rustc's
    /// and Clippy's diagnostics beside fork-lint's in one editor check.
    #[arg(long, value_name = "COMMAND", requires = "message_format")]
    pub merge_with: Option<String>,
}

/// `--message-format`: cargo's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// The `human` format.
    Human,
    /// The `concise` format.
    Short,
    /// cargo's JSON messages, with `rendered` as plain text.
    Json,
    /// cargo's JSON messages, with `rendered` colored (ANSI).
    #[value(name = "json-diagnostic-rendered-ansi")]
    JsonRenderedAnsi,
    /// cargo's JSON messages, with `rendered` in the short form.
    #[value(name = "json-diagnostic-short")]
    JsonShort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style diagnostics with source snippets, labels and help.
    Human,
    /// One line per finding: `path:line:col: FL00N message`.
    Concise,
    /// A JSON array, one object per finding.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…::message`): annotations.
    Github,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to color a stream that is (or is not) a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}
