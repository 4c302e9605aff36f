//! Start+join latency of an empty target, per start method, beside a bare
//! `fork`+`_exit`+`waitpid` measured in the same run and beside CPython's
//! `multiprocessing` (benches/mp_latency.py, same number of iterations).
//!
//! ```text
//! cargo bench -p forkrt --bench latency            # N = 200
//! FORKRT_BENCH_N=1000 cargo bench -p forkrt --bench latency
//! FORKRT_BENCH_NO_PYTHON=1 cargo bench -p forkrt --bench latency
//! ```
//!
//! A `harness = false` bench with its own `#[forkrt::main]`, because spawn
//! and forkserver re-execute this binary.

use std::time::{Duration, Instant};

use forkrt::{StartMethod, get_context};

#[forkrt::task]
fn empty(_: ()) {}

struct Stats {
    median: Duration,
    p10: Duration,
    p90: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort_unstable();
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    Stats {
        median,
        p10: v[n / 10],
        p90: v[n * 9 / 10],
    }
}

fn bare_fork(n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            // SAFETY: the child only calls _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: async-signal-safe exit of the child.
                unsafe { libc::_exit(0) };
            }
            assert!(pid > 0, "fork failed");
            let mut status = 0;
            // SAFETY: reaping our own child with a valid status pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            t.elapsed()
        })
        .collect()
}

/// posix_spawn of this binary that exits right after the guard, and
/// waitpid: the floor under any re-exec based spawn on this machine.
fn bare_exec(n: usize) -> Vec<Duration> {
    let exe = c"/proc/self/exe";
    let argv: [*const libc::c_char; 2] = [exe.as_ptr(), std::ptr::null()];
    let vars: Vec<std::ffi::CString> = std::env::vars()
        .map(|(k, v)| std::ffi::CString::new(format!("{k}={v}")).unwrap())
        .chain([std::ffi::CString::new("FORKRT_BENCH_EXIT=1").unwrap()])
        .collect();
    let mut envp: Vec<*const libc::c_char> = vars.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let mut pid = 0;
            // SAFETY: argv/envp are NULL-terminated arrays of C strings that
            // outlive the call; no file actions or attributes.
            let rc = unsafe {
                libc::posix_spawn(
                    &mut pid,
                    exe.as_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                    argv.as_ptr() as *const *mut libc::c_char,
                    envp.as_ptr() as *const *mut libc::c_char,
                )
            };
            assert_eq!(rc, 0, "posix_spawn");
            let mut status = 0;
            // SAFETY: reaping our own child with a valid status pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            t.elapsed()
        })
        .collect()
}

fn forkrt_method(m: StartMethod, n: usize) -> Vec<Duration> {
    let ctx = get_context(m);
    for _ in 0..10 {
        let mut p = ctx.process(empty, ());
        p.start().expect("start");
        p.join().expect("join");
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let mut p = ctx.process(empty, ());
            p.start().expect("start");
            p.join().expect("join");
            let d = t.elapsed();
            assert_eq!(p.exitcode(), Some(0));
            d
        })
        .collect()
}

fn python(n: usize) -> Vec<(String, f64, f64, f64)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/mp_latency.py");
    let out = match std::process::Command::new("python3")
        .arg(script)
        .arg(n.to_string())
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!("python3 failed: {}", String::from_utf8_lossy(&o.stderr));
            return Vec::new();
        }
        Err(e) => {
            eprintln!("python3 not available: {e}");
            return Vec::new();
        }
    };
    // One JSON object per line; parsed by hand to avoid a dependency.
    let field = |line: &str, key: &str| -> Option<String> {
        let k = format!("\"{key}\": ");
        let start = line.find(&k)? + k.len();
        let rest = &line[start..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim().trim_matches('"').to_string())
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            Some((
                field(l, "method")?,
                field(l, "median_us")?.parse().ok()?,
                field(l, "p10_us")?.parse().ok()?,
                field(l, "p90_us")?.parse().ok()?,
            ))
        })
        .collect()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[forkrt::main]
fn main() {
    if std::env::var_os("FORKRT_BENCH_EXIT").is_some() {
        return; // a `bare_exec` child
    }
    let n: usize = std::env::var("FORKRT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    // Profiling aid: run one measurement only (e.g. under `perf stat`).
    match std::env::var("FORKRT_BENCH_ONLY").as_deref() {
        Ok("exec") => return drop(bare_exec(n)),
        Ok("fork") => return drop(bare_fork(n)),
        Ok(m) => return drop(forkrt_method(m.parse().expect("a start method"), n)),
        Err(_) => {}
    }
    eprintln!("measuring {n} start+join of an empty target per method ...");
    let bare = stats(bare_fork(n));
    let exec = stats(bare_exec(n));
    let mut rows = Vec::new();
    for m in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ] {
        rows.push((m, stats(forkrt_method(m, n))));
    }
    // Bare fork again after the others, to expose drift during the run.
    let bare2 = stats(bare_fork(n));
    let py = if std::env::var_os("FORKRT_BENCH_NO_PYTHON").is_some() {
        Vec::new()
    } else {
        eprintln!("measuring CPython multiprocessing with the same N ...");
        python(n)
    };
    let py_version = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    println!("N = {n} start+join per method; microseconds; median (p10–p90)\n");
    println!("| method | forkrt | vs bare fork | CPython ({py_version}) | CPython / forkrt |");
    println!("|---|---|---|---|---|");
    println!(
        "| bare `fork`+`_exit`+`waitpid` | {:.0} ({:.0}–{:.0}); again after: {:.0} | 1.00× | | |",
        us(bare.median),
        us(bare.p10),
        us(bare.p90),
        us(bare2.median)
    );
    println!(
        "| bare `posix_spawn` of this binary + `waitpid` (floor for spawn) | {:.0} ({:.0}–{:.0}) | {:.2}× | | |",
        us(exec.median),
        us(exec.p10),
        us(exec.p90),
        us(exec.median) / us(bare.median)
    );
    for (m, s) in &rows {
        let vs_bare = us(s.median) / us(bare.median);
        let py_row = py.iter().find(|r| r.0 == m.as_str());
        let (py_cell, ratio) = match py_row {
            Some((_, med, p10, p90)) => (
                format!("{med:.0} ({p10:.0}–{p90:.0})"),
                format!("{:.1}×", med / us(s.median)),
            ),
            None => ("n/a".to_string(), "n/a".to_string()),
        };
        println!(
            "| {m} | {:.0} ({:.0}–{:.0}) | {:.2}× | {py_cell} | {ratio} |",
            us(s.median),
            us(s.p10),
            us(s.p90),
            vs_bare,
        );
    }
}
