//! FL002 safe twin: the guard is dropped before the fork, so the child's lock is free.
//@ rule: FL002
//@ kind: safe
//@ run fork: ok
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
        let before = guard.len();
        drop(guard);
        let mut p = Process::new(record, before as u32);
        p.start()?;
        p.join()?;
        Ok(())
    });
}
