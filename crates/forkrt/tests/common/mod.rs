//! A small test driver for `harness = false` test binaries.
//!
//! forkrt's spawn and forkserver re-execute the test binary itself, so the
//! binary must own its `main` (with the entry guard) instead of libtest's.
//! Each scenario runs in its own subprocess (`<exe> --forkrt-scenario NAME`)
//! so that one scenario's start method, forkserver, environment or crash
//! cannot affect another, and every subprocess has a hard timeout: nothing
//! can hang the suite. The driver understands enough of libtest's command
//! line for `cargo test -- FILTER`, `--exact`, `--list` (and so nextest).

#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub type Check = fn(&Outcome) -> Result<(), String>;

pub enum Kind {
    /// Runs in a fresh subprocess; passes if it returns Ok, the process
    /// exits 0 in time, and `check` (if any) accepts the output.
    Child {
        run: fn() -> Result<(), String>,
        env: &'static [(&'static str, &'static str)],
        check: Option<Check>,
        timeout_secs: u64,
    },
    /// Runs in the driver (for scenarios that must kill or watch a
    /// subprocess from outside).
    Driver(fn() -> Result<(), String>),
    /// Only runnable through `--forkrt-scenario` (used by driver scenarios).
    Helper(fn() -> Result<(), String>),
}

pub struct Scenario {
    pub name: &'static str,
    pub kind: Kind,
}

pub const fn child(name: &'static str, run: fn() -> Result<(), String>) -> Scenario {
    Scenario {
        name,
        kind: Kind::Child {
            run,
            env: &[],
            check: None,
            timeout_secs: 60,
        },
    }
}

pub const fn child_with(
    name: &'static str,
    run: fn() -> Result<(), String>,
    env: &'static [(&'static str, &'static str)],
    check: Option<Check>,
    timeout_secs: u64,
) -> Scenario {
    Scenario {
        name,
        kind: Kind::Child {
            run,
            env,
            check,
            timeout_secs,
        },
    }
}

pub struct Outcome {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn describe(&self) -> String {
        format!(
            "status {:?}{} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            if self.timed_out { " (TIMED OUT)" } else { "" },
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `<exe> --forkrt-scenario NAME` with `env`, killing its whole
/// process group after `timeout`.
pub fn run_scenario_process(name: &str, env: &[(&str, &str)], timeout: Duration) -> Outcome {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.arg("--forkrt-scenario").arg(name);
    cmd.envs(env.iter().copied());
    let mut child = spawn_grouped(&mut cmd);
    wait_child(&mut child, timeout)
}

pub fn spawn_grouped(cmd: &mut Command) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    cmd.spawn().expect("spawn scenario process")
}

pub fn wait_child(child: &mut std::process::Child, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let pgid = child.id() as i32;
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if start.elapsed() > timeout {
            timed_out = true;
            // SAFETY: kill(2) on our own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    // Stragglers in the group (there should be none) would keep the pipes
    // open; give them a moment, then kill the group so the readers finish.
    let grace = Instant::now() + Duration::from_secs(2);
    while !t_out.is_finished() || !t_err.is_finished() {
        if Instant::now() > grace {
            // SAFETY: kill(2) on our own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Outcome {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
        timed_out,
        elapsed,
    }
}

fn run_one(s: &Scenario) -> Result<(), String> {
    match &s.kind {
        Kind::Child {
            env,
            check,
            timeout_secs,
            ..
        } => {
            let o = run_scenario_process(s.name, env, Duration::from_secs(*timeout_secs));
            if o.timed_out {
                return Err(format!("timed out\n{}", o.describe()));
            }
            if !o.status.is_some_and(|st| st.success()) {
                return Err(format!("scenario process failed\n{}", o.describe()));
            }
            if let Some(check) = check {
                check(&o).map_err(|e| format!("{e}\n{}", o.describe()))?;
            }
            Ok(())
        }
        Kind::Driver(f) => f(),
        Kind::Helper(_) => Ok(()),
    }
}

/// The test binary's main, after the guard.
pub fn main(scenarios: &[Scenario]) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--forkrt-scenario") {
        let name = args.get(i + 1).expect("scenario name");
        let s = scenarios
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no scenario {name}"));
        let run = match &s.kind {
            Kind::Child { run, .. } | Kind::Helper(run) => run,
            Kind::Driver(_) => panic!("{name} is a driver scenario"),
        };
        match run() {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("SCENARIO FAILED: {e}");
                std::process::exit(1);
            }
        }
    }
    let list = args.iter().any(|a| a == "--list");
    let ignored = args.iter().any(|a| a == "--ignored");
    let exact = args.iter().any(|a| a == "--exact");
    // libtest flags that take a value (`--format terse`, `--skip x`, ...).
    const WITH_VALUE: &[&str] = &[
        "--format",
        "--logfile",
        "--test-threads",
        "--skip",
        "--color",
        "--shuffle-seed",
        "-Z",
    ];
    let mut filters: Vec<&String> = Vec::new();
    let mut skips: Vec<&String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            if let Some(v) = it.next() {
                if a == "--skip" {
                    skips.push(v);
                }
            }
        } else if !a.starts_with('-') {
            filters.push(a);
        }
    }
    let selected: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| !matches!(s.kind, Kind::Helper(_)))
        .filter(|s| !skips.iter().any(|k| s.name.contains(k.as_str())))
        .filter(|s| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        s.name == f.as_str()
                    } else {
                        s.name.contains(f.as_str())
                    }
                })
        })
        .collect();
    if list {
        if !ignored {
            for s in &selected {
                println!("{}: test", s.name);
            }
        }
        return;
    }
    if ignored {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed\n");
        return;
    }
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    let started = Instant::now();
    for s in &selected {
        let t = Instant::now();
        let r = run_one(s);
        match &r {
            Ok(()) => println!("test {} ... ok ({:.2?})", s.name, t.elapsed()),
            Err(_) => println!("test {} ... FAILED ({:.2?})", s.name, t.elapsed()),
        }
        if let Err(e) = r {
            failed.push((s.name, e));
        }
    }
    if !failed.is_empty() {
        println!("\nfailures:\n");
        for (name, e) in &failed {
            println!("---- {name} ----\n{e}\n");
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; finished in {:.2?}\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len(),
        started.elapsed()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

// ---------------------------------------------------------------------------
// Helpers for scenarios
// ---------------------------------------------------------------------------

pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

/// A fresh, empty directory for one scenario, removed when it is dropped.
pub fn scratch_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("forkrt-test-{tag}-"))
        .tempdir()
        .expect("a scratch directory in the temporary directory")
}

/// State letter of a process from /proc (`None` if it does not exist).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    stat[close + 1..].trim_start().chars().next()
}

/// True if `pid` no longer runs (gone, or a zombie waiting for its reaper).
pub fn is_dead(pid: u32) -> bool {
    matches!(proc_state(pid), None | Some('Z') | Some('X'))
}

/// Children of this process that are zombies.
pub fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut f = stat[close + 1..].split_ascii_whitespace();
        let state = f.next();
        let ppid = f.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(me) && state == Some("Z") {
            out.push(pid);
        }
    }
    out
}

/// Resident set size of this process, in KiB.
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

pub fn fd_count() -> usize {
    forkrt::__private::open_fd_count().expect("fd count")
}

/// Waits until `cond` holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
