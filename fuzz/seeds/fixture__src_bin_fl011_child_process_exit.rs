//! FL011: the child leaves with `std::process::exit`, which flushes stdout — including
//! the parent's partial line.
//@ rule: FL011
//@ kind: hazard
//@ run fork: duplicated-output
fn main() {
    print!("[once] checking... ");
    let pid = unsafe { libc::fork() }; //~ FL011
    if pid == 0 {
        std::process::exit(0);
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    println!("ok");
}
