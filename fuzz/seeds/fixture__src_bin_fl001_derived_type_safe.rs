//! FL001 safe twin: the argument type derives `Serialize` and `Deserialize`.
//@ rule: FL001
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::Process;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Job {
    id: u32,
    name: String,
}

#[forkrt::task]
fn run_job(job: Job) {
    assert!(job.id == 1 && job.name == "resize");
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let mut p = Process::new(run_job, Job { id: 1, name: "resize".into() });
        p.start()?;
        p.join()?;
        Ok(())
    });
}
