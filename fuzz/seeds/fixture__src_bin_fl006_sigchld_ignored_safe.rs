//! FL006 safe twin: `SIGCHLD` is ignored, so the kernel reaps children itself.
//@ rule: FL006
//@ kind: safe
//@ run fork: ok
use std::time::Duration;

fn main() {
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    println!("observe: child-pid {pid}");
    std::thread::sleep(Duration::from_millis(500));
}
