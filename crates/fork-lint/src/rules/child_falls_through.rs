//! FL005: the child of a raw fork that can run on into the parent's code.

use crate::analysis::flow::{self, Flow};
use crate::analysis::walk::Code;
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds a forked child that can run on into the parent's code.
    ///
    /// Finds the child branch of a raw `fork()` (`libc::fork`, `nix::unistd::fork`,
    /// `fork::fork`, `vfork`) that can reach the end of the branch — or leave it with
    /// `return`, `?`, `break` — without calling `_exit`, `exit` or an `exec` function.
    /// A call of the package's own function that never returns (`-> !`, or every path
    /// ends in `_exit`/`exit`/`exec`) and a package macro that expands to one
    /// (`leave_child!()`) leave the child too.
    ///
    /// Children meant to continue are not reported: when every parent branch leaves the
    /// process (`exit`, `_exit`, `process::exit`, or returns an error with `?` or
    /// `return Err(..)`), the child goes on as the program — detaching by hand, as
    /// `daemon(3)` does — in every style: `Ok(Parent { .. }) => exit(0)`,
    /// `match pid { 0 => {}, _ => _exit(0) }`, `if pid > 0 { exit(0) }`. A catch-all
    /// arm (`_ =>`) after the child's arm is the parent's. A fork wrapper, a function
    /// that returns the fork's result to its caller by design (`fn fork() ->
    /// Result<Fork>`), is checked at its callers' child branches, never at its own.
    ///
    /// ## Why is this bad
    /// After `fork()` both processes run the same code. A child that leaves its branch
    /// goes on to run what follows the branch: the parent's code. It then does the
    /// parent's work a second time (writes files, answers requests, starts more
    /// children), runs destructors and `atexit` handlers that belong to the parent, and
    /// flushes the parent's buffered output again. `?` is a common way in: an error
    /// inside the child returns it to the caller, in the child process.
    ///
    /// ## Example
    /// ```rust,ignore
    /// match unsafe { nix::unistd::fork() }? {
    ///     ForkResult::Child => {
    ///         setup_child()?;          // an error returns into the caller, in the child
    ///         run_child_work();
    ///     }                            // …and so does the end of the branch
    ///     ForkResult::Parent { child } => { waitpid(child, None)?; }
    /// }
    /// commit_transaction();            // runs twice
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    /// match unsafe { nix::unistd::fork() }? {
    ///     ForkResult::Child => {
    ///         let code = match setup_child() { Ok(()) => { run_child_work(); 0 } Err(_) => 1 };
    ///         unsafe { libc::_exit(code) }
    ///     }
    ///     ForkResult::Parent { child } => { waitpid(child, None)?; }
    /// }
    /// ```
    ///
    /// ## References
    /// - [POSIX `fork`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/fork.html)
    /// - [POSIX `_exit`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/_exit.html):
    ///   why the child should not call `exit`
    /// - [`nix::unistd::fork`](https://docs.rs/nix/latest/nix/unistd/fn.fork.html) safety notes
    pub static CHILD_FALLS_THROUGH = {
        code: "FL005",
        name: "child-falls-through",
        severity: Error,
        check: Some(check),
    };
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for fp in cx.forks() {
        if !fp.kind.is_raw_fork() || fp.wrapper {
            continue;
        }
        let Some(child) = &fp.child else { continue };
        let Some(branch) = &child.branch else {
            continue;
        };
        let file = child.file;
        let good = |e: &syn::Expr| flow::exits(cx, file, e);
        let expand = file.flow_expander(cx);
        let mut f = Flow::new(&good, &|_| false, &|_| false, &|_| false).expanding(&expand);
        let outcome = f.code(branch.code);
        if !outcome.normal && outcome.leaks.is_empty() {
            continue;
        }
        // `Parent => exit(0), Child => { … }`: the child is meant to go on as the
        // program (daemonizing by hand); no parent is left to run the code twice. A
        // parent that only returns an error instead (`waitpid(child, None)?`) does not
        // go on as the program either.
        let parents = fp.parent_branches();
        let exits_always = |code: &Code<'_>| {
            let o = Flow::new(&good, &|_| false, &|_| false, &|_| false)
                .expanding(&expand)
                .code(*code);
            !o.normal && o.leaks.iter().all(|l| l.error)
        };
        if !parents.is_empty() && parents.iter().all(exits_always) {
            continue;
        }
        let mut labels = vec![Label {
            span: fp.span(),
            message: "the process forks here".into(),
            kind: LabelKind::Secondary,
        }];
        for leak in &outcome.leaks {
            labels.push(Label {
                span: file.span(leak.span),
                message: format!("the child {} here, into the parent's code", leak.how),
                kind: LabelKind::Secondary,
            });
        }
        let how = match (outcome.normal, outcome.leaks.first()) {
            (true, _) => "can reach the end of its branch".to_string(),
            (false, Some(leak)) => format!("{} out of its branch", leak.how),
            (false, None) => unreachable!("checked above"),
        };
        checker.report(
            &CHILD_FALLS_THROUGH,
            Finding {
                message: format!(
                    "the child process {how} without `_exit` or `exec`: it goes on to \
                    run the parent's code"
                ),
                primary: branch.span.clone(),
                primary_label: "the child's branch".into(),
                labels,
                help: Some(
                    "end every path of the child with `libc::_exit(code)` (or an `exec` \
                    call); handle errors inside the branch instead of with `?`"
                        .into(),
                ),
                fix: None,
            },
        );
    }
}
