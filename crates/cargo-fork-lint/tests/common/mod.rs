//! Shared by the CLI test files: sample inputs written to temporary directories, and
//! the commands under test.

#![allow(dead_code)] // each test file uses a different subset

use std::path::Path;

use assert_cmd::Command;
use tempfile::TempDir;

/// A program with two FL005 findings (each with a secondary label at the fork call):
/// a `match` on `nix::unistd::fork()` whose child arm falls through (line 5), and an
/// `if pid == 0` child branch of `libc::fork()` that does too (line 14).
pub const FALLS_THROUGH: &str = r#"use nix::unistd::ForkResult;

fn main() {
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            println!("x");
        }
        Ok(ForkResult::Parent { child }) => {
            nix::sys::wait::waitpid(child, None).unwrap();
        }
        Err(_) => {}
    }
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        run_child_work();
    } else {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#;

/// A careful program: every child path ends in `_exit`. No finding.
pub const CLEAN: &str = r#"fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) };
    } else if pid > 0 {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#;

/// A program with one finding per kind of fix (with `--select FL004,FL011`): FL011 at
/// the fork on line 7 (safe: flush stdout before it), FL004 at `io::Error::other`
/// wrapping an errno in `pre_exec` on line 16 (safe: `io::Error::last_os_error()`),
/// FL004 at `std::process::exit` in `pre_exec` on line 19 (unsafe: `libc::_exit`).
/// Its package is [`FIXABLE_MANIFEST`] (the exit fix needs the `libc` dependency).
pub const FIXABLE: &str = r#"use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

fn main() {
    print!("starting... ");
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        std::process::exit(0);
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    let mut cmd = Command::new("true");
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::other(nix::errno::Errno::last()));
            }
            if libc::chdir(c"/".as_ptr()) != 0 {
                std::process::exit(1);
            }
            Ok(())
        });
    }
    cmd.status().unwrap();
}
"#;

/// The package of [`FIXABLE`]: it depends on `libc` and `nix` (never built).
pub const FIXABLE_MANIFEST: &str = r#"[package]
name = "fixable"
version = "0.1.0"
edition = "2024"

[dependencies]
libc = "0.2"
nix = { version = "0.31", features = ["process"] }
"#;

/// [`FIXABLE`] in its package, in a temporary directory.
pub fn fixable_package() -> TempDir {
    dir_with(&[("Cargo.toml", FIXABLE_MANIFEST), ("src/main.rs", FIXABLE)])
}

/// A temporary directory holding `files` (relative path, contents).
pub fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    dir
}

pub fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `fork-lint` run in `dir`, with colors off and no inherited NO_COLOR.
pub fn fork_lint(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fork-lint"));
    cmd.current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// `cargo-fork-lint` run in `dir` as cargo runs it (`cargo-fork-lint fork-lint …`).
pub fn cargo_fork_lint(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-fork-lint"));
    cmd.current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE")
        .arg("fork-lint");
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("the command runs");
    Run {
        code: out.status.code().expect("an exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// `(file, line, code)` of each finding of a JSON report.
pub fn findings(json: &str) -> Vec<(String, u64, String)> {
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON output");
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
