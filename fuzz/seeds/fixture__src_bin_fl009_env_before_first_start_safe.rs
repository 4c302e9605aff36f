//! FL009 safe twin: the environment is set before any process starts, so spawned
//! children and the forkserver (started afterwards) both have it.
//@ rule: FL009
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(_: ()) {
    let mode = std::env::var("WORK_MODE").unwrap_or_else(|_| "unset".into());
    fx::child("WORK_MODE", mode);
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        unsafe { std::env::set_var("WORK_MODE", "fast") };
        fx::set("WORK_MODE", "fast");
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
