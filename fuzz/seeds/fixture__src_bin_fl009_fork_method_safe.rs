//! FL009 safe twin: the fork method is fixed, and a forked child inherits the flag.
//@ rule: FL009
//@ kind: safe
//@ run fork: ok
use fork_lint_fixtures as fx;
use forkrt::{Process, StartMethod};
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

#[forkrt::task]
fn work(_: ()) {
    fx::child("VERBOSE", VERBOSE.load(Ordering::Relaxed));
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(StartMethod::Fork)?;
        VERBOSE.store(true, Ordering::Relaxed);
        fx::set("VERBOSE", true);
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
