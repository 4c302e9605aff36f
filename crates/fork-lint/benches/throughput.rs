//! Throughput of the linter on a corpus of real crates: the sources of every
//! crates.io package the workspace depends on (from the cargo registry, after
//! `cargo fetch`), copied into `target/fork-lint-bench/registry/`. When there are too
//! few of them (under 500,000 lines), a synthetic workspace of about 1.5 million lines
//! is generated instead.
//!
//! ```text
//! cargo bench -p fork-lint --bench throughput                 # the numbers in docs/performance.md
//! cargo bench -p fork-lint --bench throughput -- --scale      # + linear-scaling cases
//! cargo bench -p fork-lint --bench throughput -- --scale-only # only those
//! cargo bench -p fork-lint --bench throughput -- --verify     # + prefilter on vs off, same findings?
//! cargo bench -p fork-lint --bench throughput -- --runs 5 --corpus DIR --synthetic --jobs 2
//! cargo bench -p fork-lint --bench throughput -- --cli target/release/fork-lint \
//!     --ast-grep PATH --semgrep PATH   # also time these on the same tree
//! ```
//!
//! Every measurement runs in a child process of its own (this binary, re-executed),
//! so that its peak RSS (`VmHWM`) is its own; each is repeated `--runs` times (default
//! 3) and the median wall time is reported, with the CPU time (user + system) of the
//! same run — on a shared machine, CPU time is the steadier number. The rows:
//!
//! * `read only`: read every file and count its lines, in parallel — the floor;
//! * `fork-lint (library)`: `fork_lint::lint` with default options (every rule,
//!   prefilter on), on the file list the CLI's directory walk finds (walk timed apart);
//! * `syn parse-all`: `syn::parse_file` of every file, in parallel on the same number
//!   of threads (span-locations on, as in the linter);
//! * `fork-lint (CLI)`: the release binary end to end (walk, lint, output), when one is
//!   found (`--cli`, or `target/release/fork-lint` next to this bench);
//! * `ast-grep` / `semgrep`: a one-rule scan for fork calls, when the tools are found
//!   (`--ast-grep`/`--semgrep`, or `ast-grep`/`sg`/`semgrep` on `PATH`), peak RSS from
//!   `wait4` (semgrep's includes its `semgrep-core` child).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fork_lint::LintOptions;
use fork_lint::discover::{Exclude, collect_files};
use rayon::prelude::*;

const MIN_REGISTRY_LINES: u64 = 500_000;

/// The allocator of the `fork-lint` binaries, so the library row measures what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    let opts = Options::parse(&args);
    let bench_dir = target_dir().join("fork-lint-bench");
    fs::create_dir_all(&bench_dir).expect("create target/fork-lint-bench");
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if opts.scale_only {
        let mut table = Table::default();
        table.machine(jobs);
        scale(&opts, &bench_dir, jobs, &mut table);
        println!("{}", table.render());
        return;
    }

    let (corpus, what) = match &opts.corpus {
        Some(dir) => (dir.clone(), format!("the tree at {}", dir.display())),
        None if opts.synthetic => (synthetic_workspace(&bench_dir), synthetic_what()),
        None => match registry_corpus(&bench_dir) {
            Some((dir, packages, lines)) if lines >= MIN_REGISTRY_LINES => (
                dir,
                format!(
                    "the sources of the {packages} crates.io packages the workspace depends on"
                ),
            ),
            found => {
                if let Some((_, packages, lines)) = found {
                    eprintln!(
                        "only {lines} lines in {packages} registry packages: using a synthetic workspace"
                    );
                }
                (synthetic_workspace(&bench_dir), synthetic_what())
            }
        },
    };
    let corpus = corpus.canonicalize().unwrap_or(corpus);
    eprintln!("corpus: {} ({what})", corpus.display());
    let mut table = Table::default();
    table.machine(jobs);

    // Warm the page cache: every row reads the same files.
    run_child("read", &corpus, jobs, &[]);
    let read = measure(&opts, "read", &corpus, jobs, &[]);
    let lint = measure(&opts, "lint", &corpus, jobs, &[]);
    let parse = measure(&opts, "parse", &corpus, jobs, &[]);
    table.corpus(&what, &corpus, &lint);
    table.row("read only (floor)", &read, &lint);
    table.row("fork-lint (library, all rules)", &lint, &lint);
    table.row("syn::parse_file every file", &parse, &lint);

    if opts.external {
        if let Some(cli) = opts.cli.clone().or_else(default_cli) {
            let mut cmd = Command::new(&cli);
            cmd.args(["--format", "concise", "--color", "never"])
                .arg(&corpus)
                .current_dir(&corpus);
            let r = measure_command(&opts, cmd, Count::Lines);
            table.row("fork-lint (CLI binary, end to end)", &r, &lint);
        } else {
            table.note("fork-lint CLI: not measured (build it with `cargo build --release -p cargo-fork-lint`, or pass --cli PATH)");
        }
        // grep of the prefilter's words: the cost of merely finding the files that
        // might fork, the yardstick issue 13 asks for.
        let mut grep = Command::new("grep");
        grep.args(["-rlw", "--include=*.rs"]);
        for w in fork_lint::PREFILTER_WORDS {
            grep.arg("-e").arg(w);
        }
        grep.arg(&corpus);
        let r = measure_command(&opts, grep, Count::Lines);
        table.row("grep -rlw of the prefilter words (files listed)", &r, &lint);
        // `sg` is also shadow-utils' "execute as group": only a binary that says it is
        // ast-grep is taken.
        let ast_grep = opts.ast_grep.clone().or_else(|| {
            on_path(&["ast-grep", "sg"]).filter(|p| {
                Command::new(p)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ast-grep"))
            })
        });
        match ast_grep {
            Some(sg) => {
                let rule = bench_dir.join("fork-call.ast-grep.yml");
                fs::write(&rule, AST_GREP_RULE).expect("write the ast-grep rule");
                let mut cmd = Command::new(&sg);
                cmd.args(["scan", "--json=stream", "--no-ignore", "vcs", "--no-ignore", "parent"])
                    .arg("--rule")
                    .arg(&rule)
                    .arg(&corpus);
                let r = measure_command(&opts, cmd, Count::Lines);
                table.row("ast-grep scan, one rule", &r, &lint);
            }
            None => table.note("ast-grep: not measured (`npm install @ast-grep/cli` or `cargo install ast-grep`, then --ast-grep PATH)"),
        }
        match opts.semgrep.clone().or_else(|| on_path(&["semgrep"])) {
            Some(semgrep) => {
                let rule = bench_dir.join("fork-call.semgrep.yml");
                fs::write(&rule, SEMGREP_RULE).expect("write the semgrep rule");
                // No default ignores (semgrep skips `tests/` without a .semgrepignore).
                fs::write(corpus.join(".semgrepignore"), "").expect("write .semgrepignore");
                let out = bench_dir.join("semgrep.json");
                let mut cmd = Command::new(&semgrep);
                cmd.args([
                    "scan",
                    "--metrics=off",
                    "--disable-version-check",
                    "--no-git-ignore",
                    "--max-target-bytes=0",
                    "--timeout=0",
                    "--project-root",
                    ".",
                    "--json",
                    "--quiet",
                ])
                .arg("--config")
                .arg(&rule)
                .arg("-o")
                .arg(&out)
                .arg(".")
                .current_dir(&corpus)
                .env("SEMGREP_ENABLE_VERSION_CHECK", "0")
                .env("SEMGREP_SEND_METRICS", "off");
                let r = measure_command(&opts, cmd, Count::SemgrepJson(out));
                table.row("semgrep scan, one rule", &r, &lint);
            }
            None => {
                table.note("semgrep: not measured (`pip install semgrep`, then --semgrep PATH)")
            }
        }
    }

    if opts.verify {
        let v = run_child("verify", &corpus, jobs, &[]);
        table.note(&format!(
            "prefilter on vs off ({} s with every file parsed): {} findings either way, {} only with the prefilter off, {} only with it on (FL000/FL100 left out)",
            secs(v.get("wall_ns")),
            v.get("findings"),
            v.get("only_off"),
            v.get("only_on"),
        ));
    }

    if opts.scale {
        scale(&opts, &bench_dir, jobs, &mut table);
    }

    println!("{}", table.render());
}

// ---------------------------------------------------------------------------------
// Options

struct Options {
    runs: usize,
    jobs: Option<usize>,
    corpus: Option<PathBuf>,
    synthetic: bool,
    scale: bool,
    scale_only: bool,
    verify: bool,
    external: bool,
    cli: Option<PathBuf>,
    ast_grep: Option<PathBuf>,
    semgrep: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut o = Options {
            runs: 3,
            jobs: None,
            corpus: None,
            synthetic: false,
            scale: false,
            scale_only: false,
            verify: false,
            external: true,
            cli: None,
            ast_grep: None,
            semgrep: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .unwrap_or_else(|| panic!("{a} needs a value"))
            };
            match a.as_str() {
                "--bench" => {}
                "--runs" => o.runs = value().parse().expect("--runs N"),
                "--jobs" => o.jobs = Some(value().parse().expect("--jobs N")),
                "--corpus" => o.corpus = Some(PathBuf::from(value())),
                "--synthetic" => o.synthetic = true,
                "--scale" => o.scale = true,
                "--scale-only" => o.scale_only = true,
                "--verify" => o.verify = true,
                "--no-external" => o.external = false,
                "--cli" => o.cli = Some(PathBuf::from(value())),
                "--ast-grep" => o.ast_grep = Some(PathBuf::from(value())),
                "--semgrep" => o.semgrep = Some(PathBuf::from(value())),
                other if other.starts_with('-') => panic!("unknown option {other}"),
                _ => {} // a cargo bench filter
            }
        }
        o.runs = o.runs.max(1);
        o
    }
}

/// `target/` (or `$CARGO_TARGET_DIR`): this binary is `<target>/release/deps/throughput-…`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench binary's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn default_cli() -> Option<PathBuf> {
    let p = target_dir().join("release").join("fork-lint");
    p.is_file().then_some(p)
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------------
// The corpus

/// Copies the `.rs` files and manifests of every registry package in the
/// workspace's dependency graph (`cargo metadata`) to `<bench>/registry/`, once.
/// Returns the directory, the number of packages and their lines.
fn registry_corpus(bench_dir: &Path) -> Option<(PathBuf, usize, u64)> {
    let mut packages = registry_packages(false)?;
    if packages.iter().any(|p| !p.is_dir()) {
        eprintln!("some dependency sources are missing: running `cargo fetch`");
        let _ = Command::new(cargo())
            .args(["fetch", "--locked"])
            .current_dir(workspace_root())
            .status();
        packages = registry_packages(true)?;
        packages.retain(|p| p.is_dir());
    }
    if packages.is_empty() {
        return None;
    }
    let dir = bench_dir.join("registry");
    let stamp_text: String = packages
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    let stamp = bench_dir.join("registry.stamp");
    if fs::read_to_string(&stamp).ok().as_deref() != Some(stamp_text.as_str()) || !dir.is_dir() {
        let _ = fs::remove_dir_all(&dir);
        eprintln!("copying {} packages to {}", packages.len(), dir.display());
        for p in &packages {
            let name = p.file_name().expect("a package directory name");
            copy_sources(p, &dir.join(name));
        }
        fs::write(&stamp, &stamp_text).expect("write the corpus stamp");
    }
    let (files, _) = collect_files(std::slice::from_ref(&dir), &Exclude::default());
    let lines: u64 = files
        .par_iter()
        .map(|f| fs::read(&f.path).map_or(0, |b| count_lines(&b)))
        .sum();
    Some((dir, packages.len(), lines))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The source directories of the workspace's registry dependencies.
fn registry_packages(fetched: bool) -> Option<Vec<PathBuf>> {
    let mut cmd = Command::new(cargo());
    cmd.args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace_root())
        .stderr(Stdio::null());
    if !fetched {
        cmd.arg("--offline");
    }
    let out = cmd.output().ok().filter(|o| o.status.success());
    let out = match out {
        Some(o) => o,
        None if !fetched => return registry_packages(true),
        None => return None,
    };
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut dirs: Vec<PathBuf> = meta["packages"]
        .as_array()?
        .iter()
        .filter(|p| {
            p["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
        })
        .filter_map(|p| {
            Some(
                Path::new(p["manifest_path"].as_str()?)
                    .parent()?
                    .to_path_buf(),
            )
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    Some(dirs)
}

fn copy_sources(from: &Path, to: &Path) {
    let walk = walkdir::WalkDir::new(from).into_iter().filter_entry(|e| {
        e.depth() == 0
            || !(e.file_type().is_dir()
                && (e.file_name() == "target"
                    || e.file_name().to_str().is_some_and(|n| n.starts_with('.'))))
    });
    for e in walk.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy();
        if !e.file_type().is_file() || !(name.ends_with(".rs") || name == "Cargo.toml") {
            continue;
        }
        let rel = e.path().strip_prefix(from).expect("under the package");
        let dest = to.join(rel);
        fs::create_dir_all(dest.parent().expect("a parent")).expect("create a corpus directory");
        fs::copy(e.path(), &dest).expect("copy a source file");
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

// ---------------------------------------------------------------------------------
// The synthetic workspace

const SYN_PACKAGES: usize = 120;
const SYN_FILES: usize = 150;

fn synthetic_what() -> String {
    format!(
        "a generated workspace: {SYN_PACKAGES} packages of {SYN_FILES} files, one file in 50 forking"
    )
}

/// About 1.5 million lines of ordinary Rust in `SYN_PACKAGES` packages, one file in
/// fifty with a fork point that calls a helper of another file.
fn synthetic_workspace(bench_dir: &Path) -> PathBuf {
    let dir = bench_dir.join("synthetic");
    let stamp = bench_dir.join("synthetic.stamp");
    let version = format!("{SYN_PACKAGES}x{SYN_FILES} v1");
    if dir.is_dir() && fs::read_to_string(&stamp).ok().as_deref() == Some(version.as_str()) {
        return dir;
    }
    let _ = fs::remove_dir_all(&dir);
    eprintln!("generating a synthetic workspace in {}", dir.display());
    (0..SYN_PACKAGES).into_par_iter().for_each(|p| {
        let root = dir.join(format!("pkg{p:03}"));
        fs::create_dir_all(root.join("src")).expect("create a package");
        fs::write(
            root.join("Cargo.toml"),
            format!("[package]\nname = \"pkg{p:03}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        )
        .expect("write a manifest");
        let mut lib = String::new();
        for f in 0..SYN_FILES {
            writeln!(lib, "pub mod m{f:03};").unwrap();
            fs::write(root.join(format!("src/m{f:03}.rs")), ordinary_file(p, f))
                .expect("write a module");
        }
        fs::write(root.join("src/lib.rs"), lib).expect("write lib.rs");
    });
    fs::write(&stamp, version).expect("write the stamp");
    dir
}

/// One module of ordinary code (~90 lines); every fiftieth forks.
fn ordinary_file(p: usize, f: usize) -> String {
    let mut s = String::new();
    writeln!(
        s,
        "//! Module {f} of package {p}: records, parsing and a small state machine."
    )
    .unwrap();
    writeln!(s, "use std::collections::HashMap;\nuse std::fmt;\n").unwrap();
    for i in 0..3 {
        write!(
            s,
            r#"/// A record kept by the registry ({i}).
#[derive(Clone, Debug, PartialEq)]
pub struct Record{i} {{
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
    pub weight: f64,
}}

impl Record{i} {{
    pub fn new(id: u64, name: &str) -> Self {{
        Record{i} {{ id, name: name.to_string(), tags: Vec::new(), weight: 1.0 }}
    }}

    /// Parses `id:name:tag,tag`.
    pub fn parse(line: &str) -> Result<Self, String> {{
        let mut parts = line.splitn(3, ':');
        let id = parts.next().ok_or("no id")?.trim().parse::<u64>().map_err(|e| e.to_string())?;
        let name = parts.next().ok_or("no name")?;
        let tags = parts.next().map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default();
        Ok(Record{i} {{ id, name: name.into(), tags, weight: id as f64 * 0.5 }})
    }}

    pub fn score(&self, boosts: &HashMap<String, f64>) -> f64 {{
        self.tags.iter().filter_map(|t| boosts.get(t)).fold(self.weight, |acc, b| acc * b)
    }}
}}

impl fmt::Display for Record{i} {{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{
        write!(f, "{{}}#{{}} [{{}}]", self.name, self.id, self.tags.join(", "))
    }}
}}

"#
        )
        .unwrap();
    }
    write!(
        s,
        r#"pub enum State {{ Idle, Running {{ since: u64 }}, Done(Result<u64, String>) }}

pub fn step(state: State, now: u64) -> State {{
    match state {{
        State::Idle => State::Running {{ since: now }},
        State::Running {{ since }} if now - since > 10 => State::Done(Ok(now - since)),
        State::Running {{ since }} => State::Running {{ since }},
        done @ State::Done(_) => done,
    }}
}}

pub fn helper_{p}_{f}(x: u64) -> u64 {{
    (0..x).map(|i| i * i % 7).sum()
}}
"#
    )
    .unwrap();
    if f % 50 == 7 {
        let other = (f + 1) % SYN_FILES;
        write!(
            s,
            r#"
pub fn run_child_{f}() -> i32 {{
    let pid = unsafe {{ libc::fork() }};
    if pid == 0 {{
        let n = crate::m{other:03}::helper_{p}_{other}(3);
        println!("child {{n}}");
        unsafe {{ libc::_exit(0) }};
    }}
    pid
}}
"#
        )
        .unwrap();
    }
    s
}

// ---------------------------------------------------------------------------------
// Scaling cases

fn scale(opts: &Options, bench_dir: &Path, jobs: usize, table: &mut Table) {
    type Make = fn(&Path, usize);
    let cases: [(&str, &str, Make, [usize; 2]); 4] = [
        (
            "tiny",
            "tiny files (1 in 100 forks), per file",
            tiny_files,
            [10_000, 100_000],
        ),
        (
            "forks",
            "fork points in one package (each in its own file, calling a helper of another), per fork point",
            many_forks,
            [1_000, 4_000],
        ),
        (
            "tests",
            "integration tests (each a crate of its own) forking and calling a shared helper, per test",
            many_test_crates,
            [500, 2_000],
        ),
        (
            "onefile",
            "fork points in one file (one function each), per fork point",
            forks_in_one_file,
            [250, 1_000],
        ),
    ];
    for (name, what, make, sizes) in cases {
        let mut per = Vec::new();
        for n in sizes {
            let dir = bench_dir.join(format!("scale-{name}-{n}"));
            let _ = fs::remove_dir_all(&dir);
            make(&dir, n);
            let r = measure(opts, "lint", &dir, jobs, &[]);
            per.push((n, r));
            let _ = fs::remove_dir_all(&dir);
        }
        table.scale(what, &per);
    }
}

fn package(dir: &Path, name: &str) {
    fs::create_dir_all(dir.join("src")).expect("create a package");
    fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    )
    .expect("write a manifest");
}

/// `n` files of five lines in packages of 1,000 files; one in a hundred forks.
fn tiny_files(dir: &Path, n: usize) {
    (0..n.div_ceil(1000)).into_par_iter().for_each(|p| {
        let root = dir.join(format!("p{p}"));
        package(&root, &format!("p{p}"));
        for i in (p * 1000)..((p + 1) * 1000).min(n) {
            let body = if i % 100 == 0 {
                "    let _ = unsafe { libc::fork() };\n".to_string()
            } else {
                format!("    let _ = {i};\n")
            };
            fs::write(
                root.join(format!("src/f{i}.rs")),
                format!("/// Tiny {i}.\npub fn f{i}() {{\n{body}}}\n\n"),
            )
            .expect("write a tiny file");
        }
    });
}

/// One package of `n` files, each with a fork point whose child calls a helper
/// defined in the next file (a cross-file lookup per fork point).
fn many_forks(dir: &Path, n: usize) {
    package(dir, "forks");
    (0..n).into_par_iter().for_each(|i| {
        let next = (i + 1) % n;
        let text = format!(
            r#"use std::sync::Mutex;
static LOCK_{i}: Mutex<u32> = Mutex::new(0);
pub fn helper_{i}(x: u32) -> u32 {{ x + {i} }}
pub fn run_{i}() {{
    let _g = LOCK_{i}.lock().unwrap();
    match unsafe {{ libc::fork() }} {{
        0 => {{
            let v = crate::f{next}::helper_{next}(1);
            println!("{{v}}");
            unsafe {{ libc::_exit(0) }}
        }}
        pid => {{ unsafe {{ libc::waitpid(pid, std::ptr::null_mut(), 0) }}; }}
    }}
}}
"#
        );
        fs::write(dir.join(format!("src/f{i}.rs")), text).expect("write a fork file");
    });
}

/// `n` integration tests (each a crate of its own) whose child calls a helper of
/// `tests/common/mod.rs`.
fn many_test_crates(dir: &Path, n: usize) {
    package(dir, "tests");
    fs::write(dir.join("src/lib.rs"), "pub fn lib() {}\n").expect("write lib.rs");
    fs::create_dir_all(dir.join("tests/common")).expect("create tests/common");
    fs::write(
        dir.join("tests/common/mod.rs"),
        "pub fn helper(x: u32) -> u32 { x + 1 }\n",
    )
    .expect("write the shared module");
    (0..n).into_par_iter().for_each(|i| {
        let text = format!(
            r#"mod common;
#[test]
fn t{i}() {{
    let pid = unsafe {{ libc::fork() }};
    if pid == 0 {{
        let v = common::helper({i});
        println!("{{v}}");
        unsafe {{ libc::_exit(0) }};
    }}
    unsafe {{ libc::waitpid(pid, std::ptr::null_mut(), 0) }};
}}
"#
        );
        fs::write(dir.join(format!("tests/t{i}.rs")), text).expect("write a test");
    });
}

/// One file with `n` functions that each fork.
fn forks_in_one_file(dir: &Path, n: usize) {
    package(dir, "one");
    let mut s = String::new();
    for i in 0..n {
        write!(
            s,
            r#"pub fn run_{i}() {{
    let pid = unsafe {{ libc::fork() }};
    if pid == 0 {{
        println!("{i}");
        unsafe {{ libc::_exit(0) }};
    }}
    unsafe {{ libc::waitpid(pid, std::ptr::null_mut(), 0) }};
}}
"#
        )
        .unwrap();
    }
    fs::write(dir.join("src/lib.rs"), s).expect("write the file");
}

// ---------------------------------------------------------------------------------
// Measuring

/// What one run measured.
#[derive(Clone, Debug, Default)]
struct Sample(BTreeMap<String, String>);

impl Sample {
    fn get(&self, k: &str) -> &str {
        self.0.get(k).map_or("?", String::as_str)
    }
    fn num(&self, k: &str) -> f64 {
        self.0
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }
}

/// The median run (by wall time) of several, with the largest peak RSS of them.
#[derive(Clone, Debug)]
struct Measured {
    median: Sample,
    walls: Vec<f64>,
    max_rss_kb: f64,
}

fn measure(opts: &Options, phase: &str, corpus: &Path, jobs: usize, extra: &[&str]) -> Measured {
    let samples: Vec<Sample> = (0..opts.runs)
        .map(|_| run_child(phase, corpus, jobs, extra))
        .collect();
    summarize(samples)
}

fn summarize(mut samples: Vec<Sample>) -> Measured {
    samples.sort_by(|a, b| a.num("wall_ns").total_cmp(&b.num("wall_ns")));
    let walls = samples.iter().map(|s| s.num("wall_ns") / 1e9).collect();
    let max_rss_kb = samples.iter().map(|s| s.num("rss_kb")).fold(0.0, f64::max);
    Measured {
        median: samples[samples.len() / 2].clone(),
        walls,
        max_rss_kb,
    }
}

fn run_child(phase: &str, corpus: &Path, jobs: usize, extra: &[&str]) -> Sample {
    let exe = std::env::current_exe().expect("this binary");
    let mut cmd = Command::new(exe);
    cmd.arg("--child")
        .arg(phase)
        .arg(corpus)
        .arg(jobs.to_string())
        .args(extra)
        .stdout(Stdio::piped());
    let (out, usage) = run_with_usage(cmd);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("the {phase} child printed no result: {out}"));
    let mut s = Sample::default();
    for kv in line.split(' ') {
        if let Some((k, v)) = kv.split_once('=') {
            s.0.insert(k.to_string(), v.to_string());
        }
    }
    s.0.insert("cpu_s".into(), format!("{:.3}", usage.cpu.as_secs_f64()));
    s.0.entry("rss_kb".into())
        .or_insert_with(|| usage.max_rss_kb.to_string());
    s
}

/// What `wait4` reports of a finished child (and its waited-for descendants).
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: u64,
    status: i32,
}

// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_with_usage(mut cmd: Command) -> (String, Usage) {
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start a child");
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut o) = stdout {
            let _ = std::io::Read::read_to_string(&mut o, &mut s);
        }
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid status and rusage pointers; `child`
    // is not waited for again.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    let out = reader.join().unwrap_or_default();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let usage = Usage {
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        max_rss_kb: ru.ru_maxrss as u64,
        status,
    };
    (out, usage)
}

enum Count {
    /// Output lines (one per finding or match).
    Lines,
    /// `results` and `paths.scanned` of semgrep's JSON output file.
    SemgrepJson(PathBuf),
}

fn measure_command(opts: &Options, mut cmd: Command, count: Count) -> Measured {
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let samples = (0..opts.runs)
        .map(|_| {
            let program = format!("{:?}", cmd.get_program());
            let mut c = Command::new(cmd.get_program());
            c.args(cmd.get_args())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            if let Some(d) = cmd.get_current_dir() {
                c.current_dir(d);
            }
            for (k, v) in cmd.get_envs() {
                if let Some(v) = v {
                    c.env(k, v);
                }
            }
            let (out, usage) = run_with_usage(c);
            let mut s = Sample::default();
            s.0.insert("wall_ns".into(), usage.wall.as_nanos().to_string());
            s.0.insert("cpu_s".into(), format!("{:.3}", usage.cpu.as_secs_f64()));
            s.0.insert("rss_kb".into(), usage.max_rss_kb.to_string());
            s.0.insert("status".into(), format!("{:#x}", usage.status));
            s.0.insert("program".into(), program);
            match &count {
                Count::Lines => {
                    s.0.insert("findings".into(), out.lines().count().to_string());
                }
                Count::SemgrepJson(path) => {
                    let json: serde_json::Value = fs::read(path)
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .unwrap_or_default();
                    let n = |v: &serde_json::Value| v.as_array().map_or(0, Vec::len);
                    s.0.insert("findings".into(), n(&json["results"]).to_string());
                    s.0.insert("files".into(), n(&json["paths"]["scanned"]).to_string());
                    s.0.insert("tool_errors".into(), n(&json["errors"]).to_string());
                }
            }
            s
        })
        .collect();
    summarize(samples)
}

// ---------------------------------------------------------------------------------
// The child side

fn child(args: &[String]) {
    let phase = args[0].as_str();
    let corpus = PathBuf::from(&args[1]);
    let jobs: usize = args[2].parse().expect("jobs");
    let t = Instant::now();
    let (files, errors) = collect_files(&[corpus], &Exclude::default());
    let walk = t.elapsed();
    assert!(errors.iter().all(|e| e.warning), "walk errors: {errors:?}");
    let mut out = BTreeMap::new();
    out.insert("walk_ns", walk.as_nanos().to_string());
    match phase {
        "read" => {
            let t = Instant::now();
            let (bytes, lines) = pool(jobs).install(|| {
                files
                    .par_iter()
                    .map(|f| {
                        let b = fs::read(&f.path).unwrap_or_default();
                        (b.len() as u64, count_lines(&b))
                    })
                    .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
            });
            out.insert("wall_ns", t.elapsed().as_nanos().to_string());
            out.insert("files", files.len().to_string());
            out.insert("bytes", bytes.to_string());
            out.insert("lines", lines.to_string());
        }
        "lint" => {
            let options = LintOptions::default().with_jobs(jobs);
            let t = Instant::now();
            let report = fork_lint::lint(&files, &options);
            out.insert("wall_ns", t.elapsed().as_nanos().to_string());
            out.insert("files", report.stats.files.to_string());
            out.insert("bytes", report.stats.bytes.to_string());
            out.insert("lines", report.stats.lines.to_string());
            out.insert("candidates", report.stats.candidates.to_string());
            out.insert("parsed", report.stats.parsed.to_string());
            out.insert("findings", report.diagnostics.len().to_string());
            out.insert("errors", report.errors.len().to_string());
        }
        "parse" => {
            let t = Instant::now();
            let (ok, failed, lines) = pool(jobs).install(|| {
                files
                    .par_iter()
                    .map(|f| {
                        let text = fs::read_to_string(&f.path).unwrap_or_default();
                        let lines = count_lines(text.as_bytes());
                        let parsed = syn::parse_file(&text).is_ok();
                        // As the linter does: the source map of this thread's spans is
                        // emptied once the tree is gone (else memory grows without end).
                        proc_macro2::extra::invalidate_current_thread_spans();
                        (usize::from(parsed), usize::from(!parsed), lines)
                    })
                    .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
            });
            out.insert("wall_ns", t.elapsed().as_nanos().to_string());
            out.insert("files", files.len().to_string());
            out.insert("parsed", ok.to_string());
            out.insert("parse_failures", failed.to_string());
            out.insert("lines", lines.to_string());
        }
        "verify" => {
            let key = |d: &fork_lint::Diagnostic| {
                format!(
                    "{}:{}:{}: {} {}",
                    d.primary.file.name,
                    d.primary.start.line,
                    d.primary.start.column,
                    d.code,
                    d.message
                )
            };
            let on = fork_lint::lint(&files, &LintOptions::default().with_jobs(jobs));
            let t = Instant::now();
            let off = fork_lint::lint(
                &files,
                &LintOptions::default().with_prefilter(false).with_jobs(jobs),
            );
            out.insert("wall_ns", t.elapsed().as_nanos().to_string());
            let keep = |d: &&fork_lint::Diagnostic| d.code != "FL000" && d.code != "FL100";
            let on: std::collections::BTreeSet<String> =
                on.diagnostics.iter().filter(keep).map(key).collect();
            let off: std::collections::BTreeSet<String> =
                off.diagnostics.iter().filter(keep).map(key).collect();
            for d in off.difference(&on) {
                eprintln!("only with the prefilter off: {d}");
            }
            for d in on.difference(&off) {
                eprintln!("only with the prefilter on: {d}");
            }
            out.insert("findings", on.intersection(&off).count().to_string());
            out.insert("only_off", off.difference(&on).count().to_string());
            out.insert("only_on", on.difference(&off).count().to_string());
        }
        other => panic!("unknown phase {other}"),
    }
    out.insert("rss_kb", vm_hwm_kb().to_string());
    let line: Vec<String> = out.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "RESULT {}", line.join(" ")).unwrap();
}

fn pool(jobs: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .stack_size(256 << 20)
        .build()
        .expect("a thread pool")
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn vm_hwm_kb() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// Output

const AST_GREP_RULE: &str = r#"id: fork-call
language: rust
severity: warning
message: a call to a fork function
rule:
  kind: call_expression
  has:
    field: function
    regex: "(^|::)v?fork$"
"#;

const SEMGREP_RULE: &str = r#"rules:
  - id: fork-call
    languages: [rust]
    severity: WARNING
    message: a call to a fork function
    pattern-either:
      - pattern: libc::fork()
      - pattern: nix::unistd::fork()
      - pattern: fork()
"#;

#[derive(Default)]
struct Table {
    head: Vec<String>,
    rows: Vec<String>,
    notes: Vec<String>,
    scale: Vec<String>,
}

fn secs(ns: &str) -> String {
    ns.parse::<f64>()
        .map_or("?".into(), |n| format!("{:.2}", n / 1e9))
}

impl Table {
    fn corpus(&mut self, what: &str, dir: &Path, lint: &Measured) {
        let s = &lint.median;
        self.head
            .push(format!("Corpus: {what} ({})", dir.display()));
        self.head.push(format!(
            "{} files, {:.1} MB, {} lines; {} files passed the prefilter, {} were parsed in all; {} findings",
            s.get("files"),
            s.num("bytes") / 1e6,
            s.get("lines"),
            s.get("candidates"),
            s.get("parsed"),
            s.get("findings"),
        ));
        self.head.push(format!(
            "Directory walk (not in the library row): {} s",
            secs(s.get("walk_ns"))
        ));
    }

    fn row(&mut self, what: &str, m: &Measured, lint: &Measured) {
        let s = &m.median;
        let wall = s.num("wall_ns") / 1e9;
        let lines = lint.median.num("lines");
        let vs = lint.median.num("wall_ns") / 1e9;
        let runs: Vec<String> = m.walls.iter().map(|w| format!("{w:.2}")).collect();
        let extra = match (s.0.get("findings"), s.0.get("files")) {
            (Some(f), Some(n)) if s.0.contains_key("tool_errors") => {
                format!(
                    "{f} matches, {n} files scanned, {} errors",
                    s.get("tool_errors")
                )
            }
            (Some(f), _) => format!("{f} findings/matches"),
            (None, _) if s.0.contains_key("parse_failures") => {
                format!("{} files failed to parse", s.get("parse_failures"))
            }
            _ => String::new(),
        };
        self.rows.push(format!(
            "| {what} | {wall:.3} | {} | {:.2} M | {:.1}× | {:.0} | {extra} (runs: {}) |",
            s.get("cpu_s"),
            lines / wall / 1e6,
            wall / vs,
            m.max_rss_kb / 1024.0,
            runs.join(", "),
        ));
    }

    fn note(&mut self, n: &str) {
        self.notes.push(n.to_string());
    }

    fn scale(&mut self, what: &str, per: &[(usize, Measured)]) {
        let unit = |n: usize, m: &Measured| m.median.num("wall_ns") / 1e3 / n as f64;
        let cells: Vec<String> = per
            .iter()
            .map(|(n, m)| {
                format!(
                    "n = {n}: {:.3} s, {:.1} µs each, {:.0} MB",
                    m.median.num("wall_ns") / 1e9,
                    unit(*n, m),
                    m.max_rss_kb / 1024.0
                )
            })
            .collect();
        let (n0, m0) = &per[0];
        let (n1, m1) = &per[per.len() - 1];
        self.scale.push(format!(
            "- {what}: {}; cost per item ×{:.2} for ×{} items",
            cells.join("; "),
            unit(*n1, m1) / unit(*n0, m0),
            n1 / n0,
        ));
    }

    fn machine(&mut self, jobs: usize) {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_default();
        let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
        self.head.push(format!(
            "Machine: {} cores ({cpu}), {jobs} worker threads; load average before the run: {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load.split(' ').take(3).collect::<Vec<_>>().join(" "),
        ));
    }

    fn render(&self) -> String {
        let mut s = String::new();
        for h in &self.head {
            writeln!(s, "{h}").unwrap();
        }
        writeln!(s).unwrap();
        if !self.rows.is_empty() {
            writeln!(
                s,
                "| what | wall s (median) | CPU s | lines/s | × fork-lint | peak RSS MB | notes |"
            )
            .unwrap();
            writeln!(s, "|---|---|---|---|---|---|---|").unwrap();
        }
        for r in &self.rows {
            writeln!(s, "{r}").unwrap();
        }
        for n in &self.notes {
            writeln!(s, "\n{n}").unwrap();
        }
        if !self.scale.is_empty() {
            writeln!(s, "\nScaling (fork-lint library, wall time, median):").unwrap();
            for l in &self.scale {
                writeln!(s, "{l}").unwrap();
            }
        }
        s
    }
}
