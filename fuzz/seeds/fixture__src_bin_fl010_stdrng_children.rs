//! FL010: an RNG seeded once, before forking three workers; each child draws from its
//! copy of the same state.
//@ rule: FL010
//@ kind: hazard
//@ run fork: same-random
use fork_lint_fixtures as fx;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() {
    let mut rng = StdRng::from_os_rng();
    let mut children = Vec::new();
    for _ in 0..3 {
        let pid = unsafe { libc::fork() }; //~ FL010
        if pid == 0 {
            let token: u64 = rng.random();
            fx::random(token);
            unsafe { libc::_exit(0) }
        }
        children.push(pid);
    }
    for pid in children {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
