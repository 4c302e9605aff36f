"""Start+join latency of an empty target with CPython's multiprocessing.

Usage: python3 mp_latency.py N [method ...]
Prints one JSON object per method: {"method": ..., "n": N, "median_us": ..., "p10_us": ..., "p90_us": ...}
The forkrt benchmark (benches/latency.rs) runs this with the same N.
"""

import json
import multiprocessing as mp
import statistics
import sys
import time


def empty():
    pass


def measure(method, n):
    ctx = mp.get_context(method)
    # Warm-up: the first forkserver start launches the server.
    for _ in range(3):
        p = ctx.Process(target=empty)
        p.start()
        p.join()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        p = ctx.Process(target=empty)
        p.start()
        p.join()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
        assert p.exitcode == 0, p.exitcode
    samples.sort()
    return {
        "method": method,
        "n": n,
        "median_us": statistics.median(samples),
        "p10_us": samples[len(samples) // 10],
        "p90_us": samples[(len(samples) * 9) // 10],
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    methods = sys.argv[2:] or ["fork", "spawn", "forkserver"]
    for m in methods:
        print(json.dumps(measure(m, n)), flush=True)
