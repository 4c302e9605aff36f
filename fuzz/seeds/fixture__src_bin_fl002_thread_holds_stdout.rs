//! FL002: a thread holds stdout's lock at the fork (a `StdoutLock` kept on purpose);
//! the child prints and waits forever for a lock whose owner does not exist in it.
//@ rule: FL002
//@ kind: hazard
//@ run fork: deadlock
use std::io::Write;
use std::sync::mpsc;

fn main() {
    let (locked, is_locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let printer = std::thread::spawn(move || {
        let mut out = std::io::stdout().lock();
        out.write_all(b"").unwrap();
        locked.send(()).unwrap();
        let _ = released.recv();
    });
    is_locked.recv().unwrap();
    let pid = unsafe { libc::fork() }; //~ FL002 FL007
    if pid == 0 {
        println!("child says hello"); //~ FL004
        unsafe { libc::_exit(0) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    release.send(()).unwrap();
    printer.join().unwrap();
}
