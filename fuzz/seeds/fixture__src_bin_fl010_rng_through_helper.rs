//! FL010: the child hands the inherited generator to a helper that draws from it.
//@ rule: FL010
//@ kind: hazard
//@ run fork: same-random
use fork::{Fork, fork};
use fork_lint_fixtures as fx;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn pick_port(rng: &mut SmallRng) -> u16 {
    rng.random_range(20_000..60_000)
}

fn main() {
    let mut rng = SmallRng::from_os_rng();
    for _ in 0..2 {
        match fork() { //~ FL010
            Ok(Fork::Child) => {
                fx::random(pick_port(&mut rng));
                unsafe { libc::_exit(0) }
            }
            Ok(Fork::Parent(pid)) => {
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            }
            Err(_) => std::process::exit(2),
        }
    }
}
