//! FL005 safe twin: the child execs, and leaves with `_exit` if exec fails.
//@ rule: FL005
//@ kind: safe
//@ run fork: ok
use fork_lint_fixtures as fx;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, execv, fork};
use std::ffi::CString;

fn main() {
    let prog = CString::new("/bin/true").unwrap();
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let _ = execv(&prog, &[&prog]);
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            waitpid(child, None).expect("waitpid");
        }
    }
    fx::marker("parent-work");
}
