//! FL003 safe twin: `forkrt::init()` first; only a plain `let` precedes it.
//@ rule: FL003
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(n: u32) {
    assert_eq!(n, 3);
}

fn main() {
    let workers = 3;
    forkrt::init();
    fx::marker("setup");
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut p = Process::new(work, workers);
        p.start()?;
        p.join()?;
        Ok(())
    });
}
