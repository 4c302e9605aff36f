//! FL010: an RNG seeded before a fork and drawn from in the child.

use syn::{Expr, Stmt};

use crate::analysis::forks::{ForkKind, ForkPoint};
use crate::analysis::walk::{Code, Event, RegionWalk};
use crate::analysis::{FileCx, PackageCx, syntax};
use crate::checker::{Checker, Finding};
use crate::diagnostic::{Label, LabelKind, Span};

crate::rules::declare_rule! {
    /// ## What it does
    /// Finds a random number generator seeded before a fork and used in the child without reseeding.
    ///
    /// Finds a random number generator created or seeded before a fork point and used
    /// in the child without being reseeded: a seedable generator bound by `let`
    /// (`StdRng::seed_from_u64`, `SmallRng::from_entropy`, `ChaCha20Rng::from_os_rng`,
    /// `rand::rng()` of rand 0.9, `fastrand::Rng::new()`, …), or a process-global one
    /// (`libc::srand`/`rand`, `fastrand`'s functions) used by the parent before the fork
    /// and by the child after it. A forkrt fork-method process that receives the
    /// generator as its argument counts as using it. rand 0.8's `thread_rng()` reseeds
    /// itself after a fork and is not reported.
    ///
    /// ## Why is this bad
    /// The child is a copy of the parent's memory, generator state included. Every child
    /// forked from the same state draws exactly the same sequence — the same "random"
    /// temporary names, session keys, jitter and sample choices in every worker.
    ///
    /// ## Example
    /// ```rust,ignore
    /// let mut rng = StdRng::from_os_rng();
    /// for _ in 0..4 {
    ///     if let ForkResult::Child = unsafe { fork() }? {
    ///         let token: u64 = rng.random();   // the same in all four children
    ///         /* … */
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust,ignore
    ///     if let ForkResult::Child = unsafe { fork() }? {
    ///         let mut rng = StdRng::from_os_rng();  // reseed in the child
    ///         let token: u64 = rng.random();
    /// ```
    ///
    /// ## References
    /// - [rand 0.9 changelog: fork protection removed from
    ///   `ThreadRng`](https://github.com/rust-random/rand/blob/master/CHANGELOG.md)
    /// - [CPython
    ///   `os.register_at_fork`](https://docs.python.org/3/library/os.html#os.register_at_fork):
    ///   `random` reseeds in the child for this reason
    pub static INHERITED_RNG_STATE = {
        code: "FL010",
        name: "inherited-rng-state",
        severity: Warning,
        check: Some(check),
    };
}

const RNG_TYPES: &[&str] = &[
    "StdRng",
    "SmallRng",
    "ChaCha8Rng",
    "ChaCha12Rng",
    "ChaCha20Rng",
    "Pcg32",
    "Pcg64",
    "Pcg64Mcg",
    "Lcg64Xsh32",
    "Xoshiro256PlusPlus",
    "Xoshiro256StarStar",
    "Xoshiro128PlusPlus",
    "Xorshift128",
    "XorShiftRng",
    "IsaacRng",
    "Isaac64Rng",
    "Hc128Rng",
    "SplitMix64",
    "WyRand",
    "Rand32",
    "Rand64",
    "Rng",
];
const SEEDERS: &[&str] = &[
    "seed_from_u64",
    "from_seed",
    "from_entropy",
    "from_os_rng",
    "try_from_os_rng",
    "from_rng",
    "new",
    "with_seed",
    "from_thread_rng",
    "new_inc",
];

/// A generator that may be copied into the child.
struct Seeded {
    /// The variable, or `None` for a process-global generator.
    var: Option<String>,
    /// `libc` or `fastrand` for global generators.
    global: Option<&'static str>,
    span: Span,
}

fn check(checker: &Checker<'_>) {
    let cx = checker.cx;
    for fp in cx.forks() {
        if fp.kind == ForkKind::PreExec {
            continue;
        }
        let Some(child) = &fp.child else { continue };
        let seeded = seeded_before(cx, fp);
        if seeded.is_empty() {
            continue;
        }
        // A forkrt target receives the generator through its argument.
        let passed = fp
            .process
            .and_then(|i| cx.processes().list[i].args)
            .map(|a| quote::ToTokens::to_token_stream(a).to_string());
        let mut hit: Option<(usize, Span)> = None;
        for (i, s) in seeded.iter().enumerate() {
            if let (Some(var), Some(args)) = (&s.var, &passed) {
                if args
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|t| t == var)
                {
                    hit = Some((i, child.start.clone()));
                    break;
                }
            }
        }
        for code in child.codes() {
            if hit.is_none() {
                hit = used_in_child(cx, child.file, child.func, code, &seeded);
            }
        }
        let Some((i, use_span)) = hit else { continue };
        let s = &seeded[i];
        let what = match (&s.var, s.global) {
            (Some(v), _) => format!("the random number generator `{v}`"),
            (None, Some(g)) => format!("`{g}`'s process-wide random number generator"),
            _ => "a random number generator".into(),
        };
        checker.report(
            &INHERITED_RNG_STATE,
            Finding {
                message: format!(
                    "{what} is seeded before the fork and used in the child without \
                    reseeding: every child draws the same numbers"
                ),
                primary: fp.span(),
                primary_label: "the child gets a copy of the generator's state".into(),
                labels: vec![
                    Label {
                        span: s.span.clone(),
                        message: "seeded here, before the \
                        fork"
                            .into(),
                        kind: LabelKind::Secondary,
                    },
                    Label {
                        span: use_span,
                        message: "the child draws from it \
                        here"
                            .into(),
                        kind: LabelKind::Secondary,
                    },
                ],
                help: Some(
                    "reseed in the child (create the generator after the fork, e.g. \
                    `StdRng::from_os_rng()`), or use a generator that reseeds on fork"
                        .into(),
                ),
                fix: None,
            },
        );
    }
}

/// Generators created, seeded or used (global ones) before the fork.
fn seeded_before<'a>(cx: &'a PackageCx<'a>, fp: &'a ForkPoint<'a>) -> Vec<Seeded> {
    let mut out = Vec::new();
    for stmt in syntax::statements_before(&fp.ancestors) {
        if let Stmt::Local(l) = stmt {
            if let (Some(var), Some(init)) = (syntax::pat_ident(&l.pat), &l.init) {
                if is_rng_ctor(fp.file, &init.expr) {
                    out.push(Seeded {
                        var: Some(var),
                        global: None,
                        span: fp.file.span_of(&init.expr),
                    });
                }
            }
        }
        RegionWalk::run_with_depth(
            cx,
            fp.file,
            Some(fp.func),
            Code::Stmts(std::slice::from_ref(stmt)),
            3,
            &mut |ev, w| {
                if let Event::Expr(Expr::Call(c)) = ev {
                    if let Some(g) = global_rng(w.file(), c) {
                        if !out.iter().any(|s| s.global == Some(g)) {
                            out.push(Seeded {
                                var: None,
                                global: Some(g),
                                span: w.span(c),
                            });
                        }
                    }
                }
            },
        );
    }
    out
}

fn is_rng_ctor(file: &FileCx<'_>, e: &Expr) -> bool {
    let Expr::Call(c) = syntax::peel_result(e) else {
        return false;
    };
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return false;
    };
    let canon = file.resolver.canonical(&p.path);
    let n = canon.len();
    if canon == ["rand", "rng"] {
        return true;
    }
    n >= 2
        && RNG_TYPES.contains(&canon[n - 2].as_str())
        && SEEDERS.contains(&canon[n - 1].as_str())
        && !(canon[n - 2] == "Rng" && canon[0] != "fastrand")
}

/// `libc::srand`/`libc::rand`/`fastrand::*` functions: process-global generators.
fn global_rng(file: &FileCx<'_>, c: &syn::ExprCall) -> Option<&'static str> {
    let Expr::Path(p) = syntax::peel(&c.func) else {
        return None;
    };
    let canon = file.resolver.canonical(&p.path);
    match canon
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["libc", "srand" | "rand" | "srandom" | "random"] => Some("libc"),
        ["fastrand", f] if *f != "Rng" => Some("fastrand"),
        _ => None,
    }
}

/// The first use of a seeded generator in the child that is not preceded by a reseed.
fn used_in_child<'a>(
    cx: &'a PackageCx<'a>,
    file: &'a FileCx<'a>,
    func: Option<crate::analysis::FnRef<'a>>,
    code: Code<'a>,
    seeded: &[Seeded],
) -> Option<(usize, Span)> {
    let mut reseeded: Vec<String> = Vec::new();
    let mut hit = None;
    RegionWalk::run(cx, file, func, code, &mut |ev, w| {
        if hit.is_some() {
            return;
        }
        match ev {
            Event::Local(l) => {
                if let Some(v) = syntax::pat_ident(&l.pat) {
                    reseeded.push(v); // shadowed by a new binding
                }
            }
            Event::Expr(Expr::Assign(a)) => {
                if let Some(v) = syntax::ident_of(&a.left) {
                    reseeded.push(v);
                }
            }
            Event::Expr(Expr::MethodCall(m)) => {
                let Some(v) = syntax::ident_of(&m.receiver) else {
                    return;
                };
                if m.method == "reseed" {
                    reseeded.push(v);
                    return;
                }
                if w.depth() == 0 && !reseeded.contains(&v) {
                    if let Some(i) = seeded
                        .iter()
                        .position(|s| s.var.as_deref() == Some(v.as_str()))
                    {
                        hit = Some((i, w.span(m)));
                    }
                }
            }
            Event::Expr(Expr::Call(c)) => {
                if let Some(g) = global_rng(w.file(), c) {
                    let canon = w.file().resolver.canonical(match syntax::peel(&c.func) {
                        Expr::Path(p) => &p.path,
                        _ => return,
                    });
                    if canon
                        .last()
                        .is_some_and(|l| l == "srand" || l == "seed" || l == "srandom")
                    {
                        reseeded.push(g.to_string());
                        return;
                    }
                    if !reseeded.iter().any(|r| r == g) {
                        if let Some(i) = seeded.iter().position(|s| s.global == Some(g)) {
                            hit = Some((i, w.span(c)));
                        }
                    }
                }
                // `slice.shuffle(&mut rng)`-style uses pass the generator as an argument.
                if w.depth() == 0 {
                    for a in &c.args {
                        if let Some(v) = syntax::ident_of(a) {
                            if !reseeded.contains(&v) {
                                if let Some(i) = seeded
                                    .iter()
                                    .position(|s| s.var.as_deref() == Some(v.as_str()))
                                {
                                    hit = Some((i, w.span(a)));
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    });
    hit
}
