"""Layer-wise weight randomization of a model (setup E5, Adebayo et al. 2018).

This module owns which layers of a model hold weights and how copies of the
model get some of them re-initialized:

- `weight_layers` lists the layers that hold a kernel, input side first;
- `randomize` re-initializes some of them in a copy of the model, and
  `randomized_weights` gives the same fresh values without the copy (for many
  randomized versions of one big model);
- `protocol_layers` and `randomize_protocol` give the paper's three protocols
  (`"part"`: cascading, `"reverse"`, `"only"`: independent);
  `randomize_part`, `randomize_reverse` and `randomize_only` are their
  short names, and `randomization_protocols` iterates over all of them;
- `cascade_order` and `cascade_steps` give the order in which cascading
  randomization destroys the layers, top layer first (as `kv.analysis`'s
  sanity check and experiment E5 walk it).

The networks themselves are in `kerasviz.zoo`, which re-exports these names
(`kv.zoo.randomize` is `kv.randomization.randomize`).

Example:

```python
import kerasviz as kv
trained = kv.zoo.fashion_cnn(weights="trained")
top_random = kv.randomization.randomize_protocol(trained, "part", k=3, seed=0)  # layers 4.. random
```
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import keras
import numpy as np

from kerasviz import _validation
from kerasviz.errors import InvalidInputError, UnsupportedModelError

__all__ = [
    "PAPER_STDDEV",
    "PROTOCOLS",
    "cascade_order",
    "cascade_steps",
    "protocol_layers",
    "randomization_protocols",
    "randomize",
    "randomized_weights",
    "randomize_only",
    "randomize_part",
    "randomize_protocol",
    "randomize_reverse",
    "weight_layers",
]

InitName = Literal["paper", "keras"]
ProtocolName = Literal["part", "reverse", "only"]

#: Standard deviation of the paper's TruncatedNormal kernels (before
#: truncation at 2 std, which leaves an actual std of about 0.088).
PAPER_STDDEV: float = 0.1

#: The E5 randomization protocols (see `protocol_layers`).
PROTOCOLS: tuple[str, ...] = ("part", "reverse", "only")

_INITS = ("paper", "keras")

# `randomize` appends this tag to its seed keys, so the weights it draws differ
# from the ones a network is built with, even for equal seeds and layer indices.
_RANDOMIZE_TAG = 0x52414E44


# --------------------------------------------------------------------------
# Seeds and checks (shared with kerasviz.zoo, which imports them from here).
# --------------------------------------------------------------------------


def _derive_seed(seed: int, *keys: int) -> int:
    """A 31-bit seed derived from `seed` and `keys` (distinct per layer)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *[int(k) for k in keys]])
    return int(state.generate_state(1)[0] & 0x7FFFFFFF)


def _check_seed(seed) -> int:
    return _validation.seed(seed)


def _check_init(init) -> str:
    if init not in _INITS:
        raise InvalidInputError(
            f"Unknown init {init!r}. Known inits: 'paper' (TruncatedNormal std 0.1, "
            f"conv biases 0, dense biases 1.0), 'keras' (the layers' own "
            f"initializers). Received: init={init!r}"
        )
    return init


# --------------------------------------------------------------------------
# Weight layers and randomize.
# --------------------------------------------------------------------------


def _walk_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk_layers(layer)
        else:
            yield layer


def weight_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """List the layers of `model` that hold a kernel, in order.

    A layer counts when it has a `kernel` weight (Dense, Conv1D/2D/3D,
    Conv2DTranspose, ...); nested models are walked in place. These are the
    layers that `randomize` addresses by index: VGG-16 gives its 13 convs and 3
    dense layers (16), `fashion_cnn` gives 4 convs and 2 dense layers (6).

    Args:
        model: a built Keras model.

    Returns:
        The list of layers, input side first.

    Raises:
        UnsupportedModelError: if `model` is not a `keras.Model`.

    Example:

    ```python
    [layer.name for layer in kv.zoo.weight_layers(kv.zoo.fashion_cnn())]
    # ['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2', 'fc1', 'predictions']
    ```
    """
    if not isinstance(model, keras.Model):
        raise UnsupportedModelError(
            f"Expected a keras.Model. Received: model of type {type(model).__name__}"
        )
    found = []
    for layer in _walk_layers(model):
        kernel = None
        try:
            kernel = getattr(layer, "kernel", None)
        except Exception:  # a property that fails on an unbuilt layer
            kernel = None
        if kernel is not None and any(w is kernel for w in layer.weights):
            found.append(layer)
    return found


def _resolve_layers(model: keras.Model, layers) -> list[int]:
    """Map names / indices (into `weight_layers(model)`) to sorted unique indices."""
    candidates = weight_layers(model)
    names = [layer.name for layer in candidates]
    n = len(candidates)
    if isinstance(layers, (str, int, np.integer)) and not isinstance(layers, bool):
        layers = [layers]
    try:
        items = list(layers)
    except TypeError:
        raise InvalidInputError(
            "`layers` must be a layer name, an index into weight_layers(model), or a "
            f"sequence of them. Received: layers={layers!r}"
        ) from None
    indices = set()
    for item in items:
        if isinstance(item, str):
            if item not in names:
                raise InvalidInputError(
                    f"Layer {item!r} is not a weight layer of model {model.name!r}. "
                    f"Weight layers: {', '.join(repr(v) for v in names)}. "
                    f"Received: layers={layers!r}"
                )
            indices.add(names.index(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not -n <= item < n:
                raise InvalidInputError(
                    f"Layer index {int(item)} is out of range: model {model.name!r} has "
                    f"{n} weight layers (indices 0..{n - 1}). Received: layers={layers!r}"
                )
            indices.add(int(item) % n)
        else:
            raise InvalidInputError(
                "`layers` items must be layer names (str) or indices (int). "
                f"Received: layers={layers!r}"
            )
    return sorted(indices)


def _seeded(initializer, seed: int):
    """A copy of a Keras initializer with its seed replaced (if it has one)."""
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = seed
    return type(initializer).from_config(config)


def _new_weights(layer, index: int, seed: int, init: str) -> list[np.ndarray]:
    """The re-initialized values of all of `layer`'s weights."""
    values = []
    for weight in layer.weights:
        shape = tuple(weight.shape)
        dtype = weight.dtype
        wseed = _derive_seed(seed, index, len(values), _RANDOMIZE_TAG)
        if weight is layer.kernel:
            if init == "paper":
                new = keras.initializers.TruncatedNormal(stddev=PAPER_STDDEV, seed=wseed)
            else:
                new = _seeded(layer.kernel_initializer, wseed)
        elif getattr(layer, "bias", None) is not None and weight is layer.bias:
            if init == "paper":
                fill = 1.0 if isinstance(layer, keras.layers.Dense) else 0.0
                new = keras.initializers.Constant(fill)
            else:
                new = _seeded(layer.bias_initializer, wseed)
        else:
            raise UnsupportedModelError(
                f"Cannot re-initialize weight {weight.path!r} of layer {layer.name!r}: "
                "only kernels and biases are supported. "
                f"Received: layer of type {type(layer).__name__}"
            )
        values.append(np.asarray(keras.ops.convert_to_numpy(new(shape, dtype=dtype))))
    return values


def randomized_weights(
    model: keras.Model,
    layers: int | str | Sequence[int | str],
    seed: int = 0,
    init: InitName = "paper",
) -> dict[int, list[np.ndarray]]:
    """The fresh weights `randomize` gives `layers`, without copying the model.

    For a run of many randomized versions of one big model (E5 on VGG-16),
    write these into one working copy (`layer.set_weights`) instead of
    cloning the model each time: `randomize(model, layers, seed, init)` has
    exactly these values in those layers and `model`'s elsewhere.

    Args:
        model: a built Functional or Sequential Keras model (not modified).
        layers: as in `randomize`.
        seed: as in `randomize`. Defaults to `0`.
        init: as in `randomize`. Defaults to `"paper"`.

    Returns:
        `{index into weight_layers(model): [kernel, bias]}`.

    Raises:
        InvalidInputError: for an unknown layer name, an index out of range or
            an unknown `init`.

    Example:

    ```python
    new = kv.randomization.randomized_weights(net, ["fc1"], seed=1)
    ```
    """
    init = _check_init(init)
    seed = _check_seed(seed)
    indices = _resolve_layers(model, layers)
    model_layers = weight_layers(model)
    return {index: _new_weights(model_layers[index], index, seed, init) for index in indices}


def randomize(
    model: keras.Model,
    layers: int | str | Sequence[int | str],
    seed: int = 0,
    init: InitName = "paper",
) -> keras.Model:
    """Return a copy of `model` with some weight layers re-initialized.

    The copy is `keras.models.clone_model(model)` with all of `model`'s
    weights, after which the requested layers get fresh weights; `model` itself
    is not modified. The random values of layer `i` depend only on `(seed, i,
    init)`, so every protocol that randomizes layer `i` with the same seed gives
    it the same values, and the same call always returns the same weights.

    Args:
        model: a built Functional or Sequential Keras model.
        layers: which layers to re-initialize: names, or indices into
            `weight_layers(model)` (negative indices count from the top), one
            or a sequence; an empty sequence gives an unchanged copy.
        seed: seed of the new weights. Defaults to `0`.
        init: `"paper"` — kernels TruncatedNormal(std 0.1), biases 1.0 for
            `Dense` layers and 0 for the others (conv); `"keras"` — each
            layer's own `kernel_initializer` / `bias_initializer`, reseeded.
            Defaults to `"paper"`.

    Returns:
        A new `keras.Model` with the same architecture and layer names.

    Raises:
        InvalidInputError: for an unknown layer name, an index out of range or
            an unknown `init`.
        UnsupportedModelError: if `model` is not a `keras.Model` or cannot be
            cloned.

    Example:

    ```python
    net = kv.zoo.fashion_cnn(weights="trained")
    random_top = kv.zoo.randomize(net, ["fc1", "predictions"], seed=1)
    ```
    """
    init = _check_init(init)
    seed = _check_seed(seed)
    indices = _resolve_layers(model, layers)
    try:
        clone = keras.models.clone_model(model)
    except Exception as err:
        raise UnsupportedModelError(
            f"Cannot clone model {model.name!r} ({type(err).__name__}: {err}); "
            "randomize needs a Functional or Sequential model whose layers serialize. "
            f"Received: model={model.name!r}"
        ) from err
    clone.set_weights(model.get_weights())
    clone_layers = weight_layers(clone)
    for index in indices:
        layer = clone_layers[index]
        layer.set_weights(_new_weights(layer, index, seed, init))
    return clone


# --------------------------------------------------------------------------
# The E5 protocols.
# --------------------------------------------------------------------------


def protocol_layers(model: keras.Model, protocol: ProtocolName, k: int) -> list[int]:
    """Indices (into `weight_layers(model)`) that an E5 protocol randomizes.

    With `n = len(weight_layers(model))` and layers numbered 0 (input side)
    to n-1 (logits):

    - `"part"`: layers 0..k keep their trained weights, layers k+1..n-1 are
      random. Read from the top (k = n-1, n-2, …, -1) this is Adebayo et al.'s
      cascading randomization; `k = -1` randomizes everything, `k = n-1`
      nothing.
    - `"reverse"`: layers 0..k are random, layers k+1..n-1 trained; `k = -1`
      randomizes nothing, `k = n-1` everything.
    - `"only"`: only layer k is random (independent randomization); `k` in
      0..n-1.

    Args:
        model: the (trained) model.
        protocol: `"part"`, `"reverse"` or `"only"`.
        k: the layer index, as above.

    Returns:
        A sorted list of indices.

    Raises:
        InvalidInputError: for an unknown protocol or `k` out of range.

    Example:

    ```python
    kv.zoo.protocol_layers(kv.zoo.fashion_cnn(), "part", 3)  # [4, 5]
    ```
    """
    n = len(weight_layers(model))
    if protocol not in PROTOCOLS:
        raise InvalidInputError(
            f"Unknown protocol {protocol!r}. Known protocols: 'part', 'reverse', "
            f"'only'. Received: protocol={protocol!r}"
        )
    low = 0 if protocol == "only" else -1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not low <= k < n:
        raise InvalidInputError(
            f"`k` must be an integer in {low}..{n - 1} for protocol {protocol!r} "
            f"(model {model.name!r} has {n} weight layers). Received: k={k!r}"
        )
    k = int(k)
    if protocol == "part":
        return list(range(k + 1, n))
    if protocol == "reverse":
        return list(range(0, k + 1))
    return [k]


def randomize_protocol(
    model: keras.Model,
    protocol: ProtocolName,
    k: int,
    seed: int = 0,
    init: InitName = "paper",
) -> keras.Model:
    """Return a copy of `model` randomized by one E5 protocol at step `k`.

    The copy is `randomize(model, protocol_layers(model, protocol, k), seed,
    init)`:

    - `"part"` (cascading randomization): layers 0..k keep their trained
      weights, the rest are random; `k` in -1..n-1 (`-1`: everything random).
    - `"reverse"`: layers 0..k are random, the rest trained; `k` in -1..n-1
      (`-1`: nothing random).
    - `"only"` (independent randomization): only layer `k` is random; `k` in
      0..n-1.

    Args:
        model: the trained model (left untouched).
        protocol: `"part"`, `"reverse"` or `"only"`.
        k: the layer index, as above.
        seed: seed of the new weights. Defaults to `0`.
        init: `"paper"` or `"keras"` (see `randomize`). Defaults to `"paper"`.

    Returns:
        A new `keras.Model`.

    Raises:
        InvalidInputError: for an unknown protocol, `k` out of range or an
            unknown `init`.

    Example:

    ```python
    trained = kv.zoo.fashion_cnn(weights="trained")
    only_convs_trained = kv.randomization.randomize_protocol(trained, "part", 3)
    ```
    """
    return randomize(model, protocol_layers(model, protocol, k), seed=seed, init=init)


def randomize_part(
    model: keras.Model, k: int, seed: int = 0, init: InitName = "paper"
) -> keras.Model:
    """Cascading randomization: keep layers 0..k trained, randomize the rest.

    Short for `randomize_protocol(model, "part", k, seed=seed, init=init)`.

    Args:
        model: the trained model (left untouched).
        k: last trained layer, -1..n-1 (`-1`: everything random).
        seed: seed of the new weights. Defaults to `0`.
        init: `"paper"` or `"keras"` (see `randomize`). Defaults to `"paper"`.

    Returns:
        A new `keras.Model`.

    Raises:
        InvalidInputError: if `k` is out of range or `init` unknown.

    Example:

    ```python
    only_convs_trained = kv.zoo.randomize_part(kv.zoo.fashion_cnn(weights="trained"), 3)
    ```
    """
    return randomize_protocol(model, "part", k, seed=seed, init=init)


def randomize_reverse(
    model: keras.Model, k: int, seed: int = 0, init: InitName = "paper"
) -> keras.Model:
    """Reverse cascade: randomize layers 0..k, keep layers k+1..n-1 trained.

    Short for `randomize_protocol(model, "reverse", k, seed=seed, init=init)`.

    Args:
        model: the trained model (left untouched).
        k: last random layer, -1..n-1 (`-1`: nothing random).
        seed: seed of the new weights. Defaults to `0`.
        init: `"paper"` or `"keras"` (see `randomize`). Defaults to `"paper"`.

    Returns:
        A new `keras.Model`.

    Raises:
        InvalidInputError: if `k` is out of range or `init` unknown.

    Example:

    ```python
    first_conv_random = kv.zoo.randomize_reverse(kv.zoo.fashion_cnn(weights="trained"), 0)
    ```
    """
    return randomize_protocol(model, "reverse", k, seed=seed, init=init)


def randomize_only(
    model: keras.Model, k: int, seed: int = 0, init: InitName = "paper"
) -> keras.Model:
    """Independent randomization: randomize layer k only.

    Short for `randomize_protocol(model, "only", k, seed=seed, init=init)`.

    Args:
        model: the trained model (left untouched).
        k: the layer to randomize, 0..n-1.
        seed: seed of the new weights. Defaults to `0`.
        init: `"paper"` or `"keras"` (see `randomize`). Defaults to `"paper"`.

    Returns:
        A new `keras.Model`.

    Raises:
        InvalidInputError: if `k` is out of range or `init` unknown.

    Example:

    ```python
    fc1_random = kv.zoo.randomize_only(kv.zoo.fashion_cnn(weights="trained"), 4)
    ```
    """
    return randomize_protocol(model, "only", k, seed=seed, init=init)


def randomization_protocols(
    model: keras.Model,
    protocols: Sequence[ProtocolName] = PROTOCOLS,
    seed: int = 0,
    init: InitName = "paper",
) -> Iterator[tuple[str, int, list[str], keras.Model]]:
    """Iterate over the E5 protocols: every protocol, every k = 0..n-1.

    Models are built lazily, one per step, so a VGG-16 sweep holds only one
    extra copy at a time (if the caller drops it).

    Args:
        model: the trained model (left untouched).
        protocols: which of `"part"`, `"reverse"`, `"only"`, in the order to
            run them. Defaults to `PROTOCOLS` (all three).
        seed: seed of the new weights (the same for every step, so a layer is
            randomized identically wherever it is random). Defaults to `0`.
        init: `"paper"` or `"keras"` (see `randomize`). Defaults to `"paper"`.

    Yields:
        `(protocol, k, randomized_layer_names, randomized_model)`.

    Raises:
        InvalidInputError: for an unknown protocol or `init`.

    Example:

    ```python
    for protocol, k, names, net in kv.zoo.randomization_protocols(trained, ["part"]):
        maps = kv.visualize(net, images)
    ```
    """
    protocols = tuple(protocols)
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise InvalidInputError(
                f"Unknown protocol {protocol!r}. Known protocols: 'part', 'reverse', "
                f"'only'. Received: protocols={protocols!r}"
            )
    init = _check_init(init)
    names = [layer.name for layer in weight_layers(model)]
    for protocol in protocols:
        for k in range(len(names)):
            indices = protocol_layers(model, protocol, k)
            yield (
                protocol,
                k,
                [names[i] for i in indices],
                randomize(model, indices, seed=seed, init=init),
            )


# --------------------------------------------------------------------------
# The cascade order (used by kv.analysis: sanity_check and E5).
# --------------------------------------------------------------------------


def cascade_order(
    model: keras.Model,
    layers: int | str | Sequence[int | str] | None = None,
    max_layers: int | None = None,
) -> list[int]:
    """Indices into `weight_layers(model)` in cascading order, top layer first.

    Cascading randomization (Adebayo et al.) destroys the weight layers one
    by one from the logits down, cumulatively: step `j` randomizes
    `order[:j + 1]`.

    Args:
        model: the (trained) model.
        layers: the weight layers to include (names, or indices into
            `weight_layers(model)`, negative ones counting from the top; one
            or a sequence), or `None` for all of them. Defaults to `None`.
        max_layers: keep only the first (topmost) `max_layers` of them, or
            `None` for all. Defaults to `None`.

    Returns:
        Unique indices, highest first.

    Raises:
        InvalidInputError: for an empty `layers`, a name or index that is not
            a weight layer of `model`, or a `max_layers` that is not a
            positive integer.
        UnsupportedModelError: if `model` is not a `keras.Model`.

    Example:

    ```python
    kv.randomization.cascade_order(kv.zoo.fashion_cnn(), max_layers=2)  # [5, 4]
    ```
    """
    all_layers = [layer.name for layer in weight_layers(model)]
    max_layers = _validation.positive_int(max_layers, "max_layers", allow_none=True)
    if layers is None:
        indices = list(range(len(all_layers)))
    else:
        if isinstance(layers, (str, int, np.integer)):
            layers = [layers]
        try:
            items = list(layers)
        except TypeError:
            raise InvalidInputError(
                "layers must be a sequence of weight-layer names or indices into "
                f"kv.zoo.weight_layers(model). Received: layers={layers!r}"
            ) from None
        if not items:
            raise InvalidInputError(
                "layers is empty: give at least one weight layer to randomize, or "
                f"None for all of {all_layers}. Received: layers={layers!r}"
            )
        indices = []
        n = len(all_layers)
        for item in items:
            if isinstance(item, str) and item in all_layers:
                indices.append(all_layers.index(item))
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and -n <= item < n:
                indices.append(int(item) % n)
            else:
                raise InvalidInputError(
                    f"{item!r} is not a weight layer of model {model.name!r}. Weight layers "
                    f"(by name or index 0..{n - 1}): {all_layers}. Received: layers={layers!r}"
                )
    order = sorted(set(indices), reverse=True)
    return order[:max_layers] if max_layers is not None else order


def cascade_steps(model: keras.Model, protocol: ProtocolName = "part") -> list[tuple[int, list[int], str]]:
    """The steps of one E5 protocol: `(k, randomized layer indices, label)`.

    - `"part"` (cascading randomization, in `cascade_order`): k = n−2 down
      to −1, so the first step randomizes only the logit layer and the last
      one every layer; the label is the layer newly randomized at that step.
    - `"reverse"`: k = 0..n−1 (layers 0..k random); label = layer k.
    - `"only"`: k = 0..n−1 (only layer k random); label = layer k.

    The randomized indices of a step are `protocol_layers(model, protocol, k)`.

    Args:
        model: the trained model.
        protocol: `"part"`, `"reverse"` or `"only"`. Defaults to `"part"`.

    Returns:
        The steps in the order they are plotted.

    Raises:
        InvalidInputError: for an unknown protocol.
        UnsupportedModelError: if `model` is not a `keras.Model`.

    Example:

    ```python
    [label for _, _, label in kv.randomization.cascade_steps(kv.zoo.fashion_cnn())]
    # ['predictions', 'fc1', 'block2_conv2', 'block2_conv1', 'block1_conv2', 'block1_conv1']
    ```
    """
    names = [layer.name for layer in weight_layers(model)]
    if protocol == "part":
        # Step j newly randomizes layer order[j]: k = order[j] - 1 is the last trained one.
        return [(i - 1, protocol_layers(model, "part", i - 1), names[i]) for i in cascade_order(model)]
    if protocol in ("reverse", "only"):
        return [(k, protocol_layers(model, protocol, k), names[k]) for k in range(len(names))]
    raise InvalidInputError(
        f"Unknown protocol {protocol!r}. Known protocols: 'part', 'reverse', 'only'. "
        f"Received: protocol={protocol!r}"
    )
