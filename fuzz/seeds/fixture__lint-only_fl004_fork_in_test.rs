//! FL004 inside `#[test]`: the test harness runs tests on several threads, so the child
//! must not allocate or print. Lint-only (a test file of some crate).
//@ rule: FL004
//@ kind: hazard
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

#[test]
fn child_reports_status() {
    match unsafe { fork() }.expect("fork") { //~ FL007
        ForkResult::Child => {
            let msg = format!("child {}", std::process::id()); //~ FL004
            tracing::info!("{msg}"); //~ FL004
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            waitpid(child, None).unwrap();
        }
    }
}
