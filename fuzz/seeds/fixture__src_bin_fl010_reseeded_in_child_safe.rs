//! FL010 safe twin: each child makes a fresh generator after the fork.
//@ rule: FL010
//@ kind: safe
//@ run fork: ok
use fork_lint_fixtures as fx;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() {
    let mut rng = StdRng::from_os_rng();
    let batch: u64 = rng.random();
    assert!(batch > 0 || batch == 0);
    let mut children = Vec::new();
    for _ in 0..3 {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let mut rng = StdRng::from_os_rng();
            fx::random(rng.random::<u64>());
            unsafe { libc::_exit(0) }
        }
        children.push(pid);
    }
    for pid in children {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
