//! FL009: a `static mut` set by the parent, read by the target through a helper.
//@ rule: FL009
//@ kind: hazard
//@ run fork: ok
//@ run spawn: stale:LEVEL
//@ run forkserver: stale:LEVEL
use fork_lint_fixtures as fx;
use forkrt::Process;

static mut LEVEL: u32 = 0;

fn level() -> u32 {
    unsafe { LEVEL }
}

#[forkrt::task]
fn work(_: ()) {
    fx::child("LEVEL", level());
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        unsafe { LEVEL = 3 }; //~ FL009
        fx::set("LEVEL", 3);
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
