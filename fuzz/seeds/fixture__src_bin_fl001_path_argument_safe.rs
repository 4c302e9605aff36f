//! FL001 safe twin: the child gets a path and opens the file itself.
//@ rule: FL001
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::io::Write;
use std::path::PathBuf;

#[forkrt::task]
fn work(args: (PathBuf, u32)) {
    let (path, n) = args;
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    writeln!(log, "worker {n}").unwrap();
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let path = std::env::temp_dir().join("fl001-path.log");
        let mut p = Process::new(work, (path, 7));
        p.start()?;
        p.join()?;
        Ok(())
    });
}
