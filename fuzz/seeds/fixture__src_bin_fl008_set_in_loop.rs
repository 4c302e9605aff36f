//! FL008: the call sits in a loop; the second iteration is refused.
//@ rule: FL008
//@ kind: hazard
//@ run fork: error:context-already-set
//@ run spawn: error:context-already-set
//@ run forkserver: error:context-already-set
use fork_lint_fixtures as fx;

#[forkrt::main]
fn main() {
    fx::run(|| {
        for _batch in 0..2 {
            forkrt::set_start_method(fx::method())?; //~ FL008
        }
        Ok(())
    });
}
