//! FL010 (forkrt, a process-wide generator): the parent uses `fastrand` before
//! starting two processes whose target draws from it. Forked children copy the same
//! state; spawn and forkserver children seed their own.
//@ rule: FL010
//@ kind: hazard
//@ run fork: same-random
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(_: ()) {
    fx::random(fastrand::u64(..));
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let shard = fastrand::usize(..16);
        assert!(shard < 16);
        for _ in 0..2 {
            let mut p = Process::new(work, ());
            p.start()?; //~ FL010
            p.join()?;
        }
        Ok(())
    });
}
