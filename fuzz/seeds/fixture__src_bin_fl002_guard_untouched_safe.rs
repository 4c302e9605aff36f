//! FL002 safe twin (nix's test-suite pattern): a guard is held across the fork, but
//! the child never takes that lock.
//@ rule: FL002
//@ kind: safe
//@ run fork: ok
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};
use std::sync::Mutex;

static FORK_MTX: Mutex<()> = Mutex::new(());

fn main() {
    let _m = FORK_MTX.lock().unwrap();
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => {
            waitpid(child, None).expect("waitpid");
        }
    }
}
