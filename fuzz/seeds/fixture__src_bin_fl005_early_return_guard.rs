//! FL005: the parent returns early (`if pid != 0 { …; return }`) and the rest of the
//! function is the child's, which returns into the caller.
//@ rule: FL005
//@ kind: hazard
//@ run fork: twice:caller-resumes
use fork_lint_fixtures as fx;

fn start_helper() {
    let pid = unsafe { libc::fork() };
    if pid != 0 { //~ FL005
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return;
    }
    println!("helper running");
}

fn main() {
    start_helper();
    fx::marker("caller-resumes");
}
