//! FL007 safe twin: scoped threads have all finished when `thread::scope` returns.
//@ rule: FL007
//@ kind: safe
//@ run fork: ok
fn main() {
    let mut parts = [0u64; 4];
    std::thread::scope(|s| {
        for (i, p) in parts.iter_mut().enumerate() {
            s.spawn(move || *p = i as u64 * 10);
        }
    });
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit((parts.iter().sum::<u64>() != 60) as i32) }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(libc::WEXITSTATUS(status), 0);
}
