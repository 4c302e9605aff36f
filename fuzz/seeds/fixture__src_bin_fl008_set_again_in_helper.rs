//! FL008: a helper called after `main` set the method sets it again.
//@ rule: FL008
//@ kind: hazard
//@ run fork: error:context-already-set
//@ run spawn: error:context-already-set
//@ run forkserver: error:context-already-set
use fork_lint_fixtures as fx;
use forkrt::{Process, StartMethod};

#[forkrt::task]
fn work(_: ()) {}

fn configure_workers() -> forkrt::Result<()> {
    forkrt::set_start_method(StartMethod::Fork)?; //~ FL008
    Ok(())
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        configure_workers()?;
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
