//! FL008 safe twin: replacing the method on purpose with `set_start_method_force`, and
//! a process that needs another method through `get_context`.
//@ rule: FL008
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::StartMethod;

#[forkrt::task]
fn work(_: ()) {}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(StartMethod::Spawn)?;
        forkrt::set_start_method_force(fx::method());
        let mut p = forkrt::get_context(StartMethod::Fork).process(work, ());
        p.start()?;
        p.join()
    });
}
