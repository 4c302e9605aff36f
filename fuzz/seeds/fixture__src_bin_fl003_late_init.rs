//! FL003: the entry guard comes after a side effect. Every spawned child (and the
//! forkserver, itself started by spawn) runs the statements before the guard again.
//@ rule: FL003
//@ kind: hazard
//@ run fork: ok
//@ run spawn: twice:setup
//@ run forkserver: twice:setup
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(_: ()) {}

fn main() {
    fx::marker("setup");
    forkrt::init(); //~ FL003
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()?;
        Ok(())
    });
}
