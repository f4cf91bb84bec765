"""Dataset jobs (`kv.explain_dataset`): streaming speed, bounded memory, Ray's overhead, in one run.

On the paper's random 3-layer CNN (`kv.zoo.cnn3`, 16 filters 7×7, 10
classes) at 64×64, three rules, batch 32, over a folder of JPEG files it
writes once, it prints:

1. a streaming job from the JPEG folder ÷ the in-memory `Visualizer` on the
   same images already decoded, images/s (goal >= 0.9: decoding and writing
   hidden behind the gradients). Both start from scratch each round (a new
   Visualizer, a new job into a fresh store), median of `--repeats`
   interleaved rounds; also the job ÷ the Visualizer plus a compiled forward
   pass, the extra work the job's table (predicted class, score) needs;
2. peak RSS of a job over 4000 images ÷ over 1000 (goal <= 1.15: memory does
   not grow with the dataset), each in a fresh subprocess;
3. the Ray engine with 2 workers ÷ the local engine, images/s after
   start-up (from the moment each worker has finished a chunk, read off the
   stores' `done` flags), both in subprocesses (Ray on a local instance).
   On 2 cores no gain is expected: what matters is the overhead.

Not part of the test suite. Needs `pip install "kerasviz[ray]"` for 3.

    python benchmarks/bench_dataset.py [--images 1000] [--repeats 3] [--size 64] [--no-ray] [--parts 123]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

RULES = ("saliency", "deconvnet", "guided")
BATCH = 32


def _model(size: int):
    import kerasviz as kv

    return kv.zoo.cnn3(filters=16, kernel_size=7, input_shape=(size, size, 3), num_classes=10)


def _write_jpegs(folder: Path, count: int, size: int) -> None:
    """`count` smooth random photos-like JPEGs (quality 90), written once."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    existing = len(list(folder.glob("*.jpg")))
    for i in range(existing, count):
        coarse = rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
        image.save(folder / f"img{i:05d}.jpg", quality=90)


def _decoded(paths: list[Path], size: int) -> np.ndarray:
    """The images as the job decodes them (TensorFlow's JPEG decoder), for the in-memory run."""
    import tensorflow as tf

    return np.stack([tf.io.decode_jpeg(tf.io.read_file(str(p)), channels=3).numpy() for p in paths]
                    ).astype(np.float32)


def run_streaming(folder: Path, count: int, size: int, repeats: int) -> None:
    import tensorflow as tf

    import kerasviz as kv

    model = _model(size)
    pattern = str(folder / "img*.jpg")
    paths = sorted(folder.glob("img*.jpg"))[:count]
    assert len(paths) == count
    source = [str(p) for p in paths]
    images = _decoded(paths, size)
    work = Path(tempfile.mkdtemp(prefix="kerasviz-bench-"))

    def in_memory():
        kv.Visualizer(model, RULES, batch_size=BATCH)(images, progress=False)

    def in_memory_with_forward():
        viz = kv.Visualizer(model, RULES, batch_size=BATCH)
        viz(images, progress=False)
        forward = tf.function(lambda x: viz.model(x, training=False))
        for start in range(0, count, BATCH):
            forward(tf.constant(images[start:start + BATCH])).numpy()

    def streaming():
        kv.explain_dataset(model, source, str(work / "maps.zarr"), rules=RULES, batch_size=BATCH,
                           restart=True, progress=False)

    candidates = {"in-memory": in_memory, "in-memory + forward": in_memory_with_forward,
                  "streaming": streaming}
    times = {name: [] for name in candidates}
    streaming()  # warm-up: file cache, first imports
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    t = {name: statistics.median(values) for name, values in times.items()}
    rate = {name: count / seconds for name, seconds in t.items()}
    print(f"cnn3 (16 filters 7x7, 10 classes) at {size}x{size}, {len(RULES)} rules, batch {BATCH}, "
          f"{count} JPEG files ({pattern}), median of {repeats} interleaved rounds")
    print(f"1. streaming / in-memory           {rate['streaming'] / rate['in-memory']:.3f}  "
          f"({rate['streaming']:.0f} vs {rate['in-memory']:.0f} images/s; goal >= 0.9)")
    print(f"   streaming / in-memory + forward {rate['streaming'] / rate['in-memory + forward']:.3f}  "
          f"({rate['in-memory + forward']:.0f} images/s: the table's forward pass included)")
    shutil.rmtree(work, ignore_errors=True)


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child_rss(folder: Path, count: int, size: int) -> None:
    """In a fresh process: one job over the first `count` files.

    Prints the process's peak RSS, the RSS before the job (model built,
    TensorFlow loaded) and the highest RSS sampled every 10 ms during the
    job, in MiB.
    """
    import threading

    import kerasviz as kv

    model = _model(size)
    paths = [str(p) for p in sorted(folder.glob("img*.jpg"))[:count]]
    work = Path(tempfile.mkdtemp(prefix="kerasviz-bench-"))
    before = _current_rss_mib()
    highest = [before]
    running = threading.Event()
    running.set()

    def sample():
        while running.is_set():
            highest[0] = max(highest[0], _current_rss_mib())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    store = kv.explain_dataset(model, paths, str(work / "maps.zarr"), rules=RULES, batch_size=BATCH,
                               progress=False)
    running.clear()
    sampler.join()
    assert store.complete and len(store) == count
    shutil.rmtree(work, ignore_errors=True)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, before, highest[0])


def run_memory(folder: Path, size: int) -> None:
    peaks, before, during = {}, {}, {}
    for count in (1000, 4000):
        out = subprocess.run(
            [sys.executable, __file__, "--child", "rss", "--images", str(count), "--size", str(size),
             "--folder", str(folder)],
            check=True, capture_output=True, text=True,
        ).stdout
        peaks[count], before[count], during[count] = map(float, out.strip().splitlines()[-1].split())
    print(f"2. peak RSS 4000 / 1000 images     {peaks[4000] / peaks[1000]:.3f}  "
          f"({peaks[4000]:.0f} MiB vs {peaks[1000]:.0f} MiB; goal <= 1.15)")
    print(f"   highest RSS during the job       {during[4000]:.0f} MiB vs {during[1000]:.0f} MiB "
          f"({during[4000] - before[4000]:+.0f} vs {during[1000] - before[1000]:+.0f} MiB above the RSS "
          f"before it: what the job itself holds)")


def _steady_rate(store_path: Path, chunk: int, workers: int) -> float:
    """Images/s from the moment `workers` chunks are done (every worker started) to the last one."""
    times = sorted(p.stat().st_mtime for p in (store_path / "done" / "c").iterdir())
    start = times[workers - 1]
    return (len(times) - workers) * chunk / (times[-1] - start)


def _child_engine(folder: Path, count: int, size: int, engine: str) -> None:
    import kerasviz as kv

    model = _model(size)
    paths = [str(p) for p in sorted(folder.glob("img*.jpg"))[:count]]
    work = Path(tempfile.mkdtemp(prefix="kerasviz-bench-"))
    workers = 2 if engine == "ray" else 1
    kwargs = {"engine": "ray", "workers": workers} if engine == "ray" else {}
    if engine == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter()
    kv.explain_dataset(model, paths, str(work / "maps.zarr"), rules=RULES, batch_size=BATCH,
                       progress=False, **kwargs)
    total = time.perf_counter() - start
    print(_steady_rate(work / "maps.zarr", BATCH, workers), total)
    shutil.rmtree(work, ignore_errors=True)


def run_ray(folder: Path, count: int, size: int) -> None:
    rates, totals = {}, {}
    for engine in ("local", "ray"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--images", str(count), "--size", str(size),
             "--folder", str(folder)],
            check=True, capture_output=True, text=True,
        ).stdout
        rates[engine], totals[engine] = map(float, out.strip().splitlines()[-1].split())
    print(f"3. Ray 2 workers / local, after start-up {rates['ray'] / rates['local']:.3f}  "
          f"({rates['ray']:.0f} vs {rates['local']:.0f} images/s; whole job {totals['ray']:.1f} s vs "
          f"{totals['local']:.1f} s with start-up)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="images for 1 and 3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--parts", default="123", help="which measures to run, e.g. 2 or 13")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "kerasviz-bench-jpegs")
    parser.add_argument("--child", choices=("rss", "local", "ray"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "rss":
        _child_rss(args.folder, args.images, args.size)
        return
    if args.child:
        _child_engine(args.folder, args.images, args.size, args.child)
        return
    _write_jpegs(args.folder, max(4000, args.images), args.size)
    if "1" in args.parts:
        run_streaming(args.folder, args.images, args.size, args.repeats)
    if "2" in args.parts:
        run_memory(args.folder, args.size)
    if "3" in args.parts and not args.no_ray:
        run_ray(args.folder, args.images, args.size)


if __name__ == "__main__":
    main()
