//! FL007 in a library function: its callers are unknown and may have started threads.
//! Lint-only (a module of some library crate). The parent leaves at once and the child
//! goes on as the caller (detaching by hand), so the child's return is not FL005.
//@ rule: FL007
//@ kind: hazard
use nix::unistd::{ForkResult, fork, setsid};

pub fn detach() -> nix::Result<()> {
    match unsafe { fork() }? { //~ FL007
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => {
            setsid()?;
            Ok(())
        }
    }
}
