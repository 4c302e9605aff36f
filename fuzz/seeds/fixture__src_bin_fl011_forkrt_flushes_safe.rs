//! FL011 safe twin (forkrt): the runtime flushes stdout before it forks.
//@ rule: FL011
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;

#[forkrt::task]
fn work(_: ()) {
    println!("worker ready");
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        print!("[once] starting workers... ");
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()?;
        println!("all done");
        Ok(())
    });
}
