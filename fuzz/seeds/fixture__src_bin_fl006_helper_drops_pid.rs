//! FL006 (nix, through a helper): the parent's arm returns without waiting.
//@ rule: FL006
//@ kind: hazard
//@ run fork: zombie
use nix::unistd::{ForkResult, fork};
use std::time::Duration;

fn run_hook() -> nix::Result<()> {
    match unsafe { fork() }? { //~ FL006
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => {
            println!("observe: child-pid {child}");
            Ok(())
        }
    }
}

fn main() {
    run_hook().expect("fork");
    std::thread::sleep(Duration::from_millis(800));
}
