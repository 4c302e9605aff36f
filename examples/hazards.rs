//! A small job runner with the fork-safety bugs fork-lint finds. Lint it with
//! `cargo run -p cargo-fork-lint --bin fork-lint -- examples/hazards.rs`.
//! (The runnable, confirmed versions of each hazard are in `fixtures/`.)

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use forkrt::Process;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

static JOBS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Runs one job in a child process (forkrt picks the start method).
#[forkrt::task]
fn run_job(args: (File, String)) {
    let (mut log, name) = args;
    if VERBOSE.load(Ordering::Relaxed) {
        writeln!(log, "running {name}").ok();
    }
}

/// Runs a shell hook in a forked child.
fn run_hook(hook: &str) -> nix::Result<()> {
    let _flusher = std::thread::spawn(|| loop {
        std::thread::park();
    });
    match unsafe { fork() }? {
        ForkResult::Child => {
            let queued = JOBS.lock().unwrap().len();
            println!("hook {hook}: {queued} jobs queued");
        }
        ForkResult::Parent { child } => {
            waitpid(child, None)?;
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    println!("job runner starting");
    forkrt::init();
    VERBOSE.store(true, Ordering::Relaxed);
    let log = File::create("jobs.log")?;
    let mut p = Process::new(run_job, (log, "resize".to_string()));
    p.start().expect("start");
    p.join().expect("join");
    run_hook("post-run").expect("hook");
    Ok(())
}
