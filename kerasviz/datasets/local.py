"""The local engine: one process, one compiled function, three stages overlapped.

While the main thread computes chunk `k`'s maps, a `tf.data` pipeline and a
prefetch thread prepare chunks `k+1`, `k+2` (`sources`), and a writer
thread compresses and writes chunk `k-1` to the store. At most two chunks
wait to be computed and one to be written, so memory does not grow with the
dataset. A tqdm bar counts images, with images/s and the time left.

Example:

```python
run_local(explainer, source, writer, ranges)
```
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

from tqdm.auto import tqdm

from kerasviz.datasets.explainer import ChunkExplainer
from kerasviz.datasets.sources import ChunkRange, Source
from kerasviz.datasets.store import StoreWriter


def run_local(explainer: ChunkExplainer, source: Source, writer: StoreWriter,
              ranges: list[ChunkRange], *, progress: bool = True) -> int:
    """Explain and write the chunks `ranges`; returns how many inputs were explained.

    Raises:
        FileReadError / InvalidInputError: for an unreadable input with
            `on_error="raise"` (the chunks before it are written).
        StoreError: if a write fails (the chunk is not marked done).
    """
    done_inputs = len(source) - sum(stop - start for _, start, stop in ranges)
    bar = tqdm(total=len(source), initial=done_inputs, unit="img", desc="kerasviz",
               disable=not progress, smoothing=0.1)
    explained = 0
    with bar, ThreadPoolExecutor(1, thread_name_prefix="kerasviz-writer") as pool:
        writes: deque = deque()
        try:
            for chunk in source.chunks(ranges):
                maps, rows = explainer.explain(chunk)
                writes.append(pool.submit(writer.write_chunk, chunk.index, chunk.start, maps, rows))
                while len(writes) > 1:  # one write in flight behind the computation
                    writes.popleft().result()
                explained += len(chunk.ids)
                bar.update(len(chunk.ids))
        finally:
            # finish what was computed (a later error must not lose it), then report the first failure
            failures = []
            for write in writes:
                try:
                    write.result()
                except Exception as err:  # noqa: BLE001
                    failures.append(err)
            if failures:
                raise failures[0]
    return explained
