//! FL004 safe twin: no other thread exists, so the child may print.
//@ rule: FL004
//@ kind: safe
//@ run fork: ok
fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        println!("child says hello");
        unsafe { libc::_exit(0) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
