"""The tidy records of the paper's experiments: one measured number per dict, selected and summarized.

`kerasviz.analysis.experiments` emits records, `kerasviz.analysis.claims`
and `kerasviz.analysis.report` read them. A record is a plain dict:

```python
{"experiment": "E2", "setting": "cnn", "param": 64, "seed": 0, "image": "chelsea",
 "rule": "guided", "metric": "r_image", "value": 0.78, "size": 64}
```

| function | what |
|---|---|
| `record` | build one record |
| `select` | the records matching every filter (a value, or a predicate) |
| `stats` | mean ± sd of the matching records' values (`kerasviz.names.mean_sd`) |
| `summarize` | a mean ± sd table grouped by some keys |

Every summary follows `kerasviz.names.mean_sd`: NaN values (a measurement
that could not be made) are left out; a group with nothing left reports NaN.

Example:

```python
from kerasviz.analysis import records

rows = [records.record("E2", "cnn", 64, 0, "a", "guided", "r_image", v) for v in (0.7, 0.9)]
records.stats(rows, rule="guided")  # (0.8, 0.1414..., 2)
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from kerasviz.errors import InvalidInputError
from kerasviz.names import mean_sd

__all__ = ["Record", "record", "select", "stats", "summarize"]

#: One measured number and what it was measured on.
Record = dict[str, Any]


def record(
    experiment: str,
    setting: str,
    param: float | int | None,
    seed: int | None,
    image: str,
    rule: str,
    metric: str,
    value: float,
    **extra: Any,
) -> Record:
    """One tidy record: the keys every experiment emits, plus `extra` keys.

    Args:
        experiment: `"E1"` … `"E7"`.
        setting: the network or protocol within the experiment, e.g. `"cnn"`.
        param: the swept number (filters N, hidden units N_h, layer k, ε) or
            `None`.
        seed: the network / randomization seed (or image-set seed).
        image: the image's name (`"a|b"` for a pair of images).
        rule: `"saliency"`, `"deconvnet"`, `"guided"`, or `"images"` /
            `"attack"` for records that describe the inputs.
        metric: the metric's name.
        value: the number (NaN allowed).
        **extra: more keys (`size`, `layer`, `pair`, ...).

    Returns:
        The record dict.
    """
    out = {
        "experiment": experiment,
        "setting": setting,
        "param": param,
        "seed": seed,
        "image": image,
        "rule": rule,
        "metric": metric,
        "value": float(value),
    }
    out.update(extra)
    return out


def _matches(item: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    for key, wanted in filters.items():
        value = item.get(key)
        if callable(wanted):
            if not wanted(value):
                return False
        elif value != wanted:
            return False
    return True


def select(records: Iterable[Mapping[str, Any]], **filters: Any | Callable[[Any], bool]) -> list:
    """The records whose every `key=wanted` filter matches, in order.

    Args:
        records: record dicts.
        **filters: `key=value` (the record's value must equal it; a missing
            key reads as `None`) or `key=predicate` (a callable that gets the
            record's value and returns whether it matches).

    Returns:
        The matching records.

    Example:

    ```python
    select(rows, experiment="E2", param=lambda n: n >= 16)
    ```
    """
    return [r for r in records if _matches(r, filters)]


def stats(records: Iterable[Mapping[str, Any]], **filters: Any) -> tuple[float, float, int]:
    """Mean, sample sd and count of the `"value"` of the records matching `filters`.

    A value that is missing, `None` (NaN written to JSON) or not finite is
    left out (`kerasviz.names.mean_sd`).

    Args:
        records: record dicts.
        **filters: as in `select`.

    Returns:
        `(mean, sd, n)`; `(nan, nan, 0)` when no finite value matches.

    Example:

    ```python
    stats(rows, experiment="E2", rule="guided", metric="r_image")
    ```
    """
    values = [r.get("value") for r in select(records, **filters)]
    return mean_sd(v for v in values if isinstance(v, (int, float, np.number)) and not isinstance(v, bool))


def summarize(
    records: Iterable[Mapping[str, Any]], by: Sequence[str] | str = ()
) -> list[dict[str, Any]]:
    """Groups records and reports mean ± sd of their `"value"` per group.

    Groups appear in the order their first record appears. Each group is
    summarized by `kerasviz.names.mean_sd`: values that are not finite (NaN,
    a measurement that could not be made) are left out and `n` counts the
    values kept; `sd` is the sample standard deviation (ddof=1), `0.0` for a
    single value; a group with no finite value reports `nan`, `nan`, `0`.

    Args:
        records: dicts, each with a numeric `"value"` and every key of `by`.
        by: the keys to group by (a single key may be given as a string).
            Defaults to `()`: one group of all records.

    Returns:
        One dict per group: the `by` keys with the group's values, then
        `"mean"`, `"sd"` and `"n"`.

    Raises:
        InvalidInputError: if a record lacks `"value"` or a `by` key, or its
            value is not a number.

    Example:

    ```python
    summarize([{"rule": "guided", "value": 0.7}, {"rule": "guided", "value": 0.9}], by="rule")
    # [{"rule": "guided", "mean": 0.8, "sd": 0.1414, "n": 2}]
    ```
    """
    keys = (by,) if isinstance(by, str) else tuple(by)
    groups: dict[tuple[Any, ...], list[float]] = {}
    for index, record in enumerate(records):
        missing = [key for key in ("value", *keys) if key not in record]
        if missing:
            raise InvalidInputError(
                f"`summarize`: record {index} has no key(s) {missing}; every record needs "
                f"'value' and the `by` keys {list(keys)}. Received: record={dict(record)!r}"
            )
        value = record["value"]
        if not isinstance(value, (int, float, np.number)) or isinstance(value, (bool, np.bool_)):
            raise InvalidInputError(
                f"`summarize`: record {index} has a 'value' that is not a number. "
                f"Received: value={value!r}"
            )
        groups.setdefault(tuple(record[key] for key in keys), []).append(float(value))
    table = []
    for group, values in groups.items():
        row: dict[str, Any] = dict(zip(keys, group))
        row["mean"], row["sd"], row["n"] = mean_sd(values)
        table.append(row)
    return table
