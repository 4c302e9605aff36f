//! FL007 safe twin: the process forks first and starts its threads afterwards.
//@ rule: FL007
//@ kind: safe
//@ run fork: ok
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() {
    let child = match unsafe { fork() }.expect("fork") {
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => child,
    };
    let worker = std::thread::spawn(|| 40 + 2);
    assert_eq!(worker.join().unwrap(), 42);
    waitpid(child, None).expect("waitpid");
}
