//! FL007: rayon's global pool keeps its worker threads after `par_iter` returns.
//! Lint-only (rayon is not built here).
//@ rule: FL007
//@ kind: hazard
use rayon::prelude::*;

fn main() {
    let total: u64 = (0..1000u64).into_par_iter().sum();
    let pid = unsafe { libc::fork() }; //~ FL007
    if pid == 0 {
        unsafe { libc::_exit((total % 2) as i32) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
