//! FL003 safe twin: only the fork method is used, which needs no entry guard.
//@ rule: FL003
//@ kind: safe
//@ run fork: ok
use fork_lint_fixtures as fx;
use forkrt::StartMethod;

#[forkrt::task]
fn work(_: ()) {}

fn main() {
    fx::marker("setup");
    fx::run(|| {
        let ctx = forkrt::get_context(StartMethod::Fork);
        let mut p = ctx.process(work, ());
        p.start()?;
        p.join()?;
        Ok(())
    });
}
