//! FL008: starting a process with the default context fixes the start method (as in
//! Python); a later `set_start_method` is refused.
//@ rule: FL008
//@ kind: hazard
//@ run fork: error:context-already-set
//@ run spawn: error:context-already-set
//@ run forkserver: error:context-already-set
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(_: ()) {}

#[forkrt::main]
fn main() {
    fx::run(|| {
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()?;
        forkrt::set_start_method(fx::method())?; //~ FL008
        Ok(())
    });
}
