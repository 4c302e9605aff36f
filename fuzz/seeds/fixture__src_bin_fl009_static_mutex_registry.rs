//! FL009: the parent registers names in a static `Mutex<Vec<_>>`; the child counts them.
//@ rule: FL009
//@ kind: hazard
//@ run fork: ok
//@ run spawn: stale:NAMES
//@ run forkserver: stale:NAMES
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::sync::Mutex;

static NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[forkrt::task]
fn work(_: ()) {
    fx::child("NAMES", NAMES.lock().unwrap().len());
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        NAMES.lock().unwrap().push("alpha".to_string()); //~ FL009
        fx::set("NAMES", 1);
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
