//! FL005: an error in the child returns with `?` into the caller — in the child, which
//! then runs the rest of `main`.
//@ rule: FL005
//@ kind: hazard
//@ run fork: twice:main-continues
use fork_lint_fixtures as fx;

fn spawn_worker() -> std::io::Result<()> {
    let pid = unsafe { libc::fork() };
    if pid == 0 { //~ FL005
        let config = std::fs::read_to_string("/nonexistent/worker.toml")?;
        println!("{config}");
        unsafe { libc::_exit(0) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(())
}

fn main() {
    let _ = spawn_worker();
    fx::marker("main-continues");
}
