//! FL009 safe twin: the setting travels in the process's argument.
//@ rule: FL009
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

#[forkrt::task]
fn work(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    fx::child("VERBOSE", VERBOSE.load(Ordering::Relaxed));
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let verbose = true;
        fx::set("VERBOSE", verbose);
        let mut p = Process::new(work, verbose);
        p.start()?;
        p.join()
    });
}
