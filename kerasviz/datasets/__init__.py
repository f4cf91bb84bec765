"""Maps of whole datasets: streamed, stored in a resumable Zarr store, on one machine or many.

`kv.explain_dataset(model, source, "maps.zarr")` reads a folder, glob or
list of image files, an array or memmap, or a `tf.data.Dataset`, chunk by
chunk; computes every rule's maps with one compiled `kv.Visualizer`; and
writes them, with one table row per input, into a Zarr store that
`kv.open_maps` (or plain `zarr`, xarray, dask) reads back. Memory does not
grow with the dataset; a killed job resumes where it stopped; `engine="ray"`
spreads the chunks over Ray Data actors on several GPUs or machines.

| module | one job |
|---|---|
| `sources` | inputs into chunks of decoded, resized images (`tf.data`, prefetched) |
| `inputs` | sequences, tables, token ids and several inputs: what the model takes, read as they are |
| `several` | one chunk of a several-input model into maps per rule and input (`<rule>/<input>`) |
| `store` | the Zarr layout, the table, the settings check, `open_maps` / `MapStore` |
| `fingerprint` | a hash of the preprocess function's code and values, for the settings check |
| `lock` | one job per store |
| `explainer` | one chunk into maps and table rows (shared by both engines) |
| `local` | the local engine (decode, compute and write overlapped) |
| `ray_engine` | the Ray Data engine (`pip install "kerasviz[ray]"`) |
| `job` | `explain_dataset`: arguments, store, engine |
| `evaluator` | `evaluate_dataset`: `kv.evaluation` metrics of a store's maps, as resumable table columns |

Example:

```python
import kerasviz as kv

store = kv.explain_dataset(model, "photos/", "maps.zarr", rules=("saliency", "guided"))
store = kv.open_maps("maps.zarr")
store.rules, len(store), store["guided"][0].shape, store.table.head()
```
"""

from kerasviz.datasets.evaluator import evaluate_dataset
from kerasviz.datasets.job import explain_dataset
from kerasviz.datasets.store import MapStore, open_maps

__all__ = ["MapStore", "evaluate_dataset", "explain_dataset", "open_maps"]
