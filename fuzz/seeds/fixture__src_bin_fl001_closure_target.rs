//! FL001: a closure as the target. Under fork it simply runs in the child; a spawned
//! child finds targets by name and cannot find a closure.
//@ rule: FL001
//@ kind: hazard
//@ run fork: ok
//@ run spawn: error:not-registered
//@ run forkserver: error:not-registered
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let factor = 3;
        let mut p = Process::new(move |n: u32| assert_eq!(n * factor, 21), 7); //~ FL001
        p.start()?;
        p.join()?;
        Ok(())
    });
}
