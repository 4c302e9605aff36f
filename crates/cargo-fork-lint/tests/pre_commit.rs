//! The pre-commit hook with real pre-commit (from PyPI), on a machine where fork-lint
//! was never installed: a fresh `PRE_COMMIT_HOME`, a project whose
//! `.pre-commit-config.yaml` points at a local clone of this repository (a snapshot of
//! the working tree, committed), and `git commit`. pre-commit builds the hook itself
//! (`language: rust`: `cargo install --bins --root ENV --path .`), in release, cold.
//!
//! `#[ignore]`d (it builds fork-lint, minutes on two cores); `.ci/run` installs
//! pre-commit in a virtual environment and runs it:
//! `PRE_COMMIT=…/bin/pre-commit cargo test -p cargo-fork-lint --test pre_commit -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `pre-commit` to run: `$PRE_COMMIT`, else the one on `PATH`.
fn pre_commit() -> PathBuf {
    if let Some(p) = std::env::var_os("PRE_COMMIT") {
        return PathBuf::from(p);
    }
    let found = Command::new("pre-commit").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "pre-commit is needed: `python3 -m venv v && v/bin/pip install pre-commit`, then run with PRE_COMMIT=v/bin/pre-commit"
    );
    PathBuf::from("pre-commit")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `program` run in `dir` with a fixed git identity, no user or system git
/// configuration, pre-commit's home in the test's directory, and nothing from an
/// earlier build or install (`cargo install` then builds in a temporary target
/// directory and installs into pre-commit's environment).
fn command(program: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "fork-lint test")
        .env("GIT_AUTHOR_EMAIL", "test@fork-lint.invalid")
        .env("GIT_COMMITTER_NAME", "fork-lint test")
        .env("GIT_COMMITTER_EMAIL", "test@fork-lint.invalid")
        .env_remove("RUSTFLAGS");
    // Nothing of the `cargo test` running this (CARGO_PKG_NAME, CARGO_TARGET_DIR, …)
    // but cargo's own home.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if (key == "CARGO" || key.starts_with("CARGO_")) && key != "CARGO_HOME" {
            cmd.env_remove(&*key);
        }
    }
    if let Some(home) = HOME.get() {
        cmd.env("PRE_COMMIT_HOME", home);
    }
    cmd
}

fn git(dir: &Path) -> Command {
    command(Path::new("git"), dir)
}

/// pre-commit's home: fresh, in the test's temporary directory.
static HOME: OnceLock<PathBuf> = OnceLock::new();

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What every test shares: a temporary directory holding the hook repository (the
/// working tree as it is, committed) and the fresh `PRE_COMMIT_HOME` — built once per
/// test run, whichever test comes first.
struct Setup {
    _dir: tempfile::TempDir,
    hook_repo: PathBuf,
    rev: String,
    home: PathBuf,
    root: PathBuf,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let hook_repo = dir.path().join("fork-lint");
        let files = ok(git(&repo_root()).args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ]));
        for rel in files.split('\0').filter(|f| !f.is_empty()) {
            let from = repo_root().join(rel);
            if !from.is_file() {
                continue; // deleted in the working tree
            }
            let to = hook_repo.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
        ok(git(&hook_repo).args(["init", "-q"]));
        ok(git(&hook_repo).args(["add", "-A"]));
        ok(git(&hook_repo).args(["commit", "-q", "-m", "snapshot"]));
        let rev = ok(git(&hook_repo).args(["rev-parse", "HEAD"]))
            .trim()
            .to_string();
        let home = dir.path().join("pre-commit-home");
        HOME.set(home.clone()).unwrap();
        let root = dir.path().to_path_buf();
        Setup {
            _dir: dir,
            hook_repo,
            rev,
            home,
            root,
        }
    })
}

/// A project (git repository) with `files` and the two-line configuration of the
/// README pointing at the hook repository, with the hook installed as git's
/// pre-commit hook.
fn project(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let s = setup();
    let dir = s.root.join(name);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::write(
        dir.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: fork-lint\n",
            s.hook_repo.display(),
            s.rev
        ),
    )
    .unwrap();
    ok(git(&dir).args(["init", "-q"]));
    ok(pre_commit_cmd(&dir).arg("install"));
    dir
}

fn pre_commit_cmd(dir: &Path) -> Command {
    command(&pre_commit(), dir)
}

/// `git commit` of the staged files, through the hook git runs
/// (`.git/hooks/pre-commit`, written by `pre-commit install`): (success, output).
fn commit(dir: &Path, message: &str) -> (bool, String) {
    let out = git(dir)
        .args(["commit", "-q", "-m", message])
        .output()
        .expect("git runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const MANIFEST: &str = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\nlibc = \"0.2\"\n";

const CLEAN_MAIN: &str = r#"fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) };
    } else if pid > 0 {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#;

/// The child can run on into the parent's code: FL005 at `pid == 0` (3:8).
const FALLS_THROUGH: &str = r#"fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        println!("child");
    } else if pid > 0 {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#;

#[test]
#[ignore = "builds fork-lint with real pre-commit (minutes); .ci/run runs it"]
fn pre_commit_hook_installs_itself_and_lints_staged_files() {
    let dir = project(
        "single",
        &[("Cargo.toml", MANIFEST), ("src/main.rs", CLEAN_MAIN)],
    );
    ok(git(&dir).args(["add", "-A"]));
    let (passed, output) = commit(&dir, "clean");
    assert!(passed, "a clean commit passes the hook:\n{output}");
    // pre-commit built the hook into its own environment: nothing was installed before.
    let built: Vec<PathBuf> = std::fs::read_dir(&setup().home)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter_map(|repo| {
            let env = std::fs::read_dir(&repo)
                .ok()?
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with("rustenv"))?;
            Some(env.path().join("bin/fork-lint-hook"))
        })
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(
        built.len(),
        1,
        "the hook binary in PRE_COMMIT_HOME: {built:?}"
    );

    // A staged hazard fails the commit, named with its file and code; an unstaged
    // file with a hazard is not the commit's business.
    std::fs::write(dir.join("src/main.rs"), FALLS_THROUGH).unwrap();
    std::fs::write(dir.join("src/unstaged.rs"), FALLS_THROUGH).unwrap();
    ok(git(&dir).args(["add", "src/main.rs"]));
    let (passed, output) = commit(&dir, "hazard");
    assert!(!passed, "the hook stops the commit:\n{output}");
    assert!(output.contains("FL005"), "{output}");
    assert!(output.contains("src/main.rs:3:8"), "{output}");
    assert!(!output.contains("unstaged.rs"), "{output}");
    // Fixed (the child leaves with `_exit`, as in the first commit, now with a
    // comment so that there is something to commit), it passes.
    let fixed = CLEAN_MAIN.replace(
        "unsafe { libc::_exit(0) };",
        "unsafe { libc::_exit(0) }; // leave here",
    );
    std::fs::write(dir.join("src/main.rs"), fixed).unwrap();
    ok(git(&dir).args(["add", "src/main.rs"]));
    let (passed, output) = commit(&dir, "fixed");
    assert!(passed, "{output}");
}

/// The staged file is analysed with its package around it (SPEC §8.1): the thread that
/// makes the fork in `main.rs` hazardous is started in `pool.rs`, which is committed and
/// unchanged.
#[test]
#[ignore = "builds fork-lint with real pre-commit (minutes); run by .ci/run"]
fn pre_commit_hook_lints_a_staged_file_with_its_package_around_it() {
    const POOL: &str = "pub fn start() {\n    std::thread::spawn(|| loop {\n        std::thread::park();\n    });\n}\n";
    const MAIN: &str = r#"mod pool;

fn main() {
    pool::start();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        println!("child");
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
"#;
    let dir = project(
        "package",
        &[
            ("Cargo.toml", MANIFEST),
            ("src/main.rs", CLEAN_MAIN),
            ("src/pool.rs", POOL),
        ],
    );
    ok(git(&dir).args(["add", "-A"]));
    let (passed, output) = commit(&dir, "pool");
    assert!(passed, "{output}");
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    ok(git(&dir).args(["add", "src/main.rs"]));
    let (passed, output) = commit(&dir, "fork after the pool starts");
    assert!(
        !passed && output.contains("src/main.rs:5:") && output.contains("FL007"),
        "the fork in main.rs runs after pool::start() started a thread:\n{output}"
    );
}
