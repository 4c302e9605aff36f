//! FL011: buffered output not flushed before a fork.

use syn::{Expr, Stmt};

use crate::analysis::flow::{self, Flow};
use crate::analysis::forks::{ForkKind, ForkPoint};
use crate::analysis::walk::ChildRegion;
use crate::analysis::walk::{Event, RegionWalk};
use crate::analysis::{PackageCx, fixes, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};
use crate::fix::Fix;

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds buffered output, not flushed before a fork, that the child will flush again.
    ///
    /// Finds a fork point reached with output still in a user-space buffer — text
    /// written with `print!` (or `write!` to `io::stdout()`) without a final newline
    /// and not flushed, or a `BufWriter`/`LineWriter` written and not flushed — when the
    /// child will flush that buffer: it writes to the same stream, leaves with
    /// `std::process::exit` (which flushes stdout), or can run on to the end of its
    /// branch (where destructors flush writers). A child that leaves with `_exit`
    /// without writing is fine. forkrt's fork method flushes stdout and stderr itself,
    /// so only writers are reported there.
    ///
    /// ## Why is this bad
    /// The buffer is part of the memory the child copies. When both processes later
    /// flush it, the same bytes reach the file or terminal twice: log lines, report
    /// headers or partial records appear duplicated, or interleaved with the child's
    /// own output.
    ///
    /// ## Example
    /// ```rust,ignore
    /// print!("starting workers... ");
    /// if unsafe { libc::fork() } == 0 {
    ///     println!("worker ready");   // prints "starting workers... worker ready"
    ///     unsafe { libc::_exit(0) }
    /// }
    /// println!("done");               // prints "starting workers... done"
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    /// print!("starting workers... ");
    /// io::stdout().flush()?;          // nothing left to copy
    /// if unsafe { libc::fork() } == 0 { /* … */ }
    /// ```
    ///
    /// ## Fixes
    /// A statement that flushes the stream, inserted on its own line before the
    /// statement that forks: `let _ = std::io::stdout().flush();` (written
    /// `std::io::Write::flush(&mut std::io::stdout())` where `std::io::Write` is not
    /// surely in scope) or `let _ = out.flush();` for a writer `out` (its writes already
    /// need `Write` in scope). **Safe**: the same bytes reach the same stream in the
    /// same order, only before the fork, so the child's copy of the buffer is empty.
    /// The early flush's error is ignored: a writer keeps what it could not write, and
    /// its next write or flush reports the error as before.
    ///
    /// ## References
    /// - [POSIX `fork`, application
    ///   usage](https://pubs.opengroup.org/onlinepubs/9799919799/functions/fork.html): stdio
    ///   buffers are duplicated
    /// - [`std::io::Stdout`](https://doc.rust-lang.org/std/io/struct.Stdout.html) is line-buffered;
    ///   [`BufWriter`](https://doc.rust-lang.org/std/io/struct.BufWriter.html) flushes on drop
    pub static UNFLUSHED_OUTPUT_AT_FORK = {
        code: "FL011",
        name: "unflushed-output-at-fork",
        severity: Warning,
        check: Some(check),
    };
}

/// Buffered output pending at the fork.
struct Pending {
    /// `None` for stdout, or the writer variable.
    writer: Option<String>,
    span: Span,
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for fp in cx.forks() {
        if fp.kind == ForkKind::PreExec {
            continue;
        }
        let Some(child) = &fp.child else { continue };
        let pending = pending_at(fp);
        for p in pending {
            if p.writer.is_none() && fp.kind == ForkKind::Forkrt {
                continue; // forkrt flushes stdio before it forks
            }
            let Some(flush_span) = child_flushes(cx, child, p.writer.as_deref()) else {
                continue;
            };
            let what = p
                .writer
                .as_deref()
                .map_or("stdout's buffer holds a partial line".to_string(), |w| {
                    format!("the writer `{w}` holds unflushed output")
                });
            checker.report(
                &UNFLUSHED_OUTPUT_AT_FORK,
                Finding {
                    message: format!(
                        "{what} when the process forks: the child flushes its copy \
                        too, and the output appears twice"
                    ),
                    primary: fp.span(),
                    primary_label: "the buffer is copied into the child".into(),
                    labels: vec![
                        Label {
                            span: p.span,
                            message: "buffered here, not flushed before the \
                            fork"
                                .into(),
                            kind: LabelKind::Secondary,
                        },
                        Label {
                            span: flush_span,
                            message: "the child flushes its copy \
                            here"
                                .into(),
                            kind: LabelKind::Secondary,
                        },
                    ],
                    help: Some(match &p.writer {
                        None => "call `std::io::stdout().flush()` before forking".into(),
                        Some(w) => format!("call `{w}.flush()` before forking"),
                    }),
                    fix: flush_fix(fp, p.writer.as_deref()),
                },
            );
        }
    }
}

/// The fix: flush the stream (stdout when `writer` is `None`) just before the
/// statement that forks.
fn flush_fix(fp: &ForkPoint<'_>, writer: Option<&str>) -> Option<Fix> {
    let at = fp.span().start.offset;
    let call = match writer {
        Some(w) => format!("{w}.flush()"),
        None if fixes::io_write_in_scope(fp.file, &fp.ancestors, at) => {
            "std::io::stdout().flush()".to_string()
        }
        None => "std::io::Write::flush(&mut std::io::stdout())".to_string(),
    };
    let edit = fixes::insert_before_statement(fp.file, &fp.ancestors, &format!("let _ = {call};"))?;
    let stream = writer.map_or("stdout".to_string(), |w| format!("`{w}`"));
    Some(Fix::safe(
        format!("flush {stream} before the fork"),
        vec![edit],
    ))
}

/// What is still buffered at the fork, from the statements that run before it.
fn pending_at(fp: &ForkPoint<'_>) -> Vec<Pending> {
    let mut stdout: Option<Span> = None;
    let mut writers: Vec<(String, Option<Span>)> = Vec::new();
    for stmt in syntax::statements_before(&fp.ancestors) {
        if let Stmt::Local(l) = stmt {
            if let (Some(var), Some(init)) = (syntax::pat_ident(&l.pat), &l.init) {
                if let Expr::Call(c) = syntax::peel_result(&init.expr) {
                    if let Expr::Path(p) = syntax::peel(&c.func) {
                        let segs = syntax::segments(&p.path);
                        if segs.len() >= 2
                            && matches!(segs[segs.len() - 2].as_str(), "BufWriter" | "LineWriter")
                        {
                            writers.push((var, None));
                        }
                    }
                }
            }
        }
        for_each_output(stmt, &mut |op| match op {
            Output::Stdout { ends_line, span } => {
                stdout = if ends_line {
                    None
                } else {
                    Some(fp.file.span(span))
                }
            }
            Output::StdoutFlush => stdout = None,
            Output::Write { var, span } => {
                if let Some(w) = writers.iter_mut().find(|(n, _)| *n == var) {
                    w.1 = Some(fp.file.span(span));
                }
            }
            Output::Flush { var } => {
                if let Some(w) = writers.iter_mut().find(|(n, _)| *n == var) {
                    w.1 = None;
                }
            }
        });
    }
    let mut out: Vec<Pending> = writers
        .into_iter()
        .filter_map(|(w, s)| {
            s.map(|span| Pending {
                writer: Some(w),
                span,
            })
        })
        .collect();
    if let Some(span) = stdout {
        out.insert(0, Pending { writer: None, span });
    }
    out
}

enum Output {
    Stdout {
        ends_line: bool,
        span: proc_macro2::Span,
    },
    StdoutFlush,
    Write {
        var: String,
        span: proc_macro2::Span,
    },
    Flush {
        var: String,
    },
}

/// The output operations of a statement, in order.
fn for_each_output(stmt: &Stmt, f: &mut dyn FnMut(Output)) {
    struct V<'f>(&'f mut dyn FnMut(Output));
    impl<'ast> syn::visit::Visit<'ast> for V<'_> {
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            let name = syntax::macro_name(mac);
            let args = syntax::macro_args(mac);
            let fmt_ends_line = |i: usize| {
                let arg = args.as_ref().and_then(|a| a.iter().nth(i).cloned());
                match arg {
                    Some(Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    })) => s.value().ends_with('\n'),
                    _ => false,
                }
            };
            let span = syn::spanned::Spanned::span(mac);
            match name.as_str() {
                "print" => (self.0)(Output::Stdout {
                    ends_line: fmt_ends_line(0),
                    span,
                }),
                "println" => (self.0)(Output::Stdout {
                    ends_line: true,
                    span,
                }),
                "write" | "writeln" => {
                    let Some(target) = args.as_ref().and_then(|a| a.first().cloned()) else {
                        return;
                    };
                    let ends_line = name == "writeln" || fmt_ends_line(1);
                    if is_stdout(&target) {
                        (self.0)(Output::Stdout { ends_line, span });
                    } else if let Some(var) = syntax::ident_of(&target) {
                        (self.0)(Output::Write { var, span });
                    }
                }
                _ => {}
            }
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            syn::visit::visit_expr_method_call(self, m);
            let name = m.method.to_string();
            let span = syn::spanned::Spanned::span(m);
            if is_stdout(&m.receiver) {
                match name.as_str() {
                    "flush" => (self.0)(Output::StdoutFlush),
                    "write_all" | "write" => (self.0)(Output::Stdout {
                        ends_line: false,
                        span,
                    }),
                    _ => {}
                }
            } else if let Some(var) = syntax::ident_of(&m.receiver) {
                match name.as_str() {
                    "flush" | "into_inner" => (self.0)(Output::Flush { var }),
                    "write_all" | "write" | "write_fmt" => (self.0)(Output::Write { var, span }),
                    _ => {}
                }
            }
        }
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            syn::visit::visit_expr_call(self, c);
            if let (Expr::Path(p), Some(arg)) = (syntax::peel(&c.func), c.args.first()) {
                match syntax::last_ident(&p.path).as_deref() {
                    Some("drop") => {
                        if let Some(var) = syntax::ident_of(arg) {
                            (self.0)(Output::Flush { var });
                        }
                    }
                    // `Write::flush(&mut stdout())`, `io::Write::flush(&mut out)`.
                    Some("flush") if is_stdout(syntax::peel(arg)) => (self.0)(Output::StdoutFlush),
                    Some("flush") => {
                        if let Some(var) = syntax::ident_of(syntax::peel(arg)) {
                            (self.0)(Output::Flush { var });
                        }
                    }
                    _ => {}
                }
            }
        }
        fn visit_stmt_macro(&mut self, m: &'ast syn::StmtMacro) {
            self.visit_macro(&m.mac);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    syn::visit::Visit::visit_stmt(&mut V(f), stmt);
}

fn is_stdout(e: &Expr) -> bool {
    let root = syntax::chain_root(e);
    let Expr::Call(c) = root else { return false };
    matches!(syntax::peel(&c.func), Expr::Path(p) if syntax::last_ident(&p.path).as_deref() == Some("stdout"))
}

/// Where the child flushes its copy of the buffer (stdout when `writer` is `None`):
/// writes to the same stream, `std::process::exit`, or running on past its branch.
fn child_flushes<'a>(
    cx: &'a PackageCx<'a>,
    child: &ChildRegion<'a>,
    writer: Option<&str>,
) -> Option<Span> {
    let mut hit = None;
    RegionWalk::run(cx, child.file, child.func, child.code, &mut |ev, w| {
        if hit.is_some() {
            return;
        }
        match (ev, writer) {
            (Event::Macro(mac), None)
                if matches!(syntax::macro_name(mac).as_str(), "println" | "print") =>
            {
                hit = Some(w.span(*mac))
            }
            (Event::Macro(mac), Some(var)) => {
                if let Some(first) = syntax::macro_args(mac).and_then(|a| a.first().cloned()) {
                    if syntax::ident_of(&first).as_deref() == Some(var) {
                        hit = Some(w.span(*mac));
                    }
                }
            }
            (Event::Expr(Expr::MethodCall(m)), Some(var))
                if syntax::ident_of(&m.receiver).as_deref() == Some(var) && w.depth() == 0 =>
            {
                hit = Some(w.span(m))
            }
            (Event::Expr(Expr::Call(c)), None) => {
                if let Expr::Path(p) = syntax::peel(&c.func) {
                    if w.resolve(&p.path)
                        .iter()
                        .any(|c| crate::analysis::resolve::is(c, "std::process::exit"))
                    {
                        hit = Some(w.span(c));
                    }
                }
            }
            _ => {}
        }
    });
    if hit.is_some() {
        return hit;
    }
    // A child that runs past its branch flushes at exit (stdout) or in destructors.
    let code = child.branch.as_ref().map(|b| b.code)?;
    let good = |e: &Expr| flow::exits(cx, child.file, e) && !is_process_exit(child.file, e);
    let expand = child.file.flow_expander(cx);
    let mut f = Flow::new(&good, &|_| false, &|_| false, &|_| false).expanding(&expand);
    let outcome = f.code(code);
    (outcome.normal || !outcome.leaks.is_empty()).then(|| child.start.clone())
}

fn is_process_exit(file: &crate::analysis::FileCx<'_>, e: &Expr) -> bool {
    let Expr::Call(c) = e else { return false };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return false;
    };
    file.resolver
        .candidates(&p.path)
        .iter()
        .any(|c| crate::analysis::resolve::is(c, "std::process::exit"))
}
