//! FL006: the parent forks and keeps working without ever waiting: the child is a
//! zombie for as long as the parent runs.
//@ rule: FL006
//@ kind: hazard
//@ run fork: zombie
use std::time::Duration;

fn main() {
    let pid = unsafe { libc::fork() }; //~ FL006
    if pid == 0 {
        unsafe { libc::_exit(0) }
    }
    println!("observe: child-pid {pid}");
    std::thread::sleep(Duration::from_millis(800));
}
