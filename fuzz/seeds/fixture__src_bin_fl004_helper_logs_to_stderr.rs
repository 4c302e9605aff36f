//! FL004: the child reports through a helper that uses `eprintln!`, while another
//! thread held stderr's lock at the fork. The finding is on the call inside the helper,
//! with the call chain.
//@ rule: FL004
//@ kind: hazard
//@ run fork: deadlock
use std::io::Write;
use std::sync::mpsc;

fn report(what: &str) {
    eprintln!("child: {what}"); //~ FL004
}

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
    match unsafe { nix::unistd::fork() } { //~ FL002 FL007
        Ok(nix::unistd::ForkResult::Child) => {
            report("started");
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            nix::sys::wait::waitpid(child, None).ok();
            release.send(()).unwrap();
            logger.join().unwrap();
        }
        Err(_) => unsafe { libc::_exit(2) },
    }
}
