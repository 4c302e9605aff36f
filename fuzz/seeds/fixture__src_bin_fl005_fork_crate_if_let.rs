//! FL005 (the fork crate's README style): `if let Ok(Fork::Child) = fork()` whose
//! body ends without leaving.
//@ rule: FL005
//@ kind: hazard
//@ run fork: twice:after-fork
use fork::{Fork, fork};
use fork_lint_fixtures as fx;

fn main() {
    if let Ok(Fork::Child) = fork() { //~ FL005
        println!("I'm a new child process");
    }
    // The parent reaps its child; the child (which has none) returns at once.
    unsafe { libc::wait(std::ptr::null_mut()) };
    fx::marker("after-fork");
}
