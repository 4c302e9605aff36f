//! FL004: a `pre_exec` closure prints to stderr while another thread holds stderr's
//! lock: the child blocks before exec, and `Command::status` waits for it forever.
//@ rule: FL004
//@ kind: hazard
//@ run fork: deadlock
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
            eprintln!("about to exec"); //~ FL004
            Ok(())
        });
    }
    let status = cmd.status().expect("spawn");
    release.send(()).unwrap();
    logger.join().unwrap();
    assert!(status.success());
}
