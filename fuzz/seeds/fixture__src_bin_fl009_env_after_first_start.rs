//! FL009 (environment): an environment variable set after a process was started.
//! Spawned children get the parent's current environment, but forkserver children
//! inherit the server's, fixed when the first process started it.
//@ rule: FL009
//@ kind: hazard
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: stale:WORK_MODE
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn warm_up(_: ()) {}

#[forkrt::task]
fn work(_: ()) {
    let mode = std::env::var("WORK_MODE").unwrap_or_else(|_| "unset".into());
    fx::child("WORK_MODE", mode);
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut first = Process::new(warm_up, ());
        first.start()?;
        first.join()?;
        unsafe { std::env::set_var("WORK_MODE", "fast") }; //~ FL009
        fx::set("WORK_MODE", "fast");
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
