//! FL004 safe twin (fish-shell's exec path): everything the child needs is allocated
//! before the fork; the child only calls `execv` and `_exit`.
//@ rule: FL004
//@ kind: safe
//@ run fork: ok
use std::ffi::CString;
use std::sync::mpsc;

fn main() {
    let (release, released) = mpsc::channel::<()>();
    let background = std::thread::spawn(move || {
        let _ = released.recv();
    });
    let path = CString::new("/bin/true").unwrap();
    let argv = [path.as_ptr(), std::ptr::null()];
    let pid = unsafe { libc::fork() }; //~ FL007
    if pid == 0 {
        unsafe {
            libc::execv(path.as_ptr(), argv.as_ptr());
            libc::_exit(127)
        }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    release.send(()).unwrap();
    background.join().unwrap();
    assert_eq!(libc::WEXITSTATUS(status), 0);
}
