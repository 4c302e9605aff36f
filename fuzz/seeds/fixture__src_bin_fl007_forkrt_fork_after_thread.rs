//! FL007: a forkrt process under the fork method while a background thread runs.
//! forkrt prints its runtime warning (like CPython 3.12) under fork; spawn and
//! forkserver do not fork this process.
//@ rule: FL007
//@ kind: hazard
//@ run fork: warned
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::sync::mpsc;

#[forkrt::task]
fn work(n: u32) {
    assert!(n == 2);
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let (stop, stopped) = mpsc::channel::<()>();
        let heartbeat = std::thread::spawn(move || {
            let _ = stopped.recv();
        });
        let mut p = Process::new(work, 2);
        p.start()?; //~ FL007
        p.join()?;
        stop.send(()).unwrap();
        heartbeat.join().unwrap();
        Ok(())
    });
}
