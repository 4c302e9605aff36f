//! Inline checks of the analyses, one snippet per style. The fixture suite in
//! `tests/` at the workspace root holds the runnable programs.

use fork_lint::{LintOptions, lint_source};

fn codes(src: &str) -> Vec<(String, usize)> {
    let report = lint_source("t.rs", src, &LintOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report
        .diagnostics
        .iter()
        .map(|d| (d.code.to_string(), d.primary.start.line))
        .collect()
}

#[test]
fn fl005_match_arm_falls_through() {
    let src = r#"
use nix::unistd::{fork, ForkResult};
fn main() {
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            println!("child");
        }
        Ok(ForkResult::Parent { child }) => { nix::sys::wait::waitpid(child, None).unwrap(); }
        Err(_) => {}
    }
}
"#;
    assert_eq!(codes(src), vec![("FL005".into(), 5)]);
}

#[test]
fn fl005_exit_in_every_path_is_silent() {
    let src = r#"
fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        if std::env::args().count() > 1 { unsafe { libc::_exit(1) } }
        unsafe { libc::_exit(0) };
    } else if pid > 0 {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#;
    assert_eq!(codes(src), vec![]);
}

#[test]
fn fl005_question_mark_and_early_return_style() {
    let src = r#"
fn spawn_worker() -> std::io::Result<()> {
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Ok(());
    }
    std::fs::write("/tmp/x", b"x")?;
    unsafe { libc::_exit(0) }
}
fn main() { spawn_worker().unwrap(); }
"#;
    assert_eq!(codes(src), vec![("FL005".into(), 4)]);
}

#[test]
fn a_local_fork_function_is_not_a_fork_point() {
    let src = r#"
fn fork() -> i32 { 0 }
fn main() { if fork() == 0 { println!("not a child"); } }
"#;
    assert_eq!(codes(src), vec![]);
}
