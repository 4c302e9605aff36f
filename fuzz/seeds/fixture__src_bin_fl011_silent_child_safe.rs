//! FL011 safe twin: the child neither writes nor flushes; `_exit` discards its copy.
//@ rule: FL011
//@ kind: safe
//@ run fork: ok
fn main() {
    print!("[once] starting workers... ");
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    println!("all done");
}
