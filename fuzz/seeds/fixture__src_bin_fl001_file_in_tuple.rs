//! FL001: an open `File` inside a tuple argument of a forkrt process.
//!
//! Under fork the child inherits the descriptor and writes through it; under spawn
//! and forkserver the argument must be serialized, and `start()` fails.
//@ rule: FL001
//@ kind: hazard
//@ run fork: ok
//@ run spawn: error:not-serializable
//@ run forkserver: error:not-serializable
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::fs::File;
use std::io::Write;

#[forkrt::task]
fn work(args: (File, u32)) {
    let (mut log, n) = args;
    writeln!(log, "worker {n}").unwrap();
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let log = File::create(std::env::temp_dir().join("fl001-file.log")).expect("temp file");
        let mut p = Process::new(work, (log, 7)); //~ FL001
        p.start()?;
        p.join()?;
        Ok(())
    });
}
