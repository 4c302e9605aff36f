//! procspawn measurements for forkrt's benches; prints one JSON object per
//! line, like benches/mp_latency.py.
//!
//! `forkrt-compare latency N` — spawn + join of an empty closure, N times.
//! `forkrt-compare pool W`    — procspawn's Pool of W workers: 10,000 tiny tasks
//!                              (in batches of 200 handles), and
//!                              100 tasks with 1 MB arguments.

use std::time::{Duration, Instant};

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (
        us(v[v.len() / 2]),
        us(v[v.len() / 10]),
        us(v[v.len() * 9 / 10]),
    )
}

fn main() {
    procspawn::init();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("latency") => {
            let n: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(200);
            for _ in 0..5 {
                procspawn::spawn((), |()| ()).join().unwrap();
            }
            let samples: Vec<Duration> = (0..n)
                .map(|_| {
                    let t = Instant::now();
                    procspawn::spawn((), |()| ()).join().unwrap();
                    t.elapsed()
                })
                .collect();
            let (median, p10, p90) = stats(samples);
            println!(
                "{{\"method\": \"procspawn\", \"n\": {n}, \"median_us\": {median:.1}, \"p10_us\": {p10:.1}, \"p90_us\": {p90:.1}}}"
            );
        }
        Some("pool") => {
            let workers: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(2);
            let tiny_n: u64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(10_000);
            let pool = procspawn::Pool::new(workers).unwrap();
            // Median of five runs after a warm-up, as the other rows.
            let time = |f: &dyn Fn()| {
                f();
                let mut v: Vec<f64> = (0..5)
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed().as_secs_f64() * 1e3
                    })
                    .collect();
                v.sort_by(f64::total_cmp);
                v[2]
            };
            // procspawn's pool holds descriptors per pending handle: submit in
            // batches of 200 so that 10,000 fit the default open-file limit.
            let tiny = time(&|| {
                for batch in 0..tiny_n.div_ceil(200) {
                    let hs: Vec<_> = (batch * 200..((batch + 1) * 200).min(tiny_n))
                        .map(|x| pool.spawn(x, |x| x * x))
                        .collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                }
            });
            println!(
                "{{\"impl\": \"procspawn\", \"case\": \"tiny\", \"n\": {tiny_n}, \"ms\": {tiny:.1}}}"
            );
            // With all 100 submitted at once procspawn's pool deadlocks on a
            // full channel (seen here); submit one round per worker at a time.
            let big = time(&|| {
                for batch in 0..100u64.div_ceil(workers as u64) {
                    let hs: Vec<_> = (batch * workers as u64
                        ..((batch + 1) * workers as u64).min(100))
                        .map(|x| pool.spawn(vec![x as u8; 1 << 20], |v: Vec<u8>| v.len()))
                        .collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                }
            });
            println!("{{\"impl\": \"procspawn\", \"case\": \"big\", \"ms\": {big:.1}}}");
        }
        _ => eprintln!("usage: forkrt-compare latency N | pool WORKERS"),
    }
}
