//! FL008 safe twin: a library-style "set it unless the program already did", which
//! checks the refusal instead of propagating it.
//@ rule: FL008
//@ kind: safe
//@ run fork: ok
//@ run spawn: ok
//@ run forkserver: ok
use fork_lint_fixtures as fx;
use forkrt::StartMethod;

fn prefer_spawn() {
    if forkrt::set_start_method(StartMethod::Spawn).is_err() {
        eprintln!("keeping the start method the program chose");
    }
}

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        prefer_spawn();
        Ok(())
    });
}
