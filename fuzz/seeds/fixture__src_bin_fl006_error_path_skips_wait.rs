//! FL006: the parent waits on the success path, but an error between the fork and the
//! wait returns early and the child is never reaped.
//@ rule: FL006
//@ kind: hazard
//@ run fork: zombie
use std::time::Duration;

fn supervise() -> std::io::Result<()> {
    let pid = unsafe { libc::fork() }; //~ FL006
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    println!("observe: child-pid {pid}");
    let limits = std::fs::read_to_string("/nonexistent/limits.conf")?;
    println!("limits: {limits}");
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(())
}

fn main() {
    let _ = supervise();
    std::thread::sleep(Duration::from_millis(800));
}
