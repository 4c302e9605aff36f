//! forkrt's behaviour, scenario by scenario. A `harness = false` test: the
//! binary's own `#[forkrt::main]` is the entry guard that spawn and
//! forkserver children re-enter. See `common/mod.rs` for the driver.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Kind, Outcome, Scenario, child, child_with, ensure};
use forkrt::{Error, Process, StartMethod, get_context};
use serde::{Deserialize, Serialize};

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::Forkserver,
];
const SERIALIZING: [StartMethod; 2] = [StartMethod::Spawn, StartMethod::Forkserver];

// ---------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Payload {
    id: u64,
    name: String,
    tags: Vec<String>,
    pair: (i32, f64),
    map: BTreeMap<String, u32>,
    nested: Option<Box<Payload>>,
    bytes: Vec<u8>,
}

fn expected_payload(big: usize) -> Payload {
    let inner = Payload {
        id: u64::MAX,
        name: "inner ünïcødé ✓".into(),
        tags: vec![],
        pair: (-1, f64::MIN_POSITIVE),
        map: BTreeMap::new(),
        nested: None,
        bytes: vec![0, 255, 0],
    };
    Payload {
        id: 42,
        name: "outer".into(),
        tags: vec!["a".into(), String::new(), "c".repeat(1000)],
        pair: (i32::MIN, std::f64::consts::PI),
        map: (0..50).map(|i| (format!("k{i}"), i * 7)).collect(),
        nested: Some(Box::new(inner)),
        bytes: (0..big).map(|i| (i * 31 % 251) as u8).collect(),
    }
}

/// Exits 0 if the payload arrived intact, 3 otherwise.
#[forkrt::task]
fn check_payload(args: (usize, Payload)) {
    let (big, got) = args;
    if got != expected_payload(big) {
        eprintln!("payload mismatch");
        std::process::exit(3);
    }
}

#[forkrt::task]
fn check_strings(args: (String, (u8, String, Vec<String>))) {
    let ok = args.0 == "ünïcødé \0 nul"
        && args.1 == (7, String::new(), vec!["x".to_string(), "y".repeat(70_000)]);
    if !ok {
        std::process::exit(3);
    }
}

/// Writes `name|pid|parent name|parent pid|daemon` of the child to `path`.
#[forkrt::task]
fn write_report(path: String) {
    let me = forkrt::current_process();
    let parent = forkrt::parent_process().expect("a child has a parent");
    std::fs::write(
        path,
        format!(
            "{}|{}|{}|{}|{}",
            me.name(),
            me.pid(),
            parent.name(),
            parent.pid(),
            me.daemon()
        ),
    )
    .unwrap();
}

#[forkrt::task]
fn empty(_: ()) {}

#[forkrt::task]
fn use_file(mut f: File) {
    writeln!(f, "written by the child").unwrap();
}

#[forkrt::task]
fn use_file_tuple(args: (File, u32)) {
    let (mut f, n) = args;
    writeln!(f, "child {n}").unwrap();
}

#[forkrt::task]
fn use_shared(m: Arc<Mutex<u32>>) {
    *m.lock().unwrap() += 1;
}

#[forkrt::task]
fn panics(msg: String) {
    panic!("{msg}");
}

#[forkrt::task]
fn die_by(sig: i32) {
    match sig {
        libc::SIGSEGV => {
            // A real invalid access (page 0 is never mapped), not raise().
            // SAFETY: deliberately invalid; the child dies here.
            let v = unsafe { std::ptr::read_volatile(std::ptr::without_provenance::<u64>(16)) };
            std::hint::black_box(v);
            // SAFETY: in case the address above happened to be mapped.
            unsafe { libc::raise(libc::SIGSEGV) };
        }
        libc::SIGABRT => std::process::abort(),
        s => {
            // SAFETY: signalling ourselves.
            unsafe { libc::kill(libc::getpid(), s) };
        }
    }
    std::thread::sleep(Duration::from_secs(30));
}

#[forkrt::task]
fn exit_with(code: i32) {
    std::process::exit(code);
}

#[forkrt::task]
fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Waits (at most 60 s) until `path` exists.
#[forkrt::task]
fn wait_for_file(path: String) {
    let end = Instant::now() + Duration::from_secs(60);
    while !std::path::Path::new(&path).exists() {
        if Instant::now() > end {
            std::process::exit(4);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

static STATE: AtomicU32 = AtomicU32::new(0);

/// Writes `STATE|$FORKRT_TEST_VAR` to `path`.
#[forkrt::task]
fn report_state(path: String) {
    let var = std::env::var("FORKRT_TEST_VAR").unwrap_or_else(|_| "-".into());
    std::fs::write(path, format!("{}|{var}", STATE.load(Ordering::SeqCst))).unwrap();
}

/// Writes the child's open fds (number → target) to `path`.
#[forkrt::task]
fn list_fds(path: String) {
    let mut out = String::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let target = std::fs::read_link(e.path())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        out.push_str(&format!("{} {}\n", e.file_name().to_string_lossy(), target));
    }
    std::fs::write(path, out).unwrap();
}

#[forkrt::task]
fn print_line(s: String) {
    println!("{s}");
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

type R = Result<(), String>;

fn run<F, A>(m: StartMethod, f: F, a: A) -> Result<i32, String>
where
    F: FnOnce(A) + Send + 'static,
    A: Send + 'static,
{
    let mut p = get_context(m).process(f, a);
    p.start().map_err(|e| format!("{m}: start: {e}"))?;
    p.join().map_err(|e| format!("{m}: join: {e}"))?;
    p.exitcode()
        .ok_or_else(|| format!("{m}: no exit code after join"))
}

fn expect_code(m: StartMethod, got: i32, want: i32, what: &str) -> R {
    ensure(got == want, || {
        format!("{m}: {what}: exit code {got}, expected {want}")
    })
}

macro_rules! per_method {
    ($body:ident => $fork:ident, $spawn:ident, $fs:ident) => {
        fn $fork() -> R {
            $body(StartMethod::Fork)
        }
        fn $spawn() -> R {
            $body(StartMethod::Spawn)
        }
        fn $fs() -> R {
            $body(StartMethod::Forkserver)
        }
    };
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// The example of SPEC §5, verbatim in spirit.
fn spec_example() -> R {
    forkrt::set_start_method(StartMethod::Spawn).map_err(|e| e.to_string())?;
    let scratch = common::scratch_dir("spec");
    let dir = scratch.path();
    let out = dir.join("a").display().to_string();
    let mut p = Process::new(write_report, out.clone()).name("worker-1");
    p.start().map_err(|e| e.to_string())?;
    p.join().map_err(|e| e.to_string())?;
    ensure(p.exitcode() == Some(0), || {
        format!("exitcode {:?}", p.exitcode())
    })?;
    let report = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    ensure(report.starts_with("worker-1|"), || report.clone())?;
    let ctx = get_context(StartMethod::Fork);
    let mut q = ctx.process(empty, ());
    q.start().map_err(|e| e.to_string())?;
    q.join().map_err(|e| e.to_string())?;
    ensure(q.exitcode() == Some(0), || {
        format!("exitcode {:?}", q.exitcode())
    })?;
    Ok(())
}

/// Each method runs a task, which really runs in a child that knows its
/// name and parent, and exits 0.
fn runs_task(m: StartMethod) -> R {
    let scratch = common::scratch_dir(&format!("basic-{m}"));
    let dir = scratch.path();
    let out = dir.join("report").display().to_string();
    let mut p = get_context(m)
        .process(write_report, out.clone())
        .name(format!("w-{m}"));
    ensure(p.pid().is_none() && p.exitcode().is_none(), || {
        "state before start".into()
    })?;
    p.start().map_err(|e| format!("{m}: {e}"))?;
    let pid = p.pid().ok_or("no pid after start")?;
    p.join().map_err(|e| format!("{m}: {e}"))?;
    expect_code(m, p.exitcode().unwrap_or(-999), 0, "write_report")?;
    ensure(!p.is_alive(), || "alive after join".into())?;
    let report = std::fs::read_to_string(&out).map_err(|e| format!("{m}: no report: {e}"))?;
    let want = format!("w-{m}|{pid}|MainProcess|{}|false", std::process::id());
    ensure(report == want, || {
        format!("{m}: report {report:?}, want {want:?}")
    })?;
    ensure(common::zombie_children().is_empty(), || {
        "zombie after join".into()
    })?;
    Ok(())
}
per_method!(runs_task => fork_runs_task, spawn_runs_task, forkserver_runs_task);

/// Structs, tuples, strings, a big payload: intact under serialization.
fn args_intact(m: StartMethod) -> R {
    for big in [0usize, 10, 3 << 20] {
        let code = run(m, check_payload, (big, expected_payload(big)))?;
        expect_code(m, code, 0, &format!("payload of {big} bytes"))?;
    }
    let code = run(
        m,
        check_strings,
        (
            "ünïcødé \0 nul".to_string(),
            (
                7u8,
                String::new(),
                vec!["x".to_string(), "y".repeat(70_000)],
            ),
        ),
    )?;
    expect_code(m, code, 0, "strings and tuples")
}
per_method!(args_intact => fork_args_intact, spawn_args_intact, forkserver_args_intact);

/// A File argument: inherited under fork, NotSerializable naming the type
/// under spawn and forkserver — the same program text.
fn file_argument() -> R {
    let scratch = common::scratch_dir("file");
    let dir = scratch.path();
    for m in METHODS {
        let path = dir.join(format!("{m}.txt"));
        let f = File::create(&path).map_err(|e| e.to_string())?;
        let mut p = get_context(m).process(use_file, f);
        let r = p.start();
        match (m, r) {
            (StartMethod::Fork, Ok(())) => {
                p.join().map_err(|e| e.to_string())?;
                expect_code(m, p.exitcode().unwrap_or(-999), 0, "use_file")?;
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                ensure(text == "written by the child\n", || {
                    format!("file: {text:?}")
                })?;
            }
            (
                StartMethod::Spawn | StartMethod::Forkserver,
                Err(Error::NotSerializable { type_name }),
            ) => {
                ensure(type_name == "std::fs::File", || {
                    format!("type_name {type_name}")
                })?;
                ensure(p.pid().is_none(), || "no child may exist".into())?;
                let msg = Error::NotSerializable { type_name }.to_string();
                ensure(msg.contains("std::fs::File"), || msg.clone())?;
            }
            (m, r) => return Err(format!("{m}: unexpected {r:?}")),
        }
        // A tuple containing a File, and an Arc<Mutex<_>>, likewise.
        let f = File::create(dir.join(format!("{m}-tuple.txt"))).map_err(|e| e.to_string())?;
        let r = get_context(m).process(use_file_tuple, (f, 5)).start();
        let r2 = get_context(m)
            .process(use_shared, Arc::new(Mutex::new(1)))
            .start();
        match m {
            StartMethod::Fork => {
                ensure(r.is_ok() && r2.is_ok(), || format!("fork: {r:?} {r2:?}"))?;
            }
            _ => {
                ensure(
                    matches!(&r, Err(Error::NotSerializable { type_name }) if type_name.contains("std::fs::File")),
                    || format!("{m}: tuple: {r:?}"),
                )?;
                ensure(
                    matches!(&r2, Err(Error::NotSerializable { type_name }) if type_name.contains("Mutex")),
                    || format!("{m}: Arc<Mutex>: {r2:?}"),
                )?;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    Ok(())
}

/// Closures and unmarked functions work under fork only.
fn unregistered_targets() -> R {
    fn plain(_: u32) {}
    let scratch = common::scratch_dir("closure");
    let dir = scratch.path();
    let out = dir.join("c");
    let out2 = out.clone();
    let code = run(
        StartMethod::Fork,
        move |n: u32| std::fs::write(&out2, n.to_string()).unwrap(),
        5,
    )?;
    expect_code(StartMethod::Fork, code, 0, "closure")?;
    ensure(
        std::fs::read_to_string(&out).unwrap_or_default() == "5",
        || "closure output".into(),
    )?;
    for m in SERIALIZING {
        let r = get_context(m).process(|_: u32| {}, 1).start();
        ensure(
            matches!(&r, Err(Error::NotRegistered { type_name }) if type_name.contains("closure")),
            || format!("{m}: closure: {r:?}"),
        )?;
        let r = get_context(m).process(plain, 1).start();
        ensure(
            matches!(&r, Err(Error::NotRegistered { type_name }) if type_name.contains("plain")),
            || format!("{m}: plain fn: {r:?}"),
        )?;
    }
    Ok(())
}

fn set_start_method_twice() -> R {
    forkrt::set_start_method(StartMethod::Spawn).map_err(|e| format!("first call: {e}"))?;
    let err = forkrt::set_start_method(StartMethod::Fork);
    ensure(matches!(err, Err(Error::ContextAlreadySet)), || {
        format!("second call: {err:?}")
    })?;
    let msg = err.unwrap_err().to_string();
    ensure(msg.contains("context has already been set"), || msg.clone())?;
    // Even setting the same method again fails, as in Python.
    ensure(
        forkrt::set_start_method(StartMethod::Spawn).is_err(),
        || "same method twice".into(),
    )?;
    ensure(forkrt::get_start_method() == StartMethod::Spawn, || {
        "method".into()
    })?;
    forkrt::set_start_method_force(StartMethod::Fork);
    ensure(forkrt::get_start_method() == StartMethod::Fork, || {
        "forced".into()
    })?;
    // The default context now forks: a closure works.
    let mut p = Process::new(|_: ()| {}, ());
    p.start().map_err(|e| e.to_string())?;
    p.join().map_err(|e| e.to_string())?;
    ensure(p.exitcode() == Some(0), || "forced fork run".into())
}

fn get_start_method_fixes_context() -> R {
    let m = forkrt::get_start_method();
    ensure(m == StartMethod::platform_default(), || {
        format!("default {m}")
    })?;
    if cfg!(target_os = "linux") {
        ensure(m == StartMethod::Forkserver, || "Linux default".into())?;
    }
    let r = forkrt::set_start_method(StartMethod::Spawn);
    ensure(matches!(r, Err(Error::ContextAlreadySet)), || {
        format!("{r:?}")
    })
}

fn default_start_fixes_context() -> R {
    let mut p = Process::new(empty, ());
    p.start().map_err(|e| e.to_string())?;
    p.join().map_err(|e| e.to_string())?;
    ensure(p.exitcode() == Some(0), || "run".into())?;
    let r = forkrt::set_start_method(StartMethod::Spawn);
    ensure(matches!(r, Err(Error::ContextAlreadySet)), || {
        format!("{r:?}")
    })
}

fn get_context_does_not_fix() -> R {
    let code = run(StartMethod::Fork, empty, ())?;
    expect_code(StartMethod::Fork, code, 0, "ctx run")?;
    let ctx = get_context(StartMethod::Spawn);
    ensure(ctx.get_start_method() == StartMethod::Spawn, || {
        "ctx method".into()
    })?;
    forkrt::set_start_method(StartMethod::Spawn).map_err(|e| format!("after get_context: {e}"))
}

fn start_method_names() -> R {
    for m in METHODS {
        let parsed: StartMethod = m.to_string().parse().map_err(|e: Error| e.to_string())?;
        ensure(parsed == m, || format!("{m} roundtrip"))?;
    }
    ensure(StartMethod::Fork.to_string() == "fork", || "fork".into())?;
    ensure(StartMethod::Spawn.to_string() == "spawn", || "spawn".into())?;
    ensure(StartMethod::Forkserver.to_string() == "forkserver", || {
        "forkserver".into()
    })?;
    let bad = "threads".parse::<StartMethod>();
    ensure(matches!(bad, Err(Error::UnknownStartMethod { .. })), || {
        format!("{bad:?}")
    })?;
    let all = forkrt::get_all_start_methods();
    ensure(
        all.len() == 3 && all[0] == StartMethod::platform_default(),
        || format!("{all:?}"),
    )
}

fn process_state_errors() -> R {
    let mut p = Process::new(empty, ());
    ensure(matches!(p.join(), Err(Error::NotStarted)), || {
        "join before start".into()
    })?;
    ensure(matches!(p.terminate(), Err(Error::NotStarted)), || {
        "terminate before start".into()
    })?;
    ensure(!p.is_alive(), || "alive before start".into())?;
    let mut p = get_context(StartMethod::Fork).process(empty, ());
    p.start().map_err(|e| e.to_string())?;
    ensure(matches!(p.start(), Err(Error::AlreadyStarted)), || {
        "start twice".into()
    })?;
    p.join().map_err(|e| e.to_string())?;
    p.join().map_err(|e| format!("second join: {e}"))?;
    p.terminate()
        .map_err(|e| format!("terminate after exit: {e}"))?;
    // A failed start cannot be retried either.
    let mut q = get_context(StartMethod::Spawn).process(|_: ()| {}, ());
    ensure(
        q.start().is_err() && matches!(q.start(), Err(Error::AlreadyStarted)),
        || "failed start".into(),
    )
}

fn names_and_identity() -> R {
    let me = forkrt::current_process();
    ensure(
        me.name() == "MainProcess" && me.pid() == std::process::id(),
        || format!("{me:?}"),
    )?;
    ensure(forkrt::parent_process().is_none(), || {
        "main has no parent".into()
    })?;
    let a = Process::new(empty, ());
    let b = Process::new(empty, ()).daemon(true);
    ensure(
        a.get_name() == "Process-1" && b.get_name() == "Process-2",
        || format!("{} {}", a.get_name(), b.get_name()),
    )?;
    ensure(b.is_daemon() && !a.is_daemon(), || "daemon flag".into())?;
    // A child's own children are named Process-<its ident>:<n>.
    let scratch = common::scratch_dir("ident");
    let dir = scratch.path();
    for m in METHODS {
        let out = dir.join(format!("{m}")).display().to_string();
        let mut p = get_context(m).process(nested_child, out.clone());
        let name = p.get_name().to_string();
        p.start().map_err(|e| e.to_string())?;
        p.join().map_err(|e| e.to_string())?;
        expect_code(m, p.exitcode().unwrap_or(-999), 0, "nested")?;
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        ensure(text.starts_with(&format!("{name}:1|")), || {
            format!("{m}: grandchild of {name} reports {text:?}")
        })?;
        ensure(
            text.contains(&format!("|{name}|{}|", p.pid().unwrap())),
            || format!("{m}: grandchild's parent {text:?}"),
        )?;
    }
    Ok(())
}

/// Starts a grandchild (by fork) that writes its report.
#[forkrt::task]
fn nested_child(path: String) {
    let mut p = get_context(StartMethod::Fork).process(write_report, path);
    p.start().unwrap();
    p.join().unwrap();
    std::process::exit(p.exitcode().unwrap_or(99));
}

fn panic_exitcode() -> R {
    for m in METHODS {
        let code = run(m, panics, format!("boom-from-{m}"))?;
        expect_code(m, code, 1, "panic")?;
    }
    Ok(())
}

fn panic_check(o: &Outcome) -> R {
    for m in METHODS {
        ensure(o.stderr.contains(&format!("boom-from-{m}")), || {
            format!("panic message of {m} not on stderr")
        })?;
    }
    ensure(o.stderr.matches("panicked").count() >= 3, || {
        "panicked x3".into()
    })
}

fn signals(m: StartMethod) -> R {
    for (sig, want) in [
        (libc::SIGKILL, -9),
        (libc::SIGSEGV, -11),
        (libc::SIGABRT, -6),
        (libc::SIGTERM, -15),
    ] {
        let code = run(m, die_by, sig)?;
        expect_code(m, code, want, &format!("signal {sig}"))?;
    }
    // The parent is unaffected: it still starts and joins children.
    let code = run(m, exit_with, 7)?;
    expect_code(m, code, 7, "after signals")
}
per_method!(signals => fork_signals, spawn_signals, forkserver_signals);

fn join_timeout_and_signals(m: StartMethod) -> R {
    let mut p = get_context(m).process(sleep_ms, 30_000u64);
    p.start().map_err(|e| e.to_string())?;
    let t = Instant::now();
    let r = p
        .join_timeout(Duration::from_millis(200))
        .map_err(|e| e.to_string())?;
    let took = t.elapsed();
    ensure(r.is_none(), || format!("{m}: join_timeout returned {r:?}"))?;
    ensure(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        || format!("{m}: join_timeout took {took:?}"),
    )?;
    ensure(p.is_alive() && p.exitcode().is_none(), || {
        format!("{m}: not alive")
    })?;
    p.terminate().map_err(|e| e.to_string())?;
    let r = p
        .join_timeout(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    ensure(r == Some(-libc::SIGTERM), || {
        format!("{m}: after terminate {r:?}")
    })?;
    ensure(p.exitcode() == Some(-15) && !p.is_alive(), || {
        format!("{m}: exitcode")
    })?;

    let mut q = get_context(m).process(sleep_ms, 30_000u64);
    q.start().map_err(|e| e.to_string())?;
    q.kill().map_err(|e| e.to_string())?;
    q.join().map_err(|e| e.to_string())?;
    ensure(q.exitcode() == Some(-9), || {
        format!("{m}: after kill {:?}", q.exitcode())
    })?;
    // join_timeout on a finished child returns at once.
    let r = q
        .join_timeout(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    ensure(r == Some(-9), || format!("{m}: {r:?}"))?;
    ensure(common::zombie_children().is_empty(), || "zombies".into())
}
per_method!(join_timeout_and_signals => fork_join_timeout_terminate_kill, spawn_join_timeout_terminate_kill, forkserver_join_timeout_terminate_kill);

fn exit_code_passthrough() -> R {
    for m in METHODS {
        for c in [0, 3, 255] {
            let code = run(m, exit_with, c)?;
            expect_code(m, code, c, "exit")?;
        }
    }
    Ok(())
}

/// Threads + fork: one warning line, naming the thread count.
fn fork_with_threads() -> R {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                let _ = rx.lock().map(|r| r.recv_timeout(Duration::from_secs(30)));
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..3 {
        let code = run(StartMethod::Fork, empty, ())?;
        expect_code(StartMethod::Fork, code, 0, "fork with threads")?;
    }
    drop(tx);
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

fn warning_lines(o: &Outcome) -> Vec<&str> {
    o.stderr
        .lines()
        .filter(|l| l.starts_with("forkrt: warning:"))
        .collect()
}

fn check_one_warning(o: &Outcome) -> R {
    let lines = warning_lines(o);
    ensure(lines.len() == 1, || {
        format!("{} warning lines", lines.len())
    })?;
    ensure(lines[0].contains("3 threads"), || {
        format!("thread count not named: {}", lines[0])
    })
}

fn check_no_warning(o: &Outcome) -> R {
    let lines = warning_lines(o);
    ensure(lines.is_empty(), || {
        format!("unexpected warning: {lines:?}")
    })
}

fn fork_single_threaded() -> R {
    for _ in 0..3 {
        let code = run(StartMethod::Fork, empty, ())?;
        expect_code(StartMethod::Fork, code, 0, "fork")?;
    }
    Ok(())
}

/// Buffered stdout is flushed before fork, so it appears once.
fn stdout_not_duplicated() -> R {
    print!("PARTIAL-LINE-");
    for _ in 0..3 {
        let code = run(StartMethod::Fork, empty, ())?;
        expect_code(StartMethod::Fork, code, 0, "fork")?;
    }
    println!("END");
    for m in METHODS {
        let code = run(m, print_line, format!("child-line-{m}"))?;
        expect_code(m, code, 0, "print")?;
    }
    Ok(())
}

fn check_stdout_once(o: &Outcome) -> R {
    ensure(o.stdout.matches("PARTIAL-LINE-").count() == 1, || {
        "partial line duplicated".into()
    })?;
    for m in METHODS {
        ensure(o.stdout.contains(&format!("child-line-{m}\n")), || {
            format!("{m}: child output missing")
        })?;
    }
    Ok(())
}

/// Children see the state of their start: fork = the caller's now, spawn =
/// fresh statics but the caller's environment now, forkserver = the
/// server's (both as of its start).
fn inherited_state() -> R {
    let scratch = common::scratch_dir("state");
    let dir = scratch.path();
    // Start the forkserver before changing anything.
    let code = run(StartMethod::Forkserver, empty, ())?;
    expect_code(StartMethod::Forkserver, code, 0, "warm-up")?;
    STATE.store(42, Ordering::SeqCst);
    // SAFETY: this scenario process is single-threaded.
    unsafe { std::env::set_var("FORKRT_TEST_VAR", "set-later") };
    let want = [
        (StartMethod::Fork, "42|set-later"),
        (StartMethod::Spawn, "0|set-later"),
        (StartMethod::Forkserver, "0|-"),
    ];
    for (m, expect) in want {
        let out = dir.join(m.to_string()).display().to_string();
        let code = run(m, report_state, out.clone())?;
        expect_code(m, code, 0, "report_state")?;
        let got = std::fs::read_to_string(&out).unwrap_or_default();
        ensure(got == expect, || {
            format!("{m}: child saw {got:?}, expected {expect:?}")
        })?;
    }
    Ok(())
}

/// No runtime fd leaks into children: while a forkserver child and a
/// spawn child are running (holding a connection and a pidfd-less pid),
/// a fork child and a spawn child see only stdio and their own files.
fn no_fd_leak_into_children() -> R {
    // Whatever this process inherited itself (a jobserver pipe, ...) is
    // legitimately inherited by fork children too; spawn and forkserver
    // children get stdio only, as with CPython's close_fds.
    let own: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let scratch = common::scratch_dir("fds");
    let dir = scratch.path();
    let gate = dir.join("gate").display().to_string();
    let mut holders = Vec::new();
    for m in [
        StartMethod::Forkserver,
        StartMethod::Spawn,
        StartMethod::Fork,
    ] {
        let mut p = get_context(m).process(wait_for_file, gate.clone());
        p.start().map_err(|e| e.to_string())?;
        holders.push(p);
    }
    for m in METHODS {
        let out = dir.join(format!("fds-{m}")).display().to_string();
        let code = run(m, list_fds, out.clone())?;
        expect_code(m, code, 0, "list_fds")?;
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let extra: Vec<&str> = text
            .lines()
            .filter(|l| {
                let fd: i32 = l.split(' ').next().unwrap_or("0").parse().unwrap_or(0);
                // 0-2 stdio; the file being written and read_dir's own fd.
                let expected = fd <= 2
                    || l.contains(&out)
                    || l.contains("/proc/")
                    || (m == StartMethod::Fork && own.contains(&fd.to_string()));
                !expected
            })
            .collect();
        ensure(extra.is_empty(), || {
            format!("{m}: child inherited {extra:?}\n{text}")
        })?;
    }
    std::fs::write(&gate, "").map_err(|e| e.to_string())?;
    for mut p in holders {
        p.join().map_err(|e| e.to_string())?;
        ensure(p.exitcode() == Some(0), || "holder".into())?;
    }
    Ok(())
}

/// 1,000 processes started and joined in a loop: no zombie, no fd leaked,
/// bounded memory.
fn thousand_in_a_loop(m: StartMethod) -> R {
    // Warm up (the forkserver, lazily built tables) before measuring.
    for _ in 0..5 {
        run(m, empty, ())?;
    }
    // FORKRT_TEST_LOOP raises the count for soak runs.
    let n: usize = std::env::var("FORKRT_TEST_LOOP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let fds0 = common::fd_count();
    let rss0 = common::rss_kib();
    let server_rss = || {
        let pid = forkrt::__private::forkserver_pid()?;
        let s = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
        s.split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|p| p * 4)
    };
    let srv0 = server_rss();
    let t = Instant::now();
    for i in 0..n {
        let code = run(m, empty, ())?;
        if code != 0 {
            return Err(format!("{m}: iteration {i}: exit code {code}"));
        }
    }
    let took = t.elapsed();
    let fds1 = common::fd_count();
    let rss1 = common::rss_kib();
    ensure(fds1 == fds0, || format!("{m}: fds {fds0} → {fds1}"))?;
    ensure(common::zombie_children().is_empty(), || {
        format!("{m}: zombies")
    })?;
    ensure(rss1 < rss0 + 8 * 1024, || {
        format!("{m}: rss {rss0} KiB → {rss1} KiB")
    })?;
    if let (Some(a), Some(b)) = (srv0, server_rss()) {
        ensure(b < a + 8 * 1024, || {
            format!("forkserver rss {a} KiB → {b} KiB")
        })?;
        eprintln!("forkserver process rss {a} → {b} KiB");
    }
    eprintln!("{m}: {n} processes in {took:?}; fds {fds0}; rss {rss0} → {rss1} KiB");
    Ok(())
}
per_method!(thousand_in_a_loop => fork_thousand_processes, spawn_thousand_processes, forkserver_thousand_processes);

/// 64 children alive at once, then all released and joined.
fn sixty_four_alive(m: StartMethod) -> R {
    run(m, empty, ())?;
    let scratch = common::scratch_dir(&format!("64-{m}"));
    let dir = scratch.path();
    let gate = dir.join("gate").display().to_string();
    let fds0 = common::fd_count();
    let mut ps = Vec::new();
    for _ in 0..64 {
        let mut p = get_context(m).process(wait_for_file, gate.clone());
        p.start().map_err(|e| format!("{m}: start: {e}"))?;
        ps.push(p);
    }
    let alive = ps.iter().filter(|p| p.is_alive()).count();
    ensure(alive == 64, || format!("{m}: only {alive} alive"))?;
    let mut pids: Vec<u32> = ps.iter().filter_map(|p| p.pid()).collect();
    pids.sort_unstable();
    pids.dedup();
    ensure(pids.len() == 64, || {
        format!("{m}: {} distinct pids", pids.len())
    })?;
    std::fs::write(&gate, "").map_err(|e| e.to_string())?;
    for p in &mut ps {
        p.join().map_err(|e| e.to_string())?;
        ensure(p.exitcode() == Some(0), || {
            format!("{m}: exit {:?}", p.exitcode())
        })?;
    }
    drop(ps);
    ensure(common::fd_count() == fds0, || {
        format!("{m}: fds {fds0} → {}", common::fd_count())
    })?;
    ensure(common::zombie_children().is_empty(), || {
        format!("{m}: zombies")
    })?;
    Ok(())
}
per_method!(sixty_four_alive => fork_sixty_four_alive, spawn_sixty_four_alive, forkserver_sixty_four_alive);

/// Dropping unjoined processes never blocks; exited ones are reaped, daemon
/// ones are terminated, running non-daemon ones are reaped later.
fn drop_policy(m: StartMethod) -> R {
    run(m, empty, ())?;
    let fds0 = common::fd_count();
    // A child that runs for 3 s: dropping it must return long before that.
    let mut p = get_context(m).process(sleep_ms, 3_000u64);
    p.start().map_err(|e| e.to_string())?;
    let pid = p.pid().unwrap();
    let t = Instant::now();
    drop(p);
    ensure(t.elapsed() < Duration::from_secs(1), || {
        format!("drop blocked for {:?}", t.elapsed())
    })?;
    ensure(!common::is_dead(pid), || {
        format!("{m}: a non-daemon child was killed by drop")
    })?;
    let mut d = get_context(m).process(sleep_ms, 30_000u64).daemon(true);
    d.start().map_err(|e| e.to_string())?;
    let dpid = d.pid().unwrap();
    drop(d);
    ensure(
        common::wait_until(Duration::from_secs(10), || common::is_dead(dpid)),
        || format!("{m}: daemon child {dpid} still running after drop"),
    )?;
    ensure(
        common::wait_until(Duration::from_secs(20), || common::is_dead(pid)),
        || format!("{m}: child {pid} did not finish"),
    )?;
    // The next start reaps what the drops left behind.
    run(m, empty, ())?;
    ensure(
        common::wait_until(Duration::from_secs(5), || {
            let _ = run(m, empty, ());
            common::zombie_children().is_empty()
        }),
        || format!("{m}: zombies {:?}", common::zombie_children()),
    )?;
    ensure(common::fd_count() == fds0, || {
        format!("{m}: fds {fds0} → {}", common::fd_count())
    })
}
per_method!(drop_policy => fork_drop_policy, spawn_drop_policy, forkserver_drop_policy);

/// Exits 0 if this process's name (comm) is its binary's (truncated to the
/// kernel's 15 bytes), not "exe" (what exec of /proc/self/exe makes it).
#[forkrt::task]
fn named_after_binary(expected: String) {
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    if comm.trim_end() != expected {
        eprintln!("comm {comm:?}, expected {expected:?}");
        std::process::exit(3);
    }
}

fn children_are_named_after_the_binary() -> R {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let base = exe.file_name().unwrap().to_string_lossy().into_owned();
    let expected: String = base.chars().take(15).collect();
    for m in METHODS {
        let code = run(m, named_after_binary, expected.clone())?;
        expect_code(m, code, 0, "comm")?;
    }
    Ok(())
}

/// A fork child settles its runtime state on first use (not at the fork):
/// then it is `Process-N` of its parent, and starts children of its own,
/// through its own forkserver (not its parent's) and by spawn.
#[forkrt::task]
fn uses_the_runtime(parent_server: u32) {
    let me = forkrt::current_process();
    let parent = forkrt::parent_process().expect("a parent");
    let ok_identity = me.name().starts_with("Process-")
        && parent.name() == "MainProcess"
        && parent.pid() == std::os::unix::process::parent_id();
    let mut codes = Vec::new();
    for m in [
        StartMethod::Forkserver,
        StartMethod::Spawn,
        StartMethod::Fork,
    ] {
        let mut p = get_context(m).process(empty, ());
        codes.push(p.start().and_then(|()| p.join()).map(|()| p.exitcode()));
    }
    let own_server = forkrt::__private::forkserver_pid();
    if !ok_identity || codes.iter().any(|c| !matches!(c, Ok(Some(0)))) {
        eprintln!("{me:?} {parent:?} {codes:?}");
        std::process::exit(3);
    }
    if own_server.is_none() || own_server == Some(parent_server) {
        eprintln!("the child used its parent's forkserver {own_server:?}");
        std::process::exit(4);
    }
}

fn fork_child_settles_on_first_use() -> R {
    let m = StartMethod::Forkserver;
    expect_code(m, run(m, empty, ())?, 0, "warm-up")?;
    let server = forkrt::__private::forkserver_pid().ok_or("no server")?;
    let code = run(StartMethod::Fork, uses_the_runtime, server)?;
    expect_code(StartMethod::Fork, code, 0, "a fork child using the runtime")
}

/// One connection per process carries every forkserver request: threads
/// starting children at once (small and large arguments, each checked by
/// the child) all succeed, over a connection that is closed and made again
/// midway, and no descriptor is left behind.
fn forkserver_connection_shared_by_threads() -> R {
    let m = StartMethod::Forkserver;
    expect_code(m, run(m, empty, ())?, 0, "warm-up")?;
    let fds0 = forkrt::__private::open_fd_count();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || -> R {
                for k in 0..25 {
                    // Small arguments come before the request, large ones after.
                    let big = if (t + k) % 5 == 0 { 100 << 10 } else { k };
                    let code = run(m, check_payload, (big, expected_payload(big)))?;
                    expect_code(m, code, 0, "payload")?;
                    if t == 0 && k == 10 {
                        forkrt::__private::forkserver_disconnect();
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a thread panicked")??;
    }
    ensure(forkrt::__private::open_fd_count() == fds0, || {
        format!(
            "descriptors: {fds0:?} before, {:?} after",
            forkrt::__private::open_fd_count()
        )
    })
}

/// The forkserver killed between two starts is restarted; killed while a
/// child runs, join reports it clearly.
fn forkserver_killed() -> R {
    let m = StartMethod::Forkserver;
    expect_code(m, run(m, empty, ())?, 0, "first")?;
    let server = forkrt::__private::forkserver_pid().ok_or("no server pid")?;
    // SAFETY: killing the forkserver, our own child.
    unsafe { libc::kill(server as i32, libc::SIGKILL) };
    ensure(
        common::wait_until(Duration::from_secs(5), || common::is_dead(server)),
        || "server survived".into(),
    )?;
    let t = Instant::now();
    expect_code(m, run(m, empty, ())?, 0, "after the server was killed")?;
    ensure(t.elapsed() < Duration::from_secs(10), || {
        "restart too slow".into()
    })?;
    let server2 = forkrt::__private::forkserver_pid().ok_or("no server pid")?;
    ensure(server2 != server, || "same server pid".into())?;
    ensure(common::zombie_children().is_empty(), || {
        "old server not reaped".into()
    })?;

    // Killed while a child runs: the child dies with it, join says why.
    let mut p = get_context(m).process(sleep_ms, 30_000u64);
    p.start().map_err(|e| e.to_string())?;
    let child = p.pid().unwrap();
    // SAFETY: killing the forkserver, our own child.
    unsafe { libc::kill(server2 as i32, libc::SIGKILL) };
    let r = p.join();
    ensure(
        matches!(r, Err(Error::ForkserverUnavailable { .. })),
        || format!("join: {r:?}"),
    )?;
    ensure(
        common::wait_until(Duration::from_secs(5), || common::is_dead(child)),
        || "orphaned child".into(),
    )?;
    expect_code(m, run(m, empty, ())?, 0, "after the second kill")
}

/// A forkserver that cannot start is a clear error.
fn forkserver_cannot_start() -> R {
    let r = get_context(StartMethod::Forkserver)
        .process(empty, ())
        .start();
    match r {
        Err(Error::ForkserverUnavailable { reason }) => {
            ensure(reason.contains("/nonexistent-forkrt-dir"), || {
                format!("reason does not name the directory: {reason}")
            })
        }
        other => Err(format!("expected ForkserverUnavailable, got {other:?}")),
    }?;
    // Other methods still work.
    expect_code(
        StartMethod::Spawn,
        run(StartMethod::Spawn, empty, ())?,
        0,
        "spawn",
    )
}

/// Corrupt, truncated and undecodable messages on the spawn channel.
fn corrupt_spawn_channel() -> R {
    use forkrt::__private::{REQUEST_KIND, frame, request_frame_for, spawn_raw};
    let t = Instant::now();
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("garbage", b"this is not a frame at all".to_vec(), vec![]),
        ("bad payload", frame(REQUEST_KIND, &[0xff; 40]), vec![]),
        ("wrong kind", frame(0x77, &[]), vec![]),
        (
            "undecodable args",
            request_frame_for(&check_payload, 3).unwrap(),
            vec![0xff, 0xff, 0xff],
        ),
        (
            "trailing args",
            {
                let mut a = postcard_bytes_of_u64(5);
                a.push(1);
                (request_frame_for(&sleep_ms, a.len()).unwrap(), a)
            }
            .0,
            {
                let mut a = postcard_bytes_of_u64(5);
                a.push(1);
                a
            },
        ),
        (
            "truncated",
            {
                let f = request_frame_for(&sleep_ms, 1).unwrap();
                f[..f.len() - 3].to_vec()
            },
            vec![],
        ),
        (
            "short argument",
            request_frame_for(&sleep_ms, 10).unwrap(),
            vec![5],
        ),
    ];
    for (what, bytes, args) in cases {
        let t1 = Instant::now();
        let r = spawn_raw(&bytes, &args);
        ensure(r.is_err(), || format!("{what}: accepted ({r:?})"))?;
        let e = r.unwrap_err();
        if what.contains("args") {
            ensure(matches!(e, Error::Decode { .. }), || {
                format!("{what}: {e:?}")
            })?;
        }
        ensure(t1.elapsed() < Duration::from_secs(10), || {
            format!("{what}: took {:?}", t1.elapsed())
        })?;
    }
    ensure(common::zombie_children().is_empty(), || "zombies".into())?;
    eprintln!("corrupt spawn channel cases took {:?}", t.elapsed());
    // A good request still works.
    let good_args = postcard_bytes_of_u64(1);
    let good = request_frame_for(&sleep_ms, good_args.len()).unwrap();
    let pid = spawn_raw(&good, &good_args).map_err(|e| format!("good request: {e}"))?;
    ensure(
        common::wait_until(Duration::from_secs(10), || {
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), libc::WNOHANG) == pid as i32 }
        }),
        || "good child".into(),
    )
}

fn postcard_bytes_of_u64(v: u64) -> Vec<u8> {
    // postcard encodes u64 as a LEB128 varint.
    let mut out = Vec::new();
    let mut v = v;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn check_decode_messages(o: &Outcome) -> R {
    ensure(o.stderr.contains("cannot deserialize"), || {
        "decode failure not on stderr".into()
    })
}

/// Corrupt, truncated and undecodable requests on an authenticated
/// forkserver connection; the server survives them all.
fn corrupt_forkserver_channel() -> R {
    use forkrt::__private::{REQUEST_KIND, forkserver_raw, frame, request_frame_for};
    expect_code(
        StartMethod::Forkserver,
        run(StartMethod::Forkserver, empty, ())?,
        0,
        "warm-up",
    )?;
    let server = forkrt::__private::forkserver_pid().ok_or("no server")?;
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("garbage", b"this is not a frame at all".to_vec(), vec![]),
        ("bad payload", frame(REQUEST_KIND, &[0xff; 40]), vec![]),
        ("wrong kind", frame(0x77, &[]), vec![]),
        (
            "undecodable args",
            request_frame_for(&check_payload, 3).unwrap(),
            vec![0xff, 0xff, 0xff],
        ),
        (
            "truncated",
            {
                let f = request_frame_for(&sleep_ms, 1).unwrap();
                f[..f.len() - 3].to_vec()
            },
            vec![],
        ),
        (
            "short argument",
            request_frame_for(&sleep_ms, 10).unwrap(),
            vec![5],
        ),
    ];
    for (what, bytes, args) in cases {
        let t1 = Instant::now();
        let r = forkserver_raw(&bytes, &args);
        ensure(r.is_err(), || format!("{what}: accepted ({r:?})"))?;
        if what.contains("args") {
            ensure(matches!(r, Err(Error::Decode { .. })), || {
                format!("{what}: {r:?}")
            })?;
        }
        ensure(t1.elapsed() < Duration::from_secs(10), || {
            format!("{what}: took {:?}", t1.elapsed())
        })?;
    }
    ensure(forkrt::__private::forkserver_pid() == Some(server), || {
        "server restarted".into()
    })?;
    expect_code(
        StartMethod::Forkserver,
        run(StartMethod::Forkserver, empty, ())?,
        0,
        "after corruption",
    )
}

/// Connections without the key are refused; the socket is private.
fn forkserver_auth() -> R {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    let path = forkrt::__private::forkserver_socket_path().map_err(|e| e.to_string())?;
    let sock_mode = std::fs::metadata(&path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode()
        & 0o777;
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .map_err(|e| e.to_string())?
        .permissions()
        .mode()
        & 0o777;
    ensure(sock_mode == 0o600, || format!("socket mode {sock_mode:o}"))?;
    ensure(dir_mode == 0o700, || format!("dir mode {dir_mode:o}"))?;
    let read_all = |s: &mut UnixStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        buf
    };
    // The answer is REFUSED, possibly after the challenge.
    let refused = |answer: &[u8]| -> bool {
        let rest = if answer.len() >= 8 && answer[3] == 0x20 {
            &answer[8 + u32::from_le_bytes(answer[4..8].try_into().unwrap()) as usize..]
        } else {
            answer
        };
        rest.len() >= 8 && rest[3] == 0x22
    };
    // 1. A wrong HMAC (after a proper HELLO and challenge).
    let mut s = UnixStream::connect(&path).map_err(|e| e.to_string())?;
    s.write_all(&forkrt::__private::frame(0x26, &[7u8; 32]))
        .map_err(|e| e.to_string())?;
    let mut hdr = [0u8; 72];
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.read_exact(&mut hdr)
        .map_err(|e| format!("challenge: {e}"))?;
    ensure(&hdr[..2] == b"FK" && hdr[3] == 0x20, || {
        format!("challenge header {:?}", &hdr[..8])
    })?;
    let forged = forkrt::__private::frame(0x21, &[0u8; 32]);
    let request = forkrt::__private::request_frame_for(&empty, 0).unwrap();
    s.write_all(&forged).map_err(|e| e.to_string())?;
    let _ = s.write_all(&request);
    let answer = read_all(&mut s);
    ensure(answer.len() >= 8 && answer[3] == 0x22, || {
        format!("wrong key: answer {answer:?}")
    })?;
    ensure(
        String::from_utf8_lossy(&answer[8..]).contains("authentication failed"),
        || "reason".into(),
    )?;
    // 2. A request without authentication.
    let mut s = UnixStream::connect(&path).map_err(|e| e.to_string())?;
    s.write_all(&request).map_err(|e| e.to_string())?;
    let answer = read_all(&mut s);
    ensure(refused(&answer), || format!("no auth: answer {answer:?}"))?;
    // 3. Garbage.
    let mut s = UnixStream::connect(&path).map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let answer = read_all(&mut s);
    ensure(refused(&answer), || format!("garbage: answer {answer:?}"))?;
    // 4. Silence: closed after the handshake timeout, no child started.
    let t = Instant::now();
    let mut s = UnixStream::connect(&path).map_err(|e| e.to_string())?;
    let answer = read_all(&mut s);
    ensure(refused(&answer), || format!("silent: answer {answer:?}"))?;
    ensure(t.elapsed() < Duration::from_secs(5), || {
        "silent client held too long".into()
    })?;
    ensure(common::zombie_children().is_empty(), || "zombies".into())?;
    // The server still serves authenticated clients.
    expect_code(
        StartMethod::Forkserver,
        run(StartMethod::Forkserver, empty, ())?,
        0,
        "after refusals",
    )
}

/// Starts a `sleep_ms(ms)` child by `m` from a thread that ends right after.
fn start_from_thread(m: StartMethod, ms: u64) -> Result<Process, String> {
    std::thread::spawn(move || {
        let mut p = get_context(m).process(sleep_ms, ms);
        p.start().map_err(|e| e.to_string())?;
        Ok(p)
    })
    .join()
    .map_err(|_| "the starting thread panicked".to_string())?
}

/// Linux's PDEATHSIG fires when the *thread* that forked a child exits; a
/// child started from a short-lived thread (a thread pool's, tokio's
/// blocking pool's) must not die with it.
fn children_outlive_their_starting_thread() -> R {
    let mut fds = Vec::new();
    for ms in [700, 100, 100] {
        let mut ps = Vec::new();
        for m in METHODS {
            ps.push((m, start_from_thread(m, ms)?));
        }
        for (m, mut p) in ps {
            p.join().map_err(|e| e.to_string())?;
            let code = p.exitcode().unwrap_or(-999);
            expect_code(m, code, 0, "started from an ended thread")?;
        }
        fds.push(forkrt::__private::open_fd_count());
    }
    // The sentinels are closed once their children are joined.
    ensure(fds[1] == fds[2], || {
        format!("open fds after each round: {fds:?}")
    })?;
    ensure(common::zombie_children().is_empty(), || "zombies".into())
}

/// Helper for `parent_killed_no_orphans`: starts one long child per method
/// from the main thread and a fork and a spawn child from a thread that has
/// ended, prints their pids and the server's, then waits to be killed.
fn orphan_parent() -> R {
    let mut ps = Vec::new();
    for m in METHODS {
        let mut p = get_context(m).process(sleep_ms, 60_000u64);
        p.start().map_err(|e| e.to_string())?;
        ps.push(p);
    }
    for m in [StartMethod::Fork, StartMethod::Spawn] {
        ps.push(start_from_thread(m, 60_000)?);
    }
    let mut pids: Vec<u32> = ps.iter().map(|p| p.pid().unwrap()).collect();
    pids.push(forkrt::__private::forkserver_pid().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    ensure(ps.iter().all(Process::is_alive), || {
        "a child died with the thread that started it".into()
    })?;
    println!(
        "PIDS {}",
        pids.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
    Ok(())
}

/// Parent killed with SIGKILL: its fork, spawn and forkserver children (also
/// those started from a thread that had ended) and the forkserver itself all
/// exit.
fn parent_killed_no_orphans() -> R {
    use std::io::BufRead;
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--forkrt-scenario", "orphan_parent"]);
    let mut child = common::spawn_grouped(&mut cmd);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let line = match line {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err("helper did not report its children".into());
        }
    };
    let pids: Vec<u32> = line
        .trim()
        .strip_prefix("PIDS ")
        .ok_or_else(|| format!("bad line {line:?}"))?
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    ensure(pids.len() == 6, || format!("{pids:?}"))?;
    ensure(pids.iter().all(|&p| !common::is_dead(p)), || {
        "children not running".into()
    })?;
    child.kill().map_err(|e| e.to_string())?;
    let _ = child.wait();
    let gone = common::wait_until(Duration::from_secs(10), || {
        pids.iter().all(|&p| common::is_dead(p))
    });
    let survivors: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&p| !common::is_dead(p))
        .collect();
    // Clean up whatever survived so the suite itself leaves no orphans.
    for &p in &survivors {
        // SAFETY: killing leftovers of our own test.
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
    }
    ensure(gone, || {
        format!(
            "orphans still running: {survivors:?} (of fork, spawn, forkserver child, fork and spawn \
             child from an ended thread, server {pids:?})"
        )
    })
}

fn spawn_fallback() -> R {
    let scratch = common::scratch_dir("fallback");
    let dir = scratch.path();
    let out = dir.join("r").display().to_string();
    expect_code(
        StartMethod::Spawn,
        run(StartMethod::Spawn, write_report, out.clone())?,
        0,
        "fallback spawn",
    )?;
    ensure(
        std::fs::read_to_string(&out).is_ok_and(|s| s.contains("MainProcess")),
        || "report".into(),
    )?;
    Ok(())
}

fn child_stdin_is_devnull() -> R {
    for m in METHODS {
        let code = run(m, read_stdin, ())?;
        expect_code(m, code, 0, "stdin")?;
    }
    Ok(())
}

#[forkrt::task]
fn read_stdin(_: ()) {
    let target = std::fs::read_link("/proc/self/fd/0").unwrap_or_default();
    if target != std::path::Path::new("/dev/null") {
        eprintln!("stdin is {}", target.display());
        std::process::exit(5);
    }
}

static SCENARIOS: &[Scenario] = &[
    child("spec_example", spec_example),
    child("fork_runs_task", fork_runs_task),
    child("spawn_runs_task", spawn_runs_task),
    child("forkserver_runs_task", forkserver_runs_task),
    child("fork_args_intact", fork_args_intact),
    child("spawn_args_intact", spawn_args_intact),
    child("forkserver_args_intact", forkserver_args_intact),
    child(
        "file_argument_fork_ok_spawn_forkserver_not_serializable",
        file_argument,
    ),
    child(
        "closures_and_plain_fns_only_under_fork",
        unregistered_targets,
    ),
    child(
        "set_start_method_twice_fails_force_works",
        set_start_method_twice,
    ),
    child(
        "get_start_method_fixes_context",
        get_start_method_fixes_context,
    ),
    child("default_start_fixes_context", default_start_fixes_context),
    child("get_context_does_not_fix_context", get_context_does_not_fix),
    child("start_method_names", start_method_names),
    child("process_state_errors", process_state_errors),
    child("names_and_identity", names_and_identity),
    child_with(
        "panic_gives_exitcode_1_and_message",
        panic_exitcode,
        &[],
        Some(panic_check),
        60,
    ),
    child("fork_signals", fork_signals),
    child("spawn_signals", spawn_signals),
    child("forkserver_signals", forkserver_signals),
    child(
        "fork_join_timeout_terminate_kill",
        fork_join_timeout_terminate_kill,
    ),
    child(
        "spawn_join_timeout_terminate_kill",
        spawn_join_timeout_terminate_kill,
    ),
    child(
        "forkserver_join_timeout_terminate_kill",
        forkserver_join_timeout_terminate_kill,
    ),
    child("exit_code_passthrough", exit_code_passthrough),
    child_with(
        "fork_warning_once_with_threads",
        fork_with_threads,
        &[],
        Some(check_one_warning),
        60,
    ),
    child_with(
        "fork_warning_silenced_by_env",
        fork_with_threads,
        &[("FORKRT_NO_FORK_WARNING", "1")],
        Some(check_no_warning),
        60,
    ),
    child_with(
        "fork_no_warning_single_threaded",
        fork_single_threaded,
        &[],
        Some(check_no_warning),
        60,
    ),
    child_with(
        "stdout_not_duplicated_by_fork",
        stdout_not_duplicated,
        &[],
        Some(check_stdout_once),
        60,
    ),
    child("children_inherit_their_methods_state", inherited_state),
    child("no_fd_leak_into_children", no_fd_leak_into_children),
    child(
        "children_outlive_their_starting_thread",
        children_outlive_their_starting_thread,
    ),
    child("child_stdin_is_devnull", child_stdin_is_devnull),
    child_with(
        "fork_thousand_processes",
        fork_thousand_processes,
        &[],
        None,
        300,
    ),
    child_with(
        "spawn_thousand_processes",
        spawn_thousand_processes,
        &[],
        None,
        300,
    ),
    child_with(
        "forkserver_thousand_processes",
        forkserver_thousand_processes,
        &[],
        None,
        300,
    ),
    child_with(
        "fork_sixty_four_alive",
        fork_sixty_four_alive,
        &[],
        None,
        120,
    ),
    child_with(
        "spawn_sixty_four_alive",
        spawn_sixty_four_alive,
        &[],
        None,
        120,
    ),
    child_with(
        "forkserver_sixty_four_alive",
        forkserver_sixty_four_alive,
        &[],
        None,
        120,
    ),
    child("fork_drop_policy", fork_drop_policy),
    child("spawn_drop_policy", spawn_drop_policy),
    child("forkserver_drop_policy", forkserver_drop_policy),
    child("forkserver_killed_between_starts", forkserver_killed),
    child(
        "fork_child_settles_on_first_use",
        fork_child_settles_on_first_use,
    ),
    child(
        "children_are_named_after_the_binary",
        children_are_named_after_the_binary,
    ),
    child(
        "forkserver_connection_shared_by_threads",
        forkserver_connection_shared_by_threads,
    ),
    child_with(
        "forkserver_that_cannot_start_is_a_clear_error",
        forkserver_cannot_start,
        &[("TMPDIR", "/nonexistent-forkrt-dir")],
        None,
        60,
    ),
    child_with(
        "corrupt_spawn_channel_is_an_error",
        corrupt_spawn_channel,
        &[("FORKRT_HANDSHAKE_TIMEOUT_MS", "1000")],
        Some(check_decode_messages),
        60,
    ),
    child_with(
        "corrupt_forkserver_channel_is_an_error",
        corrupt_forkserver_channel,
        &[("FORKRT_HANDSHAKE_TIMEOUT_MS", "1000")],
        Some(check_decode_messages),
        60,
    ),
    child_with(
        "forkserver_refuses_unauthenticated_and_is_private",
        forkserver_auth,
        &[("FORKRT_HANDSHAKE_TIMEOUT_MS", "1000")],
        None,
        60,
    ),
    Scenario {
        name: "parent_killed_no_orphans",
        kind: Kind::Driver(parent_killed_no_orphans),
    },
    Scenario {
        name: "orphan_parent",
        kind: Kind::Helper(orphan_parent),
    },
    child_with(
        "spawn_fork_exec_fallback",
        spawn_fallback,
        &[("FORKRT_SPAWN_FALLBACK", "1")],
        None,
        60,
    ),
];

#[forkrt::main]
fn main() {
    common::main(SCENARIOS);
}
