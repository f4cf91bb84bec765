"""The timing shared by the benchmarks that compare candidates side by side in one run.

Imported by the scripts in this folder (run as `python benchmarks/<name>.py`,
which puts this folder on `sys.path`). Not part of the test suite.
"""

from __future__ import annotations

import statistics
import time


def median_times(candidates: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each candidate, run in interleaved rounds (after one warm-up each).

    Interleaving puts each round's candidates under the same machine load, so
    their ratio holds better than separately timed runs would.
    """
    for fn in candidates.values():  # warm-up: tracing and first allocations
        fn()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}
