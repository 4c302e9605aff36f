//! FL003 safe twin: `#[forkrt::main]` runs the guard before anything else.
//@ rule: FL003
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
    fx::marker("setup");
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()?;
        Ok(())
    });
}
