//! FL005 safe twin: the child's branch calls a function that never returns.
//@ rule: FL005
//@ kind: safe
//@ run fork: ok
use fork::{Fork, fork};
use fork_lint_fixtures as fx;

fn child_main() -> ! {
    println!("child working");
    unsafe { libc::_exit(0) }
}

fn main() {
    match fork() {
        Ok(Fork::Child) => child_main(),
        Ok(Fork::Parent(pid)) => {
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
        Err(_) => std::process::exit(2),
    }
    fx::marker("parent-work");
}
