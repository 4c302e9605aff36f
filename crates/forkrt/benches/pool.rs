//! `Pool::map` throughput beside CPython's `Pool.map` (forkserver) and
//! procspawn's pool, all in the same run:
//!
//! * **tiny** — `map(square, 0..10_000)`;
//! * **big** — `map(len, 100 × 1 MB Vec<u8>)`.
//!
//! Two workers (the machine has two cores), one warm-up run per case, then
//! the median of five timed runs. The 1 MB arguments are measured as
//! `Vec<u8>` (serde encodes it element by element) and as `String` (one
//! copy, like Python's `bytes`). CPython runs `benches/mp_pool.py`; procspawn runs the
//! `benches/compare` package (built on first use), each as a child of this
//! bench.
//!
//! ```text
//! cargo bench -p forkrt --bench pool
//! taskset -c 0,1 nice -n -20 cargo bench -p forkrt --bench pool
//! ```

use std::time::Instant;

use forkrt::{StartMethod, get_context};

#[forkrt::task]
fn square(x: u64) -> u64 {
    x * x
}

#[forkrt::task]
fn len(v: Vec<u8>) -> usize {
    v.len()
}

/// The same with a `String`: serde writes a string with one copy, while a
/// `Vec<u8>` goes element by element (use serde_bytes for byte buffers).
#[forkrt::task]
fn str_len(s: String) -> usize {
    s.len()
}

const WORKERS: usize = 2;

const RUNS: usize = 5;

/// Median of RUNS timed runs of `run` after one warm-up, in milliseconds;
/// `setup` (untimed) makes each run's input (the arguments `map` consumes).
fn timed<T>(setup: impl Fn() -> T, run: impl Fn(T)) -> f64 {
    run(setup());
    let mut v: Vec<f64> = (0..RUNS)
        .map(|_| {
            let input = setup();
            let t = Instant::now();
            run(input);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[RUNS / 2]
}

/// Runs a helper that prints `{"impl": .., "case": .., "ms": ..}` lines.
fn foreign(cmd: &mut std::process::Command) -> Vec<(String, String, f64)> {
    let out = match cmd.output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!("{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
            return Vec::new();
        }
        Err(e) => {
            eprintln!("{cmd:?}: {e}");
            return Vec::new();
        }
    };
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
                field(l, "impl")?,
                field(l, "case")?,
                field(l, "ms")?.parse().ok()?,
            ))
        })
        .collect()
}

#[forkrt::main]
fn main() {
    let big: Vec<Vec<u8>> = (0..100).map(|i| vec![i as u8; 1 << 20]).collect();
    let big_str: Vec<String> = (0..100)
        .map(|i| {
            char::from(b'a' + (i % 26) as u8)
                .to_string()
                .repeat(1 << 20)
        })
        .collect();
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    for m in [
        StartMethod::Forkserver,
        StartMethod::Fork,
        StartMethod::Spawn,
    ] {
        let pool = get_context(m).pool(WORKERS).expect("pool");
        let tiny = timed(
            || (),
            |()| {
                let r = pool.map(square, 0..10_000u64).expect("map");
                assert_eq!(r[9_999], 9_999 * 9_999);
            },
        );
        let big_ms = timed(
            || big.clone(),
            |args| {
                let r = pool.map(len, args).expect("map");
                assert!(r.iter().all(|&n| n == 1 << 20));
            },
        );
        rows.push((format!("forkrt `Pool::map` ({m}), `Vec<u8>`"), tiny, big_ms));
        let str_ms = timed(
            || big_str.clone(),
            |args| {
                let r = pool.map(str_len, args).expect("map");
                assert!(r.iter().all(|&n| n == 1 << 20));
            },
        );
        rows.push((format!("forkrt `Pool::map` ({m}), `String`"), tiny, str_ms));
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut others = Vec::new();
    if std::env::var_os("FORKRT_BENCH_NO_PYTHON").is_none() {
        others.extend(foreign(
            std::process::Command::new("python3")
                .arg(format!("{dir}/benches/mp_pool.py"))
                .arg("forkserver")
                .arg(WORKERS.to_string()),
        ));
    }
    if std::env::var_os("FORKRT_BENCH_NO_PROCSPAWN").is_none() {
        let target = format!("{dir}/../../target/forkrt-compare");
        let built = std::process::Command::new("cargo")
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(format!("{dir}/benches/compare/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .is_ok_and(|s| s.success());
        if built {
            others.extend(foreign(
                std::process::Command::new(format!("{target}/release/forkrt-compare"))
                    .arg("pool")
                    .arg(WORKERS.to_string()),
            ));
        }
    }
    for name in ["cpython-forkserver", "procspawn"] {
        let get = |case: &str| {
            others
                .iter()
                .find(|(i, c, _)| i == name && c == case)
                .map(|r| r.2)
        };
        if let (Some(t), Some(b)) = (get("tiny"), get("big")) {
            let label = match name {
                "procspawn" => "procspawn 1.x pool (spawn + join)".to_string(),
                _ => "CPython `Pool.map` (forkserver)".to_string(),
            };
            rows.push((label, t, b));
        }
    }
    let py = rows
        .iter()
        .find(|r| r.0.starts_with("CPython"))
        .map(|r| (r.1, r.2));
    println!(
        "{WORKERS} workers; milliseconds for the whole map, median of {RUNS} runs after a warm-up \
         (CPython: the same, in mp_pool.py)\n"
    );
    println!("| | 10,000 tiny tasks | CPython ÷ this | 100 × 1 MB arguments | CPython ÷ this |");
    println!("|---|---|---|---|---|");
    for (label, t, b) in &rows {
        let (rt, rb) = match py {
            Some((pt, pb)) => (format!("{:.1}×", pt / t), format!("{:.1}×", pb / b)),
            None => ("n/a".into(), "n/a".into()),
        };
        println!("| {label} | {t:.1} | {rt} | {b:.1} | {rb} |");
    }
}
