//! FL007 in a library function: its callers are unknown and may have started threads.
//! Lint-only (a module of some library crate).
//@ rule: FL007
//@ kind: hazard
use nix::unistd::{ForkResult, fork, setsid};

pub fn detach() -> nix::Result<()> {
    match unsafe { fork() }? { //~ FL007
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => { //~ FL005
            setsid()?;
            Ok(())
        }
    }
}
