//! FL004 safe twin, in the style of std's own `Command::spawn` fork path: the result
//! passes through a `cvt` check, everything is prepared before the fork, and the child
//! only calls `dup2`, `execvp` and `_exit` — while another thread runs.
//@ rule: FL004
//@ kind: safe
//@ run fork: ok
use std::ffi::CString;
use std::io;

fn cvt(ret: libc::pid_t) -> io::Result<libc::pid_t> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

fn spawn_true(devnull: libc::c_int) -> io::Result<libc::pid_t> {
    let program = CString::new("true").unwrap();
    let argv = [program.as_ptr(), std::ptr::null()];
    let pid = cvt(unsafe { libc::fork() })?; //~ FL007
    if pid == 0 {
        unsafe {
            if libc::dup2(devnull, 1) == -1 {
                libc::_exit(126);
            }
            libc::execvp(program.as_ptr(), argv.as_ptr());
            libc::_exit(127)
        }
    }
    Ok(pid)
}

fn main() {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let _ = stopped.recv();
    });
    let devnull = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY) };
    let pid = spawn_true(devnull).expect("fork");
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    stop.send(()).unwrap();
    reader.join().unwrap();
    assert_eq!(libc::WEXITSTATUS(status), 0);
}
