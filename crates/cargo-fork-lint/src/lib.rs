//! The command line of fork-lint: `fork-lint PATH…` and `cargo fork-lint`, one code
//! base. Parses flags, finds the files and the configuration, runs the analysis library
//! and prints the report in the chosen format. `docs/cli.md` is the user's reference.

pub mod cli;
pub mod output;
pub mod rule_docs;

mod cargo_project;
mod diff;
mod merge;
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

use cli::{CargoCli, CommonArgs, FilesCli, Format, MessageFormat, PackageSelection};
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
        Err(mut e) => {
            if binary == Binary::Files {
                cargo_flag_tip(&mut e);
            }
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
    match execute(binary, &common, target, &ui) {
        Ok(status) => status,
        Err(message) => {
            ui.message(false, &message);
            EXIT_ERROR
        }
    }
}

/// `fork-lint -p NAME` (and `--workspace`, `--manifest-path`): those flags select
/// packages, which `cargo fork-lint` does; clap's own tip ("to pass '-p' as a value,
/// use '-- -p'") would lead nowhere.
fn cargo_flag_tip(e: &mut clap::Error) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return;
    };
    let flag = arg.split('=').next().unwrap_or(arg).to_string();
    let is_cargo_flag = flag == "-p"
        || (flag.starts_with("-p") && !flag.starts_with("--"))
        || matches!(
            flag.as_str(),
            "--package" | "--workspace" | "--all" | "--manifest-path"
        );
    if !is_cargo_flag {
        return;
    }
    let tip = format!(
        "`{flag}` selects Cargo packages, which `cargo fork-lint` does: run `cargo fork-lint {flag}{}`; `fork-lint` takes paths (`fork-lint path/to/package`)",
        match flag.as_str() {
            "--workspace" | "--all" => "",
            "--manifest-path" => " PATH/Cargo.toml",
            _ => " NAME",
        }
    );
    e.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![tip.into()]),
    );
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

    /// A line on stderr that is neither an error nor a warning.
    fn note(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "{text}");
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

/// What goes to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// One of `--format`'s.
    Format(Format),
    /// cargo's JSON messages (`--message-format json…`).
    Cargo(output::cargo::Rendered),
}

impl Output {
    fn of(common: &CommonArgs) -> Output {
        use output::cargo::Rendered;
        match common.message_format {
            None => Output::Format(common.format),
            Some(MessageFormat::Human) => Output::Format(Format::Human),
            Some(MessageFormat::Short) => Output::Format(Format::Concise),
            Some(MessageFormat::Json) => Output::Cargo(Rendered::Plain),
            Some(MessageFormat::JsonRenderedAnsi) => Output::Cargo(Rendered::Ansi),
            Some(MessageFormat::JsonShort) => Output::Cargo(Rendered::Short),
        }
    }
}

/// Runs what the flags ask for; `Err` is a usage, configuration or I/O error message.
fn execute(binary: Binary, common: &CommonArgs, target: Target, ui: &Ui) -> Result<u8, String> {
    let explain = explain_command(binary);
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
            format!("--explain: unknown rule `{code}`: use a code (FL005) or a name (child-falls-through); `{explain_list}` shows them", explain_list = explain.replace("--explain", "--list-rules"))
        })?;
        write_stdout(rule_docs::explain(rule).as_bytes())?;
        return Ok(EXIT_CLEAN);
    }
    let out = Output::of(common);
    if common.statistics
        && matches!(
            out,
            Output::Format(Format::Sarif | Format::Github) | Output::Cargo(_)
        )
    {
        return Err(
            "--statistics prints counts as text or JSON: use it with --format human, concise or json"
                .to_string(),
        );
    }
    if common.merge_with.is_some() && !matches!(out, Output::Cargo(_)) {
        return Err(
            "--merge-with passes cargo's JSON messages through: use it with --message-format json"
                .to_string(),
        );
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    // The merged command's messages come first, as it prints them.
    let merged = match &common.merge_with {
        Some(command) => Some(merge::run(command, &cwd)?),
        None => None,
    };
    let Prepared {
        files,
        mut errors,
        options,
        project,
    } = prepare(common, target, &cwd)?;

    if common.diff {
        let run = fork_lint::fix::fix_files(&files, &options, common.unsafe_fixes, false);
        errors.extend(run.report.errors);
        errors.extend(run.errors);
        sort_errors(&mut errors);
        write_stdout(diff::render(&run.files).as_bytes())?;
        ui.input_errors(&errors);
        if !common.quiet {
            ui.note(&diff::summary(&run.files));
        }
        return Ok(if errors.iter().any(|e| !e.warning) {
            EXIT_ERROR
        } else if run.files.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_FINDINGS
        });
    }

    let (report, fixed) = if common.fix {
        let run = fork_lint::fix::fix_files(&files, &options, common.unsafe_fixes, true);
        errors.extend(run.errors.iter().cloned());
        let fixed = (run.fixes() > 0).then(|| (run.fixes(), run.files.len()));
        (run.report, fixed)
    } else {
        (fork_lint::lint(&files, &options), None)
    };
    errors.extend(report.errors);
    sort_errors(&mut errors);
    let diagnostics = report.diagnostics;
    // A file that could not be read is not "checked"; a path that could not be walked
    // (missing, unreadable directory) was never a file, but it failed all the same.
    let mut failed: Vec<&str> = errors
        .iter()
        .filter(|e| !e.warning)
        .map(|e| e.file.as_str())
        .collect();
    failed.sort_unstable();
    failed.dedup();
    let failed_files = files
        .iter()
        .filter(|f| failed.binary_search(&f.name.as_str()).is_ok())
        .count();
    let summary = output::human::Summary {
        checked: files.len() - failed_files,
        failed: failed.len(),
        fixed,
    };

    let failed_run = errors.iter().any(|e| !e.warning);
    let stdout = match out {
        Output::Cargo(rendered) => {
            let packages = cargo_packages(&diagnostics, project.as_ref());
            let mut text =
                output::cargo::render_messages(&diagnostics, &packages, rendered, &explain);
            let ours = !failed_run
                && !diagnostics
                    .iter()
                    .any(|d| d.severity == fork_lint::Severity::Error);
            text.push_str(&output::cargo::build_finished(
                ours && merged.as_ref().is_none_or(|m| m.success),
            ));
            text.into_bytes()
        }
        Output::Format(format) => render(
            common,
            format,
            ui,
            &diagnostics,
            &errors,
            summary,
            &cwd,
            &explain,
        )?,
    };
    write_stdout(&stdout)?;
    ui.input_errors(&errors);
    if files.is_empty() && errors.is_empty() && !common.quiet {
        ui.message(
            true,
            "no Rust files to lint (directories contribute their `.rs` files; `target/`, hidden and excluded directories are skipped)",
        );
    }

    Ok(if failed_run {
        EXIT_ERROR
    } else if (!diagnostics.is_empty() || merged.as_ref().is_some_and(|m| !m.success))
        && !common.exit_zero
    {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

fn sort_errors(errors: &mut [InputError]) {
    errors.sort_by(|a, b| a.file.cmp(&b.file).then(a.message.cmp(&b.message)));
}

/// The packages cargo's messages name: from `cargo metadata` (already run by
/// `cargo fork-lint`; for `fork-lint PATH…`, once per workspace that holds a finding).
fn cargo_packages(
    diagnostics: &[Diagnostic],
    project: Option<&cargo_project::Project>,
) -> Vec<output::cargo::PackageInfo> {
    if let Some(p) = project {
        return output::cargo::PackageInfo::from_metadata(&p.metadata);
    }
    let mut packages: Vec<output::cargo::PackageInfo> = Vec::new();
    let mut tried: Vec<PathBuf> = Vec::new();
    for d in diagnostics {
        let Ok(file) = std::fs::canonicalize(&d.primary.file.path) else {
            continue;
        };
        let Some(manifest) = file
            .ancestors()
            .skip(1)
            .map(|dir| dir.join("Cargo.toml"))
            .find(|m| m.is_file())
        else {
            continue;
        };
        let known = packages.iter().any(|p| p.manifest_path == manifest);
        if known || tried.contains(&manifest) {
            continue;
        }
        tried.push(manifest.clone());
        if let Ok(metadata) = cargo_metadata::MetadataCommand::new()
            .manifest_path(&manifest)
            .no_deps()
            .exec()
        {
            packages.extend(output::cargo::PackageInfo::from_metadata(&metadata));
        }
    }
    packages
}

/// The command that prints a rule's doc, as this run can give it: through `cargo run`
/// from a checkout (before any install), by name once installed on `PATH`, else by the
/// full path of this executable (e.g. the copy pre-commit built for its hook).
fn explain_command(binary: Binary) -> String {
    let exe = std::env::current_exe().ok();
    // `cargo run`/`cargo test` set CARGO_PKG_NAME; an installed copy (in a `bin`
    // directory) run from such a process only inherits it.
    let installed = exe
        .as_ref()
        .and_then(|e| e.parent())
        .is_some_and(|d| d.ends_with("bin"));
    // A build in a checkout's target directory (`target/debug/`, beside `deps/` and
    // `build/`), run by cargo or by hand from inside that checkout: `cargo run` works
    // there (from another project it would not).
    let in_target_dir = exe.as_ref().and_then(|e| e.parent()).is_some_and(|d| {
        let checkout = d.parent().and_then(Path::parent);
        let here = std::env::current_dir().ok();
        d.join("deps").is_dir()
            && d.join("build").is_dir()
            && checkout.zip(here).is_some_and(|(c, h)| h.starts_with(c))
    });
    let by_cargo = std::env::var("CARGO_PKG_NAME").is_ok_and(|n| n == env!("CARGO_PKG_NAME"));
    if !installed && (by_cargo || in_target_dir) {
        let bin = match binary {
            Binary::Files => "fork-lint",
            Binary::Cargo => "cargo-fork-lint",
        };
        return format!("cargo run -p cargo-fork-lint --bin {bin} -- --explain");
    }
    let on_path = |name: &str| {
        let exe = exe.as_ref().and_then(|e| std::fs::canonicalize(e).ok());
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path)
                .any(|dir| std::fs::canonicalize(dir.join(name)).is_ok_and(|p| Some(p) == exe))
        })
    };
    match binary {
        Binary::Files if on_path("fork-lint") => "fork-lint --explain".to_string(),
        Binary::Cargo if on_path("cargo-fork-lint") => "cargo fork-lint --explain".to_string(),
        _ => match &exe {
            Some(exe) => format!("{} --explain", exe.display()),
            None => "fork-lint --explain".to_string(),
        },
    }
}

/// What a run lints, and how.
struct Prepared {
    files: Vec<InputFile>,
    /// Paths that could not be read.
    errors: Vec<InputError>,
    /// What the configuration and the command line ask for.
    options: LintOptions,
    /// `cargo fork-lint`'s packages.
    project: Option<cargo_project::Project>,
}

/// The files to lint (and the paths that could not be read), with the options the
/// configuration and the command line give.
fn prepare(common: &CommonArgs, target: Target, cwd: &Path) -> Result<Prepared, String> {
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

    let (files, errors) = match (target, &project) {
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
    Ok(Prepared {
        files,
        errors,
        options,
        project,
    })
}

/// What goes to stdout, in the chosen format.
#[allow(clippy::too_many_arguments)]
fn render(
    common: &CommonArgs,
    format: Format,
    ui: &Ui,
    diagnostics: &[Diagnostic],
    errors: &[InputError],
    summary: output::human::Summary,
    cwd: &Path,
    explain: &str,
) -> Result<Vec<u8>, String> {
    let locator = Locator::discover(cwd);
    Ok(match format {
        Format::Human => {
            let mut buf = Ui::buffer(ui.stdout_color);
            let findings = if common.statistics {
                buf.write_all(output::statistics_table(diagnostics).as_bytes())
            } else {
                output::human::render(diagnostics, explain, &mut buf)
            };
            findings
                .and_then(|()| match common.quiet {
                    true => Ok(()),
                    false => output::human::render_summary(diagnostics, summary, &mut buf),
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
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let what = match e.kind() {
                io::ErrorKind::NotFound => "does not exist: check the path, or leave out --config to use the nearest fork-lint.toml or Cargo.toml table".to_string(),
                io::ErrorKind::PermissionDenied => "cannot read it: permission denied; give your user read permission (`chmod u+r`)".to_string(),
                _ => format!("cannot read it: {e}; check the file"),
            };
            format!("--config {}: {what}", path.display())
        })?;
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
