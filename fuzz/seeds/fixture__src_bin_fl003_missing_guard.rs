//! FL003: `main` never calls the entry guard. forkrt refuses to re-execute a program
//! whose `main` would run from the top in every child.
//@ rule: FL003
//@ kind: hazard
//@ run fork: ok
//@ run spawn: error:not-initialized
//@ run forkserver: error:not-initialized
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(_: ()) {}

fn main() { //~ FL003
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()?;
        Ok(())
    });
}
