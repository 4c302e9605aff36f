//! FL009: configuration stored in a `OnceLock` by the parent is not there in a spawned
//! or forkserver child.
//@ rule: FL009
//@ kind: hazard
//@ run fork: ok
//@ run spawn: stale:CONFIG
//@ run forkserver: stale:CONFIG
use fork_lint_fixtures as fx;
use forkrt::Process;
use std::sync::OnceLock;

static CONFIG: OnceLock<String> = OnceLock::new();

#[forkrt::task]
fn work(_: ()) {
    fx::child("CONFIG", CONFIG.get().map_or("unset", String::as_str));
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        CONFIG.set("fast".to_string()).unwrap(); //~ FL009
        fx::set("CONFIG", "fast");
        let mut p = Process::new(work, ());
        p.start()?;
        p.join()
    });
}
