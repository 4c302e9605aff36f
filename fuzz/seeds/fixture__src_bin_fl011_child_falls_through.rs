//! FL011 (the fork crate): the child runs on to the end of `main`, where stdout is
//! flushed at exit — the parent's partial line with it.
//@ rule: FL011
//@ kind: hazard
//@ run fork: duplicated-output
use fork::{Fork, fork};

fn main() {
    print!("[once] phase 1... ");
    match fork() { //~ FL011
        Ok(Fork::Child) => {} //~ FL005
        Ok(Fork::Parent(pid)) => {
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            println!("done");
        }
        Err(_) => {}
    }
}
