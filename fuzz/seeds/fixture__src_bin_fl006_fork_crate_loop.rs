//! FL006 (the fork crate): a loop starts several children and never reaps them.
//@ rule: FL006
//@ kind: hazard
//@ run fork: zombie
use fork::{Fork, fork};
use std::time::Duration;

fn main() {
    for _ in 0..3 {
        match fork() { //~ FL006
            Ok(Fork::Child) => unsafe { libc::_exit(0) },
            Ok(Fork::Parent(pid)) => println!("observe: child-pid {pid}"),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(800));
}
