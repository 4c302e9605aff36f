//! FL006 safe twin: the child is reaped on every path, the error path included.
//@ rule: FL006
//@ kind: safe
//@ run fork: ok
use std::time::Duration;

fn supervise() -> std::io::Result<()> {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        std::thread::sleep(Duration::from_millis(100));
        unsafe { libc::_exit(0) }
    }
    println!("observe: child-pid {pid}");
    let limits = match std::fs::read_to_string("/nonexistent/limits.conf") {
        Ok(l) => l,
        Err(e) => {
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            return Err(e);
        }
    };
    println!("limits: {limits}");
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(())
}

fn main() {
    let _ = supervise();
    std::thread::sleep(Duration::from_millis(500));
}
