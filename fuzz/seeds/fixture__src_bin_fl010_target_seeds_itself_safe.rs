//! FL010 safe twin (forkrt): the target creates its own generator.
//@ rule: FL010
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[forkrt::task]
fn work(_: ()) {
    let mut rng = StdRng::from_os_rng();
    fx::random(rng.random::<u64>());
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        for _ in 0..2 {
            let mut p = Process::new(work, ());
            p.start()?;
            p.join()?;
        }
        Ok(())
    });
}
