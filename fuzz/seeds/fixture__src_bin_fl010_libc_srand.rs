//! FL010 (libc): `srand` in the parent, `rand` in every child.
//@ rule: FL010
//@ kind: hazard
//@ run fork: same-random
use fork_lint_fixtures as fx;

fn main() {
    unsafe { libc::srand(libc::time(std::ptr::null_mut()) as u32) };
    for _ in 0..2 {
        match unsafe { nix::unistd::fork() } { //~ FL010
            Ok(nix::unistd::ForkResult::Child) => {
                fx::random(unsafe { libc::rand() });
                unsafe { libc::_exit(0) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                nix::sys::wait::waitpid(child, None).unwrap();
            }
            Err(_) => unsafe { libc::_exit(2) },
        }
    }
}
