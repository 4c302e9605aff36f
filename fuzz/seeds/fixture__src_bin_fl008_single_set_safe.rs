//! FL008 safe twin: the method is set once, first thing in `main`.
//@ rule: FL008
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(_: ()) {}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
