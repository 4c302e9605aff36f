//! FL004: calls that are not async-signal-safe in a child before exec/_exit.

use syn::Expr;

use crate::analysis::catalog::ForkFn;
use crate::analysis::forks::{ForkKind, ForkPoint};
use crate::analysis::signal_safety::Verdict;
use crate::analysis::types;
use crate::analysis::walk::{Event, Holds, RegionWalk};
use crate::analysis::{PackageCx, fixes, locks, resolve, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};
use crate::fix::{Edit, Fix};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds calls that are not async-signal-safe in a child before `exec` or `_exit`.
    ///
    /// Finds calls that are not async-signal-safe in code that runs in a child process
    /// between `fork` and `exec`/`_exit`: in `CommandExt::pre_exec` closures always
    /// (unless the command is only ever `exec`ed, which runs the hooks in the calling
    /// process: followed through the functions the command is handed to), in
    /// the child of `vfork` always, and in the child branch of `libc::fork`,
    /// `nix::unistd::fork`, `fork::fork` and forkrt fork-method targets whenever the
    /// process may have other threads. It follows calls into the package's own
    /// functions, closures passed to them and the package's `macro_rules!` (a `die!`
    /// that logs and exits, tests a macro generates), and shows the chain.
    ///
    /// One statement is one finding: `STATS.lock().unwrap().push(x)` is reported once,
    /// at its first unsafe call, with the others as labels.
    ///
    /// Not async-signal-safe: allocation (`Box::new`, a `vec!` with elements,
    /// `String::from`, `Vec::with_capacity`, `to_string`, `collect`, `format!`,
    /// `.clone()` of a heap type — `String`, `Vec`, `Box`, maps — when its type is
    /// written, `push`/`insert` on a collection), `println!` and friends, `CString::new`,
    /// taking a lock, `std::env`, logging and tracing macros, `std::process::exit`,
    /// starting threads or commands, panics (`unwrap`, `expect`, `assert!`,
    /// `unreachable!`, `panic!`) and `?` that converts into an allocated error. Also
    /// common crates' functions that read the user and group databases through NSS
    /// (`nix::unistd::User::from_name`, `Group::from_name`, `initgroups`,
    /// `getgrouplist`: NSS may load modules, allocate and lock) and serialization
    /// (`serde_json`, `bincode`, `postcard`).
    ///
    /// Not reported: `Vec::new()`, `String::new()` and an empty `vec![]`, which do not
    /// allocate; `.clone()` of a value whose type is not known to own heap memory;
    /// `"3".parse().unwrap()` of a literal; `unwrap`/`expect` (`unwrap_err`) after a guard
    /// that proves it cannot panic — an `if x.is_none()`/`x.is_err()`/`let Err(..) = x`
    /// (`x.is_ok()`) without `else` whose body never falls through. std's path functions (`set_current_dir`,
    /// `fs::*`, `File::open`) copy a path shorter than 384 bytes to a stack buffer and
    /// allocate only for a longer one: they are reported unless the path is such a
    /// string literal, with that explanation and the fix (a `CString` built before the
    /// fork, then `libc::chdir`/`libc::open`).
    ///
    /// ## Why is this bad
    /// `fork` copies only the calling thread. Any lock another thread held at that
    /// moment — the allocator's, stdout's, the environment's, a logger's — is held
    /// forever in the child, and the child deadlocks the first time it takes it. POSIX
    /// allows only async-signal-safe functions in that window. A `pre_exec` closure runs
    /// in that window whatever thread calls `Command::spawn`, and the child of `vfork`
    /// shares the parent's memory, so neither may allocate at all.
    ///
    /// ## Example
    /// ```rust,ignore
    /// unsafe {
    ///     cmd.pre_exec(|| {
    ///         let dir = CString::new(path.as_os_str().as_bytes())?; // allocates
    ///         libc::chdir(dir.as_ptr());
    ///         Ok(())
    ///     });
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    /// let dir = CString::new(path.as_os_str().as_bytes())?;     // before the fork
    /// unsafe {
    ///     cmd.pre_exec(move || {
    ///         if libc::chdir(dir.as_ptr()) != 0 { return Err(io::Error::last_os_error()); }
    ///         Ok(())
    ///     });
    /// }
    /// ```
    ///
    /// ## Fixes
    /// - `std::process::exit(n)` (also `process::exit(n)`, `exit(n)` imported from
    ///   `std::process`) becomes `libc::_exit(n)` in an `unsafe` block, when the
    ///   package depends on `libc` (`nix::libc::_exit(n)` when it depends on `nix`
    ///   only; no fix when it depends on neither); `libc::exit(n)` becomes
    ///   `libc::_exit(n)`. **Unsafe** (`--unsafe-fixes`): `_exit` does not run `atexit`
    ///   handlers or flush stdout, so output the child left in stdout's buffer is no
    ///   longer written — which is what a child should do (the buffer is the
    ///   parent's copy), but a change of behaviour all the same.
    /// - In a `pre_exec` closure, `io::Error::new(kind, Errno::last())` and
    ///   `io::Error::other(Errno::last())` (or `io::Error::last_os_error()`, or the
    ///   `errno` crate's `errno()`, as the payload) become `io::Error::last_os_error()`.
    ///   **Safe**: the error of a `pre_exec` closure leaves the child only as its raw OS
    ///   error code (std sends `raw_os_error()` to the parent, `EINVAL` for an error
    ///   without one), so the fix keeps the errno the code meant to report — the parent
    ///   now sees it instead of `EINVAL` — and allocates nothing.
    ///
    /// No fix is offered for a call in a macro's expansion: the edit would rewrite the
    /// macro call, not the code the macro expands to.
    ///
    /// ## References
    /// - [POSIX.1-2017, 2.4.3 Signal
    ///   Actions](https://pubs.opengroup.org/onlinepubs/9699919799/functions/V2_chap02.html#tag_15_04_03):
    ///   the async-signal-safe functions
    /// - [POSIX `fork`](https://pubs.opengroup.org/onlinepubs/9699919799/functions/fork.html): "the
    ///   child process may only execute async-signal-safe operations until such time as one of the
    ///   exec functions is called"
    /// - [`CommandExt::pre_exec`][pre-exec] safety notes
    /// - [`nix::unistd::fork`](https://docs.rs/nix/latest/nix/unistd/fn.fork.html) safety notes
    ///
    /// [pre-exec]: https://doc.rust-lang.org/std/os/unix/process/trait.CommandExt.html#tymethod.pre_exec
    pub static UNSAFE_CALL_AFTER_FORK = {
        code: "FL004",
        name: "unsafe-call-after-fork",
        severity: Warning,
        check: Some(check),
    };
}

/// Why the region must be async-signal-safe, or `None` when it need not be.
fn context<'a>(checker: &Checker<'a>, fp: &'a ForkPoint<'a>) -> Option<(String, Vec<Label>)> {
    match fp.kind {
        ForkKind::PreExec => Some((
            "a `pre_exec` closure runs in the child between fork and exec".into(),
            Vec::new(),
        )),
        ForkKind::Raw(ForkFn::Vfork) => Some((
            "the child of `vfork` shares the parent's memory until it calls exec or `_exit`".into(),
            Vec::new(),
        )),
        ForkKind::Raw(k) if !k.is_daemon() => threaded(checker, fp),
        ForkKind::Forkrt => threaded(checker, fp),
        _ => None,
    }
}

fn threaded<'a>(checker: &Checker<'a>, fp: &'a ForkPoint<'a>) -> Option<(String, Vec<Label>)> {
    let threads = fp.threads(checker.cx);
    if !threads.may_have_threads() {
        return None;
    }
    let labels = threads
        .reasons()
        .iter()
        .take(2)
        .map(|r| r.label())
        .collect();
    Some((
        format!(
            "the child runs after a fork while {} may be running",
            threads.named()
        ),
        labels,
    ))
}

/// One unsafe call found by the walk, before findings are grouped by statement.
struct Hazard {
    /// The statement it is in (with the walk's frame): one finding per statement.
    statement: Option<(usize, crate::analysis::walk::StmtKey)>,
    what: String,
    why: String,
    span: Span,
    chain_labels: Vec<Label>,
    chain: Vec<String>,
    fix: Option<crate::fix::Fix>,
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for fp in cx.forks() {
        let Some(child) = &fp.child else { continue };
        let Some((why_here, thread_labels)) = context(checker, fp) else {
            continue;
        };
        let catalog = &cx.options.catalog;
        let extra_locks = &cx.options.extra_lock_types;
        let pre_exec = fp.kind == ForkKind::PreExec;
        let mut hazards: Vec<Hazard> = Vec::new();
        for code in child.codes() {
            RegionWalk::run(cx, child.file, child.func, code, &mut |ev, w| {
                let Some((what, why, span)) = judge(w, ev, catalog, extra_locks, pre_exec) else {
                    return;
                };
                // The child of a fork inside this child runs after a fork in a process with
                // one thread: its calls are not this fork's hazard. (Asked of hazards only:
                // an event's span costs a print of its tokens.)
                if w.in_nested_child(fp, ev.span()) {
                    return;
                }
                hazards.push(Hazard {
                    statement: w.statement(),
                    what,
                    why,
                    span,
                    chain_labels: w.chain_labels(),
                    chain: w.chain_names(),
                    fix: fix(cx, w, ev, pre_exec),
                });
            });
        }
        for group in by_statement(hazards) {
            report(checker, fp, child, &why_here, &thread_labels, group);
        }
    }
}

/// Groups hazards by statement, each group in source order (hazards outside any
/// statement stay alone).
fn by_statement(hazards: Vec<Hazard>) -> Vec<Vec<Hazard>> {
    let mut groups: Vec<Vec<Hazard>> = Vec::new();
    for h in hazards {
        let same = groups
            .iter_mut()
            .find(|g| h.statement.is_some() && g[0].statement == h.statement);
        match same {
            Some(g) => g.push(h),
            None => groups.push(vec![h]),
        }
    }
    for g in &mut groups {
        g.sort_by_key(|h| (h.span.start, h.span.end));
        g.dedup_by(|a, b| a.span == b.span);
    }
    groups
}

/// One finding for a statement: at its first unsafe call, the others as labels.
fn report<'a>(
    checker: &Checker<'a>,
    fp: &ForkPoint<'a>,
    child: &crate::analysis::walk::ChildRegion<'a>,
    why_here: &str,
    thread_labels: &[Label],
    group: Vec<Hazard>,
) {
    let mut group = group.into_iter();
    let Some(first) = group.next() else { return };
    let rest: Vec<Hazard> = group.collect();
    let mut labels = vec![Label {
        span: child.start.clone(),
        message: "the child starts here".into(),
        kind: LabelKind::Secondary,
    }];
    labels.push(Label {
        span: fp.span(),
        message: format!("the process forks here ({})", fp.kind.describe()),
        kind: LabelKind::Secondary,
    });
    labels.extend(first.chain_labels.iter().cloned());
    labels.extend(thread_labels.iter().cloned());
    for other in &rest {
        labels.push(Label {
            span: other.span.clone(),
            message: format!("also not async-signal-safe: `{}` {}", other.what, other.why),
            kind: LabelKind::Secondary,
        });
    }
    let via = if first.chain.is_empty() {
        String::new()
    } else {
        format!(
            " (reached through {})",
            first
                .chain
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" → ")
        )
    };
    let also = match rest.len() {
        0 => String::new(),
        1 => "; the statement has one more such call".to_string(),
        n => format!("; the statement has {n} more such calls"),
    };
    // The statement's fix: its first call's, or the first one any call has.
    let fix = std::iter::once(&first)
        .chain(&rest)
        .find_map(|h| h.fix.clone());
    checker.report(
        &UNSAFE_CALL_AFTER_FORK,
        Finding {
            message: format!(
                "`{}` is not async-signal-safe: it {}; {why_here}{via}{also}",
                first.what, first.why
            ),
            primary: first.span,
            primary_label: "not async-signal-safe".into(),
            labels,
            help: Some(
                "between fork and exec/_exit call only async-signal-safe functions: \
                allocate and format before the fork, write with `libc::write`, leave with \
                `libc::_exit`"
                    .into(),
            ),
            fix,
        },
    );
}

/// What is unsafe about this event, if anything: (display name, reason, span).
fn judge(
    w: &RegionWalk<'_>,
    ev: &Event<'_>,
    catalog: &crate::analysis::signal_safety::Catalog,
    extra_locks: &[String],
    pre_exec: bool,
) -> Option<(String, String, Span)> {
    if let Some(a) = locks::acquisition(w, ev, extra_locks) {
        let (what, span) = match ev {
            Event::Macro(mac) => (format!("{}!", syntax::macro_name(mac)), w.span(*mac)),
            Event::Expr(Expr::MethodCall(m)) => (format!(".{}()", m.method), a.span.clone()),
            _ => ("lock".to_string(), a.span.clone()),
        };
        // Output macros are judged by the catalog (they also format and allocate).
        if !matches!(ev, Event::Macro(_)) {
            return Some((
                what,
                format!(
                    "takes {}, which another thread may have held at the fork",
                    a.key.describe()
                ),
                span,
            ));
        }
    }
    match ev {
        Event::Macro(mac) => {
            let canon = w.file().resolver.canonical(&mac.path);
            match catalog.macro_call(&canon, mac) {
                Verdict::Unsafe(why) => Some((
                    format!("{}!", syntax::macro_name(mac)),
                    why.to_string(),
                    w.span(*mac),
                )),
                _ => None,
            }
        }
        Event::Expr(Expr::Call(c)) => {
            let Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            if crate::analysis::model::calls::callee(w.cx, w.file(), w.frame().func, ev_expr(ev)?)
                .is_some()
            {
                return None; // the walk looks inside
            }
            let candidates = w.resolve(&p.path);
            let verdict = catalog
                .path_call(&candidates, c.args.first())
                .unwrap_or_else(|| catalog.call(&candidates));
            match verdict {
                Verdict::Unsafe(why) => {
                    Some((path_text(&p.path), why.to_string(), w.span(*ev_expr(ev)?)))
                }
                _ => None,
            }
        }
        Event::FnValue(p) => {
            if crate::analysis::model::calls::resolve_fn(w.cx, w.file(), &p.path).is_some() {
                return None; // the walk looks inside
            }
            match catalog.call(&w.resolve(&p.path)) {
                Verdict::Unsafe(why) => Some((
                    path_text(&p.path),
                    format!("{why} (passed as a function value, it is called here)"),
                    w.span(*p),
                )),
                _ => None,
            }
        }
        Event::Expr(Expr::MethodCall(m)) => {
            let name = m.method.to_string();
            if crate::analysis::model::calls::callee(w.cx, w.file(), w.frame().func, ev_expr(ev)?)
                .is_some()
            {
                return None; // the walk looks inside
            }
            // `"0.0.0.0".parse::<IpAddr>().expect(..)`: the same literal parses every
            // time, so the panic cannot happen in a program that ever ran.
            if matches!(name.as_str(), "unwrap" | "expect") && parses_a_literal(&m.receiver) {
                return None;
            }
            // `if r.is_err() { return …; }` then `r.unwrap()`: a guard proved it.
            let proved = syntax::ident_of(&m.receiver).and_then(|v| w.known(&v));
            match (name.as_str(), proved) {
                ("unwrap" | "expect", Some(Holds::Value))
                | ("unwrap_err" | "expect_err", Some(Holds::NoValue)) => return None,
                _ => {}
            }
            let receiver = crate::analysis::model::calls::receiver_type(
                w.cx,
                w.file(),
                w.frame().func,
                &m.receiver,
                0,
            );
            match catalog.method_on(&name, receiver.as_deref()) {
                Verdict::Unsafe(why) => {
                    Some((format!(".{name}()"), why.to_string(), method_span(w, m)))
                }
                _ => None,
            }
        }
        Event::Expr(Expr::Try(t)) => {
            // The error converts into the function's error type; closures given to
            // `pre_exec` return `io::Result`, whose conversion does not allocate.
            if pre_exec && w.depth() == 0 {
                return None;
            }
            let func = w.frame().func?;
            let allocating = types::error_type_allocates(w.cx, func);
            allocating.then(|| {
                (
                    "?".to_string(),
                    format!(
                        "converts the error into `{}`'s error type, which allocates",
                        func.def.name
                    ),
                    w.span(&t.question_token),
                )
            })
        }
        _ => None,
    }
}

/// Whether an expression parses a string literal (`"0.0.0.0".parse::<IpAddr>()`).
fn parses_a_literal(e: &Expr) -> bool {
    match syntax::peel(e) {
        Expr::MethodCall(m) if m.method == "parse" => matches!(
            syntax::peel(&m.receiver),
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(_),
                ..
            })
        ),
        _ => false,
    }
}

fn ev_expr<'e>(ev: &'e Event<'e>) -> Option<&'e &'e Expr> {
    match ev {
        Event::Expr(e) => Some(e),
        _ => None,
    }
}

fn method_span(w: &RegionWalk<'_>, m: &syn::ExprMethodCall) -> Span {
    let start = w.span(&m.method);
    let end = w.span(&m.paren_token.span.join());
    Span {
        file: start.file.clone(),
        start: start.start,
        end: end.end,
    }
}

fn path_text(path: &syn::Path) -> String {
    syntax::segments(path).join("::")
}

/// The fix of the finding at `ev`, if the rule has one (see "Fixes" in the doc).
fn fix(cx: &PackageCx<'_>, w: &RegionWalk<'_>, ev: &Event<'_>, pre_exec: bool) -> Option<Fix> {
    let Event::Expr(Expr::Call(call)) = ev else {
        return None;
    };
    let Expr::Path(p) = syntax::peel(&call.func) else {
        return None;
    };
    let candidates = w.resolve(&p.path);
    let is = |pattern: &str| candidates.iter().any(|c| resolve::is(c, pattern));
    if is("libc::exit") || is("nix::libc::exit") {
        let last = &p.path.segments.last()?.ident;
        let edit = Edit {
            span: w.span(last),
            content: "_exit".into(),
        };
        return Some(Fix::unsafe_edits(
            "leave the child with `_exit`",
            vec![edit],
        ));
    }
    if is("std::process::exit") {
        let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        let file = w.file();
        // A crate's name may name something else here (a module, `use nix::libc`): a
        // leading `::` then names the crate itself.
        let krate = |name: String| {
            let shadowed = file.resolver.is_local(&name)
                || file
                    .resolver
                    .canonical_segments(std::slice::from_ref(&name), false)
                    != [name.as_str()];
            if shadowed { format!("::{name}") } else { name }
        };
        let root = &file.source.path;
        let package_root = cx.package.root.as_deref();
        let exit = match fixes::dependency_name(cx.manifest(), package_root, root, "libc") {
            Some(libc) => format!("{}::_exit", krate(libc)),
            None => {
                let nix = fixes::dependency_name(cx.manifest(), package_root, root, "nix")?;
                format!("{}::libc::_exit", krate(nix))
            }
        };
        let span = w.span(call);
        let call_text = format!("{exit}({})", fixes::text(&w.span(arg)));
        let content = if fixes::in_unsafe_block(file, span.start.offset) {
            call_text
        } else {
            format!("unsafe {{ {call_text} }}")
        };
        return Some(Fix::unsafe_edits(
            "leave the child with `_exit` (no exit handlers, no flush)",
            vec![Edit { span, content }],
        ));
    }
    if pre_exec && w.depth() == 0 && (is("std::io::Error::new") || is("std::io::Error::other")) {
        let payload = if is("std::io::Error::new") {
            call.args.iter().nth(1)?
        } else {
            call.args.first()?
        };
        let Expr::Call(read) = syntax::peel(payload) else {
            return None;
        };
        let Expr::Path(reader) = syntax::peel(&read.func) else {
            return None;
        };
        let reads_errno = w.resolve(&reader.path).iter().any(|c| {
            [
                "nix::errno::Errno::last",
                "nix::Error::last",
                "nix::errno::Error::last",
                "std::io::Error::last_os_error",
                "errno::errno",
            ]
            .iter()
            .any(|p| resolve::is(c, p))
        });
        if !reads_errno || !read.args.is_empty() {
            return None;
        }
        // The same path the code wrote (`io::Error`, `Error`, `std::io::Error`).
        let path = fixes::text(&w.span(&p.path)).to_string();
        let (ty, _) = path.rsplit_once("::")?;
        return Some(Fix::safe(
            "report the errno itself, without allocating",
            vec![Edit {
                span: w.span(call),
                content: format!("{ty}::last_os_error()"),
            }],
        ));
    }
    None
}
