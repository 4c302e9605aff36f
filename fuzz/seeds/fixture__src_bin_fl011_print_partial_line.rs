//! FL011: `print!` leaves a partial line in stdout's buffer; both processes flush it.
//@ rule: FL011
//@ kind: hazard
//@ run fork: duplicated-output
fn main() {
    print!("[once] starting workers... ");
    let pid = unsafe { libc::fork() }; //~ FL011
    if pid == 0 {
        println!("worker ready");
        unsafe { libc::_exit(0) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    println!("all done");
}
