//! The command line of fork-lint: `fork-lint PATH…` and `cargo fork-lint`, one code
//! base. Parses flags, finds the files and the configuration, runs the analysis library
//! and prints the report in the chosen format. `docs/cli.md` is the user's reference.

pub mod cli;
pub mod output;
pub mod rule_docs;

mod cargo_project;
mod panic_guard;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use codespan_reporting::term::termcolor::Buffer;
use fork_lint::config;
use fork_lint::discover::{self, Exclude};
use fork_lint::{Config, Diagnostic, InputError, InputFile, LintOptions, rules};

use cli::{CargoCli, CommonArgs, FilesCli, Format, PackageSelection};
use output::Locator;

/// Which binary is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `fork-lint PATH…`
    Files,
    /// `cargo-fork-lint`, usually run by cargo as `cargo-fork-lint fork-lint ARGS…`.
    Cargo,
}

/// Exit statuses.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// The whole program: nothing escapes it, not even a panic.
pub fn main(binary: Binary) -> ExitCode {
    panic_guard::install();
    let args: Vec<OsString> = std::env::args_os().collect();
    match catch_unwind(AssertUnwindSafe(|| run(binary, args))) {
        Ok(status) => ExitCode::from(status),
        Err(payload) => {
            let _ = writeln!(
                io::stderr(),
                "error: internal error: {}\nThis is a bug in fork-lint; please report it at {}/issues with the command line and the files it ran on.",
                panic_guard::describe(&*payload),
                env!("CARGO_PKG_REPOSITORY")
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Where the files come from.
enum Target {
    Paths(Vec<PathBuf>),
    Cargo(PackageSelection),
}

/// Runs one command line; returns the exit status.
pub fn run(binary: Binary, mut args: Vec<OsString>) -> u8 {
    // Lets the tests prove that a panic anywhere becomes an "internal error" report.
    if std::env::var_os("FORK_LINT_TEST_PANIC").is_some() {
        panic!("FORK_LINT_TEST_PANIC is set");
    }
    let parsed = match binary {
        Binary::Files => FilesCli::try_parse_from(args).map(|c| (c.common, Target::Paths(c.paths))),
        Binary::Cargo => {
            // cargo runs `cargo-fork-lint fork-lint ARGS…` for `cargo fork-lint ARGS…`.
            if args.get(1).is_some_and(|a| a == "fork-lint") {
                args.remove(1);
            }
            CargoCli::try_parse_from(args).map(|c| (c.common, Target::Cargo(c.selection)))
        }
    };
    let (common, target) = match parsed {
        Ok(p) => p,
        Err(e) => {
            // Help and version go to stdout with status 0, usage errors to stderr with 2.
            let _ = e.print();
            return if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
        }
    };
    let ui = Ui::new(&common);
    match execute(&common, target, &ui) {
        Ok(status) => status,
        Err(message) => {
            ui.message(false, &message);
            EXIT_ERROR
        }
    }
}

/// Prints on stderr, colored when stderr is a terminal and colors are on; knows whether
/// stdout gets colors.
struct Ui {
    stderr_color: bool,
    stdout_color: bool,
}

impl Ui {
    fn new(common: &CommonArgs) -> Ui {
        Ui {
            stderr_color: common.color.enabled(io::stderr().is_terminal()),
            stdout_color: common.color.enabled(io::stdout().is_terminal()),
        }
    }

    fn buffer(color: bool) -> Buffer {
        if color {
            Buffer::ansi()
        } else {
            Buffer::no_color()
        }
    }

    /// A message about no file in particular: `error: …` or `warning: …`.
    fn message(&self, warning: bool, message: &str) {
        self.input_errors(&[InputError {
            file: String::new(),
            message: message.to_string(),
            warning,
        }]);
    }

    fn input_errors(&self, errors: &[InputError]) {
        if errors.is_empty() {
            return;
        }
        let mut buf = Ui::buffer(self.stderr_color);
        for e in errors {
            let _ = output::human::render_input_error(e, &mut buf);
        }
        let _ = io::stderr().lock().write_all(buf.as_slice());
    }
}

/// Writes to stdout; a closed pipe (`fork-lint | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write the report to standard output: {e}")),
    }
}

/// Runs what the flags ask for; `Err` is a usage, configuration or I/O error message.
fn execute(common: &CommonArgs, target: Target, ui: &Ui) -> Result<u8, String> {
    if common.list_rules {
        let text = match common.format {
            Format::Json => rule_docs::list_json(),
            _ => rule_docs::list(),
        };
        write_stdout(text.as_bytes())?;
        return Ok(EXIT_CLEAN);
    }
    if let Some(code) = &common.explain {
        let rule = rules::by_code_or_name(code).ok_or_else(|| {
            format!("--explain: unknown rule `{code}`: use a code (FL005) or a name (child-falls-through); `fork-lint --list-rules` shows them")
        })?;
        write_stdout(rule_docs::explain(rule).as_bytes())?;
        return Ok(EXIT_CLEAN);
    }
    if common.statistics && matches!(common.format, Format::Sarif | Format::Github) {
        return Err(
            "--statistics prints counts as text or JSON: use it with --format human, concise or json"
                .to_string(),
        );
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let (files, mut errors, options) = prepare(common, target, &cwd)?;
    let report = fork_lint::lint(&files, &options);
    errors.extend(report.errors);
    errors.sort_by(|a, b| a.file.cmp(&b.file).then(a.message.cmp(&b.message)));
    let diagnostics = report.diagnostics;

    let stdout = render(common, ui, &diagnostics, &errors, files.len(), &cwd)?;
    write_stdout(&stdout)?;
    ui.input_errors(&errors);
    if files.is_empty() && errors.is_empty() && !common.quiet {
        ui.message(
            true,
            "no Rust files to lint (directories contribute their `.rs` files; `target/`, hidden and excluded directories are skipped)",
        );
    }

    Ok(if errors.iter().any(|e| !e.warning) {
        EXIT_ERROR
    } else if !diagnostics.is_empty() && !common.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// The files to lint (and the paths that could not be read), with the options the
/// configuration and the command line give.
fn prepare(
    common: &CommonArgs,
    target: Target,
    cwd: &Path,
) -> Result<(Vec<InputFile>, Vec<InputError>, LintOptions), String> {
    let project = match &target {
        Target::Paths(_) => None,
        Target::Cargo(selection) => Some(cargo_project::resolve(selection, cwd)?),
    };
    let config_start = project.as_ref().map_or(cwd, |p| p.config_start.as_path());
    let (config_root, mut config) = load_config(common, cwd, config_start)?;
    apply_command_line(common, &mut config)?;
    let exclude = Exclude {
        root: config_root,
        globs: config.exclude_set().map_err(|e| e.to_string())?,
    };

    let (files, errors) = match (target, project) {
        (Target::Cargo(_), Some(project)) => {
            let (files, errors) = discover::collect_files(&project.paths, &exclude);
            let files = files
                .into_iter()
                .filter(|f| project.owns(&f.path))
                .map(|f| InputFile {
                    name: project.display(&f.path),
                    path: f.path,
                })
                .collect();
            let errors = errors
                .into_iter()
                .map(|e| InputError {
                    file: project.display(Path::new(&e.file)),
                    ..e
                })
                .collect();
            (files, errors)
        }
        (Target::Paths(paths), _) => {
            let paths = if paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                paths
            };
            discover::collect_files(&paths, &exclude)
        }
        (Target::Cargo(_), None) => unreachable!("a cargo run has a project"),
    };

    let mut options = LintOptions::from_config(&config).map_err(|e| e.to_string())?;
    options.prefilter = !common.no_prefilter;
    options.jobs = common.jobs.unwrap_or(0);
    Ok((files, errors, options))
}

/// What goes to stdout, in the chosen format.
fn render(
    common: &CommonArgs,
    ui: &Ui,
    diagnostics: &[Diagnostic],
    errors: &[InputError],
    files_checked: usize,
    cwd: &Path,
) -> Result<Vec<u8>, String> {
    let locator = Locator::discover(cwd);
    Ok(match common.format {
        Format::Human => {
            let mut buf = Ui::buffer(ui.stdout_color);
            let findings = if common.statistics {
                buf.write_all(output::statistics_table(diagnostics).as_bytes())
            } else {
                output::human::render(diagnostics, &mut buf)
            };
            findings
                .and_then(|()| match common.quiet {
                    true => Ok(()),
                    false => output::human::render_summary(diagnostics, files_checked, &mut buf),
                })
                .map_err(|e| format!("cannot render the report: {e}"))?;
            buf.into_inner()
        }
        Format::Concise if common.statistics => output::statistics_table(diagnostics).into_bytes(),
        Format::Concise => output::concise::render(diagnostics).into_bytes(),
        Format::Json if common.statistics => output::statistics_json(diagnostics).into_bytes(),
        Format::Json => output::json::render(diagnostics).into_bytes(),
        Format::Sarif => output::sarif::render(diagnostics, errors, &locator).into_bytes(),
        Format::Github => output::github::render(diagnostics, errors, &locator).into_bytes(),
    })
}

/// The configuration and the directory its `exclude` globs are relative to: the file
/// given with `--config`, else the nearest one found from `start` upwards, else the
/// defaults (relative to the current directory).
fn load_config(common: &CommonArgs, cwd: &Path, start: &Path) -> Result<(PathBuf, Config), String> {
    if let Some(path) = &common.config {
        let path = cwd.join(path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("--config {}: cannot read it: {e}", path.display()))?;
        let root = path
            .parent()
            .map_or_else(|| cwd.to_path_buf(), Path::to_path_buf);
        let is_manifest = path.file_name().is_some_and(|n| n == "Cargo.toml");
        let config = if is_manifest {
            Config::from_cargo_toml(&text, Some(&path))
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "--config {}: has no [package.metadata.fork-lint] or [workspace.metadata.fork-lint] table",
                        path.display()
                    )
                })?
        } else {
            Config::from_toml(&text, Some(&path)).map_err(|e| e.to_string())?
        };
        return Ok((root, config));
    }
    match Config::discover(start).map_err(|e| e.to_string())? {
        Some((dir, config)) => Ok((dir, config)),
        None => Ok((cwd.to_path_buf(), Config::default())),
    }
}

/// The command line wins over the configuration: `--select`/`--ignore` replace its
/// lists. Unknown selectors are named with the flag they came from.
fn apply_command_line(common: &CommonArgs, config: &mut Config) -> Result<(), String> {
    for (flag, list) in [("--select", &common.select), ("--ignore", &common.ignore)] {
        for selector in list.iter().flatten() {
            config::resolve_selector(selector).map_err(|e| format!("{flag}: {e}"))?;
        }
    }
    if let Some(select) = &common.select {
        config.select = Some(select.clone());
    }
    if let Some(ignore) = &common.ignore {
        config.ignore = ignore.clone();
    }
    if common.report_unused_allows {
        config.report_unused_allows = true;
    }
    Ok(())
}
