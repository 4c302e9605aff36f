//! FL001: a struct of this crate that does not derive `Serialize`/`Deserialize`.
//@ rule: FL001
//@ kind: hazard
//@ run fork: ok
//@ run spawn: error:not-serializable
//@ run forkserver: error:not-serializable
use fork_lint_fixtures as fx;
use forkrt::Process;

struct Job {
    id: u32,
    name: String,
}

#[forkrt::task]
fn run_job(job: Job) {
    assert!(job.id == 1 && !job.name.is_empty());
}

fn make_job() -> Job {
    Job { id: 1, name: "resize".into() }
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        let job = make_job();
        let mut p = Process::new(run_job, job); //~ FL001
        p.start()?;
        p.join()?;
        Ok(())
    });
}
