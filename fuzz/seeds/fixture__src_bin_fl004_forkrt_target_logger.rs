//! FL004: a forkrt target logs through a mutex that a parent thread holds at the
//! fork. Under fork the child waits forever (and forkrt warns that the process had
//! threads); spawn and forkserver children start without the parent's threads.
//@ rule: FL004
//@ kind: hazard
//@ run fork: deadlock+warned
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::sync::{Mutex, mpsc};

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log_line(line: String) {
    LOG.lock().unwrap().push(line); //~ FL004 FL004
}

#[forkrt::task]
fn work(n: u32) {
    log_line(format!("worker {n} started")); //~ FL004
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let (locked, is_locked) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let flusher = std::thread::spawn(move || {
            let log = LOG.lock().unwrap();
            locked.send(log.len()).unwrap();
            let _ = released.recv();
        });
        is_locked.recv().unwrap();
        let mut p = Process::new(work, 1);
        p.start()?; //~ FL002 FL007
        p.join()?;
        release.send(()).unwrap();
        flusher.join().unwrap();
        Ok(())
    });
}
