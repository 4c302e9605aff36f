//! Start+join latency of an empty target, per start method, beside a bare
//! `fork`+`_exit`+`waitpid`, a bare `posix_spawn`+`waitpid` of this binary
//! and procspawn's `spawn`+`join`, all measured in the same run, and beside
//! CPython's `multiprocessing` (benches/mp_latency.py, same number of
//! iterations, run by this bench right after). procspawn's `spawn`+`join`
//! is measured by `benches/compare` (a package of its own), also right after.
//!
//! ```text
//! cargo bench -p forkrt --bench latency            # N = 200
//! FORKRT_BENCH_N=1000 cargo bench -p forkrt --bench latency
//! FORKRT_BENCH_NO_PYTHON=1 cargo bench -p forkrt --bench latency
//! taskset -c 1 nice -n -20 cargo bench -p forkrt --bench latency   # as in docs/forkrt.md
//! FORKRT_BENCH_ONLY=spawn FORKRT_BENCH_N=1000 perf stat target/release/deps/latency-*
//! ```
//!
//! The Rust measurements are interleaved — each round takes one sample of
//! every row, in a fresh random order — so that a machine whose load changes
//! during the run (2 shared cores here) biases no row against another. The
//! order must change, not merely rotate: a sample pays for what ran just
//! before it (an exec evicts the caches; a forkserver start leaves the
//! server reaping in the background), and a rotation keeps every row behind
//! the same neighbour (fork behind the bare posix_spawn, the bare fork
//! behind forkserver: 11 µs against fork here).
//!
//! A `harness = false` bench with its own `#[forkrt::main]`, because spawn
//! and forkserver re-execute this binary.

use std::ffi::CString;
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

#[derive(Clone, Copy, PartialEq)]
enum Row {
    BareFork,
    BareExec,
    Method(StartMethod),
}

const ROWS: [Row; 5] = [
    Row::BareFork,
    Row::BareExec,
    Row::Method(StartMethod::Fork),
    Row::Method(StartMethod::Spawn),
    Row::Method(StartMethod::Forkserver),
];

fn bare_fork() -> Duration {
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
}

/// Environment for `bare_exec` children: they return from `main` right
/// after the guard.
fn exec_env() -> Vec<CString> {
    std::env::vars()
        .map(|(k, v)| CString::new(format!("{k}={v}")).unwrap())
        .chain([CString::new("FORKRT_BENCH_EXIT=1").unwrap()])
        .collect()
}

/// posix_spawn of this binary (which exits right after the guard) and
/// waitpid: the floor under any re-exec based spawn on this machine.
fn bare_exec(env: &[CString]) -> Duration {
    let exe = c"/proc/self/exe";
    let argv: [*const libc::c_char; 2] = [exe.as_ptr(), std::ptr::null()];
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());
    let t = Instant::now();
    let mut pid = 0;
    // SAFETY: argv/envp are NULL-terminated arrays of C strings that outlive
    // the call; no file actions or attributes.
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
}

fn forkrt_once(m: StartMethod) -> Duration {
    let t = Instant::now();
    let mut p = get_context(m).process(empty, ());
    p.start().expect("start");
    p.join().expect("join");
    let d = t.elapsed();
    assert_eq!(p.exitcode(), Some(0));
    d
}

fn sample(row: Row, env: &[CString]) -> Duration {
    match row {
        Row::BareFork => bare_fork(),
        Row::BareExec => bare_exec(env),
        Row::Method(m) => forkrt_once(m),
    }
}

/// procspawn's `spawn` + `join` of an empty closure, N times, measured by
/// the `benches/compare` package (built on first use: procspawn cannot be a
/// dev-dependency of forkrt, see its Cargo.toml).
fn procspawn(n: usize) -> Vec<(String, f64, f64, f64)> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let target = format!("{dir}/../../target/forkrt-compare");
    let built = std::process::Command::new("cargo")
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(format!("{dir}/benches/compare/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        eprintln!("could not build benches/compare (procspawn)");
        return Vec::new();
    }
    json_rows(
        std::process::Command::new(format!("{target}/release/forkrt-compare"))
            .arg("latency")
            .arg(n.to_string()),
    )
}

fn python(n: usize) -> Vec<(String, f64, f64, f64)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/mp_latency.py");
    json_rows(
        std::process::Command::new("python3")
            .arg(script)
            .arg(n.to_string()),
    )
}

/// Runs a helper printing `{"method": .., "median_us": .., ...}` lines.
fn json_rows(cmd: &mut std::process::Command) -> Vec<(String, f64, f64, f64)> {
    let out = match cmd.output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!("{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
            return Vec::new();
        }
        Err(e) => {
            eprintln!("{cmd:?} not available: {e}");
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

/// A fixed-seed PRNG for the order of the rows in each round.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher–Yates.
    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn parse_row(name: &str) -> Row {
    match name {
        "bare-fork" => Row::BareFork,
        "bare-exec" => Row::BareExec,
        m => Row::Method(m.parse().expect("bare-fork, bare-exec or a start method")),
    }
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
    let env = exec_env();
    // Profiling aid: some rows only (e.g. one, under `perf stat`),
    // interleaved, without warm-up; prints their medians.
    if let Ok(only) = std::env::var("FORKRT_BENCH_ONLY") {
        let rows: Vec<(&str, Row)> = only.split(',').map(|r| (r, parse_row(r))).collect();
        let mut v = vec![Vec::with_capacity(n); rows.len()];
        for _ in 0..n {
            for (i, (_, row)) in rows.iter().enumerate() {
                v[i].push(sample(*row, &env));
            }
        }
        for ((name, _), v) in rows.iter().zip(v) {
            eprintln!("{name}: median {:.1} µs", us(stats(v).median));
        }
        return;
    }
    eprintln!("measuring {n} rounds of start+join of an empty target ...");
    // Warm-up: page cache, the forkserver, lazily built tables.
    for _ in 0..10 {
        for row in ROWS {
            sample(row, &env);
        }
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); ROWS.len()];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut order: Vec<usize> = (0..ROWS.len()).collect();
    for _ in 0..n {
        rng.shuffle(&mut order);
        for &i in &order {
            samples[i].push(sample(ROWS[i], &env));
        }
    }
    let stats: Vec<Stats> = samples.into_iter().map(stats).collect();
    let py = if std::env::var_os("FORKRT_BENCH_NO_PYTHON").is_some() {
        Vec::new()
    } else {
        eprintln!("measuring CPython multiprocessing with the same N ...");
        python(n)
    };
    let ps = if std::env::var_os("FORKRT_BENCH_NO_PROCSPAWN").is_some() {
        Vec::new()
    } else {
        eprintln!("measuring procspawn with the same N ...");
        procspawn(n)
    };
    let py_version = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    let bare = stats[0].median;
    let bare_exec_median = stats[1].median;
    println!("N = {n} start+join per row; microseconds; median (p10–p90)\n");
    println!(
        "| | median (p10–p90) | ÷ bare fork | ÷ bare posix_spawn | CPython {py_version} | CPython ÷ this |"
    );
    println!("|---|---|---|---|---|---|");
    for (row, s) in ROWS.iter().zip(&stats) {
        let label = match row {
            Row::BareFork => "bare `fork`+`_exit`+`waitpid`".to_string(),
            Row::BareExec => "bare `posix_spawn` of the binary + `waitpid`".to_string(),
            Row::Method(m) => format!("**forkrt {m}**"),
        };
        let (py_cell, ratio) = match row {
            Row::Method(m) => match py.iter().find(|r| r.0 == m.as_str()) {
                Some((_, med, p10, p90)) => (
                    format!("{med:.0} ({p10:.0}–{p90:.0})"),
                    format!("{:.1}×", med / us(s.median)),
                ),
                None => ("n/a".into(), "n/a".into()),
            },
            _ => (String::new(), String::new()),
        };
        println!(
            "| {label} | {:.0} ({:.0}–{:.0}) | {:.2}× | {:.2}× | {py_cell} | {ratio} |",
            us(s.median),
            us(s.p10),
            us(s.p90),
            us(s.median) / us(bare),
            us(s.median) / us(bare_exec_median),
        );
    }
    if let Some((_, med, p10, p90)) = ps.first() {
        println!(
            "| procspawn 1.x `spawn` + `join` | {med:.0} ({p10:.0}–{p90:.0}) | {:.2}× | {:.2}× | | |",
            med / us(bare),
            med / us(bare_exec_median),
        );
    }
}
