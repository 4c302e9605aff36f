//! FL002 safe twin: the thread that takes the lock is joined before the fork.
//@ rule: FL002
//@ kind: safe
//@ run fork: ok
use std::sync::{Arc, Mutex};

fn main() {
    let cache = Arc::new(Mutex::new(0u64));
    let worker_cache = Arc::clone(&cache);
    let worker = std::thread::spawn(move || {
        *worker_cache.lock().unwrap() += 1;
    });
    worker.join().unwrap();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let hits = *cache.lock().unwrap();
        unsafe { libc::_exit(hits as i32 - 1) }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(libc::WEXITSTATUS(status), 0);
}
