"""CPython's multiprocessing.Pool.map for forkrt's pool bench.

Usage: python3 mp_pool.py METHOD WORKERS
Prints one JSON object per case: {"impl": "cpython-METHOD", "case": "tiny"|"big", "ms": ...}
(tiny: 10,000 calls of square; big: 100 calls with a 1 MB bytes argument),
the median of five runs after one warm-up run of the same case.
"""

import json
import multiprocessing as mp
import sys
import time


def square(x):
    return x * x


def size(b):
    return len(b)


def timed(f, runs=5):
    f()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    return samples[runs // 2]


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else "forkserver"
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    ctx = mp.get_context(method)
    with ctx.Pool(workers) as pool:
        tiny = timed(lambda: pool.map(square, range(10_000)))
        big_args = [bytes([i % 256]) * (1 << 20) for i in range(100)]
        big = timed(lambda: pool.map(size, big_args))
    for case, ms in (("tiny", tiny), ("big", big)):
        print(json.dumps({"impl": f"cpython-{method}", "case": case, "ms": round(ms, 1)}), flush=True)
