//! FL004 safe twin: the `pre_exec` closure only calls `setsid(2)`, while another thread
//! holds stderr's lock.
//@ rule: FL004
//@ kind: safe
//@ run fork: ok
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::mpsc;

fn main() {
    let (locked, is_locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let logger = std::thread::spawn(move || {
        let mut err = std::io::stderr().lock();
        err.write_all(b"").unwrap();
        locked.send(()).unwrap();
        let _ = released.recv();
    });
    is_locked.recv().unwrap();
    let mut cmd = Command::new("true");
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().expect("spawn");
    release.send(()).unwrap();
    logger.join().unwrap();
    assert!(status.success());
}
