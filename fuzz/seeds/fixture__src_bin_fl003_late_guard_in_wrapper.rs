//! FL003: `main` forwards to `real_main`, which logs before the guard.
//@ rule: FL003
//@ kind: hazard
//@ run fork: ok
//@ run spawn: twice:banner
//@ run forkserver: twice:banner
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(n: u32) {
    assert_eq!(n, 4);
}

fn banner() {
    fx::marker("banner");
}

fn real_main() {
    banner();
    forkrt::init(); //~ FL003
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut p = Process::new(work, 4);
        p.start()?;
        p.join()?;
        Ok(())
    });
}

fn main() {
    real_main();
}
