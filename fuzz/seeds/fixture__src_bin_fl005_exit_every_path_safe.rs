//! FL005 safe twin: every path of the child, the error path included, ends in `_exit`.
//@ rule: FL005
//@ kind: safe
//@ run fork: ok
use fork_lint_fixtures as fx;

fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match std::fs::read_to_string("/nonexistent/worker.toml") {
            Ok(_) => 0,
            Err(_) => 1,
        };
        unsafe { libc::_exit(code) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    fx::marker("parent-work");
}
