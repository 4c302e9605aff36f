//! FL005: the child's `match` arm prints and ends; the child then runs the parent's
//! code after the `match`.
//@ rule: FL005
//@ kind: hazard
//@ run fork: twice:parent-work
use fork_lint_fixtures as fx;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() {
    match unsafe { fork() } {
        Ok(ForkResult::Child) => { //~ FL005
            println!("child did its part");
        }
        Ok(ForkResult::Parent { child }) => {
            waitpid(child, None).unwrap();
        }
        Err(e) => panic!("fork failed: {e}"),
    }
    fx::marker("parent-work");
}
