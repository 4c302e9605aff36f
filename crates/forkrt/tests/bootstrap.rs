//! Children that misbehave *before* the entry guard. This binary calls
//! `forkrt::init()` by hand (instead of `#[forkrt::main]`) so that it can
//! run code before the guard, in re-executed children only, as selected by
//! `PREGUARD`:
//!
//! * `block` — never reach the guard (→ `Error::HandshakeTimeout`),
//! * `exit` — exit with code 3 first (→ `Error::ChildExitedBeforeGuard`),
//! * `start` — try to start processes first (→ `Error::Bootstrapping` in the
//!   child, which then exits 42; no fork bomb).

mod common;

use std::time::{Duration, Instant};

use common::{Kind, Outcome, Scenario, child_with, ensure};
use forkrt::{Error, StartMethod, get_context};

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::Forkserver,
];

#[forkrt::task]
fn empty(_: ()) {}

type R = Result<(), String>;

fn pre_guard() {
    if std::env::var_os("FORKRT_ROLE").is_none() {
        return;
    }
    match std::env::var("PREGUARD").as_deref() {
        Ok("block") => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        Ok("exit") => std::process::exit(3),
        Ok("start") => {
            for m in METHODS {
                match get_context(m).process(empty, ()).start() {
                    Err(e @ Error::Bootstrapping) => eprintln!("BOOTSTRAP-ERR {m}: {e}"),
                    other => eprintln!("UNEXPECTED {m}: {other:?}"),
                }
            }
            std::process::exit(42);
        }
        _ => {}
    }
}

/// Without the guard, spawn and forkserver refuse to start (a re-executed
/// child would run main from the top); fork works.
fn no_guard() -> i32 {
    let mut failures = 0;
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        match get_context(m).process(empty, ()).start() {
            Err(Error::NotInitialized) => {}
            other => {
                eprintln!("{m}: expected NotInitialized, got {other:?}");
                failures += 1;
            }
        }
    }
    let mut p = get_context(StartMethod::Fork).process(empty, ());
    if p.start().is_err() || p.join().is_err() || p.exitcode() != Some(0) {
        eprintln!("fork without the guard failed");
        failures += 1;
    }
    failures
}

fn handshake_timeout(m: StartMethod) -> R {
    let t = Instant::now();
    let r = get_context(m).process(empty, ()).start();
    let took = t.elapsed();
    let pid = match r {
        Err(Error::HandshakeTimeout { pid, timeout }) => {
            ensure(timeout == Duration::from_millis(500), || {
                format!("timeout {timeout:?}")
            })?;
            pid
        }
        other => return Err(format!("{m}: expected HandshakeTimeout, got {other:?}")),
    };
    ensure(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        || format!("{m}: took {took:?}"),
    )?;
    // Killed and reaped: the pid is gone, not even a zombie.
    ensure(common::proc_state(pid).is_none(), || {
        format!("{m}: child {pid} still exists")
    })?;
    ensure(common::zombie_children().is_empty(), || {
        format!("{m}: zombies")
    })?;
    // And again: no hang, same error.
    let r = get_context(m).process(empty, ()).start();
    ensure(matches!(r, Err(Error::HandshakeTimeout { .. })), || {
        format!("{m}: second: {r:?}")
    })
}

fn spawn_blocks() -> R {
    handshake_timeout(StartMethod::Spawn)
}

fn forkserver_blocks() -> R {
    handshake_timeout(StartMethod::Forkserver)
}

fn exits_before_guard(m: StartMethod) -> R {
    let t = Instant::now();
    let r = get_context(m).process(empty, ()).start();
    match r {
        Err(Error::ChildExitedBeforeGuard { pid, exitcode }) => {
            ensure(exitcode == Some(3), || {
                format!("{m}: exitcode {exitcode:?}")
            })?;
            ensure(common::proc_state(pid).is_none(), || {
                format!("{m}: {pid} not reaped")
            })?;
        }
        other => {
            return Err(format!(
                "{m}: expected ChildExitedBeforeGuard, got {other:?}"
            ));
        }
    }
    // Detected by EOF, not by the (default, 5 s) timeout.
    ensure(t.elapsed() < Duration::from_secs(4), || {
        format!("{m}: took {:?}", t.elapsed())
    })
}

fn spawn_exits() -> R {
    exits_before_guard(StartMethod::Spawn)
}

fn forkserver_exits() -> R {
    exits_before_guard(StartMethod::Forkserver)
}

fn bootstrapping(m: StartMethod) -> R {
    let t = Instant::now();
    let r = get_context(m).process(empty, ()).start();
    ensure(
        matches!(
            r,
            Err(Error::ChildExitedBeforeGuard {
                exitcode: Some(42),
                ..
            })
        ),
        || format!("{m}: {r:?}"),
    )?;
    ensure(t.elapsed() < Duration::from_secs(4), || {
        format!("{m}: took {:?}", t.elapsed())
    })?;
    ensure(common::zombie_children().is_empty(), || {
        format!("{m}: zombies")
    })
}

fn spawn_bootstrapping() -> R {
    bootstrapping(StartMethod::Spawn)
}

fn forkserver_bootstrapping() -> R {
    bootstrapping(StartMethod::Forkserver)
}

fn check_bootstrap_messages(o: &Outcome) -> R {
    ensure(!o.stderr.contains("UNEXPECTED"), || {
        "a pre-guard start did not fail".into()
    })?;
    for m in METHODS {
        let line = o
            .stderr
            .lines()
            .find(|l| l.starts_with(&format!("BOOTSTRAP-ERR {m}:")))
            .ok_or_else(|| format!("no bootstrapping error for {m}"))?;
        ensure(
            line.contains("before the current process has finished its bootstrapping phase"),
            || format!("message: {line}"),
        )?;
    }
    // Exactly one child tried (no recursion: every line appears once).
    ensure(o.stderr.matches("BOOTSTRAP-ERR fork:").count() == 1, || {
        "recursion".into()
    })
}

fn not_initialized() -> R {
    let o = common::run_scenario_process("-", &[("NOINIT", "1")], Duration::from_secs(60));
    ensure(
        !o.timed_out && o.status.is_some_and(|s| s.success()),
        || o.describe(),
    )
}

const BLOCK: &[(&str, &str)] = &[
    ("PREGUARD", "block"),
    ("FORKRT_HANDSHAKE_TIMEOUT_MS", "500"),
];
const EXIT: &[(&str, &str)] = &[("PREGUARD", "exit")];
const START: &[(&str, &str)] = &[("PREGUARD", "start")];

static SCENARIOS: &[Scenario] = &[
    child_with(
        "spawn_child_blocking_before_guard_times_out",
        spawn_blocks,
        BLOCK,
        None,
        60,
    ),
    child_with(
        "forkserver_blocking_before_guard_times_out",
        forkserver_blocks,
        BLOCK,
        None,
        60,
    ),
    child_with(
        "spawn_child_exiting_before_guard_is_an_error",
        spawn_exits,
        EXIT,
        None,
        60,
    ),
    child_with(
        "forkserver_exiting_before_guard_is_an_error",
        forkserver_exits,
        EXIT,
        None,
        60,
    ),
    child_with(
        "spawn_bootstrapping_child_cannot_start_processes",
        spawn_bootstrapping,
        START,
        Some(check_bootstrap_messages),
        60,
    ),
    child_with(
        "forkserver_bootstrapping_child_cannot_start_processes",
        forkserver_bootstrapping,
        START,
        Some(check_bootstrap_messages),
        60,
    ),
    Scenario {
        name: "spawn_without_guard_is_not_initialized",
        kind: Kind::Driver(not_initialized),
    },
];

fn main() {
    pre_guard();
    if std::env::var("NOINIT").as_deref() == Ok("1") {
        std::process::exit(no_guard());
    }
    forkrt::init();
    common::main(SCENARIOS);
}
