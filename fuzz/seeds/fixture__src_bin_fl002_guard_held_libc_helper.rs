//! FL002: a guard alive across `libc::fork`; the child takes the lock in a helper.
//@ rule: FL002
//@ kind: hazard
//@ run fork: deadlock
use std::sync::Mutex;

static REGISTRY: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn register(pid: i32) {
    REGISTRY.lock().unwrap().push(pid);
}

fn main() {
    let registry = REGISTRY.lock().unwrap();
    let pid = unsafe { libc::fork() }; //~ FL002
    if pid == 0 {
        register(unsafe { libc::getpid() });
        unsafe { libc::_exit(0) }
    }
    drop(registry);
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
