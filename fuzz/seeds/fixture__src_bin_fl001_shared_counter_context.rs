//! FL001: an `Arc<Mutex<_>>` given to a process through `get_context(..).process`.
//!
//! A lock cannot be shared with another process: under spawn and forkserver the
//! argument cannot be serialized at all.
//@ rule: FL001
//@ kind: hazard
//@ run fork: ok
//@ run spawn: error:not-serializable
//@ run forkserver: error:not-serializable
use fork_lint_fixtures as fx;
use std::sync::{Arc, Mutex};

#[forkrt::task]
fn bump(counter: Arc<Mutex<u32>>) {
    *counter.lock().unwrap() += 1;
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        let ctx = forkrt::get_context(fx::method());
        let counter = Arc::new(Mutex::new(0));
        let mut p = ctx.process(bump, Arc::clone(&counter)); //~ FL001
        p.start()?;
        p.join()?;
        Ok(())
    });
}
