//! FL002: the parent holds a static mutex's guard while it starts a process whose
//! target takes the same mutex. Under fork the child's copy of the lock is locked
//! forever; spawn and forkserver children start with a fresh, unlocked mutex.
//@ rule: FL002
//@ kind: hazard
//@ run fork: deadlock
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::sync::Mutex;

static STATE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[forkrt::task]
fn record(n: u32) {
    STATE.lock().unwrap().push(n);
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let guard = STATE.lock().unwrap();
        let mut p = Process::new(record, 1);
        p.start()?; //~ FL002
        p.join()?;
        drop(guard);
        Ok(())
    });
}
