//! FL007: forking while a worker thread holds a lock (forced with a channel); the child
//! needs the same lock and waits forever — the lock's owner does not exist in it.
//@ rule: FL007
//@ kind: hazard
//@ run fork: deadlock
use std::sync::{Mutex, mpsc};

static JOBS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn main() {
    let (locked, is_locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let scheduler = std::thread::spawn(move || {
        let mut jobs = JOBS.lock().unwrap();
        jobs.push(1);
        locked.send(()).unwrap();
        let _ = released.recv();
    });
    is_locked.recv().unwrap();
    let pid = unsafe { libc::fork() }; //~ FL007 FL002
    if pid == 0 {
        let pending = JOBS.lock().map(|j| j.len()).unwrap_or(0); //~ FL004
        unsafe { libc::_exit(pending as i32) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    release.send(()).unwrap();
    scheduler.join().unwrap();
}
