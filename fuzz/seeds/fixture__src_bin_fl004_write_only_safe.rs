//! FL004 safe twin: another thread holds stdout's lock at the fork, but the child only
//! calls async-signal-safe functions (`write(2)`, `_exit`). FL007 still warns about
//! forking with threads, which this program does on purpose.
//@ rule: FL004
//@ kind: safe
//@ run fork: ok
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
    let msg = b"child says hello\n";
    let pid = unsafe { libc::fork() }; //~ FL007
    if pid == 0 {
        unsafe {
            libc::write(1, msg.as_ptr().cast(), msg.len());
            libc::_exit(0)
        }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    release.send(()).unwrap();
    printer.join().unwrap();
}
