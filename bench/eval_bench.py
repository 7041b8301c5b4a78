"""Benchmark: how long the site program takes to evaluate on the mock engine.

Prints the median wall time of evaluating `__main__.py` (the dev-like test config) next to a
baseline program that registers the same number of bare resources, and their ratio.
Not a test: nothing here asserts a time.  Run: .venv/bin/python bench/eval_bench.py [runs]
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pulumi  # noqa: E402

from site_fixtures import BASE  # noqa: E402
from engine import evaluate  # noqa: E402


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), samples


def main(runs: int = 15) -> None:
    evaluate(BASE)  # warm-up: imports, first gRPC set-up
    count = len(evaluate(BASE).resources)

    def bare():
        for i in range(count):
            pulumi.CustomResource("bench:index:Bare", f"r{i}", {"value": str(i)})

    evaluate({}, program=bare)
    site, site_samples = timed(lambda: evaluate(BASE), runs)
    base, base_samples = timed(lambda: evaluate({}, program=bare), runs)
    print(f"resources per evaluation : {count}")
    print(f"runs                     : {runs}")
    print(f"site program   median    : {site * 1000:8.1f} ms  (min {min(site_samples) * 1000:.1f}, max {max(site_samples) * 1000:.1f})")
    print(f"bare baseline  median    : {base * 1000:8.1f} ms  (min {min(base_samples) * 1000:.1f}, max {max(base_samples) * 1000:.1f})")
    print(f"ratio site / baseline    : {site / base:8.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
