//! What the fixture programs share: the start method to run under (the first command
//! line argument, as the harness passes it), and the observation lines the harness
//! reads (see `tests/lib.rs` for the vocabulary).

use std::io::Write;

/// The start method named by the first argument (`fork`, `spawn`, `forkserver`).
pub fn method() -> forkrt::StartMethod {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "fork".to_string());
    arg.parse().unwrap_or_else(|_| panic!("unknown start method `{arg}`: expected fork, spawn or forkserver"))
}

/// Runs a fixture's body; a forkrt error is reported as `observe: error:KIND` and the
/// program exits with status 3.
pub fn run(body: impl FnOnce() -> forkrt::Result<()>) {
    if let Err(e) = body() {
        println!("observe: error:{}", error_kind(&e));
        eprintln!("{e}");
        let _ = std::io::stdout().flush();
        std::process::exit(3);
    }
}

/// The stable name of a forkrt error, as used in `//@ run` outcomes.
pub fn error_kind(e: &forkrt::Error) -> &'static str {
    use forkrt::Error::*;
    match e {
        NotSerializable { .. } => "not-serializable",
        ContextAlreadySet => "context-already-set",
        Bootstrapping => "bootstrapping",
        NotInitialized => "not-initialized",
        NotRegistered { .. } => "not-registered",
        HandshakeTimeout { .. } => "handshake-timeout",
        ChildExitedBeforeGuard { .. } => "child-exited-before-guard",
        Io { .. } => "io",
        Protocol { .. } => "protocol",
        Decode { .. } => "decode",
        _ => "other",
    }
}

fn line(s: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

/// A side effect that should happen once: `observe: marker NAME`.
pub fn marker(name: &str) {
    line(format!("observe: marker {name}"));
}

/// The parent's value of some state: `observe: set NAME=VALUE`.
pub fn set(name: &str, value: impl std::fmt::Display) {
    line(format!("observe: set {name}={value}"));
}

/// The value a child sees: `observe: child NAME=VALUE`.
pub fn child(name: &str, value: impl std::fmt::Display) {
    line(format!("observe: child {name}={value}"));
}

/// A number a process drew: `observe: random N`.
pub fn random(n: impl std::fmt::Display) {
    line(format!("observe: random {n}"));
}

/// A child's pid, for the harness to watch for a zombie: `observe: child-pid P`.
pub fn child_pid(pid: impl std::fmt::Display) {
    line(format!("observe: child-pid {pid}"));
}
