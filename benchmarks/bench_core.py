"""Speed and memory of kerasviz's core, measured side by side in one run.

On VGG-16 (random weights, logits) at 224×224, batch 4, it prints:

1. GBP map time ÷ a plain `tf.GradientTape` gradient of the unmodified model
   (goal ≤ 1.05);
2. all three rules in one call ÷ three single-rule calls (goal ≤ 0.75);
3. 10 classes per sample in one call ÷ 10 single-class calls (goal ≤ 0.60);
4. peak memory (RSS) of a process computing a GBP map ÷ one computing a plain
   gradient (goal ≤ 1.10), each in a fresh subprocess; also how far each
   peak rose above the RSS of the built model, i.e. what the map needed.

Every ratio comes from timings interleaved round by round in this one run
(median of `--repeats` rounds). Not part of the test suite.

    python benchmarks/bench_core.py [--size 224] [--batch 4] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _vgg16(size: int):
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.VGG16(
        weights=None, input_shape=(size, size, 3), classifier_activation=None
    )


def _plain_gradient(model):
    import tensorflow as tf

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = model(x, training=False)
            top = tf.stop_gradient(tf.argmax(logits, axis=-1, output_type=tf.int32))
            score = tf.gather(logits, top[:, None], axis=-1, batch_dims=1)[:, 0]
        return tape.gradient(score, x)

    return gradient


def _timed(fn) -> float:
    start = time.perf_counter()
    result = fn()
    if isinstance(result, dict):
        next(iter(result.values()))
    elif hasattr(result, "numpy"):
        result.numpy()
    return time.perf_counter() - start


def _race(candidates: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each candidate, run in interleaved rounds."""
    for fn in candidates.values():  # warm-up: tracing and first allocations
        _timed(fn)
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            times[name].append(_timed(fn))
    return {name: statistics.median(values) for name, values in times.items()}


def run_timings(size: int, batch: int, repeats: int) -> None:
    import tensorflow as tf

    import kerasviz as kv

    model = _vgg16(size)
    images = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    x = tf.constant(images)
    plain = _plain_gradient(model)
    all_rules = kv.Visualizer(model, kv.RULES)
    single = {rule: kv.Visualizer(model, (rule,)) for rule in kv.RULES}
    classes = np.tile(np.arange(10), (batch, 1))

    print(f"VGG-16, {size}x{size}, batch {batch}, median of {repeats} interleaved rounds")
    t = _race({
        "plain": lambda: plain(x),
        "guided": lambda: single["guided"](images, progress=False),
    }, repeats)
    print(f"1. GBP / plain gradient           {t['guided'] / t['plain']:.3f}  "
          f"({t['guided']:.3f}s vs {t['plain']:.3f}s; goal <= 1.05)")

    t = _race({
        "one call": lambda: all_rules(images, progress=False),
        "three calls": lambda: [single[r](images, progress=False) for r in kv.RULES][-1],
    }, repeats)
    print(f"2. 3 rules, one call / 3 calls    {t['one call'] / t['three calls']:.3f}  "
          f"({t['one call']:.3f}s vs {t['three calls']:.3f}s; goal <= 0.75)")

    guided = single["guided"]
    t = _race({
        "one call": lambda: guided(images, target=classes, progress=False),
        "ten calls": lambda: [guided(images, target=int(k), progress=False) for k in range(10)][-1],
    }, max(1, repeats // 2))
    print(f"3. 10 classes, one call / 10 calls {t['one call'] / t['ten calls']:.3f}  "
          f"({t['one call']:.3f}s vs {t['ten calls']:.3f}s; goal <= 0.60)")


def _peak_rss_child(kind: str, size: int, batch: int) -> None:
    """In a fresh process: one map of `kind`, then print peak RSS in MiB."""
    import tensorflow as tf

    import kerasviz as kv

    model = _vgg16(size)
    images = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    before = _current_rss_mib()
    if kind == "plain":
        result = _plain_gradient(model)(tf.constant(images)).numpy()
    else:
        result = kv.Visualizer(model, ("guided",))(images, progress=False)["guided"]
    assert np.isfinite(result).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(peak, peak - before)


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_memory(size: int, batch: int) -> None:
    peaks, extra = {}, {}
    for kind in ("plain", "guided"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--size", str(size), "--batch", str(batch)],
            check=True, capture_output=True, text=True,
        ).stdout
        peaks[kind], extra[kind] = map(float, out.strip().splitlines()[-1].split())
    print(f"4. peak RSS GBP / plain           {peaks['guided'] / peaks['plain']:.3f}  "
          f"({peaks['guided']:.0f} MiB vs {peaks['plain']:.0f} MiB; goal <= 1.10)")
    print(f"   peak above the built model      {extra['guided']:.0f} MiB vs {extra['plain']:.0f} MiB "
          f"(what the map itself needed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", choices=("plain", "guided"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _peak_rss_child(args.child, args.size, args.batch)
        return
    run_timings(args.size, args.batch, args.repeats)
    run_memory(args.size, args.batch)


if __name__ == "__main__":
    main()
