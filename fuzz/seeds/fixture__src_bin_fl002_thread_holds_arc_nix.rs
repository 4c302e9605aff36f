//! FL002: another thread holds a clone of an `Arc<Mutex<_>>` when the process forks
//! (forced with a channel: the thread locks, then reports, then keeps the lock); the
//! child locks the same mutex through the original `Arc` and waits forever.
//@ rule: FL002
//@ kind: hazard
//@ run fork: deadlock
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};
use std::sync::{Arc, Mutex, mpsc};

fn main() {
    let cache = Arc::new(Mutex::new(0u64));
    let worker_cache = Arc::clone(&cache);
    let (locked, is_locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let mut entry = worker_cache.lock().unwrap();
        *entry += 1;
        locked.send(()).unwrap();
        let _ = released.recv();
    });
    is_locked.recv().unwrap();
    match unsafe { fork() } { //~ FL002 FL007
        Ok(ForkResult::Child) => {
            let hits = *cache.lock().unwrap(); //~ FL004 FL004
            unsafe { libc::_exit(hits as i32) }
        }
        Ok(ForkResult::Parent { child }) => {
            waitpid(child, None).unwrap();
            release.send(()).unwrap();
            worker.join().unwrap();
        }
        Err(_) => std::process::exit(2),
    }
}
