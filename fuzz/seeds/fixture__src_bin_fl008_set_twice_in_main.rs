//! FL008: `set_start_method` called twice in `main`; forkrt refuses the second call.
//@ rule: FL008
//@ kind: hazard
//@ run fork: error:context-already-set
//@ run spawn: error:context-already-set
//@ run forkserver: error:context-already-set
use fork_lint_fixtures as fx;
use forkrt::StartMethod;

#[forkrt::main]
fn main() {
    fx::run(|| {
        forkrt::set_start_method(fx::method())?;
        forkrt::set_start_method(StartMethod::Spawn)?; //~ FL008
        Ok(())
    });
}
