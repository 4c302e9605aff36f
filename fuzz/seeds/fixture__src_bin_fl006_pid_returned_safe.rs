//! FL006 safe twin: the helper returns the pid, and its caller reaps it.
//@ rule: FL006
//@ kind: safe
//@ run fork: ok
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};

fn start_child() -> nix::Result<Pid> {
    match unsafe { fork() }? {
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => Ok(child),
    }
}

fn main() {
    let child = start_child().expect("fork");
    println!("observe: child-pid {child}");
    waitpid(child, None).expect("waitpid");
    std::thread::sleep(std::time::Duration::from_millis(300));
}
