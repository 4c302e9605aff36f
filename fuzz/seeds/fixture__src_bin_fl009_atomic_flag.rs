//! FL009: the parent turns on a static flag, then starts a process whose target reads
//! it. Under fork the child inherits the flag; spawn and forkserver children see its
//! initial value.
//@ rule: FL009
//@ kind: hazard
//@ run fork: ok
//@ run spawn: stale:VERBOSE
//@ run forkserver: stale:VERBOSE
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

#[forkrt::task]
fn work(_: ()) {
    fx::child("VERBOSE", VERBOSE.load(Ordering::Relaxed));
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        VERBOSE.store(true, Ordering::Relaxed); //~ FL009
        fx::set("VERBOSE", true);
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
