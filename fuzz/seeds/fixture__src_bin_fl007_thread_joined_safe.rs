//! FL007 safe twin: the thread is joined before the fork; forkrt sees one thread and
//! does not warn.
//@ rule: FL007
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(n: u32) {
    assert_eq!(n, 2);
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let warmup = std::thread::spawn(|| 1 + 1);
        let n = warmup.join().unwrap();
        let mut p = Process::new(work, n);
        p.start()?;
        p.join()?;
        Ok(())
    });
}
