"""The arithmetic maps are computed in: `"float32"`, `"bfloat16"` or `"float16"`.

`kv.Visualizer(model, precision="bfloat16")` (and `kv.visualize`,
`kv.explain_dataset`, `kerasviz explain --precision`) runs the rewritten
model's forward and backward passes in a reduced floating-point type while
the model's variables stay as they are (float32, shared, nothing copied):
`kv.rewrite` gives every layer of the rewritten model a Keras mixed dtype
policy (`"mixed_bfloat16"` or `"mixed_float16"`), so kernels are cast to the
reduced type where they are used. Scores and targets are computed in float32
from the reduced-precision logits, and maps come back as float32.

`"float32"` means float32 arithmetic: the rewrite of a float32 model is the
ordinary one, and a model built in mixed precision is explained in float32
(its own variables, float32 layers).

On hardware without a fast path for the reduced type (a CPU without
AVX512-BF16 or AMX, a GPU without tensor cores), reduced precision is slower,
not faster: `check_speed` measures that once per process on a small
convolution and warns with the measured ratio. `kv.precision_report` measures
the speed ratio and the maps' fidelity on the user's own model and images.

Example:

```python
import kerasviz as kv

kv.precision.check("bfloat16")          # 'bfloat16'
kv.precision.policy("bfloat16")         # 'mixed_bfloat16'
```
"""

from __future__ import annotations

import functools
import time
import warnings

from kerasviz.errors import InvalidArgumentError

__all__ = ["PRECISIONS", "check", "check_speed", "count_ties", "policy", "probe_ratio", "warn_ties"]

#: The precisions kerasviz computes maps in, the exact one first.
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16", "float16")

_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}

# Speed ratios (reduced / float32) measured by `probe_ratio`, and the precisions
# already warned about: the probe runs and the warning is given once per process.
_measured: dict[str, float] = {}
_warned: set[str] = set()


def check(precision) -> str:
    """`precision` if it is one of `PRECISIONS`.

    Args:
        precision: the value to check.

    Returns:
        `precision`, unchanged.

    Raises:
        InvalidArgumentError: (a `ValueError`) for anything else; the message
            lists the choices.

    Example:

    ```python
    kv.precision.check("float16")  # 'float16'
    ```
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise InvalidArgumentError(
            "precision is the floating-point type maps are computed in: 'float32' (exact), "
            "'bfloat16' or 'float16' (reduced: faster where the hardware has a fast path, "
            "see kv.precision_report). Choose one of "
            f"{', '.join(repr(p) for p in PRECISIONS)}. Received: precision={precision!r}"
        )
    return precision


def policy(precision: str) -> str:
    """The Keras dtype policy the rewritten model's layers get for `precision`.

    Args:
        precision: one of `PRECISIONS`.

    Returns:
        `"float32"`, `"mixed_bfloat16"` or `"mixed_float16"`: variables stay
        float32, computation runs in the named type.

    Raises:
        InvalidArgumentError: for an unknown precision.

    Example:

    ```python
    kv.precision.policy("float16")  # 'mixed_float16'
    ```
    """
    return _POLICIES[check(precision)]


def probe_ratio(precision: str, *, repeats: int = 5) -> float:
    """Time of a small convolution's forward and backward pass in `precision` ÷ in float32.

    Measured once per process and precision (later calls return the same
    number), on TensorFlow's default device: two 3×3 convolutions with 64
    filters on a batch of 8 images 24×24×64, forward and both gradients,
    the fastest of `repeats` runs of each side by side, after a warm-up. A
    one-image 8×8 version runs first and settles a type over 5 times slower
    (float16 on a CPU: about 30 times there, hundreds at the larger size).

    Args:
        precision: one of `PRECISIONS`.
        repeats: timed runs of each type. Defaults to `5`.

    Returns:
        The ratio of the fastest runs; below 1 means the reduced type is
        faster (1.0 for `"float32"`).

    Example:

    ```python
    kv.precision.probe_ratio("bfloat16")  # about 0.3 on a CPU with AMX
    ```
    """
    check(precision)
    if precision == "float32":
        return 1.0
    if precision not in _measured:
        # A tiny probe first: a type without a fast path can be hundreds of times
        # slower (float16 convolutions on a CPU), which the tiny one shows at
        # once; otherwise its time is mostly overhead, so a larger one decides.
        ratio = _conv_ratio(precision, (1, 8, 8, 64), 3)
        if ratio < 5.0:
            ratio = _conv_ratio(precision, (8, 24, 24, 64), repeats)
        _measured[precision] = ratio
    return _measured[precision]


def _conv_step(xs, ks):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch([xs, ks])
        y = tf.nn.conv2d(xs, ks, 1, "SAME")
        y = tf.reduce_sum(tf.nn.conv2d(tf.nn.relu(y), ks, 1, "SAME"))
    return tape.gradient(y, [xs, ks])


def _conv_ratio(precision: str, shape: tuple[int, int, int, int], repeats: int) -> float:
    """Fastest time of two 3×3 convolutions' forward and backward in `precision` ÷ float32's."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    kernel = rng.standard_normal((3, 3, shape[-1], shape[-1]), dtype=np.float32) * 0.05

    # A partial has no code object: TensorFlow does not count these few traces
    # with other probes' as "frequent retracing".
    step = tf.function(functools.partial(_conv_step), autograph=False)

    def timer(dtype):
        xs, ks = tf.constant(x, dtype), tf.constant(kernel, dtype)
        step(xs, ks)  # trace and warm up

        def run():
            start = time.perf_counter()
            for value in step(xs, ks):
                value.numpy()
            return time.perf_counter() - start

        return run

    reduced, single = timer(tf.as_dtype(precision)), timer(tf.float32)
    times = [(reduced(), single()) for _ in range(repeats)]
    # The fastest run of each: other processes on the machine only ever add time.
    return float(min(r for r, _ in times) / min(s for _, s in times))


def check_speed(precision: str, *, stacklevel: int = 2) -> float:
    """Warn once per process when `precision` is not faster than float32 here.

    Args:
        precision: one of `PRECISIONS`.
        stacklevel: the warning's stack level. Defaults to `2`.

    Returns:
        The measured ratio (`probe_ratio`).

    Example:

    ```python
    kv.precision.check_speed("bfloat16")
    ```
    """
    ratio = probe_ratio(precision)
    if ratio >= 1.0 and precision not in _warned:
        _warned.add(precision)
        warnings.warn(
            f"kerasviz: {precision} arithmetic is not faster than float32 on this machine: "
            f"a convolution took {ratio:.2f}x the float32 time (the CPU or GPU has no fast "
            f"{precision} path, e.g. a CPU without AVX512-BF16/AMX). Maps will be computed "
            f"more slowly and less exactly; use precision='float32', or measure your own "
            f"model with kv.precision_report.",
            RuntimeWarning, stacklevel=stacklevel + 1,
        )
    return ratio


def count_ties(logits) -> int:
    """How many rows of `logits` `(N, classes)` have their largest value twice or more.

    In a reduced type, close logits round to one value; `argmax` then takes
    the lowest-index class of the tie, which may not be float32's choice.

    Args:
        logits: an array or tensor `(N, classes)`.

    Returns:
        The number of rows with a tie at the top (0 with fewer than 2 classes).

    Example:

    ```python
    kv.precision.count_ties(np.array([[1.0, 3.0, 3.0], [0.0, 1.0, 2.0]]))  # 1
    ```
    """
    import numpy as np

    values = np.asarray(logits, np.float32)
    if values.ndim != 2 or values.shape[-1] < 2:
        return 0
    top = np.sort(values, axis=-1)[:, -2:]
    return int(np.sum(top[:, 0] == top[:, 1]))


def graph_ties(outputs):
    """`count_ties` inside a TensorFlow graph: an int32 scalar tensor."""
    import tensorflow as tf

    if outputs.shape.rank != 2 or (outputs.shape[-1] is not None and outputs.shape[-1] < 2):
        return tf.constant(0, tf.int32)
    top = tf.math.top_k(tf.stop_gradient(outputs), k=2).values
    return tf.reduce_sum(tf.cast(tf.equal(top[:, 0], top[:, 1]), tf.int32))


def warn_ties(ties: int, total: int, precision: str, *, stacklevel: int = 2) -> None:
    """Warn that `ties` of `total` images had a tie at the top of their `precision` logits.

    Args:
        ties: the number of images with a tie (`count_ties`).
        total: the number of images.
        precision: the precision of the logits.
        stacklevel: the warning's stack level. Defaults to `2`.
    """
    if ties:
        warnings.warn(
            f"kerasviz: {ties} of {total} images have a tie for the top class in their "
            f"{precision} logits, so the predicted class (target 'max', 'random' or 'loss' "
            f"without labels) is the lowest-index class of the tie and may differ from "
            f"float32's. Give the classes as the target, or use precision='float32' for "
            f"these images.", RuntimeWarning, stacklevel=stacklevel + 1,
        )
