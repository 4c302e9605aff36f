//! FL010 safe twin (libc): each child reseeds with its own pid before drawing.
//@ rule: FL010
//@ kind: safe
//@ run fork: ok
use fork_lint_fixtures as fx;

fn main() {
    unsafe { libc::srand(7) };
    for _ in 0..2 {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe { libc::srand(libc::getpid() as u32) };
            fx::random(unsafe { libc::rand() });
            unsafe { libc::_exit(0) }
        }
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
