//! What the fuzz targets share: the oracle ([`check`]) and the structure-aware
//! mutator ([`mutate`]) of `lint_mutated`.
//!
//! The crate-level regression test `crates/fork-lint/tests/robustness.rs` replays the
//! crash inputs the fuzzers found (kept in `crates/fork-lint/tests/fuzz-regressions/`)
//! through the same invariants, without libFuzzer.

use std::path::Path;
use std::sync::OnceLock;

use cargo_fork_lint::output::{self, Locator};
use codespan_reporting::term::termcolor::NoColor;
use fork_lint::{Diagnostic, LintOptions, Position, Span, lint_source};

/// Lints `text` with the prefilter off and every rule on, then renders the report in
/// every output format. Panics (a crash for libFuzzer) when the linter reports an
/// internal error (a panic it caught), when a position is out of the file, or when a
/// renderer fails.
pub fn check(text: &str) {
    let options = LintOptions::default().with_prefilter(false).with_jobs(1);
    let report = lint_source("fuzz.rs", text, &options);
    for e in &report.errors {
        assert!(
            !e.message.contains("internal error"),
            "caught panic: {}: {}",
            e.file,
            e.message
        );
    }
    for d in &report.diagnostics {
        check_span(text, &d.primary, d);
        for l in &d.labels {
            check_span(text, &l.span, d);
        }
        if let Some(fix) = &d.fix {
            for e in &fix.edits {
                check_span(text, &e.span, d);
            }
            let _ = fork_lint::fix::apply(text, &[fix]);
        }
    }
    static LOCATOR: OnceLock<Locator> = OnceLock::new();
    let locator = LOCATOR.get_or_init(Locator::default);
    let mut human = NoColor::new(Vec::new());
    output::human::render(&report.diagnostics, "fork-lint --explain", &mut human)
        .expect("human output renders");
    let _ = output::cargo::render_messages(
        &report.diagnostics,
        &[],
        output::cargo::Rendered::Plain,
        "fork-lint --explain",
    );
    let _ = output::concise::render(&report.diagnostics);
    let _ = output::json::render(&report.diagnostics);
    let _ = output::github::render(&report.diagnostics, &report.errors, locator);
    let _ = output::sarif::render(&report.diagnostics, &report.errors, locator);
}

fn check_span(text: &str, span: &Span, d: &Diagnostic) {
    let lines = span.file.line_count();
    for p in [span.start, span.end] {
        check_position(text, lines, p, d);
    }
    assert!(
        span.start.offset <= span.end.offset,
        "span ends before it starts: {span:?} in {d:?}"
    );
}

fn check_position(text: &str, lines: usize, p: Position, d: &Diagnostic) {
    assert!(
        p.line >= 1 && p.line <= lines && p.column >= 1,
        "position {p:?} outside the file ({lines} lines): {}",
        d.message
    );
    assert!(
        p.offset <= text.len() && text.is_char_boundary(p.offset),
        "offset {} not a char boundary of the text: {}",
        p.offset,
        d.message
    );
}

/// A small deterministic generator (xorshift), seeded by libFuzzer.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u32) -> Rng {
        Rng(u64::from(seed) << 1 | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Fork-related code the mutator splices in: every kind of fork point, child region,
/// process start, lock, thread, RNG, buffered output, global write and suppression the
/// rules look for, plus the exits and waits that make them safe.
pub const SNIPPETS: &[&str] = &[
    "unsafe { libc::fork() }",
    "let pid = unsafe { libc::fork() };",
    "if pid == 0 { unsafe { libc::_exit(0) } }",
    "if pid == 0 { println!(\"child\"); }",
    "match unsafe { libc::fork() } { 0 => { let v = vec![1]; } -1 => {} pid => { unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; } }",
    "match unsafe { nix::unistd::fork() } { Ok(ForkResult::Child) => { println!(\"c\"); } Ok(ForkResult::Parent { child }) => { nix::sys::wait::waitpid(child, None).unwrap(); } Err(_) => {} }",
    "match unsafe { fork() }? { ForkResult::Child => std::process::exit(0), ForkResult::Parent { .. } => {} }",
    "match fork::fork() { Ok(fork::Fork::Child) => {} Ok(fork::Fork::Parent(p)) => {} Err(_) => {} }",
    "fork::daemon(false, false).unwrap();",
    "daemonize::Daemonize::new().start().unwrap();",
    "let _ = unsafe { libc::vfork() };",
    "let _g = LOCK.lock().unwrap();",
    "let guard = m.lock();",
    "let r = RW.read().unwrap();",
    "let out = std::io::stdout().lock();",
    "drop(guard);",
    "std::thread::spawn(|| { let _g = LOCK.lock(); });",
    "let h = std::thread::spawn(move || helper());",
    "h.join().unwrap();",
    "rayon::spawn(|| {});",
    "let rt = tokio::runtime::Runtime::new().unwrap();",
    "forkrt::set_start_method(forkrt::StartMethod::Spawn).unwrap();",
    "forkrt::set_start_method(StartMethod::Fork)?;",
    "forkrt::set_start_method_force(StartMethod::Forkserver);",
    "let mut p = forkrt::Process::new(work, (1, String::new())); p.start().unwrap(); p.join().unwrap();",
    "let mut q = forkrt::get_context(StartMethod::Fork).process(work, file); q.start()?;",
    "#[forkrt::task] fn work(a: (u32, String)) { println!(\"{}\", a.1); }",
    "#[forkrt::main]",
    "forkrt::init();",
    "procspawn::init();",
    "let h = procspawn::spawn(std::fs::File::open(\"x\").unwrap(), |f| {});",
    "let pool = procspawn::Pool::new(4).unwrap(); pool.spawn(Rc::new(1), |x| x);",
    "unsafe { cmd.pre_exec(|| { println!(\"x\"); Ok(()) }) };",
    "unsafe { std::process::Command::new(\"x\").pre_exec(move || { let s = format!(\"{}\", 1); libc::setsid(); Ok(()) }) };",
    "let mut rng = rand::thread_rng();",
    "let x: u32 = rng.gen();",
    "let mut rng = StdRng::seed_from_u64(1);",
    "print!(\"no newline\");",
    "let mut w = std::io::BufWriter::new(std::io::stdout());",
    "write!(w, \"x\").unwrap();",
    "w.flush().unwrap();",
    "static mut COUNTER: u32 = 0;",
    "static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());",
    "unsafe { COUNTER = 1; }",
    "COUNTER.store(1, Ordering::SeqCst);",
    "std::env::set_var(\"K\", \"V\");",
    "CONFIG.set(1).unwrap();",
    "std::process::exit(0);",
    "unsafe { libc::_exit(1) };",
    "unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };",
    "nix::unistd::execvp(&prog, &args)?;",
    "let s = String::from(\"x\")?;",
    "return;",
    "return Err(e.into());",
    "loop {}",
    "break;",
    "continue;",
    "panic!(\"{}\", 1);",
    "// fork-lint: allow(FL004)",
    "// fork-lint: allow(FL002, unreaped-child) -- reason",
    "// fork-lint: allow-file(fork-with-threads)",
    "// fork-lint: allow(",
    "#[test]",
    "#[tokio::main]",
    "#[tokio::test]",
    "#[cfg(test)] mod tests { use super::*; #[test] fn t() { unsafe { libc::fork() }; } }",
    "async fn main() {}",
    "fn main() {}",
    "pub fn lib_fn() { unsafe { libc::fork() }; }",
    "helper();",
    "fn helper() { let v = vec![1]; }",
    "impl S { fn helper(&self) { let g = self.m.lock(); } }",
    "use nix::unistd::{fork, ForkResult};",
    "use libc::fork;",
    "use forkrt::{Process, StartMethod};",
    "use std::os::unix::process::CommandExt;",
    "mod m;",
    "extern crate libc;",
    "#[derive(Serialize, Deserialize)] struct Args { f: std::fs::File }",
];

/// Identifiers the analyses look for.
pub const IDENTS: &[&str] = &[
    "fork",
    "vfork",
    "main",
    "lock",
    "read",
    "write",
    "spawn",
    "exit",
    "_exit",
    "waitpid",
    "wait",
    "pre_exec",
    "before_exec",
    "forkrt",
    "procspawn",
    "Process",
    "start",
    "join",
    "thread",
    "Mutex",
    "RwLock",
    "println",
    "format",
    "libc",
    "nix",
    "unistd",
    "ForkResult",
    "Child",
    "Parent",
    "child",
    "pid",
    "drop",
    "flush",
    "init",
    "set_start_method",
    "StartMethod",
    "Fork",
    "Spawn",
    "Forkserver",
    "rng",
    "gen",
    "thread_rng",
    "helper",
    "Command",
    "execv",
    "BufWriter",
    "stdout",
    "COUNTER",
    "LOCK",
    "work",
    "task",
    "self",
    "Self",
    "crate",
    "super",
    "r#fork",
    "_",
];

/// Wrappers: a line range becomes the body of one of these (`{}` marks the place).
const WRAPPERS: &[&str] = &[
    "{ {} }",
    "unsafe { {} }",
    "if pid == 0 { {} }",
    "if pid == 0 { {} } else { {} }",
    "match unsafe { libc::fork() } { 0 => { {} } _ => {} }",
    "fn main() { {} }",
    "fn helper() { {} }",
    "unsafe { cmd.pre_exec(|| { {} Ok(()) }) };",
    "std::thread::spawn(move || { {} });",
    "loop { {} }",
    "#[forkrt::task] fn work(a: u32) { {} }",
    "mod inner { {} }",
    "impl S { fn m(&self) { {} } }",
];

/// One structure-aware mutation of `text`.
pub fn mutate(text: &str, rng: &mut Rng) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let n = lines.len();
    let line_at = |i: usize| lines.get(i).copied().unwrap_or("");
    let join = |parts: &[&str]| parts.concat();
    match rng.below(12) {
        // Insert a snippet between two lines.
        0 | 1 => {
            let at = rng.below(n + 1);
            let snippet = format!("{}\n", rng.pick(SNIPPETS));
            let mut out: Vec<&str> = lines[..at].to_vec();
            out.push(&snippet);
            out.extend_from_slice(&lines[at..]);
            join(&out)
        }
        // Insert a snippet at a token boundary (after `;`, `{`, `}` or a space).
        2 => {
            let spots: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| matches!(c, ';' | '{' | '}' | ' ' | ','))
                .map(|(i, c)| i + c.len_utf8())
                .collect();
            let at = spots.get(rng.below(spots.len())).copied().unwrap_or(0);
            format!("{}{}{}", &text[..at], rng.pick(SNIPPETS), &text[at..])
        }
        // Replace a line by a snippet.
        3 if n > 0 => {
            let at = rng.below(n);
            let snippet = format!("{}\n", rng.pick(SNIPPETS));
            let mut out: Vec<&str> = lines.clone();
            out[at] = &snippet;
            join(&out)
        }
        // Delete a few lines.
        4 if n > 0 => {
            let at = rng.below(n);
            let len = 1 + rng.below(3);
            let mut out: Vec<&str> = lines[..at].to_vec();
            out.extend_from_slice(&lines[(at + len).min(n)..]);
            join(&out)
        }
        // Duplicate a few lines.
        5 if n > 0 => {
            let at = rng.below(n);
            let len = (1 + rng.below(4)).min(n - at);
            let mut out: Vec<&str> = lines[..at + len].to_vec();
            out.extend_from_slice(&lines[at..]);
            join(&out)
        }
        // Move a line elsewhere.
        6 if n > 1 => {
            let from = rng.below(n);
            let mut out: Vec<&str> = lines.clone();
            let line = out.remove(from);
            out.insert(rng.below(n), line);
            join(&out)
        }
        // Rename an identifier-like word.
        7 => {
            let words: Vec<(usize, usize)> = words(text);
            let Some(&(s, e)) = words.get(rng.below(words.len())) else {
                return text.to_string();
            };
            format!("{}{}{}", &text[..s], rng.pick(IDENTS), &text[e..])
        }
        // Delete, empty or duplicate a balanced bracket group.
        8 | 9 => {
            let groups = groups(text);
            let Some(&(s, e)) = groups.get(rng.below(groups.len())) else {
                return text.to_string();
            };
            match rng.below(3) {
                0 => format!("{}{}", &text[..s], &text[e..]),
                1 => format!("{}{}{}", &text[..=s], &text[e - 1..e], &text[e..]),
                _ => format!("{}{}", &text[..e], &text[s..]),
            }
        }
        // Wrap a line range in fork-related structure.
        10 if n > 0 => {
            let at = rng.below(n);
            let len = (1 + rng.below(6)).min(n - at);
            let body = lines[at..at + len].concat();
            let mut parts = rng.pick(WRAPPERS).split("{}");
            let head = parts.next().unwrap_or("");
            let tail: String = parts.collect();
            let wrapped = format!("{head}{body}{tail}");
            format!(
                "{}{}\n{}",
                lines[..at].concat(),
                wrapped,
                lines[at + len..].concat()
            )
        }
        // Splice a line from elsewhere in the file at another place.
        _ => {
            let from = line_at(rng.below(n.max(1)));
            let at = rng.below(n + 1);
            let mut out: Vec<&str> = lines[..at.min(n)].to_vec();
            out.push(from);
            out.extend_from_slice(&lines[at.min(n)..]);
            join(&out)
        }
    }
}

/// Byte ranges of identifier-like words (ASCII).
fn words(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let s = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Byte ranges `open..=close` of balanced bracket groups (ignoring strings and
/// comments: an unbalanced result is a fine mutation too).
fn groups(text: &str) -> Vec<(usize, usize)> {
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' => stack.push((i, b)),
            b')' | b']' | b'}' => {
                if let Some((s, open)) = stack.pop() {
                    let matching = matches!((open, b), (b'(', b')') | (b'[', b']') | (b'{', b'}'));
                    if matching {
                        out.push((s, i + 1));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Loads the files of a directory (for tools that replay a corpus).
pub fn read_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                out.push((e.file_name().to_string_lossy().into_owned(), bytes));
            }
        }
    }
    out.sort();
    out
}
