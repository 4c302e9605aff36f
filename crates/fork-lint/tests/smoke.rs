//! Inline checks of the analyses, one snippet per style. The fixture suite in
//! `tests/` at the workspace root holds the runnable programs.

use fork_lint::{LintOptions, lint_source};

fn codes(src: &str) -> Vec<(String, usize)> {
    let report = lint_source("t.rs", src, &LintOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report
        .diagnostics
        .iter()
        .map(|d| (d.code.to_string(), d.primary.start.line))
        .collect()
}

#[test]
fn fl005_match_arm_falls_through() {
    let src = r#"
use nix::unistd::{fork, ForkResult};
fn main() {
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            println!("child");
        }
        Ok(ForkResult::Parent { child }) => { nix::sys::wait::waitpid(child, None).unwrap(); }
        Err(_) => {}
    }
}
"#;
    assert_eq!(codes(src), vec![("FL005".into(), 5)]);
}

#[test]
fn fl005_exit_in_every_path_is_silent() {
    let src = r#"
fn main() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        if std::env::args().count() > 1 { unsafe { libc::_exit(1) } }
        unsafe { libc::_exit(0) };
    } else if pid > 0 {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#;
    assert_eq!(codes(src), vec![]);
}

#[test]
fn fl005_question_mark_and_early_return_style() {
    let src = r#"
fn spawn_worker() -> std::io::Result<()> {
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Ok(());
    }
    std::fs::write("/tmp/x", b"x")?;
    unsafe { libc::_exit(0) }
}
fn main() { spawn_worker().unwrap(); }
"#;
    assert_eq!(codes(src), vec![("FL005".into(), 4)]);
}

#[test]
fn a_local_fork_function_is_not_a_fork_point() {
    let src = r#"
fn fork() -> i32 { 0 }
fn main() { if fork() == 0 { println!("not a child"); } }
"#;
    assert_eq!(codes(src), vec![]);
}

#[test]
fn fl004_pre_exec_styles() {
    let src = r#"
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::ffi::CString;
fn setup() -> std::io::Result<()> {
    let s = format!("x");
    Ok(())
}
fn main() {
    let mut cmd = Command::new("true");
    unsafe {
        cmd.pre_exec(|| {
            let c = CString::new("dir").unwrap();
            libc::chdir(c.as_ptr());
            Ok(())
        });
        cmd.pre_exec(setup);
        cmd.pre_exec(|| { libc::setsid(); Ok(()) });
    }
}
"#;
    let got = codes(src);
    assert_eq!(
        got,
        vec![
            ("FL004".into(), 6),
            // `CString::new(..).unwrap()` is one statement: one finding.
            ("FL004".into(), 13)
        ],
        "{got:?}"
    );
}

#[test]
fn fl004_pre_exec_error_values() {
    // `io::Error::other`/`new` box their payload; `last_os_error` and `from_raw_os_error`
    // allocate nothing.
    let src = r#"
use std::os::unix::process::CommandExt;
use std::io::{Error, ErrorKind};
fn main() {
    let mut cmd = std::process::Command::new("true");
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 { return Err(Error::other("setsid failed")); }
            if libc::setuid(0) != 0 { return Err(Error::new(ErrorKind::Other, "setuid")); }
            if libc::setgid(0) != 0 { return Err(Error::last_os_error()); }
            if libc::chdir(c"/".as_ptr()) != 0 { return Err(Error::from_raw_os_error(1)); }
            Ok(())
        });
    }
}
"#;
    let got = codes(src);
    assert_eq!(
        got,
        vec![("FL004".into(), 8), ("FL004".into(), 9)],
        "{got:?}"
    );
}

#[test]
fn fl004_needs_threads_for_raw_fork() {
    let single = r#"
fn main() {
    match unsafe { libc::fork() } {
        0 => { println!("child"); unsafe { libc::_exit(0) } }
        pid => { unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; }
    }
}
"#;
    assert_eq!(codes(single), vec![]);
    let threaded = r#"
fn log(msg: &str) { eprintln!("{msg}"); }
fn main() {
    let _t = std::thread::spawn(|| loop { std::thread::park(); });
    match unsafe { libc::fork() } {
        0 => { log("child"); unsafe { libc::_exit(0) } }
        pid => { unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; }
    }
}
"#;
    let got = codes(threaded);
    assert!(got.contains(&("FL004".into(), 2)), "{got:?}");
}

#[test]
fn fl002_guard_and_thread_styles() {
    let guard = r#"
use std::sync::Mutex;
static STATE: Mutex<u32> = Mutex::new(0);
fn bump() { *STATE.lock().unwrap() += 1; }
fn main() {
    let g = STATE.lock().unwrap();
    match unsafe { libc::fork() } {
        0 => { bump(); unsafe { libc::_exit(0) } }
        pid => { drop(g); unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; }
    }
}
"#;
    assert_eq!(codes(guard), vec![("FL002".into(), 7)]);
    let untouched = r#"
use std::sync::Mutex;
static FORK_MTX: Mutex<()> = Mutex::new(());
fn main() {
    let _m = FORK_MTX.lock().unwrap();
    match unsafe { libc::fork() } {
        0 => unsafe { libc::_exit(0) },
        pid => { unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; }
    }
}
"#;
    assert_eq!(codes(untouched), vec![]);
    let thread = r#"
use std::sync::{Arc, Mutex};
fn main() {
    let m = Arc::new(Mutex::new(0));
    let m2 = Arc::clone(&m);
    let t = std::thread::spawn(move || { let _g = m2.lock().unwrap(); std::thread::sleep(std::time::Duration::from_secs(1)); });
    match unsafe { libc::fork() } {
        0 => { let _g = m.lock(); unsafe { libc::_exit(0) } }
        pid => { unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) }; }
    }
    t.join().unwrap();
}
"#;
    let got = codes(thread);
    assert!(got.contains(&("FL002".into(), 7)), "{got:?}");
}

#[test]
fn fl001_and_fl003_forkrt_styles() {
    let src = r#"
use forkrt::{Process, StartMethod};
use std::fs::File;
#[forkrt::task]
fn work(args: (File, u32)) {}
#[forkrt::task]
fn plain(n: u32) {}
fn untagged(n: u32) {}
#[derive(serde::Serialize, serde::Deserialize)]
struct Good { n: u32 }
struct Bad { n: u32 }
#[forkrt::task]
fn takes_good(g: Good) {}
#[forkrt::task]
fn takes_bad(b: Bad) {}
fn main() -> forkrt::Result<()> {
    println!("hello");
    forkrt::init();
    let f = File::open("/etc/hostname").unwrap();
    let mut p = Process::new(work, (f, 7));
    p.start()?;
    let mut q = Process::new(plain, 3);
    q.start()?;
    let mut r = Process::new(untagged, 3);
    let mut s = Process::new(takes_good, Good { n: 1 });
    let mut t = Process::new(takes_bad, Bad { n: 1 });
    let ctx = forkrt::get_context(StartMethod::Fork);
    let mut u = ctx.process(work, (File::open("/x").unwrap(), 1));
    Ok(())
}
"#;
    let got = codes(src);
    assert_eq!(
        got,
        vec![
            ("FL003".into(), 18),
            ("FL001".into(), 20),
            ("FL001".into(), 24),
            ("FL001".into(), 26)
        ],
        "{got:?}"
    );
}

#[test]
fn fl003_missing_guard_and_procspawn() {
    let src = r#"
fn main() {
    let handle = procspawn::spawn(7, |n: u32| n + 1);
    handle.join().unwrap();
}
"#;
    assert_eq!(codes(src), vec![("FL003".into(), 2)]);
    let ok = r#"
fn main() {
    procspawn::init();
    let handle = procspawn::spawn(7, |n: u32| n + 1);
    handle.join().unwrap();
}
"#;
    assert_eq!(codes(ok), vec![]);
    // procspawn 1.x takes `fn(A) -> R`: a capturing closure is a compile error, which
    // FL001 leaves to rustc.
    let captures = r#"
fn main() {
    procspawn::init();
    let base = 10;
    let handle = procspawn::spawn(7, move |n: u32| n + base);
}
"#;
    assert_eq!(codes(captures), vec![]);
}

#[test]
fn fl006_styles() {
    let leak = r#"
use nix::unistd::{fork, ForkResult};
fn run_hook() -> nix::Result<()> {
    match unsafe { fork() }? {
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { .. } => Ok(()),
    }
}
fn main() { run_hook().unwrap(); loop { std::thread::sleep(std::time::Duration::from_secs(1)); } }
"#;
    assert_eq!(codes(leak), vec![("FL006".into(), 4)]);
    let reaped = r#"
use nix::unistd::{fork, ForkResult};
use nix::sys::wait::waitpid;
fn run_hook() -> nix::Result<()> {
    match unsafe { fork() }? {
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => { waitpid(child, None)?; Ok(()) }
    }
}
fn spawn_it() -> libc::pid_t {
    let pid = unsafe { libc::fork() };
    if pid == 0 { unsafe { libc::_exit(0) } }
    pid
}
fn main() { run_hook().unwrap(); let p = spawn_it(); }
"#;
    assert_eq!(codes(reaped), vec![]);
    let server = r#"
fn main() {
    loop {
        let pid = unsafe { libc::fork() };
        if pid == 0 { unsafe { libc::_exit(0) } }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
"#;
    assert_eq!(codes(server), vec![("FL006".into(), 4)]);
}

#[test]
fn fl007_and_fl008() {
    let threads = r#"
fn main() {
    let t = std::thread::spawn(|| {});
    let pid = unsafe { libc::fork() };
    if pid == 0 { unsafe { libc::_exit(0) } }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
"#;
    assert_eq!(codes(threads), vec![("FL007".into(), 4)]);
    let joined = r#"
fn main() {
    let t = std::thread::spawn(|| {});
    t.join().unwrap();
    let pid = unsafe { libc::fork() };
    if pid == 0 { unsafe { libc::_exit(0) } }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
"#;
    assert_eq!(codes(joined), vec![]);
    let twice = r#"
use forkrt::StartMethod;
fn configure() -> forkrt::Result<()> { forkrt::set_start_method(StartMethod::Fork)?; Ok(()) }
#[forkrt::main]
fn main() -> forkrt::Result<()> {
    forkrt::set_start_method(StartMethod::Spawn)?;
    configure()?;
    if forkrt::set_start_method(StartMethod::Fork).is_err() {}
    Ok(())
}
"#;
    assert_eq!(codes(twice), vec![("FL008".into(), 3)]);
}

#[test]
fn fl009_statics_and_env() {
    let src = r#"
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use forkrt::{Process, StartMethod};
static VERBOSE: AtomicBool = AtomicBool::new(false);
static mut LEVEL: u32 = 0;
static UNUSED: AtomicU32 = AtomicU32::new(0);
fn level() -> u32 { unsafe { LEVEL } }
#[forkrt::task]
fn work(_: ()) {
    if VERBOSE.load(Relaxed) { eprintln!("verbose {}", level()); }
    let home = std::env::var("WORK_DIR");
}
#[forkrt::main]
fn main() -> forkrt::Result<()> {
    UNUSED.store(1, Relaxed);
    VERBOSE.store(true, Relaxed);
    unsafe { LEVEL = 3; }
    std::env::set_var("WORK_DIR", "/tmp");
    let mut p = Process::new(work, ());
    p.start()?;
    std::env::set_var("WORK_DIR", "/var");
    let mut q = Process::new(work, ());
    q.start()?;
    Ok(())
}
"#;
    let got = codes(src);
    assert_eq!(
        got,
        vec![
            ("FL009".into(), 16),
            ("FL009".into(), 17),
            ("FL009".into(), 21)
        ],
        "{got:?}"
    );
    let fork = src.replace("#[forkrt::main]\nfn main() -> forkrt::Result<()> {", "#[forkrt::main]\nfn main() -> forkrt::Result<()> {\n    forkrt::set_start_method(StartMethod::Fork)?;");
    assert_eq!(codes(&fork), vec![]);
}

#[test]
fn fl010_rng_styles() {
    let src = r#"
use rand::{Rng, SeedableRng, rngs::StdRng};
fn main() {
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..3 {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let x: u64 = rng.random();
            unsafe { libc::_exit(0) }
        }
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}
"#;
    assert_eq!(codes(src), vec![("FL010".into(), 6)]);
    let reseeded = src.replace(
        "let x: u64 = rng.random();",
        "let mut rng = StdRng::from_os_rng(); let x: u64 = rng.random();",
    );
    assert_eq!(codes(&reseeded), vec![]);
    let libc_rand = r#"
fn main() {
    unsafe { libc::srand(7) };
    let pid = unsafe { libc::fork() };
    if pid == 0 { let r = unsafe { libc::rand() }; unsafe { libc::_exit(r & 1) } }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
"#;
    assert_eq!(codes(libc_rand), vec![("FL010".into(), 4)]);
}

#[test]
fn fl011_output_styles() {
    let src = r#"
use std::io::Write;
fn main() {
    print!("starting... ");
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        println!("child");
        unsafe { libc::_exit(0) }
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    println!("done");
}
"#;
    assert_eq!(codes(src), vec![("FL011".into(), 5)]);
    let flushed = src.replace(
        "print!(\"starting... \");",
        "print!(\"starting... \");\n    std::io::stdout().flush().unwrap();",
    );
    assert_eq!(codes(&flushed), vec![]);
    let silent_child = src.replace("println!(\"child\");", "");
    assert_eq!(codes(&silent_child), vec![]);
    let writer = r#"
use std::io::{BufWriter, Write};
fn main() -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create("/tmp/report")?);
    writeln!(out, "header")?;
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            writeln!(out, "child line")?;
            out.flush()?;
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => { nix::sys::wait::waitpid(child, None)?; }
    }
    Ok(())
}
"#;
    let got = codes(writer);
    assert!(got.contains(&("FL011".into(), 6)), "{got:?}");
}

#[test]
fn glob_imported_variants_are_patterns() {
    let src = r#"
use nix::unistd::{fork, ForkResult::*};
use nix::sys::wait::waitpid;
fn main() {
    match unsafe { fork() }.expect("fork") {
        Child => {
            println!("child");
        }
        Parent { child } => { waitpid(child, None).unwrap(); }
    }
}
"#;
    assert_eq!(codes(src), vec![("FL005".into(), 6)]);
}

#[test]
fn configured_fork_points_unsafe_functions_and_lock_types() {
    let config = fork_lint::Config::from_toml(
        r#"
fork-points = ["sys::raw_fork"]
unsafe-functions = ["audit_log"]
lock-types = ["SpinLock"]
"#,
        None,
    )
    .unwrap();
    let options = LintOptions::from_config(&config).unwrap();
    let src = r#"
use sys::raw_fork;
static TABLE: SpinLock<u32> = SpinLock::new(0);
fn main() {
    let _t = std::thread::spawn(|| {});
    let held = TABLE.write();
    let pid = unsafe { raw_fork() };
    if pid == 0 {
        audit_log("child");
        let _again = TABLE.write();
        unsafe { libc::_exit(0) }
    }
    drop(held);
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}
"#;
    let report = lint_source("t.rs", src, &options);
    let got: Vec<(String, usize)> = report
        .diagnostics
        .iter()
        .map(|d| (d.code.to_string(), d.primary.start.line))
        .collect();
    // The configured fork point forks with a thread running (FL007) while the
    // configured lock type's guard is held and taken again in the child (FL002); the
    // configured function and the lock are not async-signal-safe (FL004).
    assert!(got.contains(&("FL007".into(), 7)), "{got:?}");
    assert!(got.contains(&("FL002".into(), 7)), "{got:?}");
    assert!(got.contains(&("FL004".into(), 9)), "{got:?}");
    assert!(got.contains(&("FL004".into(), 10)), "{got:?}");
    // Without the configuration none of it is a fork point.
    assert!(
        lint_source("t.rs", src, &LintOptions::default())
            .diagnostics
            .is_empty()
    );
}

#[test]
fn fl001_locks_and_cells_of_serializable_values_cross() {
    let src = r#"
use forkrt::Process;
use std::cell::RefCell;
use std::sync::{Mutex, RwLock};
#[forkrt::task]
fn work(args: (Mutex<u32>, RwLock<Vec<String>>, RefCell<u8>)) {}
#[forkrt::main]
fn main() -> forkrt::Result<()> {
    let mut p = Process::new(work, (Mutex::new(1), RwLock::new(vec![]), RefCell::new(2)));
    p.start()
}
"#;
    assert_eq!(codes(src), vec![]);
    // A lock serde does not implement, and a lock of a value that does not serialize.
    let src = r#"
use forkrt::Process;
#[forkrt::task]
fn work(args: (tokio::sync::Mutex<u32>, std::sync::Mutex<std::fs::File>)) {}
#[forkrt::main]
fn main() -> forkrt::Result<()> {
    let f = std::fs::File::open("/x").unwrap();
    let mut p = Process::new(work, (tokio::sync::Mutex::new(1), std::sync::Mutex::new(f)));
    p.start()
}
"#;
    assert_eq!(codes(src), vec![("FL001".into(), 8), ("FL001".into(), 8)]);
}

#[test]
fn fl001_arguments_that_are_not_send_are_left_to_rustc() {
    // `Process::new` requires `A: Send`: each of these is a compile error.
    for arg in [
        "std::rc::Rc::new(7u32)",
        "std::sync::Arc::new(std::cell::RefCell::new(7u32))",
        "std::ptr::null::<u8>()",
        "(std::fs::File::open(\"/x\").unwrap(), std::rc::Rc::new(1))",
        "Holder { shared: std::rc::Rc::new(1) }",
    ] {
        let src = format!(
            r#"
struct Holder {{ shared: std::rc::Rc<u32> }}
#[forkrt::main]
fn main() -> forkrt::Result<()> {{
    let mut p = forkrt::Process::new(work, {arg});
    p.start()
}}
"#
        );
        assert_eq!(codes(&src), vec![], "{arg}");
    }
    // Unless the type promises `Send` itself.
    let src = r#"
struct Holder { raw: *const u8 }
unsafe impl Send for Holder {}
#[forkrt::main]
fn main() -> forkrt::Result<()> {
    let mut p = forkrt::Process::new(work, Holder { raw: std::ptr::null() });
    p.start()
}
"#;
    assert_eq!(codes(src), vec![("FL001".into(), 6)]);
}

#[test]
fn fl001_pool_forms() {
    let src = r#"
use forkrt::{Pool, StartMethod};
use std::fs::File;
#[forkrt::task]
fn size(f: File) -> u64 { 0 }
fn plain(x: u64) -> u64 { x }
fn given(pool: &Pool, files: Vec<File>) -> forkrt::Result<()> {
    pool.apply(size, files.into_iter().next().unwrap())?;
    Ok(())
}
#[forkrt::main]
fn main() -> forkrt::Result<()> {
    let builder = Pool::builder().processes(2);
    let pool = builder.method(StartMethod::Fork).build()?;
    pool.imap(plain, 0..3).count();
    let r = pool.apply_async(|x: u64| x, 1);
    let files: Vec<File> = Vec::new();
    let ok: Vec<u64> = vec![1, 2];
    pool.map(size, ok.iter().map(|_| File::open("/x").unwrap()))?;
    let _ = vec![1].iter().map(plain);
    Ok(())
}
"#;
    // A pool serializes under every method, fork included; a parameter of type `Pool`
    // is a pool; `Iterator::map(plain)` is not.
    assert_eq!(
        codes(src),
        vec![
            ("FL001".into(), 8),
            ("FL001".into(), 15),
            ("FL001".into(), 16),
            ("FL001".into(), 19)
        ]
    );
}

#[test]
fn fl003_pool_creation_needs_the_guard() {
    let src = r#"
fn main() {
    let pool = forkrt::Pool::new(2).unwrap();
}
"#;
    assert_eq!(codes(src), vec![("FL003".into(), 2)]);
    let fork = r#"
fn main() {
    let pool = forkrt::get_context(forkrt::StartMethod::Fork).pool(2).unwrap();
    let pool = forkrt::Pool::builder().method(forkrt::StartMethod::Fork).build().unwrap();
}
"#;
    assert_eq!(codes(fork), vec![]);
}

#[test]
fn fl009_pool_task_of_a_pool_given_as_parameter_is_silent() {
    // The pool's start method is unknown: the rule cannot decide.
    let src = r#"
static LIMIT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
#[forkrt::task]
fn within(n: u32) -> bool { n <= LIMIT.load(std::sync::atomic::Ordering::Relaxed) }
fn run(pool: &forkrt::Pool) {
    LIMIT.store(7, std::sync::atomic::Ordering::Relaxed);
    pool.map(within, [3]).unwrap();
}
"#;
    assert_eq!(codes(src), vec![]);
}
