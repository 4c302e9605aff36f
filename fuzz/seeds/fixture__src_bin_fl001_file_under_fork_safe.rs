//! FL001 safe twin: the start method is fixed to fork, where the `File` is inherited.
//@ rule: FL001
//@ kind: safe
//@ run fork: ok
use fork_lint_fixtures as fx;
use forkrt::{Process, StartMethod};
use std::fs::File;
use std::io::Write;

#[forkrt::task]
fn work(mut log: File) {
    writeln!(log, "inherited").unwrap();
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(StartMethod::Fork)?;
        let log = File::create(std::env::temp_dir().join("fl001-fork.log")).expect("temp file");
        let mut p = Process::new(work, log);
        p.start()?;
        p.join()?;
        Ok(())
    });
}
