//! The fixture harness: reads what each fixture declares, runs fixtures and observes
//! what happens, and renders the confirmation table.
//!
//! A fixture (`fixtures/src/bin/*.rs`, `fixtures/lint-only/*.rs` for ecosystem
//! styles that are not built here, or `fixtures/compile-fail/*.rs` for programs that
//! must not compile, checked by `compile_fail.rs` with trybuild) declares in its own
//! text:
//!
//! * `//~ FL002` at the end of each line where the linter must report a finding
//!   (several codes separated by spaces), or `//~^ FL002` on the next line (rustc's
//!   UI-test convention: one `^` per line up), and nowhere else;
//! * `//@ rule: FL002` — the rule it is about — and `//@ kind: hazard`,
//!   `//@ kind: safe`, or `//@ kind: compile-error` (the runtime's bounds reject the
//!   program, so the rule leaves it to the compiler and reports nothing);
//! * `//@ run <method>: <outcome>` for each start method it runs under (`fork`,
//!   `spawn`, `forkserver`; raw-fork programs use `fork`);
//! * `//@ fixed <method>: <outcome>` for each of them when fork-lint can fix the
//!   fixture: the outcome once `--fix --unsafe-fixes` has run (`tests/fixtures_fix.rs`);
//! * `//@ config: KEY = VALUE` (a `fork-lint.toml` line, one per directive) when the
//!   findings it declares are those of a configuration other than the default.
//!
//! Outcomes (several joined by `+`, in any order):
//!
//! | outcome | what the harness observed |
//! |---|---|
//! | `ok` | exit status 0 and nothing below |
//! | `deadlock` | no exit within the timeout (the process group is then killed) |
//! | `error:KIND` | the program reported a forkrt error of that kind (`observe: error:KIND`) |
//! | `twice:MARKER` | the line `observe: marker MARKER` printed more than once |
//! | `stale:NAME` | a child printed `observe: child NAME=W` after the parent printed `observe: set NAME=V` with `W != V` |
//! | `same-random` | two processes printed the same `observe: random N` |
//! | `duplicated-output` | the text `[once]` appears more than once on stdout |
//! | `zombie` | a pid announced with `observe: child-pid P` was seen in state `Z` in `/proc` in two consecutive polls while the program ran |
//! | `warned` | stderr holds forkrt's runtime warning (`forkrt: warning:`) |
//! | `signal:N` | the program was killed by signal N |
//! | `exit:N` | it exited with status N and nothing else was observed |

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// What a fixture declares.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub path: PathBuf,
    pub name: String,
    pub rule: Option<String>,
    pub kind: Option<String>,
    pub title: String,
    /// `(line, code)` pairs the linter must report, sorted, one per finding (a line
    /// with two findings of one rule says the code twice).
    pub expected: Vec<(usize, String)>,
    /// Start method → declared outcome.
    pub runs: BTreeMap<String, String>,
    /// Start method → outcome once fixed (`//@ fixed`).
    pub fixed: BTreeMap<String, String>,
    /// Built and runnable (under `fixtures/src/bin`).
    pub runnable: bool,
    /// The configuration it is linted with (`//@ config:` lines, as `fork-lint.toml`
    /// text); `None`: the default.
    pub config: Option<String>,
}

pub const METHODS: &[&str] = &["fork", "spawn", "forkserver"];

/// Every fixture, sorted by name.
pub fn fixtures() -> Vec<Fixture> {
    let root = repo_root().join("fixtures");
    let mut out = Vec::new();
    for (dir, runnable) in [
        (root.join("src/bin"), true),
        (root.join("lint-only"), false),
        (root.join("compile-fail"), false),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "rs") {
                out.push(parse(&path, runnable));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn parse(path: &Path, runnable: bool) -> Fixture {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let mut f = Fixture {
        path: path.to_path_buf(),
        name,
        rule: None,
        kind: None,
        title: String::new(),
        expected: Vec::new(),
        runs: BTreeMap::new(),
        fixed: BTreeMap::new(),
        runnable,
        config: None,
    };
    for (i, line) in text.lines().enumerate() {
        if let (true, Some(t)) = (f.title.is_empty(), line.strip_prefix("//!")) {
            f.title = t.trim().to_string();
        }
        if let Some(at) = line.find("//~") {
            // `//~^ CODE` (rustc UI-test style) refers to the line above, one `^` per
            // line: what rustfmt leaves when it moves a comment after `{`.
            let rest = &line[at + 3..];
            let up = rest.chars().take_while(|&c| c == '^').count();
            for code in rest[up..].split_whitespace() {
                f.expected.push((i + 1 - up, code.to_string()));
            }
        }
        if let Some(d) = line.trim_start().strip_prefix("//@") {
            let d = d.trim();
            if let Some(r) = d.strip_prefix("rule:") {
                f.rule = Some(r.trim().to_string());
            } else if let Some(k) = d.strip_prefix("kind:") {
                f.kind = Some(k.trim().to_string());
            } else if let Some(c) = d.strip_prefix("config:") {
                let config = f.config.get_or_insert_with(String::new);
                config.push_str(c.trim());
                config.push('\n');
            } else if let Some((fixed, run)) = d
                .strip_prefix("run ")
                .map(|r| (false, r))
                .or_else(|| d.strip_prefix("fixed ").map(|r| (true, r)))
            {
                let (method, outcome) = run.split_once(':').unwrap_or_else(|| {
                    panic!("{}:{}: `//@ run METHOD: OUTCOME`", path.display(), i + 1)
                });
                let method = method.trim();
                assert!(
                    METHODS.contains(&method),
                    "{}:{}: unknown start method `{method}`",
                    path.display(),
                    i + 1
                );
                let table = if fixed { &mut f.fixed } else { &mut f.runs };
                table.insert(method.to_string(), normalize(outcome.trim()));
            } else {
                panic!("{}:{}: unknown directive `//@ {d}`", path.display(), i + 1);
            }
        }
    }
    f.expected.sort();
    f
}

/// Outcomes in a canonical order, so declared and observed compare as sets.
pub fn normalize(outcome: &str) -> String {
    let mut parts: Vec<&str> = outcome
        .split('+')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    parts.sort_unstable();
    parts.dedup();
    parts.join("+")
}

/// Builds every fixture binary and returns the directory they are in.
pub fn build_fixtures() -> PathBuf {
    let exe = cargo_build(&["-p", "fork-lint-fixtures", "--bins"])
        .into_iter()
        .next()
        .expect("cargo reported no fixture executable");
    exe.parent().unwrap().to_path_buf()
}

/// Builds the `fork-lint` command line and returns its path.
pub fn build_cli() -> PathBuf {
    cargo_build(&["-p", "cargo-fork-lint", "--bin", "fork-lint"])
        .into_iter()
        .next()
        .expect("cargo reported no fork-lint executable")
}

/// Runs `cargo build` with `args` (a nested build: the test's own cargo has released
/// its lock by now) and returns the executables it reports.
fn cargo_build(args: &[&str]) -> Vec<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(repo_root())
        .arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo build {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|msg| Some(PathBuf::from(msg.get("executable")?.as_str()?)))
        .collect()
}

/// How long a fixture may run before it counts as deadlocked.
pub fn timeout() -> Duration {
    let ms = std::env::var("FIXTURE_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    Duration::from_millis(ms)
}

/// What one run showed.
#[derive(Debug)]
pub struct Observed {
    pub outcome: String,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a fixture binary under a start method and observes the outcome.
pub fn run(exe: &Path, method: &str, timeout: Duration) -> Observed {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe);
    cmd.arg(method)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("FORKRT_NO_FORK_WARNING")
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let pgid = child.id() as i32;
    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    let start = Instant::now();
    let mut zombie = false;
    // A reaped child is a zombie for an instant; only one seen twice in a row counts.
    let mut zombie_seen: BTreeSet<i32> = BTreeSet::new();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitpid works") {
            break Some(status);
        }
        if start.elapsed() > timeout {
            break None;
        }
        // Zombies must be seen while the program still runs.
        let mut now = BTreeSet::new();
        for pid in announced(&stdout.snapshot(), "observe: child-pid ") {
            if proc_state(pid) == Some('Z') {
                zombie |= zombie_seen.contains(&pid);
                now.insert(pid);
            }
        }
        zombie_seen = now;
        std::thread::sleep(Duration::from_millis(10));
    };
    // Kill the whole group: children of a deadlocked program, a forkserver.
    // SAFETY: kill(2) with a negative pid signals the process group we created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
    let (out, err) = (stdout.finish(), stderr.finish());
    let mut found: BTreeSet<String> = BTreeSet::new();
    match status {
        None => {
            found.insert("deadlock".into());
        }
        Some(s) => {
            use std::os::unix::process::ExitStatusExt;
            if let Some(sig) = s.signal() {
                found.insert(format!("signal:{sig}"));
            }
        }
    }
    observe(&out, &err, &mut found);
    if zombie {
        found.insert("zombie".into());
    }
    if found.is_empty() {
        match status.and_then(|s| s.code()) {
            Some(0) => {
                found.insert("ok".into());
            }
            Some(c) => {
                found.insert(format!("exit:{c}"));
            }
            None => {}
        }
    }
    Observed {
        outcome: found.into_iter().collect::<Vec<_>>().join("+"),
        stdout: out,
        stderr: err,
    }
}

/// Outcomes visible in the program's output.
fn observe(out: &str, err: &str, found: &mut BTreeSet<String>) {
    let mut markers: BTreeMap<&str, usize> = BTreeMap::new();
    let mut set: BTreeMap<&str, &str> = BTreeMap::new();
    let mut child: Vec<(&str, &str)> = Vec::new();
    let mut randoms: BTreeMap<&str, usize> = BTreeMap::new();
    for line in out.lines() {
        let Some(obs) = line.trim().strip_prefix("observe: ") else {
            continue;
        };
        if let Some(kind) = obs.strip_prefix("error:") {
            found.insert(format!("error:{}", kind.trim()));
        } else if let Some(m) = obs.strip_prefix("marker ") {
            *markers.entry(m.trim()).or_default() += 1;
        } else if let Some(kv) = obs.strip_prefix("set ") {
            if let Some((k, v)) = kv.split_once('=') {
                set.insert(k.trim(), v.trim());
            }
        } else if let Some(kv) = obs.strip_prefix("child ") {
            if let Some((k, v)) = kv.split_once('=') {
                child.push((k.trim(), v.trim()));
            }
        } else if let Some(n) = obs.strip_prefix("random ") {
            *randoms.entry(n.trim()).or_default() += 1;
        }
    }
    for (m, n) in markers {
        if n > 1 {
            found.insert(format!("twice:{m}"));
        }
    }
    for (k, w) in child {
        if set.get(k).is_some_and(|v| *v != w) {
            found.insert(format!("stale:{k}"));
        }
    }
    if randoms.values().any(|&n| n > 1) {
        found.insert("same-random".into());
    }
    if out.matches("[once]").count() > 1 {
        found.insert("duplicated-output".into());
    }
    if err.contains("forkrt: warning:") {
        found.insert("warned".into());
    }
}

fn announced(out: &str, prefix: &str) -> Vec<i32> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// A pipe drained by a thread, readable while the program runs.
struct Reader {
    buf: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    thread: std::thread::JoinHandle<()>,
}

fn reader(mut r: impl Read + Send + 'static) -> Reader {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let b = buf.clone();
    let thread = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => b.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    Reader { buf, thread }
}

impl Reader {
    fn snapshot(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    fn finish(self) -> String {
        // The group is dead, so the pipe's writers are gone and the thread ends.
        let _ = self.thread.join();
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

/// What is in `a` and not in `b`, counting repeats (`a` and `b` sorted).
pub fn multiset_minus<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    let mut rest = b.iter().peekable();
    for x in a {
        while rest.peek().is_some_and(|y| *y < x) {
            rest.next();
        }
        if rest.peek() == Some(&x) {
            rest.next();
        } else {
            out.push(x.clone());
        }
    }
    out
}

/// Lints one fixture in its package context and returns its `(line, code)` pairs,
/// sorted, one per finding.
pub fn lint(f: &Fixture) -> Vec<(usize, String)> {
    let input = fork_lint::InputFile {
        path: f.path.clone(),
        name: f.path.display().to_string(),
    };
    let report = fork_lint::lint(&[input], &lint_options(f));
    assert!(report.errors.is_empty(), "{}: {:?}", f.name, report.errors);
    let mut found: Vec<(usize, String)> = report
        .diagnostics
        .iter()
        .map(|d| (d.primary.start.line, d.code.to_string()))
        .collect();
    found.sort();
    found
}

/// The options a fixture is linted with: its `//@ config:`, or the default.
pub fn lint_options(f: &Fixture) -> fork_lint::LintOptions {
    match &f.config {
        Some(text) => {
            let config = fork_lint::Config::from_toml(text, Some(&f.path))
                .unwrap_or_else(|e| panic!("{}: `//@ config:` {e}", f.name));
            fork_lint::LintOptions::from_config(&config)
                .unwrap_or_else(|e| panic!("{}: `//@ config:` {e}", f.name))
        }
        None => fork_lint::LintOptions::default(),
    }
}

/// The confirmation table, from the fixtures' declarations (which the run test checks
/// against what it observes).
pub fn confirmation_table(fixtures: &[Fixture]) -> String {
    let mut s = String::from(
        "# Confirmation: every rule, run\n\n\
         Generated from the fixtures by `UPDATE_DOCS=1 cargo test -p fork-lint-tests --test confirmation`;\n\
         `cargo test -p fork-lint-tests --test fixtures_run` runs every fixture under each start method it\n\
         declares and fails unless the observed outcome is the one in this table. The outcome vocabulary\n\
         is documented in `tests/lib.rs`. A `compile-error` row is a program a runtime's bounds reject,\n\
         which the rule leaves to rustc: those in `fixtures/compile-fail/` are checked by\n\
         `cargo test -p fork-lint-tests --test compile_fail` (trybuild); the lint-only ones name the bound.\n\n\
         | rule | fixture | kind | findings | fork | spawn | forkserver |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut rows: Vec<&Fixture> = fixtures
        .iter()
        .filter(|f| !f.runs.is_empty() || f.kind.as_deref() == Some("compile-error"))
        .collect();
    rows.sort_by(|a, b| {
        (
            a.rule.as_deref(),
            a.kind.as_deref() != Some("hazard"),
            &a.name,
        )
            .cmp(&(
                b.rule.as_deref(),
                b.kind.as_deref() != Some("hazard"),
                &b.name,
            ))
    });
    for f in rows {
        let rel = f
            .path
            .strip_prefix(repo_root())
            .unwrap_or(&f.path)
            .display()
            .to_string();
        let codes: BTreeSet<&str> = f.expected.iter().map(|(_, c)| c.as_str()).collect();
        let mut findings = if codes.is_empty() {
            "none".to_string()
        } else {
            codes.into_iter().collect::<Vec<_>>().join(", ")
        };
        if let Some(config) = &f.config {
            let keys: Vec<String> = config.lines().map(|l| format!("`{l}`")).collect();
            findings.push_str(&format!(" (with {})", keys.join(", ")));
        }
        let cell = |m: &str| match f.runs.get(m) {
            Some(o) => format!("`{o}`"),
            None if f.kind.as_deref() == Some("compile-error") => "does not compile".to_string(),
            None => "—".to_string(),
        };
        s.push_str(&format!(
            "| {} | [{}](../{rel}) | {} | {} | {} | {} | {} |\n",
            f.rule.as_deref().unwrap_or("?"),
            f.name,
            f.kind.as_deref().unwrap_or("?"),
            findings,
            cell("fork"),
            cell("spawn"),
            cell("forkserver")
        ));
    }
    s
}
