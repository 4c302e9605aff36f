//! FL011 safe twin: stdout is flushed before the fork.
//@ rule: FL011
//@ kind: safe
//@ run fork: ok
use std::io::Write;

fn main() {
    print!("[once] starting workers... ");
    std::io::stdout().flush().unwrap();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        println!("worker ready");
        unsafe { libc::_exit(0) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    println!("all done");
}
